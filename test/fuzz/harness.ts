/**
 * The fuzz harness for the frame reader and both decoders (issue 6). Inputs are valid frames built from the schema
 * table (protocol/ops.ts), then mutated: byte-level (flips, inserts, deletes, truncation, splices, interesting bytes
 * and over-long varints) and, for JSON, structure-level (type confusion, edge-case numbers, prototype keys,
 * duplicate keys, bad base64, deep nesting). Every input is checked against oracles stronger than "did not throw":
 * a decoded request conforms exactly to its op's schema, re-encodes to the same value, does not alias the frame
 * buffer, and a refusal carries a request-level code and a short message.
 *
 * Coverage-guided fuzzing (Jazzer.js) was tried first: @jazzer.js/core 4.0.0 installs from npm, but its prebuilt
 * libFuzzer addon needs GLIBC 2.38 (this Debian 12 has 2.36); 2.1.0 downloads its addon from GitHub at install time,
 * which this workplace cannot reach. So this is property-based mutation with fast-check (docs/SECURITY.md).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { binaryCodec } from '../../protocol/binary.js';
import type { Codec, Decoded, PendingInfo, Protocol } from '../../protocol/codec.js';
import { frame } from '../../protocol/codec.js';
import { FrameReader } from '../../protocol/framing.js';
import { jsonCodec, parseRequest, parseServerMessage } from '../../protocol/json.js';
import { quickServerMessage } from '../../protocol/jsonServerMessage.js';
import {
  ERROR_CODES,
  EVENTS,
  OPS,
  isOpName,
  type Args,
  type ErrorCode,
  type OpName,
  type Request,
  type ServerMessage,
} from '../../protocol/ops.js';
import type { Schema } from '../../protocol/schema.js';
import { schemaArb } from '../helpers/arbitraries.js';

export const CODECS: Record<Protocol, Codec> = { json: jsonCodec, binary: binaryCodec };
export const OP_NAMES = Object.keys(OPS) as OpName[];
const MAX = Number.MAX_SAFE_INTEGER;

/** A refusal of a request may only blame the request: anything else (INTERNAL above all) is a decoder bug. */
const REQUEST_ERRORS: readonly ErrorCode[] = ['BAD_REQUEST', 'UNKNOWN_OP'];
/** Error messages echo at most a short slice of the input, so a refusal cannot amplify what an attacker sent. */
export const MAX_ERROR_MESSAGE = 200;

// ---------- valid values from the schema ----------

const uintArb = fc.oneof(
  fc.nat({ max: 300 }),
  fc.constantFrom(0, 1, 127, 128, 16383, 16384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, MAX - 1, MAX),
  fc.maxSafeNat(),
);
const strArb = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('alice', 'Bob', 'b*', '?ob', '%_\\', '', 'x'.repeat(40), '😀', '{"a":1}'),
);
const bytesArb = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
  fc.constantFrom(0, 8, 16, 32, 64, 65).map((n) => Buffer.alloc(n, 0xab)),
);

export const valueArb = (s: Schema): fc.Arbitrary<unknown> =>
  schemaArb(s, { uint: uintArb, str: strArb, bytes: bytesArb, maxArray: 5 });

const idArb = fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.constantFrom(127, 128, 2 ** 32, MAX), fc.integer({ min: 1, max: MAX }));

export const requestArb: fc.Arbitrary<Request> = fc.oneof(
  ...OP_NAMES.map((op) =>
    fc.record({ id: idArb, args: valueArb(OPS[op].args) }).map(({ id, args }) => ({ kind: 'request', id, op, args }) as Request),
  ),
);

// ---------- mutations ----------

