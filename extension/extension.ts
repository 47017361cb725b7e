/**
 * JoChat's VS Code extension: one connection per window (ChatService), the status bar, the sidebar view with its
 * badge, notifications, the bundled-server task, and the commands. Returns a small API (used by the in-host tests).
 */
import * as vscode from 'vscode';
import { ChatService } from './chat.js';
import { registerCommands } from './commands.js';
import { notify } from './notifier.js';
import { vscodePrompter, type Prompter } from './prompter.js';
import { TokenStore } from './secrets.js';
import { BundledServer, TASK_TYPE } from './serverTask.js';
import { CONNECTION_SETTINGS, readSettings } from './settings.js';
import { StatusBar } from './statusBar.js';
import { ChatViewProvider, VIEW_ID } from './view.js';

export interface JoChatApi {
  chat: ChatService;
  server: BundledServer;
  view: ChatViewProvider;
  statusBar: vscode.StatusBarItem;
  /** Replaces how commands ask for input (tests answer the prompts this way). */
  setPrompter(p: Prompter | undefined): void;
}

export function activate(context: vscode.ExtensionContext): JoChatApi {
  const log = vscode.window.createOutputChannel('JoChat', { log: true });
  const chat = new ChatService(readSettings(), new TokenStore(context.secrets), log);
  const status = new StatusBar();
  const view = new ChatViewProvider(context.extensionUri, chat, log);
  const server = new BundledServer(context, readSettings, log);
  let prompter: Prompter = vscodePrompter;

  const setContext = (key: string, value: boolean): void => {
    void vscode.commands.executeCommand('setContext', key, value);
  };
  const render = (): void => {
    const s = chat.state;
    status.render(s);
    view.render(s);
    setContext('jochat.connected', s.connection === 'online');
    setContext('jochat.loggedIn', s.connection === 'online' && s.username !== undefined);
  };
  render();

  context.subscriptions.push(
    log,
    chat,
    status,
    server,
    chat.onDidChange(render),
    chat.onEvent((ev) => {
      if (ev.event !== 'message') return;
      notify(ev.data.message, {
        mode: () => readSettings().notifications,
        me: () => chat.state.username,
        showing: (peer) => view.isShowing(peer),
        viewVisible: () => view.visible && vscode.window.state.focused,
        open: (peer) => void view.open(peer),
      });
    }),
    vscode.window.registerWebviewViewProvider(VIEW_ID, view, { webviewOptions: { retainContextWhenHidden: false } }),
    vscode.tasks.registerTaskProvider(TASK_TYPE, server),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (CONNECTION_SETTINGS.some((k) => e.affectsConfiguration(k)))
        chat.reconfigure(readSettings()).catch((err) => log.warn(`reconnect failed: ${(err as Error).message}`));
    }),
    ...registerCommands({ chat, server, view, log, prompter: () => prompter }),
  );

  const settings = readSettings();
  if (settings.autoStartServer) {
    void vscode.commands.executeCommand('jochat.startServer');
  } else if (settings.autoConnect) {
    // Offline is fine at startup: the client keeps retrying in the background and the status bar says so.
    chat.connect().catch((e) => log.info(`not connected yet: ${(e as Error).message}`));
  }

  return {
    chat,
    server,
    view,
    statusBar: status.item,
    setPrompter: (p) => {
      prompter = p ?? vscodePrompter;
    },
  };
}

export function deactivate(): void {
  // Everything is in context.subscriptions.
}
