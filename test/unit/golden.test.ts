/**
 * The golden vectors and tables of docs/PROTOCOL.md are the contract third-party clients are written against. This
 * checks them against the codecs in both directions, so a change to either the doc or a codec fails here.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { binaryCodec } from '../../protocol/binary.js';
import { jsonCodec } from '../../protocol/json.js';
import type { Codec, Decoded, PendingInfo, Protocol } from '../../protocol/codec.js';
import {
  Counts,
  ERROR_CODES,
  EVENTS,
  Message,
  OPS,
  PACKED,
  isErrorCode,
  isEventName,
  isOpName,
  type Args,
  type Event,
  type OpName,
  type Request,
  type Result,
} from '../../protocol/ops.js';
import type { Schema } from '../../protocol/schema.js';

const DOC_PATH = resolve(__dirname, '../../docs/PROTOCOL.md');
const doc = readFileSync(DOC_PATH, 'utf8');
const CODECS: Record<Protocol, Codec> = { binary: binaryCodec, json: jsonCodec };

// ---------- reading the vectors ----------

interface Vector {
  name: string;
  protocol: Protocol;
  /** The value as written in the doc (bytes as hex strings). */
  value: Record<string, unknown>;
  pending?: { args: unknown; self: string };
  text?: string;
  /** The frame bytes, comments and whitespace removed. */
  hex: string;
}

const KEYS = new Set(['name', 'protocol', 'value', 'pending', 'text', 'hex']);

/** One ```golden block: `key: value` lines; indented lines continue the previous key. */
function parseBlock(body: string, where: string): Vector {
  const fields = new Map<string, string>();
  let key: string | undefined;
  for (const line of body.split('\n')) {
    const m = /^([a-z]+):(.*)$/.exec(line);
    if (m) {
      key = m[1]!;
      assert.ok(KEYS.has(key), `${where}: unknown key "${key}"`);
      assert.ok(!fields.has(key), `${where}: "${key}" given twice`);
      fields.set(key, m[2]!.trim());
    } else if (key !== undefined && (line === '' || /^\s/.test(line))) {
      fields.set(key, `${fields.get(key)}\n${line}`);
    } else {
      assert.fail(`${where}: cannot read line ${JSON.stringify(line)}`);
    }
  }
  const get = (k: string): string => {
    const v = fields.get(k);
    assert.ok(v !== undefined, `${where}: "${k}" is missing`);
    return v;
  };
  const protocol = get('protocol');
  assert.ok(protocol === 'binary' || protocol === 'json', `${where}: protocol must be binary or json`);
  const hex = get('hex')
    .split('\n')
    .map((l) => l.replace(/#.*$/, ''))
    .join('')
    .replace(/\s+/g, '')
    .toLowerCase();
  assert.match(hex, /^(?:[0-9a-f]{2})+$/, `${where}: hex must be whole bytes`);
  const value: unknown = JSON.parse(get('value'));
  assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), `${where}: value must be an object`);
  const v: Vector = { name: get('name'), protocol, value: value as Record<string, unknown>, hex };
  if (fields.has('pending')) v.pending = JSON.parse(get('pending')) as { args: unknown; self: string };
  if (fields.has('text')) v.text = get('text');
  return v;
}

const vectors: Vector[] = [...doc.matchAll(/^```golden\n([\s\S]*?)^```$/gm)].map((m, i) =>
  parseBlock(m[1]!, `golden block ${i + 1}`),
);

// ---------- doc value <-> typed value ----------

/** Turns the doc's hex strings back into bytes wherever the schema says `bytes`. */
function typed(s: Schema, v: unknown, path: string): unknown {
  if (v === undefined || v === null) return v;
  switch (s.kind) {
    case 'bytes':
      assert.ok(typeof v === 'string' && /^(?:[0-9a-f]{2})*$/.test(v), `${path} must be a hex string`);
      return Buffer.from(v, 'hex');
    case 'opt':
    case 'nullable':
      return typed(s.of, v, path);
    case 'arr':
      assert.ok(Array.isArray(v), `${path} must be an array`);
      return v.map((x, i) => typed(s.of, x, `${path}[${i}]`));
    case 'obj': {
      assert.ok(typeof v === 'object' && !Array.isArray(v), `${path} must be an object`);
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) assert.ok(k in s.fields, `${path}.${k} is not in the table`);
      const out: Record<string, unknown> = {};
      for (const [k, f] of Object.entries(s.fields)) if (o[k] !== undefined) out[k] = typed(f, o[k], `${path}.${k}`);
      return out;
    }
    default:
      return v;
  }
}

interface Case {
  expected: unknown;
  encode(c: Codec): Buffer;
  decode(c: Codec, payload: Buffer): Decoded<unknown>;
}

