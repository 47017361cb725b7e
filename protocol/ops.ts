/**
 * The one table of JoChat's wire contract: every operation (with its numeric code, arguments and result), every
 * event and every error code. The JSON codec, the binary codec, the server's dispatch and the client's typed API are
 * all derived from it; nothing else lists operations.
 */
import { arr, bool, bytes, nullable, obj, opt, str, uint, type Infer, type ObjS, type Fields } from './schema.js';

export const Message = obj({
  id: uint,
  from: str,
  to: str,
  text: str,
  sentAt: uint,
  /** Added to SPEC's Message: true while the recipient has not marked it read. */
  unread: bool,
});
export type Message = Infer<typeof Message>;

export const Counts = obj({ pending: uint, unread: uint, byPeer: arr(obj({ peer: str, unread: uint })) });
export type Counts = Infer<typeof Counts>;

const scramKeys = { salt: bytes, iterations: uint, storedKey: bytes, serverKey: bytes } as const;
const empty = obj({});

interface OpDef {
  readonly code: number;
  readonly args: ObjS<Fields>;
  readonly result: ObjS<Fields>;
  /** Operations allowed before logging in. */
  readonly anonymous?: boolean;
}

/**
 * Operations. Codes are the binary opcodes (requests use the code, results 0x40 | code), so they must stay below
 * 0x3B: a binary frame must never begin with `{` (0x7B).
 */
export const OPS = {
  hello: {
    code: 1,
    anonymous: true,
    args: obj({ client: opt(str), version: opt(str) }),
    result: obj({ server: str, version: str, protocol: uint, maxFrame: uint, maxText: uint }),
  },
  signup: {
    code: 2,
    anonymous: true,
    args: obj({ username: str, ...scramKeys }),
    result: obj({ username: str, token: str, pending: uint, unread: uint }),
  },
  login_start: {
    code: 3,
    anonymous: true,
    args: obj({ username: str, clientNonce: str }),
    result: obj({ salt: bytes, iterations: uint, nonce: str }),
  },
  login_finish: {
    code: 4,
    anonymous: true,
    args: obj({ nonce: str, proof: bytes }),
    result: obj({ username: str, serverSignature: bytes, token: str, pending: uint, unread: uint }),
  },
  resume: {
    code: 5,
    anonymous: true,
    args: obj({ token: str }),
    result: obj({ username: str, pending: uint, unread: uint }),
  },
  logout: { code: 6, args: empty, result: empty },
  counts: { code: 7, args: empty, result: Counts },
  send: {
    code: 8,
    args: obj({ to: str, text: str, clientMsgId: opt(str) }),
    result: obj({ message: Message, delivered: bool }),
  },
  fetch_pending: { code: 9, args: obj({ limit: uint }), result: obj({ messages: arr(Message), remaining: uint }) },
  mark_read: {
    code: 10,
    // Either `ids`, or `peer` with `upTo` (everything received from that peer up to that id).
    args: obj({ ids: opt(arr(uint)), peer: opt(str), upTo: opt(uint) }),
    result: obj({ unread: uint }),
  },
  conversations: {
    code: 11,
    args: empty,
    // `online` is added to SPEC's fields so a client can show presence without a second request.
    result: obj({ conversations: arr(obj({ peer: str, lastMessage: Message, unread: uint, online: bool })) }),
  },
  history: {
    code: 12,
    args: obj({ peer: str, before: opt(uint), limit: opt(uint) }),
    result: obj({ messages: arr(Message), more: bool }),
  },
  list_accounts: {
    code: 13,
    args: obj({ pattern: str, limit: opt(uint), cursor: opt(nullable(str)) }),
    result: obj({ accounts: arr(obj({ username: str, online: bool })), total: uint, cursor: nullable(str) }),
  },
  delete_messages: { code: 14, args: obj({ ids: arr(uint) }), result: obj({ deleted: arr(uint), refused: arr(uint) }) },
  delete_account: { code: 15, args: obj({ nonce: str, proof: bytes }), result: empty },
  change_password: { code: 16, args: obj({ nonce: str, proof: bytes, ...scramKeys }), result: obj({ token: str }) },
  ping: { code: 17, anonymous: true, args: empty, result: empty },
} as const satisfies Record<string, OpDef>;

