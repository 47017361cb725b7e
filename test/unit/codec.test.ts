/**
 * Property tests of both codecs. The arbitraries are built by walking the schema table (protocol/ops.ts), so a new
 * op, event or field is covered without touching this file.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { binaryCodec } from '../../protocol/binary.js';
import { jsonCodec, parseRequest, parseServerMessage } from '../../protocol/json.js';
import { quickRequest } from '../../protocol/jsonRequest.js';
import { quickServerMessage } from '../../protocol/jsonServerMessage.js';
import type { Codec, Decoded, PendingInfo } from '../../protocol/codec.js';
import {
  ERROR_CODES,
  EVENTS,
  OPS,
  PACKED,
  type Args,
  type ErrorCode,
  type Event,
  type EventName,
  type OpName,
  type Request,
  type Result,
  type ServerMessage,
} from '../../protocol/ops.js';
import { hasBytes, type Schema } from '../../protocol/schema.js';
import { schemaArb } from '../helpers/arbitraries.js';

const CODECS = [jsonCodec, binaryCodec] as const;
const OP_NAMES = Object.keys(OPS) as OpName[];
const EVENT_NAMES = Object.keys(EVENTS) as EventName[];
const MAX = Number.MAX_SAFE_INTEGER;

// ---------- arbitraries from the schema ----------

/** Small and huge numbers, so varints of every length (1 to 8 bytes) occur. */
const uintArb = fc.oneof(fc.nat({ max: 300 }), fc.maxSafeNat());
/** ASCII, any code point (astral ones included) and multi-code-point graphemes. */
const strArb = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme', maxLength: 8 }));
// Decoders return Buffers, so generate Buffers for deepStrictEqual.
const bytesArb = fc.uint8Array({ maxLength: 48 }).map((a) => Buffer.from(a));

const arb = (s: Schema): fc.Arbitrary<unknown> =>
  schemaArb(s, { uint: uintArb, str: strArb, bytes: bytesArb, maxArray: 4 });

const idArb = fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: MAX }));
const errorCodeArb = fc.constantFrom(...ERROR_CODES);

/** A message as it goes over the wire: its frame, how to decode it, and what decoding must give. */
interface Sample {
  frame: Buffer;
  expected: Request | ServerMessage;
  decode(payload: Buffer): Decoded<Request | ServerMessage>;
  /** Encodes a decoded value again the same way (for the decode-encode-decode property). */
  reencode(v: Request | ServerMessage): Buffer;
}

function requestSample(c: Codec, op: OpName): fc.Arbitrary<Sample> {
  return fc.record({ id: idArb, args: arb(OPS[op].args) }).map(({ id, args }) => {
    const expected = { kind: 'request', id, op, args } as Request;
    return {
      frame: c.encodeRequest(expected),
      expected,
      decode: (p) => c.decodeRequest(p),
      reencode: (v) => c.encodeRequest(v as Request),
    };
  });
}

/**
 * Binary results in PACKED carry only what the requester lacks, so a binary result decodes to the full result
 * only if it is consistent with the request: generate the packed form and the request, and rebuild the result.
 */
interface AnyPacked {
  schema: Schema;
  unpack(p: unknown, a: unknown, self: string): unknown;
}
const packedOf = (op: OpName): AnyPacked | undefined =>
  (PACKED as Partial<Record<OpName, AnyPacked>>)[op];

function resultSample(c: Codec, op: OpName): fc.Arbitrary<Sample> {
  const packed = c === binaryCodec ? packedOf(op) : undefined;
  const body = arb(packed?.schema ?? OPS[op].result);
  const parts = fc.record({ id: idArb, args: arb(OPS[op].args), self: strArb, body });
  return parts.map(({ id, args, self, body }) => {
    const result = (packed ? packed.unpack(body, args, self) : body) as Result<OpName>;
    const pending: PendingInfo = { op, args: args as Args<OpName>, self };
    const pendingOf = (i: number) => (i === id ? pending : undefined);
    const encode = (v: ServerMessage) =>
      v.kind === 'result' ? c.encodeResult(v.id, v.op, v.result, pending.args) : encodeServer(c, v);
    return {
      frame: c.encodeResult(id, op, result, pending.args),
      expected: { kind: 'result', id, op, result } as ServerMessage,
      decode: (p) => c.decodeServerMessage(p, pendingOf),
      reencode: (v) => encode(v as ServerMessage),
    };
  });
}

function encodeServer(c: Codec, v: ServerMessage): Buffer {
  if (v.kind === 'error') return c.encodeError(v.id, v.error);
  if (v.kind === 'event') return c.encodeEvent(v);
  return assert.fail('a result needs its request');
}

function errorSample(c: Codec): fc.Arbitrary<Sample> {
  return fc
    .record({ id: fc.oneof(fc.constant(0), idArb), code: errorCodeArb, message: strArb })
    .map(({ id, code, message }) => ({
      frame: c.encodeError(id, { code, message }),
      expected: { kind: 'error', id, error: { code, message } },
      decode: (p) => c.decodeServerMessage(p, () => undefined),
      reencode: (v) => encodeServer(c, v as ServerMessage),
    }));
}

function eventSample(c: Codec, event: EventName): fc.Arbitrary<Sample> {
  return arb(EVENTS[event].data).map((data) => {
    const expected = { kind: 'event', event, data } as Event;
    return {
      frame: c.encodeEvent(expected),
      expected,
      decode: (p) => c.decodeServerMessage(p, () => undefined),
      reencode: (v) => encodeServer(c, v as ServerMessage),
    };
  });
}

const anySample = (c: Codec): fc.Arbitrary<Sample> =>
  fc.oneof(
    ...OP_NAMES.map((op) => requestSample(c, op)),
    ...OP_NAMES.map((op) => resultSample(c, op)),
    errorSample(c),
    ...EVENT_NAMES.map((e) => eventSample(c, e)),
  );

