/** The JSON protocol of SPEC §2.1: requests {id, op, args}, responses {id, ok, result|error}, events {event, data}. */
import { DecodeFailure, FrameWriter, failure, type Codec, type Decoded, type PendingInfo } from './codec.js';
import { quickRequest } from './jsonRequest.js';
import {
  EVENTS,
  Message,
  OPS,
  isErrorCode,
  isEventName,
  isOpName,
  type Event,
  type Request,
  type ServerMessage,
  type WireError,
} from './ops.js';
import {
  bool,
  buildObject,
  fieldNames,
  generate,
  hasBytes,
  obj,
  opt,
  perSchema,
  str,
  uint,
  type Schema,
} from './schema.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Converts a typed value of one schema to its JSON form; compiled once per schema (see toJsonOf). */
type ToJson = (v: unknown) => unknown;
const same: ToJson = (v) => v;

const isAbsent = (v: unknown): v is undefined | null => v === undefined || v === null;

/**
 * Converts a typed value to its JSON form: only bytes change (to base64), so values without bytes pass as they are.
 * Every converter passes undefined and null through.
 */
const toJsonOf = perSchema((s): ToJson => {
  if (!hasBytes(s)) return same;
  switch (s.kind) {
    case 'bytes':
      return (v) => (isAbsent(v) ? v : Buffer.from(v as Uint8Array).toString('base64'));
    case 'opt':
    case 'nullable':
      return toJsonOf(s.of);
    case 'arr': {
      const of = toJsonOf(s.of);
      return (v) => (isAbsent(v) ? v : (v as unknown[]).map(of));
    }
    case 'obj': {
      // (v) => ({ salt: f[0](v.salt), … }): see generate() for why.
      const f = fieldNames(s).map((k) => toJsonOf(s.fields[k]!));
      const copy = generate<ToJson>({ f }, 'v', buildObject(s, (i, k) => `f[${i}](v.${k})`));
      return (v) => (isAbsent(v) ? v : copy(v));
    }
    default:
      return same;
  }
});

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** Validates a parsed JSON value of one schema and converts it to the typed form; compiled once per schema. */
type FromJson = (v: unknown) => unknown;

/**
 * A value failed validation. Thrown by the innermost check with what it must be; each enclosing object or array
 * prepends its part of the path as the failure passes up, so a valid message builds no path strings at all. Not an
 * Error: it never leaves this module (fromJson turns it into a DecodeFailure), so it needs no stack trace.
 */
class Invalid {
  path = '';
  constructor(readonly mustBe: string) {}
}

/** Runs a member's check, adding the member's place (`.name` or `[i]`) to the path of a failure. */
function member(check: FromJson, v: unknown, place: string | number): unknown {
  try {
    return check(v);
  } catch (e) {
    if (e instanceof Invalid) e.path = (typeof place === 'number' ? `[${place}]` : `.${place}`) + e.path;
    throw e;
  }
}

/** Unknown fields are dropped. */
const fromJsonOf = perSchema((s): FromJson => {
  switch (s.kind) {
    case 'uint':
      return (v) => {
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Invalid('a non-negative integer');
        return v;
      };
    case 'str':
      return (v) => {
        if (typeof v !== 'string') throw new Invalid('a string');
        return v;
      };
    case 'bool':
      return (v) => {
        if (typeof v !== 'boolean') throw new Invalid('true or false');
        return v;
      };
    case 'bytes':
      return (v) => {
        if (typeof v !== 'string' || v.length % 4 !== 0 || !BASE64_RE.test(v)) throw new Invalid('a base64 string');
        return Buffer.from(v, 'base64');
      };
    case 'opt': {
      const of = fromJsonOf(s.of);
      return (v) => (v === undefined ? undefined : of(v));
    }
    case 'nullable': {
      const of = fromJsonOf(s.of);
      return (v) => (v === null ? null : of(v));
    }
    case 'arr': {
      const of = fromJsonOf(s.of);
      return (v) => {
        if (!Array.isArray(v)) throw new Invalid('an array');
        return v.map((x, i) => member(of, x, i));
      };
    }
    case 'obj': {
      // (v) => ({ id: member(f[0], v.id, 'id'), … }), checking the fields in order: see generate() for why.
      const f = fieldNames(s).map((k) => fromJsonOf(s.fields[k]!));
      const copy = generate<FromJson>({ f, member }, 'v', buildObject(s, (i, k) => `member(f[${i}], v.${k}, '${k}')`));
      return (v) => {
        if (!isObject(v)) throw new Invalid('an object');
        return copy(v);
      };
    }
  }
});

