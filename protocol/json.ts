/** The JSON protocol of SPEC §2.1: requests {id, op, args}, responses {id, ok, result|error}, events {event, data}. */
import { DecodeFailure, failure, type Codec, type Decoded, type PendingInfo } from './codec.js';
import { quickRequest } from './jsonRequest.js';
import { quickServerMessage } from './jsonServerMessage.js';
import { JsonWriter, putOf } from './jsonText.js';
import {
  EVENTS,
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

/** Any server message, or why it is refused: the general path (decodeServerMessage tries quickServerMessage first). */
export function parseServerMessage(
  payload: Buffer,
  pendingOf: (id: number) => PendingInfo | undefined,
  start = 0,
  end = payload.length,
): Decoded<ServerMessage> {
  let id = 0;
  try {
    const v = parse(payload, start, end);
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

  decodeServerMessage(payload, pendingOf, start = 0, end = payload.length) {
    const quick = quickServerMessage(payload, pendingOf, start, end);
    return quick === undefined ? parseServerMessage(payload, pendingOf, start, end) : { ok: true, value: quick };
  },
};