/** Checks the frame's length prefix and that decoding its payload gives the expected value. */
function roundTrips(s: Sample): void {
  assert.equal(s.frame.readUInt32BE(0), s.frame.length - 4);
  const d = s.decode(s.frame.subarray(4));
  assert.ok(d.ok, d.ok ? '' : `${d.error.code}: ${d.error.message}`);
  assert.deepEqual(d.value, s.expected);
}

/** A decode outcome must be a well-formed Decoded value, never an exception. */
function assertDecoded(d: Decoded<unknown>): void {
  assert.equal(typeof d.ok, 'boolean');
  if (!d.ok) {
    assert.ok((ERROR_CODES as readonly string[]).includes(d.error.code));
    assert.equal(typeof d.error.message, 'string');
    assert.ok(Number.isSafeInteger(d.id) && d.id >= 0);
  }
}

// ---------- round trips ----------

for (const c of CODECS) {
  describe(`${c.protocol} codec round trips`, () => {
    for (const op of OP_NAMES) {
      test(`${op} request`, () => fc.assert(fc.property(requestSample(c, op), roundTrips)));
      test(`${op} result`, () => fc.assert(fc.property(resultSample(c, op), roundTrips)));
    }
    for (const e of EVENT_NAMES) test(`${e} event`, () => fc.assert(fc.property(eventSample(c, e), roundTrips)));
    test('error response', () => fc.assert(fc.property(errorSample(c), roundTrips)));
  });
}

// ---------- binary specifics ----------

const hex = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex');
/** Canonical LEB128, written independently of the codec. */
function leb128(n: number): string {
  let v = BigInt(n);
  let out = '';
  do {
    const b = Number(v & 0x7fn) | (v >= 0x80n ? 0x80 : 0);
    out += b.toString(16).padStart(2, '0');
    v >>= 7n;
  } while (v > 0n);
  return out;
}
const PING = OPS.ping.code.toString(16).padStart(2, '0');
const decodeReq = (h: string) => binaryCodec.decodeRequest(hex(h));
const errorOf = (d: Decoded<unknown>) =>
  d.ok ? assert.fail('expected a decode failure') : { id: d.id, code: d.error.code };

describe('binary type byte', () => {
  test('no request, result, error or event type byte is 0x7B ("{")', () => {
    for (const d of Object.values(OPS)) {
      assert.ok(d.code >= 1 && d.code < 0x3b, 'op codes stay below 0x3B');
      assert.notEqual(d.code, 0x7b);
      assert.notEqual(0x40 | d.code, 0x7b);
    }
    for (const d of Object.values(EVENTS)) assert.notEqual(0x80 | d.code, 0x7b);
    assert.equal(new Set(Object.values(OPS).map((d) => d.code)).size, OP_NAMES.length, 'op codes are unique');
    assert.equal(new Set(Object.values(EVENTS).map((d) => d.code)).size, EVENT_NAMES.length, 'event codes are unique');
  });

  test('no encoded binary payload begins with 0x7B', () =>
    fc.assert(fc.property(anySample(binaryCodec), (s) => assert.notEqual(s.frame[4], 0x7b))));
});

describe('binary varints', () => {
  test('ids are canonical LEB128 up to 2^53-1', () => {
    // Around 2^31 and 2^32 too, where the encoder goes from dividing to shifting.
    const around32 = [2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32];
    for (const id of [1, 127, 128, 300, 16383, 16384, 2 ** 21, ...around32, 2 ** 35 - 1, 2 ** 49, MAX]) {
      const frame = binaryCodec.encodeRequest({ kind: 'request', id, op: 'ping', args: {} });
      assert.equal(frame.subarray(4).toString('hex'), PING + leb128(id));
    }
    assert.equal(leb128(MAX), 'ffffffffffffff0f', 'the largest id takes 8 bytes');
    const d = decodeReq(PING + 'ffffffffffffff0f');
    assert.ok(d.ok && d.value.id === MAX);
  });

  test('a varint above 2^53-1 is rejected', () => {
    // 2^53 in 8 bytes, in the id and in a uint field.
    assert.deepEqual(errorOf(decodeReq(PING + '8080808080808010')), { id: 0, code: 'BAD_REQUEST' });
    assert.deepEqual(errorOf(decodeReq('09 01 8080808080808010')), { id: 1, code: 'BAD_REQUEST' });
    // The 8th byte carries bits 49..55: anything above 0x0f overflows.
    assert.deepEqual(errorOf(decodeReq(PING + 'ffffffffffffff7f')), { id: 0, code: 'BAD_REQUEST' });
  });

  test('a varint longer than 8 bytes is rejected', () => {
    // 1 and 5 written in 9 bytes: small values, so only the length limit can refuse them.
    assert.deepEqual(errorOf(decodeReq(PING + '818080808080808000')), { id: 0, code: 'BAD_REQUEST' });
    assert.deepEqual(errorOf(decodeReq('09 01 858080808080808000')), { id: 1, code: 'BAD_REQUEST' });
    // Up to 8 bytes, a longer-than-needed form is read (the doc says so).
    assert.deepEqual(decodeReq('09 01 8580808080808000'), {
      ok: true,
      value: { kind: 'request', id: 1, op: 'fetch_pending', args: { limit: 5 } },
    });
    assert.deepEqual(errorOf(decodeReq(PING + '8080808080808080')), { id: 0, code: 'BAD_REQUEST' });
    assert.deepEqual(errorOf(decodeReq(PING + 'ffffffffffffffffff01')), { id: 0, code: 'BAD_REQUEST' });
  });

  test('string lengths around every varint and buffer-size boundary', () => {
    // The encoder reserves the length bytes before measuring the UTF-8, then moves the text if it guessed long.
    for (const n of [0, 1, 42, 43, 127, 128, 5461, 5462, 16383, 16384, 699050, 699051, 2 ** 21 - 1, 2 ** 21]) {
      for (const unit of ['a', 'é', '☕', '😀']) {
        const text = unit.repeat(Math.max(0, Math.floor(n / Buffer.byteLength(unit))));
        const req: Request = { kind: 'request', id: 1, op: 'send', args: { to: 'b', text } };
        const frame = binaryCodec.encodeRequest(req);
        const len = leb128(Buffer.byteLength(text));
        // type 08 (send), id 01, to "b" (01 62), then the text's length.
        assert.equal(frame.subarray(4, 8 + len.length / 2).toString('hex'), `08010162${len}`);
        assert.deepEqual(binaryCodec.decodeRequest(frame.subarray(4)), { ok: true, value: req });
      }
    }
  });
});