/** Bytes that often sit on a decision boundary: presence/bool values, varint continuation, the JSON brace, types. */
const INTERESTING_BYTES = [0x00, 0x01, 0x02, 0x3f, 0x40, 0x7b, 0x7d, 0x7f, 0x80, 0x81, 0xc0, 0xef, 0xfe, 0xff];
/** Varints past their limits: 2^53 (9 bytes long), 2^32 and an unterminated run. */
const LONG_VARINTS = [
  [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10],
  [0x80, 0x80, 0x80, 0x80, 0x10],
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f],
];

export type ByteMutation =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'duplicate'; at: number; count: number }
  | { kind: 'splice'; at: number; other: number[] };

const byteMutationArb: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(...INTERESTING_BYTES) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.oneof(fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 8 }), fc.constantFrom(...LONG_VARINTS)),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), other: fc.array(fc.nat({ max: 255 }), { maxLength: 24 }) }),
);

export function mutateBytes(payload: Buffer, ms: readonly ByteMutation[]): Buffer {
  let b = Buffer.from(payload);
  for (const m of ms) {
    const at = m.at % (b.length + 1);
    switch (m.kind) {
      case 'flip':
        if (at < b.length) b[at] = b[at]! ^ m.mask;
        break;
      case 'set':
        if (at < b.length) b[at] = m.byte;
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.count)]);
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'duplicate':
        b = Buffer.concat([b.subarray(0, at + m.count), b.subarray(at)]);
        break;
      case 'splice':
        b = Buffer.concat([b.subarray(0, at), Buffer.from(m.other)]);
        break;
    }
  }
  return b;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** JSON values that sit on the edges of the JSON decoder's checks. */
const WEIRD_JSON: readonly Json[] = [
  0, -1, 1.5, 2 ** 53, 2 ** 53 - 1, 2 ** 64, 1e308, -1e308, 5e-324,
  '', 'a', '\u0000', '\ud800', 'x'.repeat(70), '1', 'true',
  // base64 edge cases: valid, unpadded, url-safe, padding only, whitespace, too long padding
  'AAAA', 'AAA=', 'AA==', 'A===', '====', 'AAA', '-_-_', 'AA AA', 'AAAAAAA=====',
  true, false, null, [], {}, [1, 2, 3], [null], { a: 1 }, [[[]]],
];
/** Keys that could reach an object's prototype or shadow a builtin if a decoder used the input as a map. */
const WEIRD_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '', 'args', 'id', 'op'];

export type JsonMutation =
  | { kind: 'replace'; path: number; value: number }
  | { kind: 'remove'; path: number }
  | { kind: 'addKey'; path: number; key: number; value: number }
  | { kind: 'wrap'; path: number }
  | { kind: 'dupKey'; key: number; value: number }
  | { kind: 'nest'; depth: number };

const jsonMutationArb: fc.Arbitrary<JsonMutation> = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), path: fc.nat(), value: fc.nat() }),
  fc.record({ kind: fc.constant('remove' as const), path: fc.nat() }),
  fc.record({ kind: fc.constant('addKey' as const), path: fc.nat(), key: fc.nat(), value: fc.nat() }),
  fc.record({ kind: fc.constant('wrap' as const), path: fc.nat() }),
  fc.record({ kind: fc.constant('dupKey' as const), key: fc.nat(), value: fc.nat() }),
  fc.record({ kind: fc.constant('nest' as const), depth: fc.constantFrom(1, 10, 1000, 1000, 50_000) }),
);

/** Every container in a JSON tree (the targets of structural mutations); iterative, as trees may be very deep. */
function containers(root: Json): (Json[] | { [k: string]: Json })[] {
  const out: (Json[] | { [k: string]: Json })[] = [];
  const todo: Json[] = [root];
  while (todo.length > 0 && out.length < 10_000) {
    const v = todo.pop()!;
    if (v === null || typeof v !== 'object') continue;
    out.push(v);
    todo.push(...(Array.isArray(v) ? v : Object.values(v)));
  }
  return out;
}