/**
 * Results the binary protocol sends in a shorter form, leaving out what the requester already has (for `send`: its
 * own name, the text and the recipient as typed). `pack` runs on the server, `unpack` on the client with the
 * request's arguments and the client's own username.
 */
const packedSend = obj({ id: uint, sentAt: uint, delivered: bool, to: opt(str) });
export const PACKED = {
  send: {
    schema: packedSend,
    pack: (r: Result<'send'>, a: Args<'send'>): Infer<typeof packedSend> => ({
      id: r.message.id,
      sentAt: r.message.sentAt,
      delivered: r.delivered,
      // Only when the canonical name differs from what the sender typed (case).
      ...(r.message.to === a.to ? {} : { to: r.message.to }),
    }),
    unpack: (p: Infer<typeof packedSend>, a: Args<'send'>, self: string): Result<'send'> => ({
      message: { id: p.id, from: self, to: p.to ?? a.to, text: a.text, sentAt: p.sentAt, unread: true },
      delivered: p.delivered,
    }),
  },
} as const;

/** Server-pushed events; binary type byte 0x80 | code. */
export const EVENTS = {
  message: { code: 1, data: obj({ message: Message }) },
  messages_deleted: { code: 2, data: obj({ ids: arr(uint) }) },
  counts: { code: 3, data: Counts },
  account_deleted: { code: 4, data: obj({ username: str }) },
  session_ended: { code: 5, data: obj({ reason: str }) },
  presence: { code: 6, data: obj({ username: str, online: bool }) },
} as const satisfies Record<string, { code: number; data: ObjS<Fields> }>;

/** Error codes, in SPEC order; the binary code is the 1-based position. */
export const ERROR_CODES = [
  'BAD_REQUEST',
  'UNKNOWN_OP',
  'NOT_LOGGED_IN',
  'ALREADY_LOGGED_IN',
  'INVALID_USERNAME',
  'USERNAME_TAKEN',
  'AUTH_FAILED',
  'NO_SUCH_USER',
  'TEXT_TOO_LONG',
  'TOO_MANY',
  'RATE_LIMITED',
  'FRAME_TOO_LARGE',
  'INTERNAL',
] as const;

export const SESSION_END_REASONS = ['signed_in_elsewhere', 'account_deleted', 'server_shutdown', 'idle'] as const;

export type OpName = keyof typeof OPS;
export type EventName = keyof typeof EVENTS;
export type ErrorCode = (typeof ERROR_CODES)[number];
export type SessionEndReason = (typeof SESSION_END_REASONS)[number];
export type Args<O extends OpName> = Infer<(typeof OPS)[O]['args']>;
export type Result<O extends OpName> = Infer<(typeof OPS)[O]['result']>;
export type EventData<E extends EventName> = Infer<(typeof EVENTS)[E]['data']>;

/** An error as a value: a code from the table and plain words for a person. */
export interface WireError {
  code: ErrorCode;
  message: string;
  /** With RATE_LIMITED: how long to wait before trying again. */
  retryAfterMs?: number;
}

export type Request = { [O in OpName]: { kind: 'request'; id: number; op: O; args: Args<O> } }[OpName];
export type OkResponse = { [O in OpName]: { kind: 'result'; id: number; op: O; result: Result<O> } }[OpName];
export interface ErrorResponse {
  kind: 'error';
  /** 0 when the failing request's id could not be read. */
  id: number;
  error: WireError;
}
export type Event = { [E in EventName]: { kind: 'event'; event: E; data: EventData<E> } }[EventName];
export type ServerMessage = OkResponse | ErrorResponse | Event;
export type ClientMessage = Request;

const byCode = <T extends { code: number }>(table: Record<string, T>): Map<number, string> =>
  new Map(Object.entries(table).map(([name, def]) => [def.code, name]));
export const OP_BY_CODE = byCode(OPS) as Map<number, OpName>;
export const EVENT_BY_CODE = byCode(EVENTS) as Map<number, EventName>;

export const isOpName = (s: string): s is OpName => Object.prototype.hasOwnProperty.call(OPS, s);
export const isEventName = (s: string): s is EventName => Object.prototype.hasOwnProperty.call(EVENTS, s);
export const isErrorCode = (s: string): s is ErrorCode => (ERROR_CODES as readonly string[]).includes(s);
