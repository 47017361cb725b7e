/**
 * A load-generator process. The orchestrator (bench/main.ts) forks several of these; each takes tasks over IPC and
 * drives the server through JoChat's own connection client (protocol/client.ts), exactly as the extension does.
 * Every timing is taken here, on the client side of the TCP connection.
 */
import { JoChatClient, type ClientOptions } from '../protocol/client.js';
import type { Protocol } from '../protocol/codec.js';
import { MIN_ITERATIONS } from '../protocol/limits.js';
import type { Event } from '../protocol/ops.js';
import { authMessage, clientProof, deriveKeys, newNonce, type ScramKeys } from '../protocol/scram.js';
import { CountingProxy, type WireFrame } from './proxy.js';
import { pool, sleep, textOf, wallMs } from './stats.js';

export interface Target {
  host: string;
  port: number;
  protocol: Protocol;
}

interface Pair {
  sender: JoChatClient;
  receiver: JoChatClient;
  to: string;
}

const state = {
  pairs: [] as Pair[],
  conns: [] as JoChatClient[],
  storm: [] as JoChatClient[],
};

const client = (t: Target, o: Partial<ClientOptions> = {}): JoChatClient =>
  new JoChatClient({ host: t.host, port: t.port, protocol: t.protocol, iterations: MIN_ITERATIONS, reconnect: false, ...o });

const onMessage = (c: JoChatClient, fn: (m: Extract<Event, { event: 'message' }>['data']['message']) => void): (() => void) =>
  c.on('event', (ev) => {
    if (ev.event === 'message') fn(ev.data.message);
  });

function cpu(start: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1e6;
}

// ---- sender → receiver pairs (workloads 1, 2, 5) ----

export interface PairsSetup extends Target {
  pairs: number;
  prefix: string;
}

async function pairsSetup(p: PairsSetup): Promise<{ pairs: number }> {
  state.pairs = await pool(
    Array.from({ length: p.pairs }, (_, i) => i),
    10,
    async (i) => {
      const sender = client(p);
      const receiver = client(p);
      await Promise.all([sender.connect(), receiver.connect()]);
      const to = `${p.prefix}r${i}`;
      await Promise.all([sender.signup(`${p.prefix}s${i}`, 'bench password'), receiver.signup(to, 'bench password')]);
      return { sender, receiver, to };
    },
  );
  return { pairs: state.pairs.length };
}

function pairsClose(): void {
  for (const p of state.pairs) {
    p.sender.close();
    p.receiver.close();
  }
  state.pairs = [];
}

export interface ThroughputParams {
  perSender: number;
  window: number;
  textBytes: number;
}
export interface ThroughputResult {
  t0: number;
  t1: number;
  acked: number;
  failed: number;
  delivered: number;
  orderErrors: number;
  errors: Record<string, number>;
  cpuSeconds: number;
}

/** Each sender keeps up to `window` sends unacknowledged until it has sent `perSender`; receivers count pushes. */
async function throughput(p: ThroughputParams): Promise<ThroughputResult> {
  const c0 = process.cpuUsage();
  const pairs = state.pairs;
  const expected = pairs.length * p.perSender;
  let acked = 0;
  let failed = 0;
  let delivered = 0;
  let orderErrors = 0;
  let t1 = 0;
  const errors: Record<string, number> = {};
  let finish: () => void = () => undefined;
  const allDelivered = new Promise<void>((r) => (finish = r));
  const offs = pairs.map((pr) => {
    let last = 0;
    return onMessage(pr.receiver, (m) => {
      if (m.id <= last) orderErrors++; // pushes to one recipient come in commit (= id) order
      last = m.id;
      if (++delivered === expected) {
        t1 = wallMs();
        finish();
      }
    });
  });
  const t0 = wallMs();
  const senders = pairs.map(
    (pr, i) =>
      new Promise<void>((resolve) => {
        const text = textOf(`s${i}`, p.textBytes);
        let sent = 0;
        let settled = 0;
        const settle = (): void => {
          if (++settled === p.perSender) resolve();
          else pump();
        };
        const ok = (): void => {
          acked++;
          settle();
        };
        const bad = (e: { code?: string }): void => {
          failed++;
          errors[e.code ?? 'unknown'] = (errors[e.code ?? 'unknown'] ?? 0) + 1;
          settle();
        };
        const pump = (): void => {
          while (sent - settled < p.window && sent < p.perSender) {
            sent++;
            pr.sender.send(pr.to, text).then(ok, bad);
          }
        };
        pump();
      }),
  );
  await Promise.all(senders);
  // Every acknowledged send must also arrive as a push; give stragglers a moment.
  await Promise.race([allDelivered, sleep(failed > 0 ? 2000 : 30_000)]);
  for (const off of offs) off();
  return { t0, t1: t1 || wallMs(), acked, failed, delivered, orderErrors, errors, cpuSeconds: cpu(c0) };
}