/** Validates `v` (found at `path` in the message) against a schema; throws a DecodeFailure naming the bad field. */
function fromJson(s: Schema, v: unknown, path: string): unknown {
  try {
    return fromJsonOf(s)(v);
  } catch (e) {
    if (e instanceof Invalid) throw new DecodeFailure('BAD_REQUEST', `${path}${e.path} must be ${e.mustBe}`);
    throw e;
  }
}

const toJson = (s: Schema, v: unknown): unknown => toJsonOf(s)(v);

/**
 * A string without the characters JSON.stringify may escape: quote, backslash, controls and surrogates (it escapes
 * unpaired ones). Anchored and matching the whole string, which V8 runs in about half the time of a search for one.
 */
const UNESCAPED = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;
/** Strings up to this many UTF-16 units are checked and copied by hand (see JsonWriter.plainAscii). */
const SHORT_STRING = 32;

/** The JSON text of a message, written straight into its frame. */
class JsonWriter extends FrameWriter {
  /** The fields of the Message last written (see putOf), and where its text is. */
  private last: Message | undefined;
  private lastBuf = this.buf;
  private lastStart = 0;
  private lastEnd = 0;

  override begin(): void {
    // What an unfinished frame held is written over (enc() starting over, or an encoder that threw).
    if (this.lastBuf === this.buf && this.lastEnd > this.start) this.last = undefined;
    super.begin();
  }

  /** Where the next byte goes, counted from the frame's start (which moves when the frame moves to a new chunk). */
  get offset(): number {
    return this.pos - this.start;
  }

  /** Notes the Message `m` just written from `offset`, to write it again by copying. */
  remember(m: Message, offset: number): void {
    this.last = { id: m.id, from: m.from, to: m.to, text: m.text, sentAt: m.sentAt, unread: m.unread };
    this.lastBuf = this.buf;
    this.lastStart = this.start + offset;
    this.lastEnd = this.pos;
  }

  /** Copies the text of the Message last written if `m` has the same fields (and so the same text). */
  again(m: Message): boolean {
    const l = this.last;
    if (l === undefined || m.id !== l.id || m.sentAt !== l.sentAt || m.from !== l.from || m.to !== l.to) return false;
    if (m.text !== l.text || m.unread !== l.unread) return false;
    const n = this.lastEnd - this.lastStart;
    this.room(n);
    if (this.lastBuf === this.buf) this.buf.copyWithin(this.pos, this.lastStart, this.lastEnd);
    else this.lastBuf.copy(this.buf, this.pos, this.lastStart, this.lastEnd);
    this.pos += n;
    return true;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }

  /** Appends text known to be ASCII without anything to escape: punctuation, field names, numbers. */
  ascii(s: string): void {
    this.room(s.length);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
    this.pos = pos;
  }

  /** Appends a number as JSON.stringify writes it. */
  number(n: number): void {
    if (n >= 0 && Number.isSafeInteger(n)) this.digits(n);
    else this.ascii(String(n));
  }

  /**
   * Writes a non-negative safe integer's digits by hand: String() of one above 2^31 (a timestamp) costs four times
   * as much. Arithmetic on doubles down to 2^31, then on 32-bit integers, which is faster.
   */
  private digits(n: number): void {
    let length = 1;
    for (let p = 10; p <= n; p *= 10) length++;
    this.room(length);
    const buf = this.buf;
    let pos = (this.pos += length);
    for (; n > 0x7fffffff; n = Math.floor(n / 10)) buf[--pos] = 0x30 + (n % 10);
    let m = n | 0;
    do {
      const q = (m / 10) | 0;
      buf[--pos] = 0x30 + m - q * 10;
      m = q;
    } while (m > 0);
  }

