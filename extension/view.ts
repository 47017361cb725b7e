/**
 * The JoChat sidebar view (a webview view): its HTML with a strict CSP, the badge with the unread count, and the
 * message exchange with the webview, which ViewBridge answers. The view renders only what the host sends it.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { ToWebview } from '../webview/messages.js';
import type { ChatService, ChatState } from './chat.js';
import { ViewBridge } from './viewBridge.js';

export const VIEW_ID = 'jochat.chat';

export class ChatViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private unread = 0;
  /** Answers the webview; lives as long as the extension, so the outbox outlives a hidden (disposed) view. */
  readonly bridge: ViewBridge;

  constructor(
    private readonly extensionUri: vscode.Uri,
    chat: ChatService,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.bridge = new ViewBridge(chat, (m) => this.post(m), log);
    this.unread = unreadOf(chat.state);
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist');
    view.webview.options = { enableScripts: true, localResourceRoots: [dist] };
    view.webview.html = this.html(view.webview, dist);
    view.webview.onDidReceiveMessage((m: unknown) => {
      this.bridge.receive(m).catch((e: unknown) => this.log.error(`the JoChat view's request failed: ${String(e)}`));
    });
    view.onDidDispose(() => {
      if (this.view !== view) return;
      this.view = undefined;
      this.bridge.viewGone();
    });
    this.renderBadge();
  }

  /** True when the person can see this conversation now. */
  isShowing(peer: string): boolean {
    return this.view?.visible === true && this.bridge.viewing?.toLowerCase() === peer.toLowerCase();
  }

  /** The resolved webview (for tests: its HTML and options). */
  get webview(): vscode.Webview | undefined {
    return this.view?.webview;
  }

  get visible(): boolean {
    return this.view?.visible === true;
  }

  /** The unread count on the view's badge (undefined when there is none). */
  get badge(): number | undefined {
    return this.view?.badge?.value || undefined;
  }

  /** The state changed (the bridge posts it to the webview itself; here only the badge follows). */
  render(s: ChatState): void {
    this.unread = unreadOf(s);
    this.renderBadge();
  }

  /** Shows the view on a conversation. */
  async open(peer: string): Promise<void> {
    await vscode.commands.executeCommand(`${VIEW_ID}.focus`);
    this.bridge.open(peer);
  }

  private renderBadge(): void {
    if (!this.view) return;
    const n = this.unread;
    // Not `undefined` for none: VS Code 1.100's webview view never takes a badge off the activity bar when it is
    // set back to undefined (WebviewViewPane.updateBadge has no branch for it); a badge of 0 is drawn as none.
    this.view.badge = n > 0 ? { value: n, tooltip: `${n} unread JoChat message${n === 1 ? '' : 's'}` } : { value: 0, tooltip: '' };
  }

  private post(m: ToWebview): void {
    void this.view?.webview.postMessage(m);
  }

  private html(webview: vscode.Webview, dist: vscode.Uri): string {
    // A new random nonce for each render: only our own script runs.
    const nonce = randomBytes(18).toString('base64');
    const asset = (name: string): string => webview.asWebviewUri(vscode.Uri.joinPath(dist, name)).toString();
    const csp = [
      "default-src 'none'",
      `style-src ${webview.cspSource}`,
      `font-src ${webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
    ].join('; ');
    // The codicon stylesheet's id is the one @vscode-elements looks for.
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${asset('codicon.css')}" id="vscode-codicon-stylesheet">
<link rel="stylesheet" href="${asset('webview.css')}">
<title>JoChat</title>
</head>
<body>
<main id="app"></main>
<script nonce="${nonce}" src="${asset('webview.js')}"></script>
</body>
</html>`;
  }

  dispose(): void {
    this.bridge.dispose();
  }
}

const unreadOf = (s: ChatState): number => (s.username ? s.counts.unread : 0);