describe('binary writer', () => {
  test('short strings: ASCII, and any other character at any position, are UTF-8 with their length', () => {
    // The encoder copies short ASCII strings itself and leaves any other to Buffer's UTF-8 writer.
    const others = ['é', '☕', '😀', '\u0000', '\u007f', '\u0080', '\ud800', '\udc00x'];
    for (let len = 0; len <= 40; len++)
      for (const other of ['', ...others])
        for (const at of new Set([0, Math.floor(len / 2), len])) {
          const to = 'a'.repeat(at) + other + 'b'.repeat(len - at);
          const frame = binaryCodec.encodeRequest({ kind: 'request', id: 1, op: 'send', args: { to, text: '' } });
          const utf8 = Buffer.from(to, 'utf8'); // lone surrogates become U+FFFD, as the doc says
          assert.equal(frame.subarray(6).toString('hex'), leb128(utf8.length) + utf8.toString('hex') + '00' + '00');
        }
  });
});

describe('frame writer', () => {
  for (const c of CODECS)
    test(`${c.protocol}: frames stay intact while later frames are encoded, across chunks and large frames`, () => {
      // Frames are views of shared chunks of memory: encoding more must never write over one already returned.
      const lengths = fc.constantFrom(0, 1, 100, 2700, 3000, 8150, 8200, 20_000, 70_000);
      const texts = fc.tuple(lengths, fc.constantFrom('x', 'é', '😀'));
      const sent = fc.sample(texts, { seed: 7, numRuns: 200 }).map(([n, unit], i) => {
        const text = unit.repeat(Math.ceil(n / unit.length));
        const req: Request = { kind: 'request', id: i + 1, op: 'send', args: { to: `u${i}`, text } };
        const frame = c.encodeRequest(req);
        return { req, frame, copy: Buffer.from(frame) };
      });
      for (const { req, frame, copy } of sent) {
        assert.ok(frame.equals(copy), `frame ${req.id} changed after it was returned`);
        assert.equal(frame.readUInt32BE(0), frame.length - 4);
        assert.deepEqual(c.decodeRequest(frame.subarray(4)), { ok: true, value: req });
      }
    });
});

describe('binary malformed input', () => {
  test('an unknown opcode gives UNKNOWN_OP with the request id', () => {
    const known = new Set<number>(Object.values(OPS).map((d) => d.code));
    for (let type = 0; type < 256; type++) {
      if (known.has(type)) continue;
      const t = type.toString(16).padStart(2, '0');
      assert.deepEqual(errorOf(decodeReq(t + 'ac02')), { id: 300, code: 'UNKNOWN_OP' }, `type ${t}`);
    }
  });

  test('id 0, trailing bytes, bad booleans and presence bytes are rejected', () => {
    assert.deepEqual(errorOf(decodeReq(PING + '00')), { id: 0, code: 'BAD_REQUEST' });
    assert.ok(decodeReq(PING + '07').ok);
    assert.deepEqual(errorOf(decodeReq(PING + '07 00')), { id: 7, code: 'BAD_REQUEST' });
    // send: to "b", text "c", clientMsgId presence byte 2.
    assert.deepEqual(errorOf(decodeReq('08 07 0162 0163 02')), { id: 7, code: 'BAD_REQUEST' });
    const sendResult = hex('48 07 01 01 02 00'); // packed send: id 1, sentAt 1, delivered = 2
    const pending: PendingInfo = { op: 'send', args: { to: 'b', text: 'c' }, self: 'a' };
    assert.deepEqual(errorOf(binaryCodec.decodeServerMessage(sendResult, () => pending)), {
      id: 7,
      code: 'BAD_REQUEST',
    });
  });

  test('an array count larger than the bytes left is rejected at once', () => {
    // delete_messages with a count of 2^40 ids and two bytes of them.
    assert.deepEqual(errorOf(decodeReq('0e 05 8080808080200102')), { id: 5, code: 'BAD_REQUEST' });
  });

  test('server messages: unknown types, unknown requests, and unknown error codes', () => {
    const none = () => undefined;
    const dec = (h: string, p: (id: number) => PendingInfo | undefined = none) =>
      binaryCodec.decodeServerMessage(hex(h), p);
    for (const t of ['00', '01', '11', '40', '7b', '7f', '80', '87', 'ff'])
      assert.equal(errorOf(dec(t + '01')).code, 'BAD_REQUEST', `type ${t}`);
    assert.equal(errorOf(dec('51 01')).code, 'BAD_REQUEST', 'a ping result nobody asked for');
    const ping: PendingInfo = { op: 'ping', args: {}, self: '' };
    assert.ok(dec('51 01', () => ping).ok);
    assert.equal(errorOf(dec('46 01', () => ping)).code, 'BAD_REQUEST', 'a logout result for a ping request');
    // Error codes outside the table read as INTERNAL, so a newer server's codes don't break older clients.
    for (const code of ['00', '0e', 'ac02'])
      assert.deepEqual(dec(`3f 09 ${code} 0178 00`), {
        ok: true,
        value: { kind: 'error', id: 9, error: { code: 'INTERNAL', message: 'x' } },
      });
  });
});

// ---------- robustness, both codecs ----------

/** Any op's pending info, so random results get as far as decoding a body. */
const pendingArb: fc.Arbitrary<PendingInfo> = fc
  .constantFrom(...OP_NAMES)
  .chain((op) =>
    fc
      .record({ args: arb(OPS[op].args), self: strArb })
      .map(({ args, self }) => ({ op, args: args as Args<OpName>, self })),
  );