export interface LatencyParams {
  /** This process's share of the message rate, per second. */
  rate: number;
  seconds: number;
  textBytes: number;
}
export interface LatencyResult {
  /** Send→push latency of each message, ms. */
  latency: Float64Array;
  /** When each of those was sent (wall clock ms), to split runs into windows. */
  sentAt: Float64Array;
  sent: number;
  acked: number;
  received: number;
  failed: number;
  t0: number;
  t1: number;
  cpuSeconds: number;
}

/** Sends at a steady rate, round robin over the pairs, and times each message from send() to its push. */
async function latency(p: LatencyParams): Promise<LatencyResult> {
  const c0 = process.cpuUsage();
  const pairs = state.pairs;
  const total = Math.round(p.rate * p.seconds);
  const sendPerf = new Float64Array(total);
  const sendWall = new Float64Array(total);
  const lat = new Float64Array(total).fill(NaN);
  let received = 0;
  let acked = 0;
  let failed = 0;
  const offs = pairs.map((pr) =>
    onMessage(pr.receiver, (m) => {
      const seq = parseInt(m.text, 10);
      if (seq >= 0 && seq < total && Number.isNaN(lat[seq]!)) {
        lat[seq] = performance.now() - sendPerf[seq]!;
        received++;
      }
    }),
  );
  const texts = Array.from({ length: 64 }, (_, i) => textOf('x'.repeat(10), p.textBytes).slice(0, p.textBytes - 12) + i);
  const t0 = wallMs();
  const start = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * p.rate));
      while (sent < due) {
        const seq = sent++;
        const pr = pairs[seq % pairs.length]!;
        const text = `${seq} ${texts[seq & 63]!}`.slice(0, p.textBytes);
        sendPerf[seq] = performance.now();
        sendWall[seq] = performance.timeOrigin + sendPerf[seq]!;
        pr.sender.send(pr.to, text).then(
          () => acked++,
          () => failed++,
        );
      }
      if (sent === total) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  const t1 = wallMs();
  for (let i = 0; i < 500 && received + failed < total; i++) await sleep(10);
  for (const off of offs) off();
  const keep: number[] = [];
  for (let i = 0; i < total; i++) if (!Number.isNaN(lat[i]!)) keep.push(i);
  return {
    latency: Float64Array.from(keep, (i) => lat[i]!),
    sentAt: Float64Array.from(keep, (i) => sendWall[i]!),
    sent,
    acked,
    received,
    failed,
    t0,
    t1,
    cpuSeconds: cpu(c0),
  };
}

// ---- idle logged-in connections (workload 3) ----

export interface ConnsParams extends Target {
  tokens: string[];
  concurrency: number;
}
export interface ConnsResult {
  t0: number;
  t1: number;
  ok: number;
  failed: number;
  errors: Record<string, number>;
}

/** Opens one connection per token: TCP connect, hello, resume (a logged-in session). They then stay idle. */
async function connsOpen(p: ConnsParams): Promise<ConnsResult> {
  let ok = 0;
  let failed = 0;
  const errors: Record<string, number> = {};
  const t0 = wallMs();
  await pool(p.tokens, p.concurrency, async (token) => {
    const c = client(p);
    c.setToken(token);
    try {
      await c.connect();
      if (c.isLoggedIn) ok++;
      else {
        failed++;
        errors['not logged in'] = (errors['not logged in'] ?? 0) + 1;
      }
      state.conns.push(c);
    } catch (e) {
      failed++;
      const k = (e as { code?: string }).code ?? (e as Error).message;
      errors[k] = (errors[k] ?? 0) + 1;
      c.close();
    }
  });
  return { t0, t1: wallMs(), ok, failed, errors };
}

function connsStatus(): { open: number; loggedIn: number } {
  return { open: state.conns.filter((c) => c.state === 'online').length, loggedIn: state.conns.filter((c) => c.isLoggedIn).length };
}

function connsClose(): void {
  for (const c of state.conns) c.close();
  state.conns = [];
}

// ---- login storm (workload 5) ----