  /** Appends a string quoted as JSON.stringify quotes it. */
  quoted(s: string): void {
    if (s.length <= SHORT_STRING && this.plainAscii(s)) return;
    if (!UNESCAPED.test(s)) return this.utf8(JSON.stringify(s));
    this.byte(0x22);
    this.utf8(s);
    this.byte(0x22);
  }

  /**
   * Quotes a string that is ASCII with nothing to escape, copying it by hand: for short strings (names, ids) this
   * costs less than a regular expression test and a call into Buffer's native writer. False (and nothing written) for
   * any other string.
   */
  private plainAscii(s: string): boolean {
    this.room(s.length + 2);
    const buf = this.buf;
    let pos = this.pos;
    buf[pos++] = 0x22;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c >= 0x80 || c === 0x22 || c === 0x5c) return false;
      buf[pos++] = c;
    }
    buf[pos++] = 0x22;
    this.pos = pos;
    return true;
  }
}

/**
 * Writes a value of one schema as JSON text, exactly as JSON.stringify would, field by field from the schema, in
 * under half the time for a message: JSON.stringify inspects every value it meets and quotes every string with a scan
 * for characters to escape, and its text would then be copied into the frame. False when it cannot write the value
 * that way, having written part of it (enc() then starts the frame over with JSON.stringify): a schema with bytes,
 * a value not of the schema, an object that is not a plain one with the schema's keys in the schema's order
 * (JSON.stringify follows the object's own order and keys).
 */
type Put = (o: JsonWriter, v: unknown) => boolean;
const giveUp: Put = () => false;

/** Whether JSON.stringify writes this object or array as its own properties (no toJSON, and the usual prototype). */
const plain = (v: object, prototype: object): boolean => Object.getPrototypeOf(v) === prototype && !('toJSON' in v);

/**
 * Whether a plain object's enumerable keys are the schema's field names in order, with no others. A field it does not
 * list must be optional and undefined: JSON.stringify would not write a value that is not enumerable.
 */
function schemaKeys(v: object, names: readonly string[], optional: readonly boolean[]): boolean {
  if (!plain(v, Object.prototype)) return false;
  const o = v as Record<string, unknown>;
  let i = 0;
  for (const k in o) {
    for (; i < names.length && names[i] !== k; i++) if (!optional[i] || o[names[i]!] !== undefined) return false;
    if (i === names.length) return false;
    i++;
  }
  for (; i < names.length; i++) if (!optional[i] || o[names[i]!] !== undefined) return false;
  return true;
}

/**
 * The statements that write an object's fields (the object is `v`; `f[i]` puts field i), optional ones only when
 * defined. Each field's `"name":` goes with the comma or brace before it as one constant, known when generating but
 * after optional fields: `w` then says whether one was written.
 */
function putFields(names: readonly string[], optional: readonly boolean[]): string {
  let before: 'none' | 'some' | 'unknown' = 'none';
  const code = names.map((k, i) => {
    const key = (lead: string): string => `'${lead}"${k}":'`;
    const head =
      before === 'none' ? key('{') : before === 'some' ? key(',') : `w ? ${key(',')} : ${key('{')}`;
    const put = `o.ascii(${head}); if (!f[${i}](o, x)) return false;`;
    if (!optional[i]) {
      before = 'some';
      return `x = v.${k}; ${put}`;
    }
    if (before === 'none') before = 'unknown';
    return `x = v.${k}; if (x !== undefined) { ${put}${before === 'unknown' ? ' w = true;' : ''} }`;
  });
  const end = before === 'none' ? `o.ascii('{}');` : before === 'some' ? 'o.byte(0x7d);' : `o.ascii(w ? '}' : '{}');`;
  return `let x, w = false; ${code.join(' ')} ${end} return true;`;
}

