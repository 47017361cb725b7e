/** What a wire codec offers; both the JSON and the binary codec implement it, from the one table in ops.ts. */
import type { Args, ErrorCode, Event, OpName, Request, Result, ServerMessage, WireError } from './ops.js';

export type Protocol = 'json' | 'binary';

/** A decode outcome as a value: decoders never throw. `id` is the request id when it could be read, else 0. */
export type Decoded<T> = { ok: true; value: T } | { ok: false; id: number; error: WireError };

/** What a client remembers about a request it is waiting on, so results can be decoded and unpacked. */
export interface PendingInfo {
  op: OpName;
  args: Args<OpName>;
  /** The client's own username, when logged in. */
  self: string;
}

export interface Codec {
  readonly protocol: Protocol;
  /** Each encoder returns a whole frame: the 4-byte length prefix and the payload. */
  encodeRequest(req: Request): Buffer;
  encodeResult<O extends OpName>(id: number, op: O, result: Result<O>, args: Args<O>): Buffer;
  encodeError(id: number, error: WireError): Buffer;
  encodeEvent(ev: Event): Buffer;
  decodeRequest(payload: Buffer): Decoded<Request>;
  decodeServerMessage(payload: Buffer, pendingOf: (id: number) => PendingInfo | undefined): Decoded<ServerMessage>;
}

/** Thrown only inside decoders and caught at their entry points, so a failure becomes a Decoded value. */
export class DecodeFailure extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function failure(id: number, e: unknown): { ok: false; id: number; error: WireError } {
  if (e instanceof DecodeFailure) return { ok: false, id, error: { code: e.code, message: e.message } };
  // A RangeError from a Buffer read or a JSON SyntaxError: the input, not the server, is at fault.
  return { ok: false, id, error: { code: 'BAD_REQUEST', message: `malformed frame: ${(e as Error).message}` } };
}

/** Prepends the 4-byte big-endian length to a payload. */
export function frame(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + payload.length);
  out.writeUInt32BE(payload.length, 0);
  payload.copy(out, 4);
  return out;
}