export interface StormParams extends Target {
  names: string[];
  password: string;
  /** max: as many as `concurrency` lanes can do; paced: `rate` per second. */
  mode: 'max' | 'paced';
  rate: number;
  seconds: number;
  concurrency: number;
  /** Keep the logged-in connections open until storm.close (else close each at once). */
  keep: boolean;
  /** Derive each account's key once (see cachedLogin) instead of in every login. */
  cachedKeys: boolean;
}
export interface StormResult {
  t0: number;
  t1: number;
  ok: number;
  failed: number;
  errors: Record<string, number>;
  /** Connect + hello + login_start + PBKDF2 + login_finish, ms. */
  latency: Float64Array;
  cpuSeconds: number;
}

/** Fresh connections logging in with SCRAM through JoChatClient.login (the client derives the key each time). */
async function storm(p: StormParams): Promise<StormResult> {
  const c0 = process.cpuUsage();
  let next = 0;
  let ok = 0;
  let failed = 0;
  const errors: Record<string, number> = {};
  const lat: number[] = [];
  const one = async (): Promise<void> => {
    const name = p.names[next++ % p.names.length]!;
    const start = performance.now();
    const c = client(p);
    try {
      await c.connect();
      if (p.cachedKeys) await cachedLogin(c, name, p.password);
      else await c.login(name, p.password);
      lat.push(performance.now() - start);
      ok++;
    } catch (e) {
      failed++;
      const k = (e as { code?: string }).code ?? (e as Error).message;
      errors[k] = (errors[k] ?? 0) + 1;
    }
    if (p.keep) state.storm.push(c);
    else c.close();
  };
  const t0 = wallMs();
  const end = performance.now() + p.seconds * 1000;
  if (p.mode === 'max') {
    await Promise.all(
      Array.from({ length: p.concurrency }, async () => {
        while (performance.now() < end) await one();
      }),
    );
  } else {
    const running: Promise<void>[] = [];
    const start = performance.now();
    let started = 0;
    const total = Math.round(p.rate * p.seconds);
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * p.rate));
        while (started < due) {
          started++;
          running.push(one());
        }
        if (started === total) {
          clearInterval(tick);
          resolve();
        }
      }, 1);
    });
    await Promise.all(running);
  }
  return { t0, t1: wallMs(), ok, failed, errors, latency: Float64Array.from(lat), cpuSeconds: cpu(c0) };
}

function stormClose(): void {
  for (const c of state.storm) c.close();
  state.storm = [];
}

// ---- bytes on the wire (workload 4) ----

export interface WireRow {
  op: string;
  /** Frames and their sizes, e.g. [['req:send', 130], ['res:send', 19]]. */
  frames: [string, number][];
  bytes: number;
  /** Bytes of message text carried (to tell overhead from payload). */
  textBytes: number;
}

/**
 * Runs each operation once through a counting proxy, one at a time, and reports the frames it caused. Names are
 * short and realistic: alice sends bob a 100-byte text.
 */