/** Applies structure-level mutations to a JSON payload (text-level ones: duplicate keys and deep nesting). */
export function mutateJson(payload: Buffer, ms: readonly JsonMutation[]): Buffer {
  let text = payload.toString('utf8');
  // Text-level ones last: a tree a million levels deep parses, but cannot be stringified again.
  const textLevel = (m: JsonMutation): boolean => m.kind === 'dupKey' || m.kind === 'nest';
  for (const m of [...ms.filter((x) => !textLevel(x)), ...ms.filter(textLevel)]) {
    if (m.kind === 'dupKey' || m.kind === 'nest') {
      const close = text.lastIndexOf('}');
      if (close < 0) continue;
      const insert =
        m.kind === 'dupKey'
          ? `,${JSON.stringify(WEIRD_KEYS[m.key % WEIRD_KEYS.length])}:${JSON.stringify(WEIRD_JSON[m.value % WEIRD_JSON.length])}`
          : `,"deep":${'['.repeat(m.depth)}${']'.repeat(m.depth)}`;
      text = text.slice(0, close) + insert + text.slice(close);
      continue;
    }
    let tree: Json;
    try {
      tree = JSON.parse(text) as Json;
    } catch {
      continue;
    }
    const all = containers(tree);
    if (all.length === 0) continue;
    const target = all[m.path % all.length]!;
    const keys = Array.isArray(target) ? target.map((_, i) => i) : Object.keys(target);
    const weird = (n: number): Json => structuredClone(WEIRD_JSON[n % WEIRD_JSON.length]!);
    const setAt = (k: string | number, v: Json): void => {
      if (Array.isArray(target)) target[k as number] = v;
      // defineProperty: a plain assignment of "__proto__" would change the prototype instead of adding a key.
      else Object.defineProperty(target, k, { value: v, enumerable: true, writable: true, configurable: true });
    };
    const key = keys.length > 0 ? keys[m.path % keys.length]! : undefined;
    if (m.kind === 'replace' && key !== undefined) setAt(key, weird(m.value));
    else if (m.kind === 'remove' && key !== undefined) {
      if (Array.isArray(target)) target.splice(key as number, 1);
      else delete target[key as string];
    } else if (m.kind === 'addKey' && !Array.isArray(target)) setAt(WEIRD_KEYS[m.key % WEIRD_KEYS.length]!, weird(m.value));
    else if (m.kind === 'wrap' && key !== undefined) {
      const inner = Array.isArray(target) ? target[key as number]! : target[key as string]!;
      setAt(key, [inner]);
    }
    text = JSON.stringify(tree);
  }
  return Buffer.from(text, 'utf8');
}

/** One fuzz input for a request decoder: where it came from (for the report) and the payload. */
export interface FuzzInput {
  origin: string;
  payload: Buffer;
}

/**
 * Mutated requests for one decoder: mostly its own protocol's frames, some of the other protocol's (a connection's
 * codec is fixed by its first frame, so later frames may be in either encoding), some random bytes.
 */
export function requestInputArb(protocol: Protocol): fc.Arbitrary<FuzzInput> {
  const own = CODECS[protocol];
  const other = CODECS[protocol === 'json' ? 'binary' : 'json'];
  const encoded = (c: Codec) => requestArb.map((r) => ({ op: r.op, payload: c.encodeRequest(r).subarray(4) }));
  const bytesMutated = (c: Codec, tag: string) =>
    fc
      .tuple(encoded(c), fc.array(byteMutationArb, { minLength: 1, maxLength: 5 }))
      .map(([e, ms]) => ({ origin: `${tag} ${e.op} bytes`, payload: mutateBytes(e.payload, ms) }));
  const parts: fc.WeightedArbitrary<FuzzInput>[] = [
    { arbitrary: encoded(own).map((e) => ({ origin: `valid ${e.op}`, payload: e.payload })), weight: 1 },
    { arbitrary: bytesMutated(own, protocol), weight: 6 },
    { arbitrary: bytesMutated(other, `cross-${other.protocol}`), weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: 64 }).map((a) => ({ origin: 'random bytes', payload: Buffer.from(a) })), weight: 1 },
  ];
  if (protocol === 'json')
    parts.push({
      arbitrary: fc
        .tuple(encoded(jsonCodec), fc.array(jsonMutationArb, { minLength: 1, maxLength: 4 }))
        .map(([e, ms]) => ({ origin: `json ${e.op} structure`, payload: mutateJson(e.payload, ms) })),
      weight: 6,
    });
  return fc.oneof(...parts);
}

