/**
 * The typed messages between the extension host and the JoChat webview: one union per direction, and validators
 * each side runs on arrival. This file is the only thing the two sides share: the webview never imports protocol/,
 * so the view's own data types (ChatMessage, Conversation, Account) and the limits it checks early are defined here
 * (a unit test checks the limits against protocol/limits.ts).
 *
 * Three kinds of traffic:
 * - the host pushes `state` (a snapshot of everything it owns: connection, user, counts, outbox), `open` (show a
 *   conversation) and `event` (live changes: a message arrived or was sent, messages deleted, presence, ...);
 * - the webview asks: `request` {reqId, op, args} is answered by one `reply` {reqId, ok, op, result | error}; the
 *   ops and their argument and result types are the table `ViewOps`;
 * - the webview tells: `ready`, `viewing`, `send` / `retry` / `discard` (the host keeps the outbox, so a message
 *   being sent survives a reload of the view), `command` (a whitelisted JoChat command), `open_settings`.
 */

export type ConnectionState = 'offline' | 'connecting' | 'online';

// ---- limits (the same numbers as protocol/limits.ts) ----

export const USERNAME_RE = /^[A-Za-z0-9_.-]{1,32}$/;
export const MAX_TEXT_BYTES = 16_384;
export const FETCH_MAX = 500;
export const PAGE_MAX = 100;
export const HISTORY_MAX = 500;
export const MAX_IDS = 500;
export const MAX_PATTERN = 64;
/** Not a protocol limit: a bound on what the view may hand the host as a password. */
export const MAX_PASSWORD = 1024;
export const MAX_LOCAL_ID = 64;

// ---- the view's data ----

/** A message as the view shows it (the wire Message: usernames as shown, times in ms since the epoch). */
export interface ChatMessage {
  id: number;
  from: string;
  to: string;
  text: string;
  sentAt: number;
  /** True while the recipient has not marked it read. */
  unread: boolean;
}

export interface Conversation {
  peer: string;
  lastMessage: ChatMessage;
  unread: number;
  online: boolean;
}

export interface Account {
  username: string;
  online: boolean;
}

/** A message the person sent that the server has not acknowledged yet (the host's outbox). */
export interface Outgoing {
  localId: string;
  to: string;
  text: string;
  createdAt: number;
  /** sending: in the outbox (re-sent after a reconnect); failed: the server refused it or the session ended. */
  status: 'sending' | 'failed';
  /** Why it failed, in plain words (null while sending). */
  error: string | null;
}

/** What the host owns and the view renders; sent whole whenever any of it changes. */
export interface ViewState {
  server: string;
  connection: ConnectionState;
  username: string | null;
  pending: number;
  unread: number;
  byPeer: { peer: string; unread: number }[];
  outbox: Outgoing[];
}

// ---- webview → host: requests and their results ----

type Empty = Record<string, never>;

export interface ViewOps {
  /** Connect to the configured server (resumes a saved session). */
  connect: { args: Empty; result: Empty };
  /** Run "JoChat: Start Bundled Server" (which then connects). */
  start_server: { args: Empty; result: Empty };
  signup: { args: { username: string; password: string }; result: { username: string } };
  login: { args: { username: string; password: string }; result: { username: string; pending: number; unread: number } };
  logout: { args: Empty; result: Empty };
  conversations: { args: Empty; result: { conversations: Conversation[] } };
  /** Newest first; `before` is a message id (null: from the newest). */
  history: { args: { peer: string; before: number | null; limit: number }; result: { messages: ChatMessage[]; more: boolean } };
  mark_read: { args: { peer: string; upTo: number }; result: { unread: number } };
  fetch_pending: { args: { limit: number }; result: { messages: ChatMessage[]; remaining: number } };
  list_accounts: {
    args: { pattern: string; cursor: string | null; limit: number };
    result: { accounts: Account[]; total: number; cursor: string | null };
  };
  delete_messages: { args: { ids: number[] }; result: { deleted: number[]; refused: number[] } };
  delete_account: { args: { password: string }; result: Empty };
}
export type ViewOp = keyof ViewOps;
export type ViewArgs<K extends ViewOp> = ViewOps[K]['args'];
export type ViewResult<K extends ViewOp> = ViewOps[K]['result'];

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

export type ViewRequest = { [K in ViewOp]: { type: 'request'; reqId: number; op: K; args: ViewArgs<K> } }[ViewOp];

export type FromWebview =
  /** The view (re)loaded: the host answers with a `state` snapshot (and `open` if one is waiting). */
  | { type: 'ready' }
  | { type: 'command'; command: ViewCommand }
  /** The conversation on screen (null: none), so the host notifies only about the others. */
  | { type: 'viewing'; peer: string | null }
  | { type: 'open_settings' }
  | ViewRequest
  /** Send through the host's outbox; progress comes back in `state.outbox` and a `sent` event. */
  | { type: 'send'; localId: string; to: string; text: string }
  /** Send a failed outbox entry again. */
  | { type: 'retry'; localId: string }
  /** Drop a failed outbox entry. */
  | { type: 'discard'; localId: string };

