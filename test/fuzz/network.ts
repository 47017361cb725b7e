/**
 * The network fuzzer: many raw connections to a live server send valid, mutated, cross-protocol and random frames
 * (most after signing up, so mutated requests reach the logged-in handlers with names and message ids that exist),
 * plus truncated frames, oversized length prefixes and unframed garbage that end a connection. After each batch a
 * sentinel ping checks that the stream is still in step: every frame got exactly one response, none INTERNAL.
 * Used by test/fuzz/network.test.ts (seconds) and scripts/fuzz.mjs (minutes).
 */
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import type { Protocol } from '../../protocol/codec.js';
import { frame } from '../../protocol/codec.js';
import { FrameReader } from '../../protocol/framing.js';
import { MIN_ITERATIONS } from '../../protocol/limits.js';
import { OPS, type OpName, type Request } from '../../protocol/ops.js';
import type { Schema } from '../../protocol/schema.js';
import { newKeys, type ScramKeys } from '../../protocol/scram.js';
import { CODECS, OP_NAMES, mutateBytes, mutateJson, valueArb, type ByteMutation, type JsonMutation } from './harness.js';

export interface NetFuzzOptions {
  host: string;
  port: number;
  /** Stop starting new batches after this long. */
  durationMs: number;
  /** Connections fuzzing at once. */
  connections: number;
  seed: number;
  /** Stop early after this many frames (0: no limit). */
  maxFrames?: number;
}

export interface Finding {
  kind: 'internal' | 'desync' | 'duplicate' | 'closed';
  detail: string;
  /** The frames of the batch, hex with their length prefixes, to replay. */
  frames: string[];
}

export interface NetFuzzStats {
  frames: number;
  batches: number;
  connections: number;
  responses: number;
  events: number;
  /** Refusals by code (BAD_REQUEST, UNKNOWN_OP, NOT_LOGGED_IN, ...). */
  codes: Record<string, number>;
  terminal: Record<string, number>;
  findings: Finding[];
}

/** xorshift32: the fuzzer's own decisions, reproducible from the seed. */
class Rng {
  constructor(private s: number) {
    if (this.s === 0) this.s = 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.s = x;
    return x;
  }
  float(): number {
    return this.next() / 0x100000000;
  }
  int(n: number): number {
    return Math.floor(this.float() * n);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  bytes(n: number): Buffer {
    return Buffer.from(Array.from({ length: n }, () => this.next() & 0xff));
  }
}

/** What the fuzz connections know: account names and message ids that exist, so requests reach deep. */
interface Pool {
  names: string[];
  ids: number[];
}

const NAME_FIELDS = new Set(['to', 'peer', 'username', 'pattern', 'cursor']);
const ID_FIELDS = new Set(['upTo', 'before', 'ids']);

/** Arguments from the schema, with names and ids drawn from the pool half of the time. */
function argArb(name: string, s: Schema, pool: Pool): fc.Arbitrary<unknown> {
  const names = pool.names.length > 0 ? pool.names : ['nobody'];
  const ids = pool.ids.length > 0 ? pool.ids : [1];
  if (s.kind === 'opt') return fc.option(argArb(name, s.of, pool), { nil: undefined });
  if (s.kind === 'nullable') return fc.option(argArb(name, s.of, pool), { nil: null });
  if (s.kind === 'str' && NAME_FIELDS.has(name))
    return fc.oneof(fc.constantFrom(...names), fc.constantFrom('', '*', '?', 'a*', '%', '_', '\\'), valueArb(s));
  if (s.kind === 'str' && name === 'text')
    return fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('x'.repeat(16_384), 'é'.repeat(8193), '\ud800', '\u0000'));
  if (s.kind === 'uint' && ID_FIELDS.has(name)) return fc.oneof(fc.constantFrom(...ids), valueArb(s));
  if (s.kind === 'uint' && name === 'limit') return fc.oneof(fc.integer({ min: 0, max: 600 }), valueArb(s));
  if (s.kind === 'arr' && ID_FIELDS.has(name))
    return fc.array(fc.oneof(fc.constantFrom(...ids), valueArb(s.of)), { maxLength: 12 });
  if (s.kind === 'obj') {
    const model: Record<string, fc.Arbitrary<unknown>> = {};
    const requiredKeys: string[] = [];
    for (const [k, f] of Object.entries(s.fields)) {
      model[k] = f.kind === 'opt' ? argArb(k, f.of, pool) : argArb(k, f, pool);
      if (f.kind !== 'opt') requiredKeys.push(k);
    }
    return fc.record(model, { requiredKeys, noNullPrototype: true });
  }
  return valueArb(s);
}