// ---------- oracles ----------

/** Strict conformance: the value has exactly the schema's shape, so a handler can trust every field. */
export function conforms(s: Schema, v: unknown, path: string): void {
  switch (s.kind) {
    case 'uint':
      assert.ok(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0, `${path}: ${String(v)} is no uint`);
      return;
    case 'str':
      assert.equal(typeof v, 'string', `${path} is no string`);
      return;
    case 'bytes':
      assert.ok(Buffer.isBuffer(v), `${path} is no Buffer`);
      return;
    case 'bool':
      assert.equal(typeof v, 'boolean', `${path} is no boolean`);
      return;
    case 'opt':
      if (v !== undefined) conforms(s.of, v, path);
      return;
    case 'nullable':
      if (v !== null) conforms(s.of, v, path);
      return;
    case 'arr':
      assert.ok(Array.isArray(v), `${path} is no array`);
      v.forEach((x, i) => conforms(s.of, x, `${path}[${i}]`));
      return;
    case 'obj': {
      assert.ok(typeof v === 'object' && v !== null && !Array.isArray(v), `${path} is no object`);
      assert.equal(Object.getPrototypeOf(v), Object.prototype, `${path} has a foreign prototype`);
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) assert.ok(Object.hasOwn(s.fields, k), `${path} has the unknown key ${k}`);
      for (const [k, f] of Object.entries(s.fields)) {
        if (f.kind !== 'opt') assert.ok(Object.hasOwn(o, k), `${path}.${k} is missing`);
        conforms(f, o[k], `${path}.${k}`);
      }
      return;
    }
  }
}

/** -0 (a valid JSON number) re-encodes as 0; Buffers compare by content. */
const normalize = (v: unknown): unknown =>
  JSON.parse(JSON.stringify(v, (_k, x: unknown) => (Object.is(x, -0) ? 0 : Buffer.isBuffer(x) ? x.toString('hex') : x)));

function decodeSafely<T>(f: () => Decoded<T>, what: string): Decoded<T> {
  try {
    return f();
  } catch (e) {
    throw new Error(`${what} threw instead of returning a refusal: ${(e as Error).stack ?? String(e)}`);
  }
}

