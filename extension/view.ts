/**
 * The JoChat sidebar view (a webview view): its HTML with a strict CSP, the badge with the unread count, and the
 * typed message exchange with the webview. The view renders only what the host sends it.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { isFromWebview, type FromWebview, type ToWebview, type ViewState } from '../webview/messages.js';
import type { ChatState } from './chat.js';

export const VIEW_ID = 'jochat.chat';

export const toViewState = (s: ChatState): ViewState => ({
  server: s.server,
  connection: s.connection,
  username: s.username ?? null,
  pending: s.counts.pending,
  unread: s.counts.unread,
  byPeer: s.counts.byPeer,
});

export class ChatViewProvider implements vscode.WebviewViewProvider {
  private view: vscode.WebviewView | undefined;
  private viewing: string | null = null;
  private state: ViewState;
  private pendingOpen: string | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    initial: ChatState,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.state = toViewState(initial);
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist');
    view.webview.options = { enableScripts: true, localResourceRoots: [dist] };
    view.webview.html = this.html(view.webview, dist);
    view.webview.onDidReceiveMessage((m: unknown) => this.receive(m));
    view.onDidDispose(() => {
      this.view = undefined;
      this.viewing = null;
    });
    this.renderBadge();
  }

  /** True when the person can see this conversation now. */
  isShowing(peer: string): boolean {
    return this.view?.visible === true && this.viewing?.toLowerCase() === peer.toLowerCase();
  }

  get visible(): boolean {
    return this.view?.visible === true;
  }

  /** The unread count on the view's badge (undefined when there is none). */
  get badge(): number | undefined {
    return this.view?.badge?.value;
  }

  render(s: ChatState): void {
    this.state = toViewState(s);
    this.renderBadge();
    this.post({ type: 'state', state: this.state });
  }

  /** Shows the view on a conversation. */
  async open(peer: string): Promise<void> {
    this.pendingOpen = peer;
    await vscode.commands.executeCommand(`${VIEW_ID}.focus`);
    if (this.view) this.post({ type: 'open', peer });
  }

  private renderBadge(): void {
    if (!this.view) return;
    const n = this.state.username ? this.state.unread : 0;
    this.view.badge = n > 0 ? { value: n, tooltip: `${n} unread JoChat message${n === 1 ? '' : 's'}` } : undefined;
  }

  private receive(raw: unknown): void {
    if (!isFromWebview(raw)) {
      this.log.warn('ignored a malformed message from the JoChat view');
      return;
    }
    const m: FromWebview = raw;
    switch (m.type) {
      case 'ready':
        this.post({ type: 'state', state: this.state });
        if (this.pendingOpen) this.post({ type: 'open', peer: this.pendingOpen });
        return;
      case 'command':
        void vscode.commands.executeCommand(m.command);
        return;
      case 'viewing':
        this.viewing = m.peer;
        this.pendingOpen = undefined;
        return;
    }
  }

  private post(m: ToWebview): void {
    void this.view?.webview.postMessage(m);
  }

  private html(webview: vscode.Webview, dist: vscode.Uri): string {
    // A new random nonce for each render: only our own script runs.
    const nonce = randomBytes(16).toString('base64');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webview.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webview.css'));
    const csp = [
      "default-src 'none'",
      `style-src ${webview.cspSource}`,
      `font-src ${webview.cspSource}`,
      `img-src ${webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>JoChat</title>
</head>
<body>
<main id="app" aria-live="polite"></main>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
  }
}
