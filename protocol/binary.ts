/**
 * The compact binary protocol (docs/PROTOCOL.md). Frame payloads start with a type byte:
 *   request 0x01–0x3A (the op code), result 0x40|code, error 0x3F, event 0x80|code.
 * Then the request id (varint; not for events) and the body: fields in table order, with LEB128 varints for
 * integers and lengths, presence bytes for optional and nullable values, and no field names.
 */
import { DecodeFailure, FrameWriter, failure, type Codec, type Decoded, type PendingInfo } from './codec.js';
import {
  ERROR_CODES,
  EVENTS,
  EVENT_BY_CODE,
  OPS,
  OP_BY_CODE,
  PACKED,
  type Args,
  type Event,
  type OpName,
  type Request,
  type Result,
  type ServerMessage,
  type WireError,
} from './ops.js';
import { buildObject, fieldNames, generate, opt, perSchema, uint, type Schema } from './schema.js';

export const TYPE_RESULT = 0x40;
export const TYPE_ERROR = 0x3f;
export const TYPE_EVENT = 0x80;
/** The error body after code and message: an optional retry-after in ms. */
const RETRY_AFTER = opt(uint);

/** Bytes of a varint for a length (up to 2^28 - 1). */
const varintSize = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : 4);
/** Strings up to this many UTF-16 units are copied by hand when they are ASCII (see Writer.ascii). */
const SHORT_STRING = 32;

/** The binary body: bytes, varints, length-prefixed strings and bytes. */
class Writer extends FrameWriter {
  byte(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }

  varint(n: number): void {
    this.room(8);
    this.putVarint(n);
  }

  private putVarint(n: number): void {
    const buf = this.buf;
    let pos = this.pos;
    // Bit operations work on 32 bits: above that, divide (up to 2^53); then shift, which is several times faster.
    for (; n > 0x7fffffff; n = Math.floor(n / 0x80)) buf[pos++] = (n % 0x80) | 0x80;
    for (; n >= 0x80; n >>>= 7) buf[pos++] = (n & 0x7f) | 0x80;
    buf[pos++] = n;
    this.pos = pos;
  }

  str(s: string): void {
    // The UTF-8 length is between s.length (ASCII) and 3 × s.length. Reserve room for the most, guess the length
    // prefix's size from the least, write the text after it, and move the text if the prefix needs more bytes.
    const max = s.length * 3;
    this.room(varintSize(max) + max);
    const guess = varintSize(s.length);
    const start = this.pos + guess;
    const n = (s.length <= SHORT_STRING && this.ascii(s, start)) || this.buf.write(s, start, 'utf8');
    const actual = varintSize(n);
    if (actual !== guess) this.buf.copyWithin(this.pos + actual, start, start + n);
    this.putVarint(n); // room was reserved above; growing here would drop the bytes just written
    this.pos += n;
  }

  /**
   * Copies a string that is all ASCII, as its bytes, by hand: for short strings (names, ids) a call into Buffer's
   * native writer costs several times more. Returns the length written, or 0 if the string is not all ASCII.
   */
  private ascii(s: string, at: number): number {
    const buf = this.buf;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return 0;
      buf[at + i] = c;
    }
    return s.length;
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

/** Reads a payload: `buf` from `pos` to `end`. */
class Reader {
  constructor(
    private readonly buf: Buffer,
    public pos = 0,
    private readonly end = buf.length,
  ) {}

  private need(n: number): void {
    if (this.pos + n > this.end) throw new DecodeFailure('BAD_REQUEST', 'truncated frame');
  }

  byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  varint(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.byte();
      n += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (n > Number.MAX_SAFE_INTEGER) break;
        return n;
      }
      scale *= 0x80;
    }
    throw new DecodeFailure('BAD_REQUEST', 'integer out of range');
  }

  count(): number {
    const n = this.varint();
    if (n > this.end - this.pos) throw new DecodeFailure('BAD_REQUEST', 'truncated frame');
    return n;
  }

  length(): number {
    const n = this.varint();
    this.need(n);
    return n;
  }

  str(): string {
    const n = this.length();
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  bytes(): Buffer {
    const n = this.length();
    const b = Buffer.from(this.buf.subarray(this.pos, this.pos + n)); // a copy: the frame buffer is reused
    this.pos += n;
    return b;
  }

  done(): void {
    if (this.pos !== this.end) throw new DecodeFailure('BAD_REQUEST', 'unexpected bytes after the message');
  }
}

/** Writes a value of one schema; compiled once per schema (see writerOf). */
type WriteFn = (w: Writer, v: unknown) => void;
/** Reads a value of one schema; compiled once per schema (see readerOf). */
type ReadFn = (r: Reader) => unknown;

const writerOf = perSchema((s): WriteFn => {
  switch (s.kind) {
    case 'uint':
      return (w, v) => w.varint(v as number);
    case 'str':
      return (w, v) => w.str(v as string);
    case 'bytes':
      return (w, v) => w.bytes(v as Uint8Array);
    case 'bool':
      return (w, v) => w.byte(v ? 1 : 0);
    case 'opt':
    case 'nullable': {
      // opt: absent is undefined; nullable: absent is null (so opt(nullable(T)) writes null as 01 00).
      const absent = s.kind === 'opt' ? undefined : null;
      const of = writerOf(s.of);
      return (w, v) => {
        if (v === absent) return w.byte(0);
        w.byte(1);
        of(w, v);
      };
    }
    case 'arr': {
      const of = writerOf(s.of);
      return (w, v) => {
        const a = v as unknown[];
        w.varint(a.length);
        for (const x of a) of(w, x);
      };
    }
    case 'obj': {
      // (w, v) => { f[0](w, v.id); f[1](w, v.from); … }: see generate() for why.
      const names = fieldNames(s);
      const f = names.map((k) => writerOf(s.fields[k]!));
      return generate({ f }, 'w, v', names.map((k, i) => `f[${i}](w, v.${k});`).join(' '));
    }
  }
});