const putOf = perSchema((s): Put => {
  if (hasBytes(s)) return giveUp;
  switch (s.kind) {
    case 'uint':
      return (o, v) => {
        if (typeof v !== 'number' || !Number.isFinite(v)) return false;
        o.number(v);
        return true;
      };
    case 'str':
      return (o, v) => {
        if (typeof v !== 'string') return false;
        o.quoted(v);
        return true;
      };
    case 'bool':
      return (o, v) => {
        if (v !== true && v !== false) return false;
        o.ascii(v ? 'true' : 'false');
        return true;
      };
    case 'opt': // the object leaves the field out when it is undefined
      return putOf(s.of);
    case 'nullable': {
      const of = putOf(s.of);
      return (o, v) => {
        if (v !== null) return of(o, v);
        o.ascii('null');
        return true;
      };
    }
    case 'arr': {
      const of = putOf(s.of);
      return (o, v) => {
        if (!Array.isArray(v) || !plain(v, Array.prototype)) return false;
        o.byte(0x5b);
        for (let i = 0; i < v.length; i++) {
          if (i > 0) o.byte(0x2c);
          if (!of(o, v[i])) return false;
        }
        o.byte(0x5d);
        return true;
      };
    }
    case 'obj': {
      // o.ascii('{"id":'); f[0](o, v.id); o.ascii(',"from":'); …: see generate() for why.
      const names = fieldNames(s);
      const optional = names.map((k) => s.fields[k]!.kind === 'opt');
      const f = names.map((k) => putOf(s.fields[k]!));
      const put = generate<Put>({ f }, 'o, v', putFields(names, optional));
      const fits = (v: unknown): boolean => typeof v === 'object' && v !== null && schemaKeys(v, names, optional);
      if (s !== Message) return (o, v) => fits(v) && put(o, v);
      // A message is written twice in a row: pushed to its recipient, then in the result of its sender's request.
      // The second time, its text is copied from the first, for a fraction of the cost of writing it again. Values
      // that fit are objects with just these fields, so equal fields mean the same text.
      return (o, v) => {
        if (!fits(v)) return false;
        if (o.again(v as Message)) return true;
        const at = o.offset;
        if (!put(o, v)) return false;
        o.remember(v as Message, at);
        return true;
      };
    }
    default:
      return giveUp;
  }
});

const out = new JsonWriter();

/** Frames a whole message of schema `s`, written by putOf when it can, else by JSON.stringify. */
function enc(s: Schema, message: unknown): Buffer {
  out.begin();
  if (!putOf(s)(out, message)) {
    out.begin();
    out.utf8(JSON.stringify(toJson(s, message)));
  }
  return out.finish();
}

/** The schemas of whole messages, per op or event, for enc(). */
const envelopes = <K extends string, D>(table: Record<K, D>, schema: (d: D) => Schema): Record<K, Schema> =>
  Object.fromEntries(Object.entries<D>(table).map(([k, d]) => [k, schema(d)])) as Record<K, Schema>;
const REQUEST = envelopes(OPS, (d) => obj({ id: uint, op: str, args: d.args }));
const RESULT = envelopes(OPS, (d) => obj({ id: uint, ok: bool, result: d.result }));
const EVENT = envelopes(EVENTS, (d) => obj({ event: str, data: d.data }));
const ERROR = obj({ id: uint, ok: bool, error: obj({ code: str, message: str, retryAfterMs: opt(uint) }) });

const requestId = (v: Record<string, unknown>): number => {
  const id = v['id'];
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1)
    throw new DecodeFailure('BAD_REQUEST', 'id must be a positive integer');
  return id;
};

/**
 * Bounds a request's shape before JSON.parse: legal requests nest 3 deep with at most ~1,000 values, while parsing
 * deeply nested or tiny values costs up to 60 times more per byte than text, enough for a few clients to stall the
 * server with 1 MiB frames. One pass over the bytes, skipping strings.
 */
