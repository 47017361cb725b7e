/** A notification for a new message whose conversation is not on screen, per the `jochat.notifications` setting. */
import * as vscode from 'vscode';
import type { Message } from '../protocol/ops.js';
import type { NotifyMode } from './settings.js';

export interface NotifyContext {
  mode: () => NotifyMode;
  me: () => string | undefined;
  /** Whether the conversation with this peer is visible now. */
  showing: (peer: string) => boolean;
  /** Whether the JoChat view is visible and the window focused. */
  viewVisible: () => boolean;
  open: (peer: string) => void;
}

const preview = (text: string): string => {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > 80 ? one.slice(0, 79) + '…' : one;
};

/** Whether a message deserves a notification: someone else's message, not in view, allowed by the setting. */
export function shouldNotify(m: Message, c: Omit<NotifyContext, 'open'>): boolean {
  const mode = c.mode();
  if (mode === 'off' || m.from === c.me()) return false;
  if (c.showing(m.from)) return false;
  return mode === 'all' || !c.viewVisible();
}

export function notify(m: Message, c: NotifyContext): void {
  if (!shouldNotify(m, c)) return;
  void vscode.window.showInformationMessage(`${m.from}: ${preview(m.text)}`, 'Open').then((choice) => {
    if (choice === 'Open') c.open(m.from);
  });
}