/** Every oracle for a request decoder, on one payload. Throws an AssertionError naming what broke. */
export function checkRequest(protocol: Protocol, payload: Buffer): Decoded<Request> {
  const codec = CODECS[protocol];
  const d = decodeSafely(() => codec.decodeRequest(payload), `${protocol} decodeRequest`);
  if (protocol === 'json') {
    // Requests of the usual form are read in place (jsonRequest.ts): the same answer as the general path, always.
    const general = parseRequest(payload);
    assert.deepEqual(d, general, 'the quick path and the general path disagree');
    assert.equal(JSON.stringify(d), JSON.stringify(general), 'the quick path orders the arguments differently');
  }
  // Decoded in place, as the server does: bytes around the frame (here ones that could complete it) are not read.
  const around = Buffer.concat([Buffer.from('{"'), payload, Buffer.from('"}}')]);
  assert.deepEqual(codec.decodeRequest(around, 2, 2 + payload.length), d, 'decoding in place read beyond the frame');
  if (!d.ok) {
    assert.ok(REQUEST_ERRORS.includes(d.error.code), `a request refused with ${d.error.code}: ${d.error.message}`);
    assert.ok(Number.isSafeInteger(d.id) && d.id >= 0, `refusal id ${d.id}`);
    assert.ok(typeof d.error.message === 'string' && d.error.message.length > 0, 'a refusal says why');
    assert.ok(d.error.message.length <= MAX_ERROR_MESSAGE, `a ${d.error.message.length}-character refusal message`);
    return d;
  }
  const r = d.value;
  assert.equal(r.kind, 'request');
  assert.ok(isOpName(r.op), `op ${String(r.op)}`);
  assert.ok(Number.isSafeInteger(r.id) && r.id >= 1, `request id ${r.id}`);
  conforms(OPS[r.op].args, r.args, 'args');
  // The decoded value must not be a view of the frame: the server keeps args (texts, keys) beyond this frame.
  const snapshot = normalize(r);
  const copy = Buffer.from(payload);
  payload.fill(0x5a);
  assert.deepEqual(normalize(r), snapshot, 'the decoded request changed when the frame buffer was overwritten');
  copy.copy(payload);
  // Stable: what decodes, re-encodes and decodes to the same value.
  const again = codec.decodeRequest(codec.encodeRequest(r).subarray(4));
  assert.ok(again.ok, `a decoded request does not decode after re-encoding: ${again.ok ? '' : again.error.message}`);
  assert.deepEqual(normalize(again.value), snapshot);
  return d;
}

/**
 * A client's decoder fed by a hostile server: never throws, and what it accepts conforms to the schema. Returns
 * whether the JSON quick path (jsonServerMessage.ts) read it, so that a test can see it was exercised.
 */
export function checkServerMessage(protocol: Protocol, payload: Buffer, pending: PendingInfo | undefined): boolean {
  const pendingOf = (): PendingInfo | undefined => pending;
  const d = decodeSafely(() => CODECS[protocol].decodeServerMessage(payload, pendingOf), `${protocol} decodeServerMessage`);
  let quick = false;
  if (protocol === 'json') {
    // Results and events of the usual form are read in place: the same answer as the general path, always.
    const general = parseServerMessage(payload, pendingOf);
    assert.deepEqual(d, general, 'the quick path and the general path disagree');
    assert.equal(JSON.stringify(d), JSON.stringify(general), 'the quick path orders the fields differently');
    quick = quickServerMessage(payload, pendingOf, 0, payload.length) !== undefined;
  }
  // Decoded in place, as the client does: bytes around the frame (here ones that could complete it) are not read.
  const around = Buffer.concat([Buffer.from('{"'), payload, Buffer.from('"}]}}')]);
  const inPlace = CODECS[protocol].decodeServerMessage(around, pendingOf, 2, 2 + payload.length);
  assert.deepEqual(inPlace, d, 'decoding in place read beyond the frame');
  if (!d.ok) {
    assert.ok((ERROR_CODES as readonly string[]).includes(d.error.code));
    assert.ok(Number.isSafeInteger(d.id) && d.id >= 0);
    return quick;
  }
  const m: ServerMessage = d.value;
  if (m.kind === 'event') conforms(EVENTS[m.event].data, m.data, 'data');
  else if (m.kind === 'error') {
    assert.ok((ERROR_CODES as readonly string[]).includes(m.error.code));
    assert.equal(typeof m.error.message, 'string');
  } else conforms(OPS[m.op].result, m.result, 'result');
  return quick;
}