async function wire(p: Target & { textBytes: number }): Promise<WireRow[]> {
  const proxy = new CountingProxy(p.host, p.port);
  const port = await proxy.listen();
  const via: Target = { ...p, port };
  const rows: WireRow[] = [];
  const settle = async (): Promise<void> => {
    let n = -1;
    while (n !== proxy.frames.length) {
      n = proxy.frames.length;
      await sleep(40);
    }
  };
  const step = async (op: string, fn: () => Promise<unknown>, textBytes = 0, only?: (f: WireFrame) => boolean): Promise<WireFrame[]> => {
    await settle();
    const mark = proxy.frames.length;
    await fn();
    await settle();
    const frames = proxy.frames.slice(mark).filter(only ?? (() => true));
    rows.push({ op, frames: frames.map((f) => [f.kind, f.bytes]), bytes: frames.reduce((n, f) => n + f.bytes, 0), textBytes });
    return frames;
  };
  const pw = 'correct horse battery staple';
  const text = textOf('hi', p.textBytes);
  const alice = client(via);
  const bob = client(via);
  try {
    await step('hello (connect)', () => alice.connect());
    await bob.connect();
    await step('signup', () => alice.signup('alice', pw));
    await bob.signup('bob', pw);
    await bob.logout();
    await step('login exchange (login_start + login_finish)', () => bob.login('bob', pw));
    // Conversation exists from here on, so presence events are out of the way before measuring sends.
    await alice.send('bob', text);
    const aliceConn = 0;
    const bobConn = 1;
    const frames = await step('send', () => alice.send('bob', text), p.textBytes);
    rows.pop();
    const sel = (k: string, c: number): [string, number][] =>
      frames.filter((f) => f.kind === k && f.conn === c).map((f) => [f.kind, f.bytes]);
    const row = (op: string, fr: [string, number][], textBytes: number): void => {
      rows.push({ op, frames: fr, bytes: fr.reduce((n, f) => n + f[1], 0), textBytes });
    };
    row('send request + response', [...sel('req:send', aliceConn), ...sel('res:send', aliceConn)], p.textBytes);
    row('push (message event)', sel('evt:message', bobConn), p.textBytes);
    row('counts event after a push', sel('evt:counts', bobConn), 0);
    await step('send without clientMsgId (request + response)', () => alice.request('send', { to: 'bob', text }), p.textBytes, (f) => f.conn === aliceConn);
    // A 50-message history page: fill the conversation first.
    for (let i = 0; i < 60; i++) await alice.send('bob', textOf(`m${i}`, p.textBytes));
    await step('history page (50 messages)', () => alice.request('history', { peer: 'bob', limit: 50 }), 50 * p.textBytes, (f) => f.conn === aliceConn);
    // A 20-account list page: more than 20 accounts match.
    await pool(
      Array.from({ length: 25 }, (_, i) => i),
      5,
      async (i) => {
        const c = client(p);
        await c.connect();
        await c.signup(`user${String(i).padStart(2, '0')}`, pw);
        c.close();
      },
    );
    await step('list_accounts page (20 accounts)', () => alice.request('list_accounts', { pattern: 'user*', limit: 20 }), 0, (f) => f.conn === aliceConn);
    await step('resume (token)', async () => {
      const c = client(via);
      c.setToken(await freshToken(p, 'alice2', pw));
      await c.connect();
      c.close();
    });
    rows[rows.length - 1]!.frames = rows[rows.length - 1]!.frames.filter((f) => f[0].endsWith(':resume'));
    rows[rows.length - 1]!.bytes = rows[rows.length - 1]!.frames.reduce((n, f) => n + f[1], 0);
    // 50 pending messages, fetched in one page.
    await bob.logout();
    for (let i = 0; i < 50; i++) await alice.send('bob', textOf(`p${i}`, p.textBytes));
    await bob.login('bob', pw);
    await step('fetch_pending page (50 messages)', () => bob.request('fetch_pending', { limit: 50 }), 50 * p.textBytes, (f) => f.kind.endsWith(':fetch_pending'));
    await step('ping', () => alice.request('ping', {}), 0, (f) => f.conn === aliceConn);
  } finally {
    alice.close();
    bob.close();
    proxy.close();
  }
  return rows;
}

/** A token for a new account, from a direct connection (not through the proxy). */
async function freshToken(t: Target, name: string, pw: string): Promise<string> {
  const c = client(t);
  let token = '';
  c.on('token', (tk) => (token = tk ?? token));
  await c.connect();
  await c.signup(name, pw);
  c.close();
  return token;
}

// ---- data at scale (workload 6) ----

export interface ScaleParams extends Target {
  samples: number;
  warmup: number;
  probe: { token: string; peer: string; conversation: number; firstId: number; lastId: number };
  pendingTokens: string[];
  pendingEach: number;
  deepToken: string;
  deepPending: number;
  substring: string[];
  glob: string[];
  keys: { salt: Uint8Array; iterations: number; storedKey: Uint8Array; serverKey: Uint8Array };
  signupPrefix: string;
}
export interface ScaleRow {
  op: string;
  /** Round-trip times, ms. */
  ms: Float64Array;
  note: string;
}

