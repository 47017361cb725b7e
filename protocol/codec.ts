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
  /** Decodes the request in `payload` from `start` to `end` (all of it by default). */
  decodeRequest(payload: Buffer, start?: number, end?: number): Decoded<Request>;
  /** Decodes the server message in `payload` from `start` to `end` (all of it by default). */
  decodeServerMessage(
    payload: Buffer,
    pendingOf: (id: number) => PendingInfo | undefined,
    start?: number,
    end?: number,
  ): Decoded<ServerMessage>;
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

/** Chunk size of FrameWriter: as Node's Buffer pool, which frames came from before. */
const CHUNK = 8 * 1024;

/**
 * Writes frames one after another into a chunk of memory and hands each out as a view of it, not a copy; no frame's
 * bytes are written again. When a chunk is full, the frame being written moves to a new one. As with Node's Buffer
 * pool, a chunk lives as long as any frame in it. Each codec extends it with what its frames are made of.
 */
export class FrameWriter {
  protected buf = Buffer.allocUnsafe(CHUNK);
  /** Where the frame being written starts, with its length prefix. */
  protected start = 0;
  protected pos = 4;

  /** Starts a frame, after room for its length prefix. */
  begin(): void {
    this.pos = this.start + 4;
  }

  /** Makes room for n more bytes at `pos`. */
  protected room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const written = this.pos - this.start;
    const next = Buffer.allocUnsafe(Math.max(CHUNK, 2 * (written + n)));
    this.buf.copy(next, 0, this.start, this.pos);
    this.buf = next;
    this.start = 0;
    this.pos = written;
  }

  /** Appends a string's UTF-8 bytes. */
  utf8(s: string): void {
    // At most 3 bytes per UTF-16 unit. Measuring exactly takes a pass over the string: only worth it when reserving
    // 3 times its length would take a larger chunk.
    const max = s.length * 3;
    this.room(max <= CHUNK ? max : Buffer.byteLength(s));
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** The frame, with its length prefix. */
  finish(): Buffer {
    const frame = this.buf.subarray(this.start, this.pos);
    frame.writeUInt32BE(frame.length - 4, 0);
    if (this.buf.length > CHUNK) {
      // A chunk made larger for a large frame is left to it: small frames after it would keep it alive.
      this.buf = Buffer.allocUnsafe(CHUNK);
      this.start = 0;
    } else this.start = this.pos;
    return frame;
  }
}

/** Prepends the 4-byte big-endian length to a payload. */
export function frame(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + payload.length);
  out.writeUInt32BE(payload.length, 0);
  payload.copy(out, 4);
  return out;
}
