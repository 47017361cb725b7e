/**
 * The typed messages between the extension host and the JoChat webview: one union per direction, and validators
 * each side runs on arrival. This file is the only thing the two sides share.
 */

export type ConnectionState = 'offline' | 'connecting' | 'online';

/** What the host owns and the view renders. */
export interface ViewState {
  server: string;
  connection: ConnectionState;
  username: string | null;
  pending: number;
  unread: number;
  byPeer: { peer: string; unread: number }[];
}

/** Commands the view may ask the host to run (each is also a Command Palette command). */
export const VIEW_COMMANDS = [
  'jochat.startServer',
  'jochat.connect',
  'jochat.signUp',
  'jochat.logIn',
  'jochat.logOut',
  'jochat.sendMessage',
  'jochat.fetchMessages',
  'jochat.searchAccounts',
  'jochat.openConversation',
  'jochat.deleteMessages',
  'jochat.deleteAccount',
  'jochat.showLog',
] as const;
export type ViewCommand = (typeof VIEW_COMMANDS)[number];

export type ToWebview = { type: 'state'; state: ViewState } | { type: 'open'; peer: string };

export type FromWebview =
  | { type: 'ready' }
  | { type: 'command'; command: ViewCommand }
  /** The conversation on screen (null: none), so the host notifies only about the others. */
  | { type: 'viewing'; peer: string | null };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function isViewState(v: unknown): v is ViewState {
  return (
    isRecord(v) &&
    typeof v['server'] === 'string' &&
    (v['connection'] === 'offline' || v['connection'] === 'connecting' || v['connection'] === 'online') &&
    (v['username'] === null || typeof v['username'] === 'string') &&
    isCount(v['pending']) &&
    isCount(v['unread']) &&
    Array.isArray(v['byPeer']) &&
    v['byPeer'].every((p) => isRecord(p) && typeof p['peer'] === 'string' && isCount(p['unread']))
  );
}

export function isToWebview(v: unknown): v is ToWebview {
  if (!isRecord(v)) return false;
  if (v['type'] === 'state') return isViewState(v['state']);
  if (v['type'] === 'open') return typeof v['peer'] === 'string';
  return false;
}

export function isFromWebview(v: unknown): v is FromWebview {
  if (!isRecord(v)) return false;
  switch (v['type']) {
    case 'ready':
      return true;
    case 'command':
      return (VIEW_COMMANDS as readonly unknown[]).includes(v['command']);
    case 'viewing':
      return v['peer'] === null || typeof v['peer'] === 'string';
    default:
      return false;
  }
}
