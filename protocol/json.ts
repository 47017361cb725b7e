/** The JSON protocol of SPEC §2.1: requests {id, op, args}, responses {id, ok, result|error}, events {event, data}. */
import { DecodeFailure, failure, type Codec, type Decoded, type PendingInfo } from './codec.js';
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
import { hasBytes, type Schema } from './schema.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Converts a typed value to its JSON form: only bytes change (to base64). */
function toJson(s: Schema, v: unknown): unknown {
  if (!hasBytes(s) || v === undefined || v === null) return v;
  switch (s.kind) {
    case 'bytes':
      return Buffer.from(v as Uint8Array).toString('base64');
    case 'opt':
    case 'nullable':
      return toJson(s.of, v);
    case 'arr':
      return (v as unknown[]).map((x) => toJson(s.of, x));
    case 'obj': {
      const o = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(s.fields)) if (o[k] !== undefined) out[k] = toJson(s.fields[k]!, o[k]);
      return out;
    }
    default:
      return v;
  }
}

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** Validates a parsed JSON value against a schema and converts it to the typed form. Unknown fields are dropped. */
function fromJson(s: Schema, v: unknown, path: string): unknown {
  switch (s.kind) {
    case 'uint':
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
        throw new DecodeFailure('BAD_REQUEST', `${path} must be a non-negative integer`);
      return v;
    case 'str':
      if (typeof v !== 'string') throw new DecodeFailure('BAD_REQUEST', `${path} must be a string`);
      return v;
    case 'bool':
      if (typeof v !== 'boolean') throw new DecodeFailure('BAD_REQUEST', `${path} must be true or false`);
      return v;
    case 'bytes':
      if (typeof v !== 'string' || v.length % 4 !== 0 || !BASE64_RE.test(v))
        throw new DecodeFailure('BAD_REQUEST', `${path} must be a base64 string`);
      return Buffer.from(v, 'base64');
    case 'opt':
      return v === undefined ? undefined : fromJson(s.of, v, path);
    case 'nullable':
      return v === null ? null : fromJson(s.of, v, path);
    case 'arr':
      if (!Array.isArray(v)) throw new DecodeFailure('BAD_REQUEST', `${path} must be an array`);
      return v.map((x, i) => fromJson(s.of, x, `${path}[${i}]`));
    case 'obj': {
      if (!isObject(v)) throw new DecodeFailure('BAD_REQUEST', `${path} must be an object`);
      const out: Record<string, unknown> = {};
      for (const [k, fs] of Object.entries(s.fields)) {
        const x = fromJson(fs, v[k], `${path}.${k}`);
        if (x !== undefined) out[k] = x;
      }
      return out;
    }
  }
}

const enc = (value: unknown): Buffer => {
  const body = JSON.stringify(value);
  const len = Buffer.byteLength(body);
  const out = Buffer.allocUnsafe(4 + len);
  out.writeUInt32BE(len, 0);
  out.write(body, 4, 'utf8');
  return out;
};

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
function checkShape(p: Buffer): void {
  let depth = 0;
  let values = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === 0x22) {
      for (i++; i < p.length && p[i] !== 0x22; i++) if (p[i] === 0x5c) i++;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_DEPTH) throw new DecodeFailure('BAD_REQUEST', `a request is nested at most ${MAX_DEPTH} deep`);
    } else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x2c && ++values > MAX_VALUES)
      throw new DecodeFailure('BAD_REQUEST', `a request has at most ${MAX_VALUES} values`);
  }
}

function parse(payload: Buffer): Record<string, unknown> {
  const v: unknown = JSON.parse(payload.toString('utf8'));
  if (!isObject(v)) throw new DecodeFailure('BAD_REQUEST', 'a message must be a JSON object');
  return v;
}

export const jsonCodec: Codec = {
  protocol: 'json',

  encodeRequest: (req) => enc({ id: req.id, op: req.op, args: toJson(OPS[req.op].args, req.args) }),
  encodeResult: (id, op, result) => enc({ id, ok: true, result: toJson(OPS[op].result, result) }),
  encodeError: (id, error) => enc({ id, ok: false, error }),
  encodeEvent: (ev) => enc({ event: ev.event, data: toJson(EVENTS[ev.event].data, ev.data) }),

  decodeRequest(payload): Decoded<Request> {
    let id = 0;
    try {
      checkShape(payload);
      const v = parse(payload);
      id = requestId(v);
      const op = v['op'];
      if (typeof op !== 'string') throw new DecodeFailure('BAD_REQUEST', 'op must be a string');
      if (!isOpName(op)) throw new DecodeFailure('UNKNOWN_OP', `unknown operation "${op.slice(0, 40)}"`);
      const args = fromJson(OPS[op].args, v['args'] ?? {}, 'args');
      return { ok: true, value: { kind: 'request', id, op, args } as Request };
    } catch (e) {
      return failure(id, e);
    }
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