/** Server messages (results, errors, events) for the client-side decoders, mutated. */
export function serverInputArb(protocol: Protocol): fc.Arbitrary<{ payload: Buffer; pending: PendingInfo | undefined }> {
  const codec = CODECS[protocol];
  const eventArb = fc.oneof(
    ...(Object.keys(EVENTS) as (keyof typeof EVENTS)[]).map((e) =>
      valueArb(EVENTS[e].data).map((data) => codec.encodeEvent({ kind: 'event', event: e, data } as never)),
    ),
  );
  const errorArb = fc
    .record({ id: fc.nat({ max: 1000 }), code: fc.constantFrom(...ERROR_CODES), message: strArb, retry: fc.option(uintArb, { nil: undefined }) })
    .map(({ id, code, message, retry }) => codec.encodeError(id, { code, message, ...(retry === undefined ? {} : { retryAfterMs: retry }) }));
  const resultArb = fc.oneof(
    ...OP_NAMES.map((op) =>
      fc
        .record({ id: fc.integer({ min: 1, max: 1000 }), args: valueArb(OPS[op].args), result: valueArb(OPS[op].result), self: strArb })
        .map(({ id, args, result, self }) => {
          const pending: PendingInfo = { op, args: args as Args<OpName>, self };
          return { frame: codec.encodeResult(id, op, result as never, args as never), pending };
        }),
    ),
  );
  const framed = fc.oneof(
    eventArb.map((f) => ({ frame: f, pending: undefined as PendingInfo | undefined })),
    errorArb.map((f) => ({ frame: f, pending: undefined as PendingInfo | undefined })),
    resultArb,
  );
  const bytesMutated = fc
    .tuple(framed, fc.array(byteMutationArb, { maxLength: 4 }))
    .map(([f, ms]) => ({ payload: mutateBytes(f.frame.subarray(4), ms), pending: f.pending }));
  if (protocol === 'binary') return bytesMutated;
  // JSON: also structure-level mutations (unknown, repeated and prototype keys, wrong types, edge-case numbers),
  // and the same message with spaces or in another member order, which the quick path leaves to the general one.
  return fc.oneof(
    { arbitrary: bytesMutated, weight: 3 },
    {
      arbitrary: fc
        .tuple(framed, fc.array(jsonMutationArb, { minLength: 1, maxLength: 3 }))
        .map(([f, ms]) => ({ payload: mutateJson(f.frame.subarray(4), ms), pending: f.pending })),
      weight: 2,
    },
    {
      arbitrary: fc.tuple(framed, fc.constantFrom(...REWRITES)).map(([f, how]) => ({
        payload: Buffer.from(rewrite(JSON.parse(f.frame.subarray(4).toString('utf8')) as Json, how), 'utf8'),
        pending: f.pending,
      })),
      weight: 1,
    },
    {
      arbitrary: fc.tuple(framed, variantArb).map(([f, x]) => ({
        payload: Buffer.from(variant(JSON.parse(f.frame.subarray(4).toString('utf8')) as Json, x), 'utf8'),
        pending: f.pending,
      })),
      weight: 2,
    },
  );
}

/** Which object gets a member twice (with another member's value) and which number is written in another form. */
interface Variant {
  dupObject: number;
  dupMember: number;
  valueOf: number;
  number: number;
  form: number;
}
const variantArb: fc.Arbitrary<Variant> = fc.record({
  dupObject: fc.nat({ max: 6 }),
  dupMember: fc.nat(),
  valueOf: fc.nat(),
  number: fc.nat({ max: 8 }),
  form: fc.nat(),
});
/** Other ways to write a number: valid JSON for the same or another value, or not JSON at all. */
const NUMBER_FORMS: readonly ((n: number) => string)[] = [
  (n) => `0${n}`,
  (n) => `${n}.0`,
  (n) => `${n}e0`,
  (n) => `-${n}`,
  (n) => `${n}0`,
  (n) => `${n}1234567890`,
  (n) => ` ${n}`,
  (n) => `"${n}"`,
];

