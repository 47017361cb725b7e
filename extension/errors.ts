/** Errors in plain words for a person, with a "Show Log" action; never a stack or a bare code. */
import * as vscode from 'vscode';
import { isJoChatError, type ClientErrorCode } from '../protocol/client.js';

const PLAIN: Partial<Record<ClientErrorCode, string>> = {
  OFFLINE: 'JoChat is not connected to its server.',
  TIMEOUT: 'The JoChat server did not answer in time.',
  AUTH_FAILED: 'Wrong username or password.',
  USERNAME_TAKEN: 'That username is taken.',
  INVALID_USERNAME: 'A username is 1 to 32 letters, digits, "_", "." or "-".',
  NO_SUCH_USER: 'There is no such account.',
  TEXT_TOO_LONG: 'The message is too long (at most 16 KB).',
  NOT_LOGGED_IN: 'You are not logged in.',
  ALREADY_LOGGED_IN: 'You are already logged in.',
  RATE_LIMITED: 'Too many attempts; wait a moment and try again.',
  TOO_MANY: 'That is more than the server allows at once.',
  INTERNAL: 'The JoChat server had a problem; it has logged it.',
};

/** A sentence for a person: the plain meaning of the code, and the server's own words when they add something. */
export function describeError(e: unknown): string {
  if (isJoChatError(e)) {
    const plain = PLAIN[e.code];
    if (!plain) return capitalize(e.message);
    // The server's message often says exactly what is wrong (e.g. which name is taken): keep it when it differs.
    return e.code === 'OFFLINE' || e.code === 'AUTH_FAILED' ? plain : `${plain} (${e.message})`;
  }
  return capitalize(e instanceof Error ? e.message : String(e));
}

const capitalize = (s: string): string => (s ? s[0]!.toUpperCase() + s.slice(1) : s);

/** Logs the error and shows it; does not wait for the person to answer. */
export function showError(what: string, e: unknown, log: vscode.LogOutputChannel): void {
  const text = `${what}: ${describeError(e)}`;
  log.error(text);
  void vscode.window.showErrorMessage(text, 'Show Log').then((choice) => choice === 'Show Log' && log.show(true));
}