type Mutation = { at: number; kind: 'flip' | 'insert' | 'delete'; byte: number };
const mutationArb = fc.array(
  fc.record({ at: fc.nat(), kind: fc.constantFrom('flip', 'insert', 'delete'), byte: fc.nat({ max: 255 }) }),
  { minLength: 1, maxLength: 4 },
) as fc.Arbitrary<Mutation[]>;

function mutate(payload: Buffer, ms: Mutation[]): Buffer {
  const b = [...payload];
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % (b.length + (m.kind === 'insert' ? 1 : 0));
    if (m.kind === 'insert') b.splice(at, 0, m.byte);
    else if (b.length === 0) continue;
    else if (m.kind === 'delete') b.splice(at, 1);
    else b[at] = b[at]! ^ (m.byte || 1);
  }
  return Buffer.from(b);
}

/** JSON can give -0 for a uint ("-0" is a valid number); it re-encodes as 0, which is the same id or count. */
const normalize = (v: unknown): unknown =>
  JSON.parse(JSON.stringify(v, (_k, x: unknown) => (Object.is(x, -0) ? 0 : x instanceof Uint8Array ? [...x] : x)));

for (const c of CODECS) {
  describe(`${c.protocol} codec robustness`, () => {
    test('every truncation of a valid payload is {ok:false}, never a throw', () =>
      fc.assert(
        fc.property(anySample(c), (s) => {
          const payload = s.frame.subarray(4);
          for (let i = 0; i < payload.length; i++) {
            const d = s.decode(payload.subarray(0, i));
            assertDecoded(d);
            assert.equal(d.ok, false, `a payload cut to ${i} of ${payload.length} bytes decoded`);
          }
        }),
      ));

    test('mutated payloads never throw; what decodes re-encodes to the same value', () =>
      fc.assert(
        fc.property(anySample(c), mutationArb, (s, ms) => {
          const d = s.decode(mutate(s.frame.subarray(4), ms));
          assertDecoded(d);
          if (!d.ok) return;
          const again = s.decode(s.reencode(d.value).subarray(4));
          assert.ok(again.ok);
          assert.deepEqual(normalize(again.value), normalize(d.value));
        }),
        { numRuns: 500 },
      ));

    test('random bytes never throw', () =>
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), pendingArb, (bytes, pending) => {
          const payload = Buffer.from(bytes);
          assertDecoded(c.decodeRequest(payload));
          assertDecoded(c.decodeServerMessage(payload, () => pending));
        }),
        { numRuns: 500 },
      ));

    test('random JSON values never throw', () =>
      fc.assert(
        fc.property(fc.json(), pendingArb, (text, pending) => {
          const payload = Buffer.from(text, 'utf8');
          assertDecoded(c.decodeRequest(payload));
          assertDecoded(c.decodeServerMessage(payload, () => pending));
        }),
      ));
  });
}

// ---------- JSON specifics ----------

describe('JSON frames are what JSON.stringify writes', () => {
  // The encoder writes messages from the schema and leaves anything it cannot write the same way to JSON.stringify.
  const text = (frame: Buffer) => frame.subarray(4).toString('utf8');
  const event = (data: unknown) => text(jsonCodec.encodeEvent({ kind: 'event', event: 'message', data } as Event));
  const message = { id: 1, from: 'a', to: 'b', text: 't', sentAt: 2, unread: true };

  test('messages of the schema, for every op and event without bytes', () => {
    for (const op of OP_NAMES.filter((o) => !hasBytes(OPS[o].result)))
      fc.assert(
        fc.property(idArb, arb(OPS[op].result), (id, result) => {
          const frame = jsonCodec.encodeResult(id, op, result as Result<OpName>, {} as Args<OpName>);
          assert.equal(text(frame), JSON.stringify({ id, ok: true, result }));
        }),
        { numRuns: 50 },
      );
    for (const e of EVENT_NAMES)
      fc.assert(
        fc.property(arb(EVENTS[e].data), (data) => {
          const frame = jsonCodec.encodeEvent({ kind: 'event', event: e, data } as Event);
          assert.equal(text(frame), JSON.stringify({ event: e, data }));
        }),
        { numRuns: 50 },
      );
  });

  test('strings that need escapes, numbers, and objects of other shapes', () => {
    class WithToJson {
      toJSON(): string {
        return 'mine';
      }
    }
    const hidden = Object.defineProperty({ ...message }, 'unread', { value: true, enumerable: false });
    const texts = ['"', '\\', '\n', '\u0000', '\u001f', '\u007f', '\u2028', '\ud800', '😀', 'a\udc00b'];
    // Past the short strings copied by hand: the same, at the end of a long text.
    texts.push(...texts.map((t) => 'x'.repeat(40) + t), 'x'.repeat(40), 'é'.repeat(40));
    const odd: unknown[] = [
      ...texts.map((t) => ({ ...message, text: t })),
      ...[-0, 1.5, 1e21, NaN, Infinity, -7].map((id) => ({ ...message, id })),
      // Integers whose digits are written by hand, around where the arithmetic changes.
      ...[0, 9, 10, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 5, 1_795_759_835_981, Number.MAX_SAFE_INTEGER].map((id) => ({ ...message, id })),
      { unread: true, id: 1, from: 'a', to: 'b', text: 't', sentAt: 2 }, // another order
      { ...message, extra: 1 },
      { ...message, sentAt: undefined },
      hidden,
      Object.assign(new WithToJson(), message),
      Object.assign(Object.create(null) as object, message),
      Object.defineProperty({ ...message }, 'toJSON', { value: () => 'x', enumerable: false }),
    ];
    for (const m of odd)
      assert.equal(event({ message: m }), JSON.stringify({ event: 'message', data: { message: m } }));
    const ids = { ids: [1, , 3] }; // a hole: JSON.stringify writes null
    const d = jsonCodec.encodeEvent({ kind: 'event', event: 'messages_deleted', data: ids } as Event);
    assert.equal(text(d), JSON.stringify({ event: 'messages_deleted', data: ids }));
    const args = { to: 'b', text: 't', clientMsgId: undefined };
    const r = jsonCodec.encodeRequest({ kind: 'request', id: 3, op: 'send', args });
    assert.equal(text(r), '{"id":3,"op":"send","args":{"to":"b","text":"t"}}');
    const retry = { code: 'RATE_LIMITED', message: 'wait "1" s', retryAfterMs: 1000 } as const;
    assert.equal(text(jsonCodec.encodeError(4, retry)), JSON.stringify({ id: 4, ok: false, error: retry }));
  });

  test('a message written again (push, then result) is copied only when its fields are equal', () => {
    const push = (m: unknown) => event({ message: m });
    const result = (m: unknown, delivered: unknown) =>
      text(jsonCodec.encodeResult(7, 'send', { message: m, delivered } as Result<'send'>, { to: 'b', text: 't' }));
    const expected = (m: unknown, delivered: unknown) => JSON.stringify({ id: 7, ok: true, result: { message: m, delivered } });
    // Many, so that frames move to new chunks between and within the two writes.
    for (let i = 0; i < 2000; i++) {
      const m = { ...message, id: i, text: 'é'.repeat(i % 300) };
      assert.equal(push(m), JSON.stringify({ event: 'message', data: { message: m } }));
      if (i % 3 === 1) m.text += '!'; // changed after it was written: written anew
      if (i % 3 === 2) m.unread = false;
      assert.equal(result(m, true), expected(m, true));
    }
    // A frame abandoned after its message was written (a getter threw) is written over by the next frame: an equal
    // message after that is written anew, not copied from there.
    const m = { ...message, text: 'x'.repeat(50) };
    const throwing = {
      message: m,
      get delivered(): boolean {
        throw new Error('no');
      },
    };
    assert.throws(() => jsonCodec.encodeResult(7, 'send', throwing, { to: 'b', text: 't' }), /no/);
    const error = { code: 'INTERNAL', message: 'y'.repeat(200) } as const;
    assert.equal(text(jsonCodec.encodeError(8, error)), JSON.stringify({ id: 8, ok: false, error }));
    assert.equal(push({ ...m }), JSON.stringify({ event: 'message', data: { message: m } }));
  });
});