/** Operations that need a session come up more often: that is where the state is; logout rarely, or little would. */
const OP_WEIGHTS: Partial<Record<OpName, number>> = {
  send: 60, history: 30, mark_read: 30, delete_messages: 30, fetch_pending: 20, list_accounts: 30, conversations: 10, counts: 10,
  logout: 1,
};

function requestsArb(pool: Pool, count: number): fc.Arbitrary<Request[]> {
  const one = fc.oneof(
    ...OP_NAMES.map((op) => ({
      weight: OP_WEIGHTS[op] ?? 5,
      arbitrary: argArb('args', OPS[op].args, pool).map((args) => ({ kind: 'request', id: 1, op, args }) as Request),
    })),
  );
  return fc.array(one, { minLength: count, maxLength: count });
}

const byteMutations = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 6 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  ) as fc.Arbitrary<ByteMutation>,
  { minLength: 1, maxLength: 3 },
);
const jsonMutations = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('replace' as const), path: fc.nat(), value: fc.nat() }),
    fc.record({ kind: fc.constant('remove' as const), path: fc.nat() }),
    fc.record({ kind: fc.constant('addKey' as const), path: fc.nat(), key: fc.nat(), value: fc.nat() }),
  ) as fc.Arbitrary<JsonMutation>,
  { minLength: 1, maxLength: 3 },
);

/** Reads a binary varint at `off` (for ids in responses); undefined when it does not end in 8 bytes. */
function varintAt(b: Buffer, off: number): { value: number; next: number } | undefined {
  let n = 0;
  let scale = 1;
  for (let i = 0; i < 8 && off + i < b.length; i++) {
    const x = b[off + i]!;
    n += (x & 0x7f) * scale;
    if (x < 0x80) return { value: n, next: off + i + 1 };
    scale *= 0x80;
  }
  return undefined;
}

type Classified = { kind: 'event' } | { kind: 'response'; id: number; code: string | undefined };

/** What a server frame is, read with as little of the codec as possible (results cannot be decoded by id here). */
function classify(p: Buffer): Classified | undefined {
  if (p[0] === 0x7b) {
    const v = JSON.parse(p.toString('utf8')) as { event?: string; id?: number; ok?: boolean; error?: { code?: string } };
    if (typeof v.event === 'string') return { kind: 'event' };
    return { kind: 'response', id: v.id ?? -1, code: v.ok === false ? (v.error?.code ?? '?') : undefined };
  }
  const type = p[0];
  if (type === undefined) return undefined;
  if (type >= 0x80) return { kind: 'event' };
  const id = varintAt(p, 1);
  if (!id) return undefined;
  if (type === 0x3f) {
    const code = varintAt(p, id.next);
    const names = ['?', 'BAD_REQUEST', 'UNKNOWN_OP', 'NOT_LOGGED_IN', 'ALREADY_LOGGED_IN', 'INVALID_USERNAME', 'USERNAME_TAKEN',
      'AUTH_FAILED', 'NO_SUCH_USER', 'TEXT_TOO_LONG', 'TOO_MANY', 'RATE_LIMITED', 'FRAME_TOO_LARGE', 'INTERNAL'];
    return { kind: 'response', id: id.value, code: names[code?.value ?? 0] ?? `code ${code?.value}` };
  }
  return { kind: 'response', id: id.value, code: undefined };
}