/** Each operation, one request at a time, timed from request() to its response on the client. */
async function scale(p: ScaleParams): Promise<ScaleRow[]> {
  const rows: ScaleRow[] = [];
  const resumed = async (token: string): Promise<JoChatClient> => {
    const c = client(p, { requestTimeoutMs: 120_000 });
    c.setToken(token);
    await c.connect();
    if (!c.isLoggedIn) throw new Error('the bench token did not resume');
    return c;
  };
  const time = async (op: string, note: string, n: number, fn: (i: number) => Promise<unknown>): Promise<void> => {
    for (let i = 0; i < p.warmup; i++) await fn(-1 - i);
    const ms = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await fn(i);
      ms[i] = performance.now() - t;
    }
    rows.push({ op, ms, note });
  };
  const probe = await resumed(p.probe.token);
  const pend = await Promise.all(p.pendingTokens.map(resumed));
  const deep = await resumed(p.deepToken);
  const signer = client(p);
  await signer.connect();
  try {
    const n = p.samples;
    await time('list_accounts, substring', `patterns ${p.substring.join(', ')}; first page of 20 + total`, n, (i) =>
      probe.request('list_accounts', { pattern: p.substring[(i + 100) % p.substring.length]!, limit: 20 }),
    );
    await time('list_accounts, glob', `patterns ${p.glob.join(', ')}; first page of 20 + total`, n, (i) =>
      probe.request('list_accounts', { pattern: p.glob[(i + 100) % p.glob.length]!, limit: 20 }),
    );
    await time('list_accounts, all (empty pattern)', 'first page of 20 + total (every account)', Math.min(n, 100), () =>
      probe.request('list_accounts', { pattern: '', limit: 20 }),
    );
    await time('history page (newest 50)', `a conversation of ${p.probe.conversation.toLocaleString('en-US')} messages`, n, () =>
      probe.request('history', { peer: p.probe.peer, limit: 50 }),
    );
    let seed = 1;
    const span = p.probe.lastId - p.probe.firstId;
    await time('history page (50, random position)', 'before = a random id inside the conversation', n, () => {
      seed = (seed * 48271) % 2147483647;
      return probe.request('history', { peer: p.probe.peer, limit: 50, before: p.probe.firstId + (seed % span) });
    });
    let turn = 0;
    await time('fetch_pending(100)', `users with ${p.pendingEach.toLocaleString('en-US')} pending each, round robin over ${pend.length}`, n, () =>
      pend[turn++ % pend.length]!.request('fetch_pending', { limit: 100 }),
    );
    await time('fetch_pending(100), deep queue', `one user with ${p.deepPending.toLocaleString('en-US')} pending at the start`, Math.min(n, 100), () =>
      deep.request('fetch_pending', { limit: 100 }),
    );
    await time('counts', 'the probe account', n, () => probe.request('counts', {}));
    // Sign-up: only the signup request is timed (the client-side key derivation is not: the server never sees
    // it); each new account then logs out, untimed, so the connection can sign up again.
    let k = 0;
    const signup = async (): Promise<number> => {
      const t = performance.now();
      await signer.request('signup', { username: `${p.signupPrefix}${k++}`, ...p.keys });
      const ms = performance.now() - t;
      await signer.request('logout', {});
      return ms;
    };
    for (let i = 0; i < p.warmup; i++) await signup();
    const ms = new Float64Array(n);
    for (let i = 0; i < n; i++) ms[i] = await signup();
    rows.push({ op: 'sign-up', ms, note: 'the signup request (account + token); client-side PBKDF2 not included' });
  } finally {
    probe.close();
    deep.close();
    signer.close();
    for (const c of pend) c.close();
  }
  return rows;
}

// ---- SCRAM with the key derivation cached ----

const keyCache = new Map<string, Promise<ScramKeys>>();

/**
 * The same login_start / login_finish exchange as JoChatClient.login, but with the PBKDF2 result cached per salt:
 * the server does exactly the same work, the load generator does not spend its CPU (shared with the server on this
 * machine) re-deriving the same key. Used to find the server's own login capacity.
 */
async function cachedLogin(c: JoChatClient, username: string, password: string): Promise<void> {
  const clientNonce = newNonce();
  const s = await c.request('login_start', { username, clientNonce });
  const key = `${Buffer.from(s.salt).toString('base64')}:${s.iterations}`;
  let keys = keyCache.get(key);
  if (!keys) keyCache.set(key, (keys = deriveKeys(password, s.salt, s.iterations)));
  const am = authMessage(username, clientNonce, s.nonce, s.salt, s.iterations);
  await c.request('login_finish', { nonce: s.nonce, proof: clientProof(await keys, am) });
}

// ---- IPC ----

const TASKS: Record<string, (p: never) => unknown> = {
  'pairs.setup': pairsSetup,
  'pairs.throughput': throughput,
  'pairs.latency': latency,
  'pairs.close': pairsClose,
  'conns.open': connsOpen,
  'conns.status': connsStatus,
  'conns.close': connsClose,
  storm,
  'storm.close': stormClose,
  wire,
  scale,
};

export interface TaskMessage {
  seq: number;
  task: string;
  params: unknown;
}

process.on('message', (m: TaskMessage) => {
  const fn = TASKS[m.task];
  Promise.resolve()
    .then(() => {
      if (!fn) throw new Error(`unknown task ${m.task}`);
      return fn(m.params as never);
    })
    .then(
      (result) => process.send!({ seq: m.seq, ok: true, result }),
      (e: Error) => process.send!({ seq: m.seq, ok: false, error: e.stack ?? String(e) }),
    );
});
process.on('disconnect', () => process.exit(0));