const MAX_DEPTH = 16;
const MAX_VALUES = 4096;
function checkShape(p: Buffer, start: number, end: number): void {
  let depth = 0;
  let values = 0;
  for (let i = start; i < end; i++) {
    const c = p[i]!;
    if (c === 0x22) {
      for (i++; i < end && p[i] !== 0x22; i++) if (p[i] === 0x5c) i++;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_DEPTH) throw new DecodeFailure('BAD_REQUEST', `a request is nested at most ${MAX_DEPTH} deep`);
    } else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x2c && ++values > MAX_VALUES)
      throw new DecodeFailure('BAD_REQUEST', `a request has at most ${MAX_VALUES} values`);
  }
}

function parse(payload: Buffer, start = 0, end = payload.length): Record<string, unknown> {
  const v: unknown = JSON.parse(payload.toString('utf8', start, end));
  if (!isObject(v)) throw new DecodeFailure('BAD_REQUEST', 'a message must be a JSON object');
  return v;
}

/** Any request, or why it is refused: the general path (decodeRequest tries quickRequest first). */
export function parseRequest(payload: Buffer, start = 0, end = payload.length): Decoded<Request> {
  let id = 0;
  try {
    checkShape(payload, start, end);
    const v = parse(payload, start, end);
    id = requestId(v);
    const op = v['op'];
    if (typeof op !== 'string') throw new DecodeFailure('BAD_REQUEST', 'op must be a string');
    if (!isOpName(op)) throw new DecodeFailure('UNKNOWN_OP', `unknown operation "${op.slice(0, 40)}"`);
    const args = fromJson(OPS[op].args, v['args'] ?? {}, 'args');
    return { ok: true, value: { kind: 'request', id, op, args } as Request };
  } catch (e) {
    return failure(id, e);
  }
}

export const jsonCodec: Codec = {
  protocol: 'json',

  encodeRequest: (req) => enc(REQUEST[req.op], { id: req.id, op: req.op, args: req.args }),
  encodeResult: (id, op, result) => enc(RESULT[op], { id, ok: true, result }),
  encodeError: (id, error) => enc(ERROR, { id, ok: false, error }),
  encodeEvent: (ev) => enc(EVENT[ev.event], { event: ev.event, data: ev.data }),

  decodeRequest(payload, start = 0, end = payload.length): Decoded<Request> {
    const quick = quickRequest(payload, start, end);
    return quick === undefined ? parseRequest(payload, start, end) : { ok: true, value: quick };
  },

  decodeServerMessage(payload, pendingOf: (id: number) => PendingInfo | undefined): Decoded<ServerMessage> {
    let id = 0;
    try {
      const v = parse(payload);
      if (typeof v['event'] === 'string') {
        const name = v['event'];
        if (!isEventName(name)) throw new DecodeFailure('BAD_REQUEST', `unknown event "${name.slice(0, 40)}"`);
        const data = fromJson(EVENTS[name].data, v['data'], 'data');
        return { ok: true, value: { kind: 'event', event: name, data } as Event };
      }
      id = v['id'] === 0 ? 0 : requestId(v);
      if (v['ok'] === false) {
        const err = v['error'];
        if (!isObject(err) || typeof err['code'] !== 'string' || typeof err['message'] !== 'string')
          throw new DecodeFailure('BAD_REQUEST', 'error must be {code, message}');
        const retry = err['retryAfterMs'];
        const error: WireError = {
          code: isErrorCode(err['code']) ? err['code'] : 'INTERNAL',
          message: err['message'],
          ...(typeof retry === 'number' && Number.isSafeInteger(retry) && retry >= 0 ? { retryAfterMs: retry } : {}),
        };
        return { ok: true, value: { kind: 'error', id, error } };
      }
      if (v['ok'] !== true) throw new DecodeFailure('BAD_REQUEST', 'a response needs "ok": true or false');
      const pending = pendingOf(id);
      if (!pending) throw new DecodeFailure('BAD_REQUEST', `a result for unknown request ${id}`);
      const result = fromJson(OPS[pending.op].result, v['result'], 'result');
      return { ok: true, value: { kind: 'result', id, op: pending.op, result } as ServerMessage };
    } catch (e) {
      return failure(id, e);
    }
  },
};