/** One raw connection: counts responses, remembers ids seen, notices close. */
class FuzzConn {
  responses = 0;
  events = 0;
  readonly seen = new Map<number, number>();
  readonly codes: { id: number; code: string }[] = [];
  closed = false;
  private wake: (() => void) | undefined;
  private constructor(readonly socket: Socket) {
    const reader = new FrameReader(64 * 1024 * 1024, (p) => {
      const c = classify(p);
      if (c?.kind === 'event') this.events++;
      else if (c) {
        this.responses++;
        this.seen.set(c.id, (this.seen.get(c.id) ?? 0) + 1);
        if (c.code) this.codes.push({ id: c.id, code: c.code });
      }
      this.wake?.();
    });
    socket.on('data', (d: Buffer) => reader.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  static open(host: string, port: number): Promise<FuzzConn> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port }, () => {
        s.off('error', reject);
        s.setNoDelay(true);
        resolve(new FuzzConn(s));
      });
      s.once('error', reject);
    });
  }

  /** Resolves true once `cond` holds, false on close or timeout. */
  until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const t = setTimeout(() => done(false), timeoutMs);
      const done = (v: boolean): void => {
        clearTimeout(t);
        this.wake = undefined;
        resolve(v);
      };
      this.wake = () => {
        if (cond()) done(true);
        else if (this.closed) done(false);
      };
      this.wake();
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

let sentinelIds = 2 ** 40;

/**
 * Runs the network fuzzer against a live server until the time (or frame budget) is used up; reports what it sent
 * and every finding. It never throws for what the server does: findings are data, the caller asserts.
 */