/** A JSON message written again by hand, with one object's member repeated and one number written differently. */
function variant(message: Json, x: Variant): string {
  let objects = 0;
  let numbers = 0;
  const write = (v: Json): string => {
    if (typeof v === 'number') return numbers++ === x.number ? NUMBER_FORMS[x.form % NUMBER_FORMS.length]!(v) : JSON.stringify(v);
    if (v === null || typeof v !== 'object') return JSON.stringify(v);
    if (Array.isArray(v)) return `[${v.map(write).join(',')}]`;
    const entries = Object.entries(v);
    const members = entries.map(([k, y]) => `${JSON.stringify(k)}:${write(y)}`);
    if (objects++ === x.dupObject && entries.length > 0) {
      const key = entries[x.dupMember % entries.length]![0];
      members.push(`${JSON.stringify(key)}:${write(entries[x.valueOf % entries.length]![1])}`);
    }
    return `{${members.join(',')}}`;
  };
  return write(message);
}

const REWRITES = ['spaced', 'inner reversed', 'all reversed'] as const;

/** A JSON message written again: with spaces, or with its objects' members in reverse order (but the outermost). */
function rewrite(message: Json, how: (typeof REWRITES)[number]): string {
  if (how === 'spaced') return JSON.stringify(message, null, 1);
  const reversed = (x: Json, outer: boolean): Json => {
    if (x === null || typeof x !== 'object') return x;
    if (Array.isArray(x)) return x.map((y) => reversed(y, false));
    const members = Object.entries(x).map(([k, y]): [string, Json] => [k, reversed(y, false)]);
    return Object.fromEntries(outer && how === 'inner reversed' ? members : members.reverse());
  };
  return JSON.stringify(reversed(message, true));
}

// ---------- the frame reader ----------

/** A stream for the frame reader: frames (some with a wrong or oversized length prefix), cut into chunks. */
export interface FrameStream {
  maxFrame: number;
  bytes: Buffer;
  cuts: number[];
}

export const frameStreamArb: fc.Arbitrary<FrameStream> = fc
  .record({
    maxFrame: fc.constantFrom(0, 1, 4, 100, 1024),
    frames: fc.array(
      fc.oneof(
        { arbitrary: fc.uint8Array({ maxLength: 40 }).map((a) => frame(Buffer.from(a))), weight: 8 },
        // a length prefix that lies: larger than the maximum, or larger than what follows
        { arbitrary: fc.constantFrom(1025, 0x10000, 0x7fffffff, 0xffffffff).map((n) => u32(n)), weight: 1 },
        { arbitrary: fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)), weight: 1 },
      ),
      { maxLength: 12 },
    ),
    cuts: fc.array(fc.nat(), { maxLength: 10 }),
  })
  .map(({ maxFrame, frames, cuts }) => {
    const bytes = Buffer.concat(frames);
    return { maxFrame, bytes, cuts: cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b) };
  });

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
}

/** The obviously correct reader: the whole stream at once, frame after frame. */
function referenceFrames(bytes: Buffer, maxFrame: number): { frames: string[]; refused: number | undefined } {
  const frames: string[] = [];
  let off = 0;
  while (bytes.length - off >= 4) {
    const len = bytes.readUInt32BE(off);
    if (len > maxFrame) return { frames, refused: len };
    if (bytes.length - off - 4 < len) break;
    frames.push(bytes.subarray(off + 4, off + 4 + len).toString('hex'));
    off += 4 + len;
  }
  return { frames, refused: undefined };
}

/** The FrameReader, fed the stream in chunks, gives exactly what the reference gives, however it is cut. */
export function checkFrameStream(s: FrameStream): void {
  const got: string[] = [];
  const r = new FrameReader(s.maxFrame, (p) => got.push(Buffer.from(p).toString('hex')));
  const at = [0, ...s.cuts, s.bytes.length];
  const refusals: number[] = [];
  for (let i = 1; i < at.length; i++) {
    const refused = r.push(s.bytes.subarray(at[i - 1], at[i]));
    if (refused !== undefined) refusals.push(refused);
  }
  const want = referenceFrames(s.bytes, s.maxFrame);
  assert.deepEqual(got, want.frames, 'frames differ from the reference reader');
  assert.deepEqual(refusals, want.refused === undefined ? [] : [want.refused], 'refusals differ from the reference reader');
}