const readerOf = perSchema((s): ReadFn => {
  switch (s.kind) {
    case 'uint':
      return (r) => r.varint();
    case 'str':
      return (r) => r.str();
    case 'bytes':
      return (r) => r.bytes();
    case 'bool':
      return (r) => {
        const b = r.byte();
        if (b > 1) throw new DecodeFailure('BAD_REQUEST', 'a boolean must be 0 or 1');
        return b === 1;
      };
    case 'opt':
    case 'nullable': {
      const absent = s.kind === 'opt' ? undefined : null;
      const of = readerOf(s.of);
      return (r) => {
        const p = r.byte();
        if (p > 1) throw new DecodeFailure('BAD_REQUEST', 'a presence byte must be 0 or 1');
        return p === 1 ? of(r) : absent;
      };
    }
    case 'arr': {
      const of = readerOf(s.of);
      return (r) => {
        // Every element type in the table takes at least one byte, so a count can't exceed what is left.
        const n = r.count();
        const out: unknown[] = [];
        for (let i = 0; i < n; i++) out.push(of(r));
        return out;
      };
    }
    case 'obj': {
      // (r) => ({ id: f[0](r), from: f[1](r), … }), reading the fields in order: see generate() for why.
      const f = fieldNames(s).map((k) => readerOf(s.fields[k]!));
      return generate({ f }, 'r', buildObject(s, (i) => `f[${i}](r)`));
    }
  }
});

const write = (w: Writer, s: Schema, v: unknown): void => writerOf(s)(w, v);
const read = (r: Reader, s: Schema): unknown => readerOf(s)(r);

const w = new Writer();

function encodeResultBody<O extends OpName>(op: O, result: Result<O>, args: Args<O>): void {
  if (op === 'send') {
    const p = PACKED.send;
    write(w, p.schema, p.pack(result as Result<'send'>, args as Args<'send'>));
  } else write(w, OPS[op].result, result);
}

function decodeResultBody(r: Reader, op: OpName, pending: PendingInfo): unknown {
  if (op === 'send') {
    const p = PACKED.send;
    return p.unpack(read(r, p.schema) as Parameters<typeof p.unpack>[0], pending.args as Args<'send'>, pending.self);
  }
  return read(r, OPS[op].result);
}

export const binaryCodec: Codec = {
  protocol: 'binary',

  encodeRequest(req) {
    w.begin();
    w.byte(OPS[req.op].code);
    w.varint(req.id);
    write(w, OPS[req.op].args, req.args);
    return w.finish();
  },

  encodeResult(id, op, result, args) {
    w.begin();
    w.byte(TYPE_RESULT | OPS[op].code);
    w.varint(id);
    encodeResultBody(op, result, args);
    return w.finish();
  },

  encodeError(id, error: WireError) {
    w.begin();
    w.byte(TYPE_ERROR);
    w.varint(id);
    w.varint(ERROR_CODES.indexOf(error.code) + 1);
    w.str(error.message);
    write(w, RETRY_AFTER, error.retryAfterMs);
    return w.finish();
  },

  encodeEvent(ev: Event) {
    w.begin();
    w.byte(TYPE_EVENT | EVENTS[ev.event].code);
    write(w, EVENTS[ev.event].data, ev.data);
    return w.finish();
  },

  decodeRequest(payload, start = 0, end = payload.length): Decoded<Request> {
    let id = 0;
    try {
      const r = new Reader(payload, start, end);
      const type = r.byte();
      id = r.varint();
      const op = OP_BY_CODE.get(type);
      if (!op) throw new DecodeFailure('UNKNOWN_OP', `unknown operation code 0x${type.toString(16)}`);
      if (id < 1) throw new DecodeFailure('BAD_REQUEST', 'id must be a positive integer');
      const args = read(r, OPS[op].args);
      r.done();
      return { ok: true, value: { kind: 'request', id, op, args } as Request };
    } catch (e) {
      return failure(id, e);
    }
  },

  decodeServerMessage(payload, pendingOf, start = 0, end = payload.length): Decoded<ServerMessage> {
    let id = 0;
    try {
      const r = new Reader(payload, start, end);
      const type = r.byte();
      let value: ServerMessage;
      if (type >= TYPE_EVENT) {
        const event = EVENT_BY_CODE.get(type & 0x7f);
        if (!event) throw new DecodeFailure('BAD_REQUEST', `unknown event code 0x${type.toString(16)}`);
        value = { kind: 'event', event, data: read(r, EVENTS[event].data) } as Event;
      } else if (type === TYPE_ERROR) {
        id = r.varint();
        const code = ERROR_CODES[r.varint() - 1] ?? 'INTERNAL';
        const message = r.str();
        const retryAfterMs = read(r, RETRY_AFTER) as number | undefined;
        value = { kind: 'error', id, error: { code, message, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) } };
      } else {
        const op = OP_BY_CODE.get(type & 0x3f);
        if (type < TYPE_RESULT || !op) throw new DecodeFailure('BAD_REQUEST', `unknown frame type 0x${type.toString(16)}`);
        id = r.varint();
        const pending = pendingOf(id);
        if (!pending || pending.op !== op) throw new DecodeFailure('BAD_REQUEST', `a result for unknown request ${id}`);
        value = { kind: 'result', id, op, result: decodeResultBody(r, op, pending) } as ServerMessage;
      }
      r.done();
      return { ok: true, value };
    } catch (e) {
      return failure(id, e);
    }
  },
};