export async function runNetworkFuzz(o: NetFuzzOptions): Promise<NetFuzzStats> {
  const stats: NetFuzzStats = { frames: 0, batches: 0, connections: 0, responses: 0, events: 0, codes: {}, terminal: {}, findings: [] };
  const pool: Pool = { names: [], ids: [] };
  const keys: ScramKeys = await newKeys('fuzz password', MIN_ITERATIONS);
  const deadline = Date.now() + o.durationMs;
  const budgetLeft = (): boolean => Date.now() < deadline && (!o.maxFrames || stats.frames < o.maxFrames);
  let names = 0;

  const worker = async (w: number): Promise<void> => {
    const rng = new Rng((o.seed + w * 0x61c88647) >>> 0);
    while (budgetLeft()) {
      const protocol: Protocol = rng.float() < 0.5 ? 'json' : 'binary';
      const codec = CODECS[protocol];
      let conn: FuzzConn;
      try {
        conn = await FuzzConn.open(o.host, o.port);
      } catch {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      stats.connections++;
      let sentFrames = 0;
      const record: string[] = [];
      const write = (bytes: Buffer): void => {
        conn.socket.write(bytes);
        record.push(bytes.toString('hex'));
      };
      if (rng.float() < 0.7) {
        // Logged in first, so the mutated requests that follow reach the handlers behind the session check.
        const username = `fz${o.seed % 1000}_${w}_${names++}`;
        write(codec.encodeRequest({ kind: 'request', id: 1, op: 'signup', args: { username, ...keys } }));
        sentFrames++;
        pool.names.push(username);
        if (pool.names.length > 200) pool.names.shift();
      } else {
        // The first frame picks the connection's protocol: it must be in the one the sentinel pings speak.
        write(codec.encodeRequest({ kind: 'request', id: 1, op: 'hello', args: {} }));
        sentFrames++;
      }
      for (let batch = 0; budgetLeft() && !conn.closed && batch < 20; batch++) {
        record.length = 0;
        const n = 1 + rng.int(30);
        const reqs = fc.sample(requestsArb(pool, n), { seed: rng.next() | 0, numRuns: 1 })[0]!;
        const parts: Buffer[] = [];
        for (const r of reqs) {
          r.id = 1 + rng.int(1_000_000);
          const valid = codec.encodeRequest(r);
          const roll = rng.float();
          let payload: Buffer;
          if (roll < 0.45) payload = valid.subarray(4);
          else if (roll < 0.7 && protocol === 'json')
            payload = mutateJson(valid.subarray(4), fc.sample(jsonMutations, { seed: rng.next() | 0, numRuns: 1 })[0]!);
          else if (roll < 0.9) payload = mutateBytes(valid.subarray(4), fc.sample(byteMutations, { seed: rng.next() | 0, numRuns: 1 })[0]!);
          else if (roll < 0.95) payload = CODECS[protocol === 'json' ? 'binary' : 'json'].encodeRequest(r).subarray(4);
          else payload = rng.bytes(rng.int(48));
          parts.push(frame(payload));
        }
        const sentinel = ++sentinelIds;
        parts.push(codec.encodeRequest({ kind: 'request', id: sentinel, op: 'ping', args: {} }));
        const bytes = Buffer.concat(parts);
        // Cut the batch at random points: frames split across TCP segments, and several in one.
        let at = 0;
        while (at < bytes.length) {
          const end = rng.float() < 0.5 ? bytes.length : Math.min(bytes.length, at + 1 + rng.int(64));
          write(bytes.subarray(at, end));
          at = end;
          if (end < bytes.length) await new Promise((r) => setImmediate(r));
        }
        sentFrames += parts.length;
        stats.frames += parts.length;
        stats.batches++;
        const inStep = await conn.until(() => conn.responses >= sentFrames && conn.seen.has(sentinel), 10_000);
        if (!inStep) {
          stats.findings.push({
            kind: conn.closed ? 'closed' : 'desync',
            detail: `${protocol}: ${conn.responses} responses to ${sentFrames} frames; sentinel ${sentinel} ${conn.seen.has(sentinel) ? 'answered' : 'unanswered'}`,
            frames: [...record],
          });
          break;
        }
        if (conn.responses > sentFrames)
          stats.findings.push({ kind: 'duplicate', detail: `${protocol}: ${conn.responses} responses to ${sentFrames} frames`, frames: [...record] });
        for (const { id, code } of conn.codes.splice(0)) {
          stats.codes[code] = (stats.codes[code] ?? 0) + 1;
          if (code === 'INTERNAL') stats.findings.push({ kind: 'internal', detail: `${protocol}: INTERNAL for request ${id}`, frames: [...record] });
        }
        // Learn message ids that exist (the send results' ids are not decoded here; ids are small and dense).
        pool.ids.push(1 + rng.int(Math.max(1, stats.frames)));
        if (pool.ids.length > 200) pool.ids.shift();
      }
      // End the connection, sometimes the hostile way.
      const end = rng.float();
      if (!conn.closed && end < 0.15) {
        write(Buffer.from([0xff, 0xff, 0xff, 0xff])); // oversized prefix: FRAME_TOO_LARGE, then the server closes
        stats.terminal['oversized'] = (stats.terminal['oversized'] ?? 0) + 1;
        await conn.until(() => conn.closed, 5000);
        if (!conn.closed) stats.findings.push({ kind: 'desync', detail: `${protocol}: not closed after an oversized prefix`, frames: [...record] });
      } else if (!conn.closed && end < 0.3) {
        const f = codec.encodeRequest({ kind: 'request', id: 7, op: 'ping', args: {} });
        write(f.subarray(0, rng.int(f.length))); // a truncated frame, then hang up
        stats.terminal['truncated'] = (stats.terminal['truncated'] ?? 0) + 1;
      } else if (!conn.closed && end < 0.4) {
        write(rng.bytes(1 + rng.int(200))); // unframed garbage, then hang up
        stats.terminal['garbage'] = (stats.terminal['garbage'] ?? 0) + 1;
      }
      stats.responses += conn.responses;
      stats.events += conn.events;
      conn.close();
    }
  };
  await Promise.all(Array.from({ length: o.connections }, (_, w) => worker(w)));
  return stats;
}
