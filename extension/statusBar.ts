/** The one left status bar item: connection state, user and unread count; a click opens the JoChat view. */
import * as vscode from 'vscode';
import type { ChatState } from './chat.js';
import { VIEW_ID } from './view.js';

export function statusText(s: ChatState): { text: string; tooltip: string } {
  if (s.connection === 'connecting') return { text: '$(loading~spin) JoChat', tooltip: `Connecting to ${s.server}…` };
  if (s.connection === 'offline') return { text: '$(debug-disconnect) offline', tooltip: `JoChat: not connected to ${s.server}` };
  if (!s.username) return { text: '$(comment-discussion) JoChat', tooltip: `JoChat: connected to ${s.server}; not logged in` };
  const { unread, pending } = s.counts;
  const tip = `JoChat: ${s.username} on ${s.server} — ${unread} unread` + (pending ? `, ${pending} arrived while away` : '');
  return { text: `$(comment-discussion) ${s.username} · ${unread}`, tooltip: tip };
}

export class StatusBar implements vscode.Disposable {
  readonly item = vscode.window.createStatusBarItem('jochat.status', vscode.StatusBarAlignment.Left, 100);

  constructor() {
    this.item.name = 'JoChat';
    this.item.command = `${VIEW_ID}.focus`;
    this.item.show();
  }

  render(s: ChatState): void {
    const { text, tooltip } = statusText(s);
    this.item.text = text;
    this.item.tooltip = tooltip;
    // Screen readers get the words, not the icon's name.
    this.item.accessibilityInformation = { label: tooltip, role: 'button' };
  }

  dispose(): void {
    this.item.dispose();
  }
}