describe('JSON requests of the usual form are read in place, as the general path reads them', () => {
  const bytes = (t: string | Buffer) => (typeof t === 'string' ? Buffer.from(t, 'utf8') : t);
  /** The codec's answer is the general path's, to the order of the keys. */
  const same = (t: string | Buffer) => {
    const b = bytes(t);
    const d = jsonCodec.decodeRequest(b);
    assert.deepEqual(d, parseRequest(b), b.toString('utf8'));
    assert.equal(JSON.stringify(d), JSON.stringify(parseRequest(b)), b.toString('utf8'));
    return d;
  };
  const text = 'The quick brown fox jumps over the lazy dog. '.repeat(3);

  test('what JoChat clients send is read in place', () => {
    const usual = [
      `{"id":12345,"op":"send","args":{"to":"bob","text":"${text}","clientMsgId":"Ab3_x"}}`,
      '{"id":1,"op":"send","args":{"to":"bob","text":"é😀 \u007f\u2028"}}',
      '{"id":2,"op":"ping","args":{}}',
      '{"id":3,"op":"hello","args":{"client":"vscode","version":"1.2"}}',
      '{"id":4,"op":"history","args":{"peer":"bob","before":0,"limit":50}}',
      '{"id":5,"op":"fetch_pending","args":{"limit":100}}',
      '{"id":999999999999999,"op":"resume","args":{"token":"t"}}',
      '{"id":6,"op":"send","args":{"clientMsgId":"c","text":"t","to":"b"}}', // any order of the arguments
    ];
    for (const t of usual) {
      assert.ok(quickRequest(bytes(t), 0, bytes(t).length), t);
      assert.ok(same(t).ok, t);
    }
    // In place within a larger buffer, as the server passes frames.
    const b = Buffer.concat([Buffer.from('xx'), bytes(usual[0]!), Buffer.from('{')]);
    assert.deepEqual(jsonCodec.decodeRequest(b, 2, b.length - 1), parseRequest(bytes(usual[0]!)));
  });

  test('anything else gets the general path\'s request or error', () => {
    const send = (args: string) => `{"id":7,"op":"send","args":{${args}}}`;
    const others: (string | Buffer)[] = [
      '{ "id":1,"op":"ping","args":{}}',
      '{"id":1,"op":"ping","args":{} }',
      '{"id":1,"op":"ping"}',
      '{"id":1,"op":"ping","args":{},"x":1}',
      '{"op":"ping","id":1,"args":{}}',
      '{"id":01,"op":"ping","args":{}}',
      '{"id":0,"op":"ping","args":{}}',
      '{"id":-1,"op":"ping","args":{}}',
      '{"id":1.0,"op":"ping","args":{}}',
      '{"id":1e3,"op":"ping","args":{}}',
      '{"id":9007199254740991,"op":"ping","args":{}}',
      '{"id":9007199254740993,"op":"ping","args":{}}',
      '{"id":1,"op":"pong","args":{}}',
      '{"id":1,"op":"pin\u0067","args":{}}',
      '{"id":1,"op":"ping","args":[]}',
      '{"id":1,"op":"ping","args":{}}}',
      '{"id":1,"op":"ping","args":{}',
      '{"id":1,"op":"ping","args":{',
      '{"id":1,"op":"mark_read","args":{"ids":[1,2]}}',
      '{"id":1,"op":"list_accounts","args":{"pattern":"a","cursor":null}}',
      send('"to":"b","text":"a\\"b"'),
      send('"to":"b","text":"\u00e9"'),
      send('"to":"b","text":"tab\there"'),
      send('"to":"b","text":"raw\u0001"').replace('\\u0001', '\u0001'),
      send('"to":"b","to":"c","text":"t"'),
      send('"to":"b","text":"t","extra":1'),
      send('"tox":"b","text":"t"'),
      send('"to":"b"'),
      send('"to":"b","text":1'),
      send('"to":"b","text":"t","clientMsgId":null'),
      send('"to":"b","text":"t",'),
      send('"to":"b","text":"t'),
      send('"to" :"b","text":"t"'),
      send(''),
      '{"id":1,"op":"history","args":{"peer":"b","limit":1e2}}',
      '{"id":1,"op":"history","args":{"peer":"b","limit":007}}',
      '{"id":1,"op":"history","args":{"peer":"b","limit":true}}',
      '{"id":1,"op":"hello","args":{"client":tru}}',
      // Invalid UTF-8 inside strings, also just before the closing quote, and a lone continuation byte.
      Buffer.concat([Buffer.from(send('"to":"b","text":"ab')), Buffer.from([0xe2, 0x82]), Buffer.from('"}}')]),
      Buffer.concat([Buffer.from(send('"to":"b","text":"')), Buffer.from([0xf0, 0x9f, 0x98]), Buffer.from('x"}}')]),
      Buffer.concat([Buffer.from(send('"to":"b","text":"')), Buffer.from([0x80, 0xff]), Buffer.from('"}}')]),
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"id":1,"op":"ping","args":{}}')]),
    ];
    for (const t of others) same(t);
  });

  test('any bytes in a string, valid UTF-8 or not, decode as when the whole text is decoded', () => {
    const head = Buffer.from('{"id":1,"op":"send","args":{"to":"b","text":"');
    const tail = Buffer.from('"}}');
    const inString = fc.uint8Array({ maxLength: 24 }).map((a) => a.filter((c) => c >= 0x20 && c !== 0x22 && c !== 0x5c));
    fc.assert(
      fc.property(inString, (a) => {
        const b = Buffer.concat([head, a, tail]);
        assert.ok(quickRequest(b, 0, b.length));
        same(b);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('JSON results and events of the usual form are read in place, as the general path reads them', () => {
  const send: PendingInfo = { op: 'send', args: { to: 'bob', text: 't' }, self: 'al' };
  const pendings: Partial<Record<OpName, PendingInfo>> = {
    send,
    counts: { op: 'counts', args: {}, self: 'al' },
    fetch_pending: { op: 'fetch_pending', args: { limit: 9 }, self: 'al' },
    list_accounts: { op: 'list_accounts', args: { pattern: '' }, self: 'al' },
    login_start: { op: 'login_start', args: { username: 'al', clientNonce: 'n' }, self: '' },
    ping: { op: 'ping', args: {}, self: '' },
  };
  /** The codec's answer is the general path's, to the order of the keys; `p` answers every id. */
  const same = (t: string | Buffer, p: PendingInfo | undefined) => {
    const b = typeof t === 'string' ? Buffer.from(t, 'utf8') : t;
    const d = jsonCodec.decodeServerMessage(b, () => p);
    const general = parseServerMessage(b, () => p);
    assert.deepEqual(d, general, b.toString('utf8'));
    assert.equal(JSON.stringify(d), JSON.stringify(general), b.toString('utf8'));
    return { d, quick: quickServerMessage(b, () => p, 0, b.length) !== undefined };
  };
  const message = '{"id":42,"from":"al","to":"bob","text":"hi é😀 \u007f","sentAt":1795768863351,"unread":true}';

  test('what a JoChat server sends is read in place', () => {
    const usual: [string, OpName | undefined][] = [
      [`{"id":7,"ok":true,"result":{"message":${message},"delivered":true}}`, 'send'],
      [`{"event":"message","data":{"message":${message}}}`, undefined],
      ['{"event":"counts","data":{"pending":0,"unread":3,"byPeer":[{"peer":"bob","unread":3},{"peer":"c","unread":0}]}}', undefined],
      ['{"event":"counts","data":{"pending":0,"unread":0,"byPeer":[]}}', undefined],
      ['{"event":"messages_deleted","data":{"ids":[1,2,3]}}', undefined],
      ['{"event":"presence","data":{"username":"bob","online":false}}', undefined],
      [`{"id":8,"ok":true,"result":{"messages":[${message},${message}],"remaining":0}}`, 'fetch_pending'],
      ['{"id":9,"ok":true,"result":{"accounts":[{"username":"a","online":true}],"total":1,"cursor":null}}', 'list_accounts'],
      ['{"id":9,"ok":true,"result":{"accounts":[],"total":0,"cursor":"a"}}', 'list_accounts'],
      ['{"id":10,"ok":true,"result":{}}', 'ping'],
      // Members in any order, and the general path's value (the table's order) all the same.
      [`{"id":7,"ok":true,"result":{"delivered":false,"message":{"unread":false,"sentAt":1,"text":"","to":"b","from":"a","id":1}}}`, 'send'],
    ];
    for (const [t, op] of usual) {
      const { d, quick } = same(t, op && pendings[op]);
      assert.ok(d.ok && quick, t);
    }
    // What the codec writes is read in place.
    const result = { message: JSON.parse(message) as Result<'send'>['message'], delivered: true };
    const frame = jsonCodec.encodeResult(3, 'send', result, send.args as Args<'send'>).subarray(4);
    assert.ok(same(frame, send).quick);
  });

  test("anything else gets the general path's message or error", () => {
    const r = (result: string) => `{"id":7,"ok":true,"result":${result}}`;
    const m = (members: string) => r(`{"message":{${members}},"delivered":true}`);
    const fields = '"id":1,"from":"a","to":"b","text":"t","sentAt":2,"unread":true';
    const others: [string, OpName | undefined][] = [
      [` ${r(`{"message":{${fields}},"delivered":true}`)}`, 'send'],
      [r(`{"message":{${fields}},"delivered":true} `), 'send'],
      [r(`{"message":{${fields}},"delivered":true}`).replace('"ok":true', '"ok": true'), 'send'],
      [`{"ok":true,"id":7,"result":{"message":{${fields}},"delivered":true}}`, 'send'],
      [`{"id":7,"ok":true,"result":{"message":{${fields}},"delivered":true},"x":1}`, 'send'],
      [`{"id":7,"ok":true,"result":{"message":{${fields}},"delivered":true},"event":"presence"}`, 'send'],
      [r(`{"message":{${fields}},"delivered":true}`), undefined], // nobody asked
      [r(`{"message":{${fields}},"delivered":true}`), 'ping'],
      [r(`{"message":{${fields}},"delivered":true}`).replace('"id":7', '"id":0'), 'send'],
      [r(`{"message":{${fields}},"delivered":true}`).replace('"id":7', '"id":07'), 'send'],
      [r(`{"message":{${fields}},"delivered":true}`).replace('"id":7', '"id":7.0'), 'send'],
      [m(fields.replace('"id":1', '"id":1e0')), 'send'],
      [m(fields.replace('"id":1', '"id":-0')), 'send'],
      [m(fields.replace('"id":1', '"id":9007199254740993')), 'send'],
      [m(fields.replace('"sentAt":2', '"sentAt":02')), 'send'],
      [m(fields.replace('"text":"t"', '"text":"a\\"b"')), 'send'],
      [m(fields.replace('"text":"t"', '"text":"\\u00e9"')), 'send'],
      [m(fields.replace('"text":"t"', '"text":null')), 'send'],
      [m(fields.replace('"unread":true', '"unread":1')), 'send'],
      [m(fields.replace('"unread":true', '"unread":tru')), 'send'],
      [m(`${fields},"to":"c"`), 'send'], // repeated: the last counts
      [m(`${fields},"extra":1`), 'send'], // unknown members are dropped by the general path
      [m(fields.replace('"from":"a",', '')), 'send'],
      [m(fields.replace('"from"', '"fr\\u006fm"')), 'send'],
      [r(`{"message":{${fields}}}`), 'send'],
      [r(`{"message":{${fields}},"delivered":true`), 'send'],
      [r(`{"message":{${fields}},"delivered":true}}`), 'send'],
      [r(`{"message":{${fields}},"delivered":true,}`), 'send'],
      ['{"id":4,"ok":false,"error":{"code":"NO_SUCH_USER","message":"m"}}', 'send'],
      ['{"id":4,"ok":true,"result":{"salt":"AAAA","iterations":4096,"nonce":"n"}}', 'login_start'],
      ['{"event":"counts","data":{"pending":0,"unread":0,"byPeer":[{"peer":"b","unread":1},]}}', undefined],
      ['{"event":"counts","data":{"pending":0,"unread":0,"byPeer":[{"peer":"b","unread":1}}}', undefined],
      ['{"event":"counts","data":{"pending":0,"unread":0,"byPeer":{}}}', undefined],
      ['{"event":"messages_deleted","data":{"ids":[1,,2]}}', undefined],
      ['{"event":"nope","data":{}}', undefined],
      ['{"event":"presence","data":{"username":"a"}}', undefined],
      ['{"event":"presence","data":{"username":"a","online":true},"data":{"username":"b","online":true}}', undefined],
      ['{"event":"presence","data":{"username":"a","online":true}', undefined],
      ['{"event":"presence","data":{"username":"a","online":true}}}', undefined],
      ['{"id":9,"ok":true,"result":{"accounts":[],"total":0,"cursor":nul}}', 'list_accounts'],
      ['{"id":9,"ok":true,"result":{"accounts":[],"total":0}}', 'list_accounts'],
    ];
    for (const [t, op] of others) {
      const { quick } = same(t, op && pendings[op]);
      assert.ok(!quick, t);
    }
  });

  test('any bytes in a string, valid UTF-8 or not, decode as when the whole text is decoded', () => {
    const head = Buffer.from('{"event":"message","data":{"message":{"id":1,"from":"a","to":"b","text":"');
    const tail = Buffer.from('","sentAt":2,"unread":true}}}');
    const inString = fc.uint8Array({ maxLength: 24 }).map((a) => a.filter((c) => c >= 0x20 && c !== 0x22 && c !== 0x5c));
    fc.assert(
      fc.property(inString, (a) => assert.ok(same(Buffer.concat([head, Buffer.from(a), tail]), undefined).quick)),
      { numRuns: 2000 },
    );
  });
});

describe('JSON malformed input gives typed errors', () => {
  const req = (text: string) => jsonCodec.decodeRequest(Buffer.from(text, 'utf8'));
  const bad = (text: string, id: number, code: ErrorCode = 'BAD_REQUEST') =>
    assert.deepEqual(errorOf(req(text)), { id, code }, text);

  test('non-objects and invalid JSON', () => {
    for (const t of ['[]', '[{"id":1,"op":"ping"}]', '1', '"x"', 'null', 'true', '', '{', '{"id":1,', 'not json'])
      bad(t, 0);
  });

  test('ids that are missing, 0, negative, fractional, too large or not numbers', () => {
    for (const id of ['0', '-1', '1.5', '"1"', 'null', '9007199254740992', '1e400', 'true', '[1]'])
      bad(`{"id":${id},"op":"ping","args":{}}`, 0);
    bad('{"op":"ping","args":{}}', 0);
    assert.ok(req('{"id":9007199254740991,"op":"ping"}').ok);
  });

  test('unknown ops give UNKNOWN_OP with the id preserved', () => {
    for (const op of ['nope', 'PING', '__proto__', 'toString', 'constructor', ''])
      bad(`{"id":42,"op":${JSON.stringify(op)},"args":{}}`, 42, 'UNKNOWN_OP');
    bad('{"id":42,"op":7}', 42);
    bad('{"id":42}', 42);
  });

  test('arguments of the wrong type', () => {
    bad('{"id":5,"op":"send","args":[]}', 5);
    bad('{"id":5,"op":"send","args":"x"}', 5);
    bad('{"id":5,"op":"send"}', 5); // missing args are {}, which lacks `to`
    bad('{"id":5,"op":"send","args":{"to":1,"text":"x"}}', 5);
    bad('{"id":5,"op":"send","args":{"to":"b","text":"x","clientMsgId":null}}', 5); // opt is not nullable
    for (const n of ['-1', '1.5', '"5"', 'true', '9007199254740992', 'null'])
      bad(`{"id":5,"op":"fetch_pending","args":{"limit":${n}}}`, 5);
    bad('{"id":5,"op":"delete_messages","args":{"ids":[1,"2"]}}', 5);
    bad('{"id":5,"op":"delete_messages","args":{"ids":{"0":1}}}', 5);
    // Where the table says nullable, null is a value; unknown members are ignored.
    assert.deepEqual(req('{"id":5,"op":"list_accounts","args":{"pattern":"","cursor":null,"x":1},"y":2}'), {
      ok: true,
      value: { kind: 'request', id: 5, op: 'list_accounts', args: { pattern: '', cursor: null } },
    });
  });

  test('bytes must be padded standard base64', () => {
    const proof = (b64: string) => `{"id":3,"op":"login_finish","args":{"nonce":"n","proof":${JSON.stringify(b64)}}}`;
    for (const b of ['abc', 'YQ', 'YQ=', 'ab$=', 'YW Jj', 'YWJj\n', 'YQ==YQ==', '-_-_', '====', 'A==='])
      bad(proof(b), 3);
    bad(`{"id":3,"op":"login_finish","args":{"nonce":"n","proof":[1,2]}}`, 3);
    for (const [b, bytes] of [['', ''], ['YQ==', '61'], ['YWI=', '6162'], ['YWJj', '616263'], ['+/8=', 'fbff']]) {
      const d = req(proof(b!));
      assert.ok(d.ok && d.value.op === 'login_finish');
      assert.equal(Buffer.from(d.value.args.proof).toString('hex'), bytes);
    }
  });

  test('errors name the first invalid field, with its path', () => {
    const message = (d: Decoded<unknown>) => (d.ok ? assert.fail('expected a decode failure') : d.error.message);
    const cases: [string, string][] = [
      ['{"id":5,"op":"send","args":[]}', 'args must be an object'],
      ['{"id":5,"op":"send"}', 'args.to must be a string'],
      ['{"id":5,"op":"send","args":{"to":1,"text":2}}', 'args.to must be a string'],
      ['{"id":5,"op":"send","args":{"to":"b","text":"x","clientMsgId":null}}', 'args.clientMsgId must be a string'],
      ['{"id":5,"op":"fetch_pending","args":{"limit":-1}}', 'args.limit must be a non-negative integer'],
      ['{"id":5,"op":"delete_messages","args":{"ids":[1,"2"]}}', 'args.ids[1] must be a non-negative integer'],
      ['{"id":5,"op":"delete_messages","args":{"ids":{"0":1}}}', 'args.ids must be an array'],
      ['{"id":5,"op":"mark_read","args":{"ids":[1],"peer":7}}', 'args.peer must be a string'],
      ['{"id":5,"op":"list_accounts","args":{"pattern":"","cursor":5}}', 'args.cursor must be a string'],
      ['{"id":3,"op":"login_finish","args":{"nonce":"n","proof":"abc"}}', 'args.proof must be a base64 string'],
    ];
    for (const [text, expected] of cases)
      assert.equal(message(jsonCodec.decodeRequest(Buffer.from(text))), expected, text);

    const server = (value: unknown, pending?: PendingInfo) =>
      message(jsonCodec.decodeServerMessage(Buffer.from(JSON.stringify(value)), () => pending));
    const result = (op: OpName, value: unknown, expected: string) =>
      assert.equal(server({ id: 4, ok: true, result: value }, { op, args: {}, self: 'a' } as PendingInfo), expected);
    const m = { id: 1, from: 'a', to: 'b', text: 't', sentAt: 2, unread: true };
    const badTime = { messages: [m, { ...m, sentAt: 'x' }], remaining: 0 };
    result('fetch_pending', badTime, 'result.messages[1].sentAt must be a non-negative integer');
    result('fetch_pending', { messages: [m, 3], remaining: 0 }, 'result.messages[1] must be an object');
    result('fetch_pending', { messages: [] }, 'result.remaining must be a non-negative integer');
    const conversation = { peer: 'b', lastMessage: null, unread: 0, online: true };
    result('conversations', { conversations: [conversation] }, 'result.conversations[0].lastMessage must be an object');
    result('login_start', { salt: 'YQ', iterations: 1, nonce: 'n' }, 'result.salt must be a base64 string');

    assert.equal(server({ event: 'presence', data: { username: 'a' } }), 'data.online must be true or false');
    const counts = { pending: 0, unread: 0, byPeer: [{ peer: 'b', unread: 1.5 }] };
    assert.equal(server({ event: 'counts', data: counts }), 'data.byPeer[0].unread must be a non-negative integer');
  });

  test('server messages: unknown events, unknown requests, unknown error codes', () => {
    const dec = (text: string, p?: PendingInfo) => jsonCodec.decodeServerMessage(Buffer.from(text), () => p);
    assert.equal(errorOf(dec('{"event":"nope","data":{}}')).code, 'BAD_REQUEST');
    assert.equal(errorOf(dec('{"event":"presence","data":{"username":"a"}}')).code, 'BAD_REQUEST');
    assert.equal(errorOf(dec('{"id":4,"ok":true,"result":{}}')).code, 'BAD_REQUEST', 'nobody asked');
    const noMessage = dec('{"id":4,"ok":false,"error":{"code":"BAD_REQUEST"}}');
    assert.deepEqual(errorOf(noMessage), { id: 4, code: 'BAD_REQUEST' });
    assert.deepEqual(dec('{"id":0,"ok":false,"error":{"code":"SOMETHING_NEW","message":"m"}}'), {
      ok: true,
      value: { kind: 'error', id: 0, error: { code: 'INTERNAL', message: 'm' } },
    });
    const ping: PendingInfo = { op: 'ping', args: {}, self: '' };
    assert.ok(dec('{"id":4,"ok":true,"result":{}}', ping).ok);
    assert.equal(errorOf(dec('{"id":4,"ok":true,"result":[]}', ping)).code, 'BAD_REQUEST');
  });
});