// ---- host → webview ----

/** Which form field an error belongs to (null: the form as a whole). */
export type ErrorField = 'username' | 'password' | null;

export interface ViewError {
  /** Plain words for a person. */
  message: string;
  field: ErrorField;
}

export type ViewEvent =
  | { kind: 'message'; message: ChatMessage }
  /** An outbox entry was acknowledged: it is now this message. */
  | { kind: 'sent'; localId: string; message: ChatMessage }
  | { kind: 'messages_deleted'; ids: number[] }
  | { kind: 'presence'; username: string; online: boolean }
  | { kind: 'account_deleted'; username: string }
  /** signed_in_elsewhere, account_deleted, server_shutdown, idle (others possible from newer servers). */
  | { kind: 'session_ended'; reason: string };

export type ReplyOk = { [K in ViewOp]: { type: 'reply'; reqId: number; ok: true; op: K; result: ViewResult<K> } }[ViewOp];
export type ReplyError = { type: 'reply'; reqId: number; ok: false; error: ViewError };

export type ToWebview =
  | { type: 'state'; state: ViewState }
  | { type: 'open'; peer: string }
  | { type: 'event'; event: ViewEvent }
  | ReplyOk
  | ReplyError;

// ---- validators ----

type Check<T> = (v: unknown) => v is T;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isId = (v: unknown): v is number => isCount(v) && v > 0;
const isInt = (min: number, max: number) => (v: unknown): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
const isString = (v: unknown): v is string => typeof v === 'string';
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const isNullable =
  <T>(check: Check<T>) =>
  (v: unknown): v is T | null =>
    v === null || check(v);
const isArrayOf =
  <T>(check: Check<T>, max = Infinity) =>
  (v: unknown): v is T[] =>
    Array.isArray(v) && v.length <= max && v.every(check);
const isUsername = (v: unknown): v is string => typeof v === 'string' && USERNAME_RE.test(v);
const isPassword = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_PASSWORD;
const isLocalId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_LOCAL_ID;
/** Only the fields listed, each passing its check (extra fields are refused: these messages are ours alone). */
function isShape(v: unknown, fields: Record<string, (x: unknown) => boolean>): v is Record<string, unknown> {
  if (!isRecord(v)) return false;
  for (const k of Object.keys(v)) if (!(k in fields)) return false;
  return Object.entries(fields).every(([k, check]) => check(v[k]));
}
const isEmpty = (v: unknown): v is Empty => isShape(v, {});

/** UTF-8 length, the unit of the server's text limit. */
export const utf8Length = (s: string): number => new TextEncoder().encode(s).length;
/** A text the server would take: some non-blank text, at most MAX_TEXT_BYTES of UTF-8. */
export const isSendableText = (v: unknown): v is string =>
  typeof v === 'string' && v.trim().length > 0 && (v.length * 3 <= MAX_TEXT_BYTES || utf8Length(v) <= MAX_TEXT_BYTES);

export const isChatMessage = (v: unknown): v is ChatMessage =>
  isShape(v, { id: isId, from: isString, to: isString, text: isString, sentAt: isCount, unread: isBool });
const isConversation = (v: unknown): v is Conversation =>
  isShape(v, { peer: isString, lastMessage: isChatMessage, unread: isCount, online: isBool });
const isAccount = (v: unknown): v is Account => isShape(v, { username: isString, online: isBool });
const isOutgoing = (v: unknown): v is Outgoing =>
  isShape(v, {
    localId: isLocalId,
    to: isString,
    text: isString,
    createdAt: isCount,
    status: (s) => s === 'sending' || s === 'failed',
    error: isNullable(isString),
  });

export function isViewState(v: unknown): v is ViewState {
  return isShape(v, {
    server: isString,
    connection: (c) => c === 'offline' || c === 'connecting' || c === 'online',
    username: isNullable(isString),
    pending: isCount,
    unread: isCount,
    byPeer: isArrayOf((p): p is { peer: string; unread: number } => isShape(p, { peer: isString, unread: isCount })),
    outbox: isArrayOf(isOutgoing),
  });
}