function caseOf(v: Vector): Case {
  const x = v.value;
  switch (x['kind']) {
    case 'request': {
      const op = String(x['op']);
      assert.ok(isOpName(op), `unknown op ${op}`);
      const req = { kind: 'request', id: x['id'], op, args: typed(OPS[op].args, x['args'], 'args') } as Request;
      return { expected: req, encode: (c) => c.encodeRequest(req), decode: (c, p) => c.decodeRequest(p) };
    }
    case 'result': {
      const op = String(x['op']);
      assert.ok(isOpName(op), `unknown op ${op}`);
      const id = Number(x['id']);
      const result = typed(OPS[op].result, x['result'], 'result') as Result<OpName>;
      const args = typed(OPS[op].args, v.pending?.args ?? {}, 'pending.args') as Args<OpName>;
      const pending: PendingInfo = { op, args, self: v.pending?.self ?? '' };
      return {
        expected: { kind: 'result', id, op, result },
        encode: (c) => c.encodeResult(id, op, result, args),
        decode: (c, p) => c.decodeServerMessage(p, (i) => (i === id ? pending : undefined)),
      };
    }
    case 'error': {
      const error = x['error'] as { code: string; message: string; retryAfterMs?: number };
      assert.ok(isErrorCode(error.code), `unknown error code ${error.code}`);
      const id = Number(x['id']);
      const wire = {
        code: error.code,
        message: error.message,
        ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
      };
      return {
        expected: { kind: 'error', id, error: wire },
        encode: (c) => c.encodeError(id, wire),
        decode: (c, p) => c.decodeServerMessage(p, () => undefined),
      };
    }
    case 'event': {
      const name = String(x['event']);
      assert.ok(isEventName(name), `unknown event ${name}`);
      const ev = { kind: 'event', event: name, data: typed(EVENTS[name].data, x['data'], 'data') } as Event;
      return {
        expected: ev,
        encode: (c) => c.encodeEvent(ev),
        decode: (c, p) => c.decodeServerMessage(p, () => undefined),
      };
    }
    default:
      return assert.fail(`unknown kind ${String(x['kind'])}`);
  }
}

describe('golden vectors in docs/PROTOCOL.md', () => {
  test('the doc has enough vectors, in both protocols', () => {
    // Guards against the section being lost or the block format drifting so that nothing is checked.
    assert.ok(vectors.length >= 24, `only ${vectors.length} golden blocks found`);
    const names = (p: Protocol) => new Set(vectors.filter((v) => v.protocol === p).map((v) => v.name));
    assert.ok(names('binary').size >= 12);
    assert.deepEqual(names('json'), names('binary'));
  });

  for (const v of vectors) {
    test(`${v.protocol}: ${v.name}`, () => {
      const codec = CODECS[v.protocol];
      const c = caseOf(v);
      const frame = Buffer.from(v.hex, 'hex');
      assert.ok(frame.length >= 4, 'a frame has a 4-byte length prefix');
      assert.equal(frame.readUInt32BE(0), frame.length - 4, 'the length prefix must match the payload');
      const payload = frame.subarray(4);

      assert.equal(c.encode(codec).toString('hex'), v.hex, 'encoding the value must give exactly these bytes');
      const d = c.decode(codec, payload);
      assert.ok(d.ok, `decoding failed: ${d.ok ? '' : d.error.message}`);
      assert.deepEqual(d.value, c.expected, 'decoding the bytes must give back the value');

      if (v.protocol === 'json') {
        assert.ok(v.text !== undefined, 'a JSON vector shows its payload as text');
        assert.equal(payload.toString('utf8'), v.text);
      } else {
        assert.equal(v.text, undefined);
        assert.notEqual(payload[0], 0x7b, 'a binary payload never starts with "{"');
      }
    });
  }
});

// ---------- the tables ----------

/** Renders a schema in the doc's notation (the same the doc's tables were generated with). */
function sig(s: Schema, top = false): string {
  switch (s.kind) {
    case 'uint':
    case 'str':
    case 'bytes':
    case 'bool':
      return s.kind;
    case 'nullable':
      return `${sig(s.of)} \\| null`; // `|` is escaped inside a markdown table
    case 'opt':
      return sig(s.of);
    case 'arr':
      return `[${sig(s.of)}]`;
    case 'obj': {
      if (!top && s === Message) return 'Message';
      const inner = Object.entries(s.fields)
        .map(([k, f]) => `${k}${f.kind === 'opt' ? '?' : ''}: ${sig(f)}`)
        .join(', ');
      return top ? inner || '(empty)' : `{${inner}}`;
    }
  }
}
const hex2 = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;
const rows = (re: RegExp): RegExpExecArray[] =>
  doc.split('\n').flatMap((l) => {
    const m = re.exec(l);
    return m ? [m] : [];
  });

describe('tables in docs/PROTOCOL.md match protocol/ops.ts', () => {
  test('operations: codes and fields in wire order', () => {
    const found = rows(/^\| `(\w+)` \| (0x[0-9a-f]{2}) \| (0x[0-9a-f]{2}) \| `(.*)` \| `(.*)` \|$/);
    const expected = Object.entries(OPS).map(([name, d]) => [
      name,
      hex2(d.code),
      hex2(0x40 | d.code),
      sig(d.args, true),
      sig(d.result, true),
    ]);
    assert.deepEqual(
      found.map((m) => m.slice(1)),
      expected,
    );
  });

  test('events: type bytes and fields', () => {
    const found = rows(/^\| `(\w+)` \| (0x[0-9a-f]{2}) \| `(.*)` \|$/);
    const expected = Object.entries(EVENTS).map(([name, d]) => [name, hex2(0x80 | d.code), sig(d.data, true)]);
    assert.deepEqual(
      found.map((m) => m.slice(1)),
      expected,
    );
  });

  test('shared types and the packed send result', () => {
    const found = rows(/^\| `(Message|Counts)` \| `(.*)` \|$/);
    assert.deepEqual(
      found.map((m) => m.slice(1)),
      [
        ['Message', sig(Message, true)],
        ['Counts', sig(Counts, true)],
      ],
    );
    assert.ok(doc.includes(`\n\`${sig(PACKED.send.schema, true)}\`\n`), 'the packed send fields');
  });

  test('error codes are numbered by their 1-based position', () => {
    const found = rows(/^\| (\d+) \| `([A-Z_]+)` \|/);
    assert.deepEqual(
      found.map((m) => [Number(m[1]), m[2]]),
      ERROR_CODES.map((c, i) => [i + 1, c]),
    );
  });
});