/** Per operation: what the host accepts as arguments and what the webview accepts as a result. */
export const VIEW_OPS: { [K in ViewOp]: { args: Check<ViewArgs<K>>; result: Check<ViewResult<K>> } } = {
  connect: { args: isEmpty, result: isEmpty },
  start_server: { args: isEmpty, result: isEmpty },
  signup: {
    args: (v): v is ViewArgs<'signup'> => isShape(v, { username: isUsername, password: isPassword }),
    result: (v): v is ViewResult<'signup'> => isShape(v, { username: isString }),
  },
  login: {
    args: (v): v is ViewArgs<'login'> => isShape(v, { username: isUsername, password: isPassword }),
    result: (v): v is ViewResult<'login'> => isShape(v, { username: isString, pending: isCount, unread: isCount }),
  },
  logout: { args: isEmpty, result: isEmpty },
  conversations: {
    args: isEmpty,
    result: (v): v is ViewResult<'conversations'> => isShape(v, { conversations: isArrayOf(isConversation) }),
  },
  history: {
    args: (v): v is ViewArgs<'history'> =>
      isShape(v, { peer: isUsername, before: isNullable(isId), limit: isInt(1, HISTORY_MAX) }),
    result: (v): v is ViewResult<'history'> => isShape(v, { messages: isArrayOf(isChatMessage), more: isBool }),
  },
  mark_read: {
    args: (v): v is ViewArgs<'mark_read'> => isShape(v, { peer: isUsername, upTo: isId }),
    result: (v): v is ViewResult<'mark_read'> => isShape(v, { unread: isCount }),
  },
  fetch_pending: {
    args: (v): v is ViewArgs<'fetch_pending'> => isShape(v, { limit: isInt(1, FETCH_MAX) }),
    result: (v): v is ViewResult<'fetch_pending'> => isShape(v, { messages: isArrayOf(isChatMessage), remaining: isCount }),
  },
  list_accounts: {
    args: (v): v is ViewArgs<'list_accounts'> =>
      isShape(v, {
        pattern: (p) => typeof p === 'string' && p.length <= MAX_PATTERN,
        cursor: isNullable(isString),
        limit: isInt(1, PAGE_MAX),
      }),
    result: (v): v is ViewResult<'list_accounts'> =>
      isShape(v, { accounts: isArrayOf(isAccount), total: isCount, cursor: isNullable(isString) }),
  },
  delete_messages: {
    args: (v): v is ViewArgs<'delete_messages'> =>
      isShape(v, { ids: (ids) => isArrayOf(isId, MAX_IDS)(ids) && ids.length > 0 }),
    result: (v): v is ViewResult<'delete_messages'> => isShape(v, { deleted: isArrayOf(isId), refused: isArrayOf(isId) }),
  },
  delete_account: {
    args: (v): v is ViewArgs<'delete_account'> => isShape(v, { password: isPassword }),
    result: isEmpty,
  },
};

export const isViewOp = (v: unknown): v is ViewOp =>
  typeof v === 'string' && Object.prototype.hasOwnProperty.call(VIEW_OPS, v);

const isViewError = (v: unknown): v is ViewError =>
  isShape(v, { message: isString, field: (f) => f === null || f === 'username' || f === 'password' });

export function isViewEvent(v: unknown): v is ViewEvent {
  if (!isRecord(v)) return false;
  switch (v['kind']) {
    case 'message':
      return isShape(v, { kind: isString, message: isChatMessage });
    case 'sent':
      return isShape(v, { kind: isString, localId: isLocalId, message: isChatMessage });
    case 'messages_deleted':
      return isShape(v, { kind: isString, ids: isArrayOf(isId) });
    case 'presence':
      return isShape(v, { kind: isString, username: isString, online: isBool });
    case 'account_deleted':
      return isShape(v, { kind: isString, username: isString });
    case 'session_ended':
      return isShape(v, { kind: isString, reason: isString });
    default:
      return false;
  }
}

export function isToWebview(v: unknown): v is ToWebview {
  if (!isRecord(v)) return false;
  switch (v['type']) {
    case 'state':
      return isShape(v, { type: isString, state: isViewState });
    case 'open':
      return isShape(v, { type: isString, peer: isString });
    case 'event':
      return isShape(v, { type: isString, event: isViewEvent });
    case 'reply': {
      if (v['ok'] === false) return isShape(v, { type: isString, reqId: isId, ok: isBool, error: isViewError });
      if (v['ok'] !== true) return false;
      const op = v['op'];
      return isViewOp(op) && isShape(v, { type: isString, reqId: isId, ok: isBool, op: isString, result: VIEW_OPS[op].result });
    }
    default:
      return false;
  }
}

export function isFromWebview(v: unknown): v is FromWebview {
  if (!isRecord(v)) return false;
  switch (v['type']) {
    case 'ready':
    case 'open_settings':
      return isShape(v, { type: isString });
    case 'command':
      return isShape(v, { type: isString, command: (c) => (VIEW_COMMANDS as readonly unknown[]).includes(c) });
    case 'viewing':
      return isShape(v, { type: isString, peer: isNullable(isUsername) });
    case 'request': {
      const op = v['op'];
      return isViewOp(op) && isShape(v, { type: isString, reqId: isId, op: isString, args: VIEW_OPS[op].args });
    }
    case 'send':
      return isShape(v, { type: isString, localId: isLocalId, to: isUsername, text: isSendableText });
    case 'retry':
    case 'discard':
      return isShape(v, { type: isString, localId: isLocalId });
    default:
      return false;
  }
}
