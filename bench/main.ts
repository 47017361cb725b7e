/**
 * `npm run bench`: measures the real server (the production bundle dist/server.js, a fresh temporary database, in
 * its own process) with load generators in separate processes (bench/worker.ts, built on JoChatClient), prints a
 * table against the targets of issue 5, and writes every figure as JSON (bench/results*.json, git-ignored).
 * Method and latest results: docs/PERFORMANCE.md. Options: see HELP.
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, fdatasyncSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { MIN_ITERATIONS } from '../protocol/limits.js';
import { benchKeys, createAccounts, loadScale, type ScaleInfo } from './loader.js';
import { startServer, type BenchServer, type Synchronous } from './server.js';
import { percentile, sleep, summarize } from './stats.js';
import type {
  ConnsResult,
  LatencyResult,
  ScaleRow,
  StormResult,
  Target,
  TaskMessage,
  ThroughputResult,
  WireRow,
} from './worker.js';

const HELP = `Usage: npm run bench -- [options] [workloads]

  workloads              throughput latency connections wire storm scale (or 1-6); default all
  --quick                a short pass: smaller counts, shorter runs (about a minute)
  --sync full,normal     the server's --synchronous settings to measure (default both)
  --protocol binary,json the protocols, where a workload runs both (default both)
  --attempts N           repeat a run that other processes disturbed up to N times (default 3; --quick 1)
  --workers N            load-generator processes for the throughput workload (default 2)
  --profile              also write CPU profiles (.cache/bench/profiles; see bench/profile.mjs): the server's of each run, each load generator's over the whole bench run
  --out FILE             where to write the JSON (default bench/results.json, or bench/results-quick.json)

Environment, for experiments: JOCHAT_BENCH_SERVER=path/to/server.js measures another server bundle;
JOCHAT_BENCH_NODE_ARGS="..." passes options to the server's node.`;

const ROOT = path.resolve(__dirname, '../..');
const SERVER = process.env['JOCHAT_BENCH_SERVER'] ?? path.join(ROOT, 'dist/server.js');
const WORKER = path.join(__dirname, 'worker.cjs');
/** --profile: the server's profile of each run, and each load generator's over the whole bench run. */
const PROFILE_DIR = path.join(ROOT, '.cache/bench/profiles');
/** For experiments only: options for the server's node (e.g. JOCHAT_BENCH_NODE_ARGS=--optimize-for-size). */
const NODE_ARGS = (process.env['JOCHAT_BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
const WORKLOADS = ['throughput', 'latency', 'connections', 'wire', 'storm', 'scale'] as const;
type Workload = (typeof WORKLOADS)[number];
type Proto = 'binary' | 'json';

// ---- options ----

interface Options {
  quick: boolean;
  workloads: Workload[];
  syncs: Synchronous[];
  protocols: Proto[];
  workers: number;
  profile: boolean;
  attempts: number;
  out: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    quick: false,
    workloads: [],
    syncs: ['full', 'normal'],
    protocols: ['binary', 'json'],
    workers: 2,
    profile: false,
    attempts: 0,
    out: '',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (): string => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--profile') o.profile = true;
    else if (a.startsWith('--sync')) o.syncs = val().split(',') as Synchronous[];
    else if (a.startsWith('--protocol')) o.protocols = val().split(',') as Proto[];
    else if (a.startsWith('--workers')) o.workers = Number(val());
    else if (a.startsWith('--attempts')) o.attempts = Number(val());
    else if (a.startsWith('--out')) o.out = val();
    else if (a === '--help' || a === '-h') {
      process.stdout.write(HELP + '\n');
      process.exit(0);
    } else {
      const w = WORKLOADS.find((n) => n === a || String(WORKLOADS.indexOf(n) + 1) === a);
      if (!w) throw new Error(`unknown argument ${a}; workloads are ${WORKLOADS.join(', ')}`);
      o.workloads.push(w);
    }
  }
  if (o.workloads.length === 0) o.workloads = [...WORKLOADS];
  o.attempts ||= o.quick ? 1 : 3;
  for (const s of o.syncs) if (s !== 'full' && s !== 'normal') throw new Error(`--sync takes full and/or normal`);
  for (const p of o.protocols) if (p !== 'binary' && p !== 'json') throw new Error(`--protocol takes binary and/or json`);
  o.out ||= path.join(ROOT, o.quick ? 'bench/results-quick.json' : 'bench/results.json');
  return o;
}

/**
 * Warm-up before a steady-rate window. Most likely the server's optimizing compiler (V8's TurboFan) works on the
 * delivery path about 5–6 s after 2,000 msg/s begin: with a 2 s warm-up that second's p99 (2–3.7 ms, against
 * 0.5–1.5 ms in most others) stood out in nearly every latency run, and it did not with the server on `--no-opt`
 * nor after 8 s of warm-up.
 */
const STEADY_WARMUP_S = 8;

/** The sizes of each workload; --quick shrinks them. */
function sizes(quick: boolean) {
  return {
    throughput: { pairs: 50, perSender: quick ? 2_000 : 20_000, window: 200, textBytes: 100 },
    latency: { rate: 2_000, warmup: quick ? 1 : STEADY_WARMUP_S, seconds: quick ? 3 : 10, pairs: 20, textBytes: 100 },
    connections: { count: quick ? 2_000 : 10_000, processes: 4, concurrency: 50, idleSeconds: quick ? 2 : 5, settleSeconds: quick ? 5 : 20 },
    storm: {
      accounts: 20_000,
      history: { peers: 5, messagesEach: 10, unread: 3 },
      maxSeconds: quick ? 2 : 5,
      lanes: 16,
      rate: 200,
      baseline: quick ? 2 : 5,
      seconds: quick ? 3 : 10,
      warmup: quick ? 1 : STEADY_WARMUP_S,
      msgRate: 2_000,
      pairs: 20,
    },
    scale: {
      accounts: quick ? 20_000 : 100_000,
      messages: quick ? 200_000 : 1_000_000,
      conversation: quick ? 5_000 : 20_000,
      pendingUsers: 80,
      pendingEach: quick ? 250 : 1_000,
      deepUsers: 2,
      deepPending: 20_000,
      samples: quick ? 60 : 300,
      warmup: quick ? 3 : 10,
    },
  };
}

// ---- load-generator processes ----

class Worker {
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly proc: ChildProcess;

  /** With `profileDir`, the process writes its CPU profile there when it exits (the whole bench run). */
  constructor(
    readonly index: number,
    profileDir: string | undefined,
  ) {
    const execArgv = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `generator-${index}-${Date.now()}.cpuprofile`] : [];
    this.proc = fork(WORKER, [], { execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (m: { seq: number; ok: boolean; result?: unknown; error?: string }) => {
      const w = this.waiting.get(m.seq);
      this.waiting.delete(m.seq);
      if (m.ok) w?.resolve(m.result);
      else w?.reject(new Error(`load generator ${index}: ${m.error}`));
    });
    this.proc.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`load generator ${index} exited with ${code}`));
      this.waiting.clear();
    });
  }

  call<T>(task: string, params: unknown = {}): Promise<T> {
    return new Promise((resolve, reject) => {
      const seq = ++this.seq;
      this.waiting.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ seq, task, params } satisfies TaskMessage);
    });
  }

  close(): void {
    this.proc.disconnect();
  }
}

// ---- measurements of the machine ----

/** Busy and total jiffies of all CPUs (/proc/stat), to see how busy the machine was during a run. */
function cpuStat(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total };
}

/** CPU use over a run: the server's, the load generators', and the whole machine's, in cores. */
interface CpuWindow {
  seconds: number;
  serverCores: number;
  generatorCores: number;
  machineCores: number;
  /** Everything else on the machine (other users' jobs): machine − server − generators. */
  otherCores: number;
  /** Fraction of the time the disk was busy, and MB/s written by the server and by everything else. */
  diskBusy: number;
  serverWriteMBps: number;
  otherWriteMBps: number;
}

/** Whole-disk devices' sectors written and milliseconds busy (/proc/diskstats), to see other processes' disk use. */
function diskStat(): { writtenBytes: number; busyMs: number } {
  let writtenBytes = 0;
  let busyMs = 0;
  for (const line of readFileSync('/proc/diskstats', 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (!/^(sd[a-z]+|vd[a-z]+|xvd[a-z]+|nvme\d+n\d+)$/.test(f[2] ?? '')) continue;
    writtenBytes += Number(f[9]) * 512;
    busyMs = Math.max(busyMs, Number(f[12]));
  }
  return { writtenBytes, busyMs };
}

/** Bytes a process caused to be written to storage (/proc/PID/io). */
function procWriteBytes(pid: number): number {
  try {
    return Number(/write_bytes:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** User + system CPU seconds of a process (/proc/PID/stat fields 14 and 15). */
function procCpuSeconds(pid: number | undefined): number {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/** Starts measuring CPU use; the returned function ends the window. */
function cpuWindow(server: BenchServer, workers: readonly Worker[]): () => CpuWindow {
  const gen = (): number => workers.reduce((n, w) => n + procCpuSeconds(w.proc.pid), 0);
  const s0 = cpuStat();
  const c0 = server.cpuSeconds();
  const g0 = gen();
  const d0 = diskStat();
  const w0 = procWriteBytes(server.pid);
  const t0 = performance.now();
  return (): CpuWindow => {
    const seconds = (performance.now() - t0) / 1000;
    const s1 = cpuStat();
    const d1 = diskStat();
    const serverCores = (server.cpuSeconds() - c0) / seconds;
    const generatorCores = (gen() - g0) / seconds;
    const machineCores = ((s1.busy - s0.busy) / (s1.total - s0.total)) * os.cpus().length;
    const serverWrite = procWriteBytes(server.pid) - w0;
    return {
      seconds,
      serverCores,
      generatorCores,
      machineCores,
      otherCores: Math.max(0, machineCores - serverCores - generatorCores),
      diskBusy: (d1.busyMs - d0.busyMs) / 1000 / seconds,
      serverWriteMBps: serverWrite / 1e6 / seconds,
      otherWriteMBps: Math.max(0, d1.writtenBytes - d0.writtenBytes - serverWrite) / 1e6 / seconds,
    };
  };
}

/** fdatasync of 4 KiB, 200 times over about 2 s: what one SQLite commit with synchronous=full waits for. */
/** Seconds in which other processes used less than this many cores (and wrote little) count as undisturbed. */
const QUIET_CORES = 0.15;
const QUIET_WRITE_MBPS = 2;

/**
 * Samples the machine five times a second during a run, so each second of it can be told disturbed (other processes
 * took CPU or wrote to the disk) or undisturbed, by measurement rather than by its latencies.
 */
class Monitor {
  private readonly samples: { t: number; busy: number; total: number; ours: number; othersWritten: number }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly server: BenchServer,
    private readonly workers: readonly Worker[],
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), 200);
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  private sample(): void {
    const s = cpuStat();
    const ours = this.server.cpuSeconds() + this.workers.reduce((n, w) => n + procCpuSeconds(w.proc.pid), 0);
    this.samples.push({
      t: performance.timeOrigin + performance.now(),
      busy: s.busy,
      total: s.total,
      ours,
      othersWritten: diskStat().writtenBytes - procWriteBytes(this.server.pid),
    });
  }

  /** Other processes' CPU (cores) and disk writes (MB/s) between two wall-clock times. */
  others(from: number, to: number): { cores: number; writeMBps: number } {
    const ss = this.samples;
    let a = ss[0]!;
    for (const x of ss) if (x.t <= from) a = x;
    let b = ss[ss.length - 1]!;
    for (let i = ss.length - 1; i >= 0; i--) if (ss[i]!.t >= to) b = ss[i]!;
    const secs = (b.t - a.t) / 1000;
    if (secs <= 0 || b.total === a.total) return { cores: NaN, writeMBps: NaN };
    const machine = ((b.busy - a.busy) / (b.total - a.total)) * os.cpus().length;
    return { cores: Math.max(0, machine - (b.ours - a.ours) / secs), writeMBps: Math.max(0, b.othersWritten - a.othersWritten) / 1e6 / secs };
  }

  /** The latencies sent in undisturbed whole seconds between `from` and `to`, and how many seconds those were. */
  quiet(res: LatencyResult[], from: number, to: number): { seconds: number; of: number; latency: number[] } {
    const ok = new Set<number>();
    const of = Math.floor((to - from) / 1000);
    for (let k = 0; k < of; k++) {
      const o = this.others(from + k * 1000, from + (k + 1) * 1000);
      if (o.cores < QUIET_CORES && o.writeMBps < QUIET_WRITE_MBPS) ok.add(k);
    }
    const latency: number[] = [];
    for (const r of res)
      for (let i = 0; i < r.latency.length; i++) {
        const k = Math.floor((r.sentAt[i]! - from) / 1000);
        if (r.sentAt[i]! >= from && k < of && ok.has(k)) latency.push(r.latency[i]!);
      }
    return { seconds: ok.size, of, latency };
  }
}

async function fsyncProbe(dir: string): Promise<{ p50: number; p99: number; max: number }> {
  const file = path.join(dir, 'fsync-probe');
  const fd = openSync(file, 'w');
  const buf = Buffer.alloc(4096, 1);
  const t: number[] = [];
  for (let i = 0; i < 200; i++) {
    writeSync(fd, buf);
    const s = performance.now();
    fdatasyncSync(fd);
    t.push(performance.now() - s);
    await sleep(10); // spread over time: the disk is shared, its latency comes and goes
  }
  closeSync(fd);
  rmSync(file);
  t.sort((a, b) => a - b);
  return { p50: percentile(t, 0.5), p99: percentile(t, 0.99), max: t[t.length - 1]! };
}

async function machine(tmp: string) {
  const db = new Database(':memory:');
  const sqlite = (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  db.close();
  const git = (args: string[]): string => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  return {
    cpu: os.cpus()[0]?.model ?? '?',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    sqlite,
    fdatasyncMs: await fsyncProbe(tmp),
    loadAverage: os.loadavg(),
    ulimitN: spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim(),
    commit: git(['rev-parse', '--short', 'HEAD']),
    uncommittedServerOrProtocol: git(['status', '--porcelain', '--', 'server', 'protocol']).split('\n').filter(Boolean),
    serverBundleSha256: createHash('sha256').update(readFileSync(SERVER)).digest('hex').slice(0, 16),
  };
}

// ---- results ----

interface Figure {
  workload: string;
  name: string;
  value: number;
  unit: string;
  /** Meets the target when value ≥ (higher is better) or ≤ (lower is better) this. */
  target?: { better: 'higher' | 'lower'; value: number; text: string };
  /** A run whose preconditions failed (e.g. durability) does not count. */
  invalid?: string;
  headline?: boolean;
  note?: string;
  /** Cores used by other processes on the machine during the run (see leastDisturbed). */
  others?: number;
}

const figures: Figure[] = [];
const details: Record<string, unknown> = {};
const fig = (f: Figure): void => {
  figures.push(f);
};

/** ≥ 1 means the target is met, for either direction. */
const ratio = (f: Figure): number | undefined =>
  f.target && (f.target.better === 'higher' ? f.value / f.target.value : f.target.value / f.value);

const fmt = (v: number, unit: string): string => {
  if (!Number.isFinite(v)) return String(v);
  if (unit === 'ms') return `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`;
  const n = Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(v % 1 === 0 ? 0 : 2);
  return unit ? `${n} ${unit}` : n;
};

/** A plain-text table; columns listed in `left` are left-aligned, the others right-aligned. */
function table(rows: string[][], header: string[], left: number[] = [0]): string {
  const all = [header, ...rows];
  const w = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string =>
    r.map((c, i) => (left.includes(i) ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ').trimEnd();
  return [line(header), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

function statusOf(f: Figure): string {
  if (f.invalid) return 'INVALID';
  const r = ratio(f);
  if (r === undefined) return '';
  return r >= 1 ? 'pass' : 'short';
}

function printFigures(): void {
  const rows = figures.map((f) => {
    const r = ratio(f);
    return [
      f.workload,
      f.name + (f.headline ? ' *' : ''),
      fmt(f.value, f.unit),
      f.target?.text ?? '',
      r === undefined ? '' : r.toFixed(2),
      statusOf(f),
      f.others === undefined ? '' : f.others.toFixed(2),
    ];
  });
  console.log('\n' + table(rows, ['workload', 'figure', 'result', 'target', 'ratio', 'status', 'others'], [0, 1, 5]));
  console.log(
    'ratio: how much of the target is met (≥ 1.00 meets it, in either direction); * = headline figure;\n' +
      'others: CPU cores that other processes on this machine used during that run (not the server or load generators)\n',
  );
}

const log = (s: string): void => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}`);

// ---- the workloads ----

interface Ctx {
  o: Options;
  started: number;
  /** Past this many seconds, disturbed runs are no longer repeated. */
  budgetSeconds: number;
  size: ReturnType<typeof sizes>;
  workers: Worker[];
  tmp: string;
}

async function withServer<T>(
  ctx: Ctx,
  name: string,
  sync: Synchronous,
  fn: (s: BenchServer, t: (p: Proto) => Target) => Promise<T>,
  db?: string,
): Promise<T> {
  const dir = db ? path.dirname(db) : mkdtempSync(path.join(ctx.tmp, `${name}-`));
  const file = db ?? path.join(dir, 'jochat.db');
  const server = await startServer({
    bundle: SERVER,
    db: file,
    synchronous: sync,
    nodeArgs: [...NODE_ARGS, ...(ctx.o.profile ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR, '--cpu-prof-name', `${name}-${sync}-${Date.now()}.cpuprofile`] : [])],
  });
  try {
    return await fn(server, (protocol) => ({ host: server.host, port: server.port, protocol }));
  } finally {
    await server.stop();
    if (!db) rmSync(dir, { recursive: true, force: true });
  }
}

/** Splits n items over k parts as evenly as possible. */
const split = (n: number, k: number): number[] => Array.from({ length: k }, (_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0));

const disturbance = (c: CpuWindow): string =>
  `others ${(c.otherCores * 100).toFixed(0)}% CPU, disk busy ${(c.diskBusy * 100).toFixed(0)}% ` +
  `(server writes ${c.serverWriteMBps.toFixed(1)} MB/s, others ${c.otherWriteMBps.toFixed(1)} MB/s)`;

/** Other processes using more than this many cores during a run disturbed it: it is tried again. */
const DISTURBED = 0.25;

/**
 * This machine is shared: when other processes took CPU time during a run (measured from /proc), the run is repeated
 * (up to --attempts times) and the least disturbed attempt is reported. Every attempt is kept in the JSON.
 */
async function leastDisturbed<T extends { cpu: CpuWindow }>(ctx: Ctx, fn: (attempt: number) => Promise<T>): Promise<{ best: T; all: T[] }> {
  const all: T[] = [];
  for (let i = 0; i < ctx.o.attempts; i++) {
    const r = await fn(i);
    all.push(r);
    if (r.cpu.otherCores <= DISTURBED) break;
    // Repeat only while the whole bench stays within its time budget.
    if (i + 1 < ctx.o.attempts && (Date.now() - ctx.started) / 1000 < ctx.budgetSeconds)
      log(`  other processes used ${r.cpu.otherCores.toFixed(2)} cores during this run; once more`);
    else break;
  }
  return { best: all.reduce((a, b) => (b.cpu.otherCores < a.cpu.otherCores ? b : a)), all };
}

interface ThroughputRun {
  protocol: Proto;
  sync: Synchronous;
  messages: number;
  acked: number;
  rowsAfterKill9: number;
  delivered: number;
  failed: number;
  seconds: number;
  messagesPerSecond: number;
  serverCpuMicrosPerMessage: number;
  generatorCpuMicrosPerMessage: number;
  cpu: CpuWindow;
  problems: string[];
}

async function throughputRun(ctx: Ctx, protocol: Proto, sync: Synchronous): Promise<ThroughputRun> {
  const z = ctx.size.throughput;
  const dir = mkdtempSync(path.join(ctx.tmp, 'tp-'));
  const db = path.join(dir, 'jochat.db');
  const server = await startServer({
    bundle: SERVER,
    db,
    synchronous: sync,
    nodeArgs: [...NODE_ARGS, ...(ctx.o.profile ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR, '--cpu-prof-name', `throughput-${protocol}-${sync}-${Date.now()}.cpuprofile`] : [])],
  });
  const ws = ctx.workers.slice(0, ctx.o.workers);
  const share = split(z.pairs, ws.length);
  let res: ThroughputResult[];
  let cpu: CpuWindow;
  try {
    await Promise.all(ws.map((w, i) => w.call('pairs.setup', { ...t(server, protocol), pairs: share[i], prefix: `w${i}_` })));
    log(`throughput ${protocol} synchronous=${sync}: ${z.pairs} pairs × ${z.perSender.toLocaleString('en-US')} messages, window ${z.window}`);
    const win = cpuWindow(server, ctx.workers);
    res = await Promise.all(ws.map((w) => w.call<ThroughputResult>('pairs.throughput', z)));
    cpu = win();
    await Promise.all(ws.map((w) => w.call('pairs.close')));
  } catch (e) {
    await server.kill();
    throw e;
  }
  // Durability: kill -9, then every acknowledged send must be a row in the file. (A profiled server is stopped
  // gracefully instead, or it could not write its profile.)
  if (ctx.o.profile) await server.stop();
  else await server.kill();
  const check = new Database(db, { readonly: true });
  const rows = (check.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n;
  check.close();
  rmSync(dir, { recursive: true, force: true });

  const sum = (k: 'acked' | 'failed' | 'delivered' | 'orderErrors'): number => res.reduce((n, r) => n + r[k], 0);
  const t0 = Math.min(...res.map((r) => r.t0));
  const t1 = Math.max(...res.map((r) => r.t1));
  const acked = sum('acked');
  const rate = sum('delivered') / ((t1 - t0) / 1000);
  const problems: string[] = [];
  if (acked !== z.pairs * z.perSender) problems.push(`${z.pairs * z.perSender - acked} sends not acknowledged`);
  if (rows !== acked) problems.push(`${rows} rows in the database for ${acked} acknowledged sends`);
  if (sum('delivered') !== acked) problems.push(`${sum('delivered')} pushes for ${acked} acknowledged sends`);
  if (sum('orderErrors') > 0) problems.push(`${sum('orderErrors')} pushes out of id order`);
  const run: ThroughputRun = {
    protocol,
    sync,
    messages: z.pairs * z.perSender,
    acked,
    rowsAfterKill9: rows,
    delivered: sum('delivered'),
    failed: sum('failed'),
    seconds: (t1 - t0) / 1000,
    messagesPerSecond: rate,
    serverCpuMicrosPerMessage: (cpu.serverCores * cpu.seconds * 1e6) / Math.max(1, acked),
    generatorCpuMicrosPerMessage: (cpu.generatorCores * cpu.seconds * 1e6) / Math.max(1, acked),
    cpu,
    problems,
  };
  log(
    `  ${Math.round(rate).toLocaleString('en-US')} msg/s; server ${(cpu.serverCores * 100).toFixed(0)}% CPU ` +
      `(${run.serverCpuMicrosPerMessage.toFixed(1)} µs/msg), generators ${(cpu.generatorCores * 100).toFixed(0)}% ` +
      `(${run.generatorCpuMicrosPerMessage.toFixed(1)} µs/msg); ${disturbance(cpu)}; ` +
      `rows after kill -9: ${rows.toLocaleString('en-US')} for ${acked.toLocaleString('en-US')} acknowledged` +
      (problems.length ? `; INVALID: ${problems.join('; ')}` : ''),
  );
  return run;
}

async function throughput(ctx: Ctx): Promise<void> {
  const runs: { best: ThroughputRun; all: ThroughputRun[] }[] = [];
  for (const protocol of ctx.o.protocols)
    for (const sync of ctx.o.syncs) {
      const r = await leastDisturbed(ctx, () => throughputRun(ctx, protocol, sync));
      runs.push(r);
      const { best } = r;
      fig({
        workload: '1 throughput',
        name: `delivered msg/s, ${protocol}, synchronous=${sync}`,
        value: best.messagesPerSecond,
        unit: 'msg/s',
        target: { better: 'higher', value: protocol === 'binary' ? 200_000 : 100_000, text: protocol === 'binary' ? '≥ 200,000' : '≥ 100,000' },
        headline: sync === 'full',
        others: best.cpu.otherCores,
        ...(best.problems.length ? { invalid: best.problems.join('; ') } : {}),
      });
      fig({
        workload: '1 throughput',
        name: `server CPU per message, ${protocol}, ${sync}`,
        value: best.serverCpuMicrosPerMessage,
        unit: 'µs',
        note: `server ${(best.cpu.serverCores * 100).toFixed(0)}% of a core; load generators ${best.generatorCpuMicrosPerMessage.toFixed(1)} µs/msg`,
      });
    }
  details['throughput'] = { params: ctx.size.throughput, runs };
}

const t = (s: BenchServer, protocol: Proto): Target => ({ host: s.host, port: s.port, protocol });

/** Runs pairs at a steady rate in 2 processes; returns the merged samples. */
async function steadyLatency(ws: Worker[], rate: number, seconds: number, textBytes: number): Promise<LatencyResult[]> {
  return Promise.all(ws.map((w) => w.call<LatencyResult>('pairs.latency', { rate: rate / ws.length, seconds, textBytes })));
}

/** p99 of each second of a run, to tell steady tails from bursts (e.g. another process taking the CPU). */
function perSecond(res: LatencyResult[], from: number): { second: number; n: number; p50: number; p99: number; max: number }[] {
  const buckets = new Map<number, number[]>();
  for (const r of res)
    for (let i = 0; i < r.latency.length; i++) {
      const b = Math.floor((r.sentAt[i]! - from) / 1000);
      if (b >= 0) (buckets.get(b) ?? buckets.set(b, []).get(b)!).push(r.latency[i]!);
    }
  return [...buckets.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([second, v]) => {
      const s = summarize(v);
      return { second, n: s.n, p50: +s.p50.toFixed(3), p99: +s.p99.toFixed(3), max: +s.max.toFixed(2) };
    });
}

function window(res: LatencyResult[], from: number, to: number): number[] {
  const out: number[] = [];
  for (const r of res) for (let i = 0; i < r.latency.length; i++) if (r.sentAt[i]! >= from && r.sentAt[i]! < to) out.push(r.latency[i]!);
  return out;
}

interface LatencyRun {
  protocol: Proto;
  sync: Synchronous;
  summary: ReturnType<typeof summarize>;
  lost: number;
  cpu: CpuWindow;
  perSecond: ReturnType<typeof perSecond>;
  /** Only the seconds in which nothing else used the machine (see Monitor). */
  quiet: { seconds: number; of: number; summary: ReturnType<typeof summarize> };
}

async function latency(ctx: Ctx): Promise<void> {
  const z = ctx.size.latency;
  const quietLatency = new Map<string, number[]>();
  const runs: { best: LatencyRun; all: LatencyRun[] }[] = [];
  for (const protocol of ctx.o.protocols)
    for (const sync of ctx.o.syncs) {
      const r = await leastDisturbed(ctx, () =>
        withServer(ctx, `latency-${protocol}`, sync, async (server): Promise<LatencyRun> => {
          const ws = ctx.workers.slice(0, 2);
          await Promise.all(ws.map((w, i) => w.call('pairs.setup', { ...t(server, protocol), pairs: z.pairs / ws.length, prefix: `l${i}_` })));
          log(`latency ${protocol} synchronous=${sync}: ${z.rate} msg/s for ${z.seconds} s (+${z.warmup} s warm-up)`);
          const win = cpuWindow(server, ctx.workers);
          const mon = new Monitor(server, ctx.workers).start();
          const res = await steadyLatency(ws, z.rate, z.warmup + z.seconds, z.textBytes);
          mon.stop();
          const cpu = win();
          await Promise.all(ws.map((w) => w.call('pairs.close')));
          const t0 = Math.min(...res.map((r) => r.t0));
          const s = summarize(window(res, t0 + z.warmup * 1000, Infinity));
          const q = mon.quiet(res, t0 + z.warmup * 1000, t0 + (z.warmup + z.seconds) * 1000);
          const quiet = { seconds: q.seconds, of: q.of, summary: summarize(q.latency) };
          const key = `${protocol}/${sync}`;
          quietLatency.set(key, [...(quietLatency.get(key) ?? []), ...q.latency]);
          const lost = res.reduce((n, r) => n + r.sent - r.received, 0);
          const seconds = perSecond(res, t0 + z.warmup * 1000);
          log(
            `  p50 ${s.p50.toFixed(3)} ms, p99 ${s.p99.toFixed(3)} ms, p99.9 ${s.p999.toFixed(3)} ms, max ${s.max.toFixed(2)} ms ` +
              `(n=${s.n}, lost ${lost}); server ${(cpu.serverCores * 100).toFixed(0)}% CPU; ${disturbance(cpu)}; ` +
              `p99 of each second: ${seconds.map((x) => x.p99.toFixed(1)).join(' ')}; ` +
              `in the ${q.seconds} of ${q.of} undisturbed seconds p99 ${quiet.summary.p99.toFixed(3)} ms`,
          );
          return { protocol, sync, summary: s, lost, cpu, perSecond: seconds, quiet };
        }),
      );
      runs.push(r);
      const { summary: s, lost, cpu } = r.best;
      // The undisturbed seconds of every attempt together: a p99 of the server's own, not of the machine's neighbours.
      const quietN = r.all.reduce((n, a) => n + a.quiet.seconds, 0);
      const headline = protocol === 'binary' && sync === 'full';
      const base = { workload: '2 latency', unit: 'ms', others: cpu.otherCores, ...(lost ? { invalid: `${lost} messages never arrived` } : {}) };
      fig({ ...base, name: `p50 send→push, ${protocol}, ${sync}`, value: s.p50 });
      fig({ ...base, name: `p99 send→push, ${protocol}, ${sync}`, value: s.p99, target: { better: 'lower', value: 1, text: '≤ 1 ms' }, headline });
      fig({ ...base, name: `p99.9 send→push, ${protocol}, ${sync}`, value: s.p999 });
      // The median over the whole seconds of the run of each second's p99: the steady tail, robust to a burst.
      const whole = r.best.perSecond.filter((x) => x.n >= z.rate * 0.9).map((x) => x.p99);
      fig({ ...base, name: `p99 of a typical second, ${protocol}, ${sync}`, value: percentile(Float64Array.from(whole).sort(), 0.5) });
      if (quietN > 0) {
        const qs = quietLatency.get(`${protocol}/${sync}`)!;
        fig({
          workload: '2 latency',
          name: `p99 in undisturbed seconds (${quietN} s), ${protocol}, ${sync}`,
          value: percentile(Float64Array.from(qs).sort(), 0.99),
          unit: 'ms',
          target: { better: 'lower', value: 1, text: '≤ 1 ms' },
          note: `${qs.length} messages sent in seconds when other processes used < ${QUIET_CORES} cores`,
        });
      }
    }
  details['latency'] = { params: z, runs };
}

async function connections(ctx: Ctx): Promise<void> {
  const z = ctx.size.connections;
  const dir = mkdtempSync(path.join(ctx.tmp, 'conns-'));
  const db = path.join(dir, 'jochat.db');
  const keys = await benchKeys('bench password', MIN_ITERATIONS);
  const names = Array.from({ length: z.count }, (_, i) => `idle${String(i).padStart(5, '0')}`);
  const tokens = createAccounts(db, names, keys, true);
  try {
    await withServer(
      ctx,
      'connections',
      'full',
      async (server) => {
        // Measured from a settled process: V8 gives back part of its young generation some seconds after a burst of
        // allocation stops (its memory reducer), here about 5 MiB of what starting the server grew.
        await sleep(z.settleSeconds * 1000);
        const rss0 = server.rssKiB();
        log(`connections: ${z.count} logged-in connections (connect + hello + resume) from ${z.processes} processes; server RSS ${rss0} KiB`);
        const ws = ctx.workers.slice(0, z.processes);
        let peak = rss0;
        const sampler = setInterval(() => (peak = Math.max(peak, server.rssKiB())), 100);
        // Two halves, so the marginal cost of a connection (second half) can be told from one-off growth (first).
        const halves = [tokens.slice(0, z.count / 2), tokens.slice(z.count / 2)];
        const res: ConnsResult[] = [];
        const rssAfter: number[] = [];
        for (const half of halves) {
          const share = split(half.length, ws.length);
          let from = 0;
          res.push(
            ...(await Promise.all(
              ws.map((w, i) => {
                const mine = half.slice(from, (from += share[i]!));
                return w.call<ConnsResult>('conns.open', { ...t(server, 'binary'), tokens: mine, concurrency: z.concurrency });
              }),
            )),
          );
          await sleep((z.idleSeconds * 1000) / 2);
          rssAfter.push(server.rssKiB());
        }
        const secs = res.reduce((n, r) => n + (r.t1 - r.t0), 0) / 1000 / ws.length;
        await sleep((z.idleSeconds * 1000) / 2);
        clearInterval(sampler);
        const rss1 = server.rssKiB();
        // What holding the idle connections costs once the burst of connecting is over: the young generation that
        // the burst grew to its maximum shrinks back as above.
        await sleep(z.settleSeconds * 1000);
        const rssSettled = server.rssKiB();
        const status = await Promise.all(ws.map((w) => w.call<{ open: number; loggedIn: number }>('conns.status')));
        const loggedIn = status.reduce((n, s) => n + s.loggedIn, 0);
        const ok = res.reduce((n, r) => n + r.ok, 0);
        const perConn = (rss1 - rss0) / loggedIn;
        const settled = (rssSettled - rss0) / loggedIn;
        const marginal = (rssAfter[1]! - rssAfter[0]!) / (z.count / 2);
        const errors = res.map((r) => r.errors).filter((e) => Object.keys(e).length);
        details['connections'] = { params: z, rss0KiB: rss0, rssHalfKiB: rssAfter[0], rss1KiB: rss1, rssSettledKiB: rssSettled, peakKiB: peak, seconds: secs, ok, loggedIn, perConnKiB: perConn, settledKiB: settled, marginalKiB: marginal, errors };
        log(
          `  ${loggedIn} logged in; ${(ok / secs).toFixed(0)} conn/s; RSS ${rss0} → ${rssAfter[0]} (half) → ${rss1} KiB ` +
            `${z.idleSeconds / 2} s after the last connected (peak ${peak}) → ${rssSettled} KiB ${z.settleSeconds} s later; ` +
            `${settled.toFixed(2)} KiB/conn settled, ${perConn.toFixed(2)} just after connecting, ${marginal.toFixed(2)} for the second half then`,
        );
        await Promise.all(ws.map((w) => w.call('conns.close')));
        fig({ workload: '3 connections', name: 'idle logged-in connections held', value: loggedIn, unit: '', target: { better: 'higher', value: z.count, text: `${z.count.toLocaleString('en-US')}` } });
        fig({ workload: '3 connections', name: `server RSS per connection, idle ${z.settleSeconds} s`, value: settled, unit: 'KiB', target: { better: 'lower', value: 5, text: '≤ 5 KiB' }, headline: true });
        fig({ workload: '3 connections', name: `server RSS per connection, ${z.idleSeconds / 2} s after connecting`, value: perConn, unit: 'KiB', target: { better: 'lower', value: 5, text: '≤ 5 KiB' } });
        fig({ workload: '3 connections', name: `server RSS per connection, second ${(z.count / 2).toLocaleString('en-US')} only, ${z.idleSeconds / 2} s after`, value: marginal, unit: 'KiB' });
        fig({ workload: '3 connections', name: 'connections per second (connect+hello+resume)', value: ok / secs, unit: 'conn/s' });
      },
      db,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function wire(ctx: Ctx): Promise<void> {
  const out: Record<string, WireRow[]> = {};
  for (const protocol of ['binary', 'json'] as const)
    out[protocol] = await withServer(ctx, `wire-${protocol}`, 'normal', (server) =>
      ctx.workers[0]!.call<WireRow[]>('wire', { ...t(server, protocol), textBytes: 100 }),
    );
  details['wire'] = out;
  const b = out['binary']!;
  const j = out['json']!;
  const rows = b.map((r, i) => {
    const jr = j[i]!;
    return [
      r.op,
      String(r.bytes),
      String(r.bytes - r.textBytes),
      String(jr.bytes),
      String(jr.bytes - jr.textBytes),
      r.frames.map((f) => `${f[0]} ${f[1]}`).join(', '),
    ];
  });
  console.log(
    '\nBytes on the wire (length prefixes included; "extra" = bytes beyond the message texts carried; alice → bob, 100-byte texts)\n' +
      table(rows, ['operation', 'binary', 'extra', 'JSON', 'extra', 'binary frames'], [0, 5]) +
      '\n',
  );
  const send = (rs: WireRow[]): WireRow => rs.find((r) => r.op === 'send request + response')!;
  fig({
    workload: '4 wire',
    name: 'binary send request + response, beyond the text',
    value: send(b).bytes - send(b).textBytes,
    unit: 'B',
    target: { better: 'lower', value: 40, text: '≤ 40 B' },
    headline: true,
    note: 'Python original: 65 B',
  });
  fig({ workload: '4 wire', name: 'JSON send request + response, beyond the text', value: send(j).bytes - send(j).textBytes, unit: 'B', note: 'Python original: 212 B' });
}

interface PacedStorm {
  sync: Synchronous;
  names: string[];
  password: string;
  /** The clients' keys derived once ahead (see cachedLogin) instead of in every login. */
  cachedKeys: boolean;
  /** Seconds of the pairs alone before the storm starts (after the warm-up). */
  baseline: number;
  /** Names of the pairs' accounts start with this (each run signs up its own). */
  prefix: string;
}

const pct = (cores: number): string => `${(cores * 100).toFixed(0)}%`;

/** 20 pairs send at a steady rate; after the warm-up and `baseline` s, a third process starts the paced logins. */
async function pacedStorm(ctx: Ctx, server: BenchServer, p: PacedStorm) {
  const z = ctx.size.storm;
  const target = t(server, 'binary');
  const lw = ctx.workers.slice(0, 2);
  await Promise.all(lw.map((w, i) => w.call('pairs.setup', { ...target, pairs: z.pairs / lw.length, prefix: `${p.prefix}${i}_` })));
  const how = p.cachedKeys ? "clients' keys derived ahead" : 'client PBKDF2 4096 each';
  log(`storm ${p.sync}: ${z.msgRate} msg/s; ${p.baseline} s without, then ${z.seconds} s with ${z.rate} logins/s (${how})`);
  const total = z.warmup + p.baseline + z.seconds + 1;
  const whole = cpuWindow(server, ctx.workers);
  const mon = new Monitor(server, ctx.workers).start();
  const lat = steadyLatency(lw, z.msgRate, total, 100);
  await sleep(z.warmup * 1000);
  // The CPU of the pairs alone, to tell what the logins add to the server and to the load generators.
  const calm = p.baseline ? cpuWindow(server, ctx.workers) : undefined;
  await sleep(p.baseline * 1000);
  const baselineCpu = calm?.();
  const win = cpuWindow(server, ctx.workers);
  const st = await ctx.workers[2]!.call<StormResult>('storm', {
    ...target,
    names: p.names,
    password: p.password,
    mode: 'paced',
    rate: z.rate,
    seconds: z.seconds,
    concurrency: 0,
    keep: true,
    cachedKeys: p.cachedKeys,
  });
  const stormCpu = win();
  const res = await lat;
  mon.stop();
  const cpu = whole();
  await Promise.all(lw.map((w) => w.call('pairs.close')));
  await ctx.workers[2]!.call('storm.close');
  const t0 = Math.min(...res.map((r) => r.t0));
  const before = summarize(window(res, t0 + z.warmup * 1000, st.t0));
  const during = summarize(window(res, st.t0, st.t1));
  const logins = summarize(st.latency);
  const qb = mon.quiet(res, t0 + z.warmup * 1000, st.t0);
  const qd = mon.quiet(res, st.t0, st.t1);
  const quiet = {
    before: { seconds: qb.seconds, of: qb.of, latency: qb.latency, summary: summarize(qb.latency) },
    during: { seconds: qd.seconds, of: qd.of, latency: qd.latency, summary: summarize(qd.latency) },
  };
  log(
    `  others' send→push p99: ${p.baseline ? `${before.p99.toFixed(2)} ms before, ` : ''}${during.p99.toFixed(2)} ms during the storm ` +
      `(p50 ${during.p50.toFixed(2)}, p99.9 ${during.p999.toFixed(2)}, max ${during.max.toFixed(1)}); ` +
      `${st.ok} logins (${st.failed} failed), login p99 ${logins.p99.toFixed(1)} ms; CPU during the storm: server ${pct(stormCpu.serverCores)}, ` +
      `generators ${pct(stormCpu.generatorCores)}${baselineCpu ? ` (before it: ${pct(baselineCpu.serverCores)}, ${pct(baselineCpu.generatorCores)})` : ''}; whole run: ${disturbance(cpu)}; undisturbed seconds: ` +
      `${p.baseline ? `${qb.seconds} of ${qb.of} before (p99 ${quiet.before.summary.p99.toFixed(2)} ms), ` : ''}` +
      `${qd.seconds} of ${qd.of} during (p99 ${quiet.during.summary.p99.toFixed(2)} ms)`,
  );
  return {
    cachedKeys: p.cachedKeys,
    logins: st.ok,
    failed: st.failed,
    perSecond: st.ok / ((st.t1 - st.t0) / 1000),
    loginLatency: logins,
    before,
    during,
    perSecond99: perSecond(res, t0 + z.warmup * 1000),
    stormFromSecond: (st.t0 - t0) / 1000 - z.warmup,
    cpu,
    baselineCpu,
    stormCpu,
    quiet,
    errors: st.errors,
  };
}

async function storm(ctx: Ctx): Promise<void> {
  const z = ctx.size.storm;
  const runs: unknown[] = [];
  const keys = await benchKeys('storm password', MIN_ITERATIONS);
  // Accounts with a little history each (conversations, a few unread), so that a login has its real work to do:
  // load the counts, announce presence to online peers.
  const names = Array.from({ length: z.accounts }, (_, i) => `storm${String(i).padStart(5, '0')}`);
  const template = path.join(mkdtempSync(path.join(ctx.tmp, 'storm-template-')), 'jochat.db');
  createAccounts(template, names, keys, false, z.history);
  for (const sync of ctx.o.syncs) {
    const dir = mkdtempSync(path.join(ctx.tmp, 'storm-'));
    const db = path.join(dir, 'jochat.db');
    copyFileSync(template, db);
    try {
      await withServer(
        ctx,
        'storm',
        sync,
        async (server) => {
          const run: Record<string, unknown> = { sync };
          const target = t(server, 'binary');
          const halves = [names.slice(0, z.accounts / 2), names.slice(z.accounts / 2)];
          // A. Logins per second: as many as 2 processes × lanes can do, closing each connection after its login.
          for (const cachedKeys of [false, true]) {
            const win = cpuWindow(server, ctx.workers);
            const res = await Promise.all(
              ctx.workers.slice(0, 2).map((w, i) =>
                w.call<StormResult>('storm', {
                  ...target,
                  names: halves[i],
                  password: keys.password,
                  mode: 'max',
                  rate: 0,
                  seconds: z.maxSeconds,
                  concurrency: z.lanes,
                  keep: false,
                  cachedKeys,
                }),
              ),
            );
            const cpu = win();
            const ok = res.reduce((n, r) => n + r.ok, 0);
            const secs = (Math.max(...res.map((r) => r.t1)) - Math.min(...res.map((r) => r.t0))) / 1000;
            const lat = summarize(res.flatMap((r) => [...r.latency]));
            const key = cachedKeys ? 'maxCachedKeys' : 'max';
            run[key] = { ok, failed: res.reduce((n, r) => n + r.failed, 0), seconds: secs, perSecond: ok / secs, latency: lat, cpu, errors: res.map((r) => r.errors) };
            log(
              `storm ${sync}: ${cachedKeys ? 'server-bound (key derivation cached in the client)' : 'client PBKDF2 4096 each'}: ` +
                `${(ok / secs).toFixed(0)} logins/s, p99 ${lat.p99.toFixed(1)} ms; server ${(cpu.serverCores * 100).toFixed(0)}% CPU, ` +
                `generators ${(cpu.generatorCores * 100).toFixed(0)}%, others ${(cpu.otherCores * 100).toFixed(0)}%`,
            );
            fig({
              workload: '5 login storm',
              name: `logins/s, ${sync}, ${cachedKeys ? 'server-bound (client key cached)' : 'client derives key (4096 it.)'}`,
              value: ok / secs,
              unit: '/s',
              others: cpu.otherCores,
            });
          }
          // B. Other users' send→push latency while 200 logins/s arrive (and stay connected).
          const stormNames = Math.round(z.rate * z.seconds);
          const paced = await leastDisturbed(ctx, (attempt) =>
            pacedStorm(ctx, server, { sync, names: names.slice(0, stormNames), password: keys.password, cachedKeys: false, baseline: z.baseline, prefix: `m${attempt}_` }),
          );
          // C. The same storm with the clients' keys derived ahead, as they would be on the clients' own machines: here
          // each login's PBKDF2 runs on the 2 cores the server shares. Other accounts, no baseline, one attempt.
          const ahead = await pacedStorm(ctx, server, {
            sync,
            names: names.slice(stormNames, 2 * stormNames),
            password: keys.password,
            cachedKeys: true,
            baseline: 0,
            prefix: 'k_',
          });
          // Raw samples stay out of the JSON; the undisturbed seconds of all attempts are pooled for one p99.
          const pool = (k: 'before' | 'during'): number[] => paced.all.flatMap((a) => a.quiet[k].latency);
          const quietSecs = (k: 'before' | 'during'): number => paced.all.reduce((n, a) => n + a.quiet[k].seconds, 0);
          const quietBefore = pool('before');
          const quietDuring = pool('during');
          for (const a of paced.all) for (const k of ['before', 'during'] as const) a.quiet[k].latency = [];
          run['paced'] = paced;
          const { before, during, failed, cpu } = paced.best;
          fig({ workload: '5 login storm', name: `others' p99 without storm, ${sync}`, value: before.p99, unit: 'ms', others: cpu.otherCores });
          fig({
            workload: '5 login storm',
            name: `others' p99 during ${z.rate} logins/s, ${sync}`,
            value: during.p99,
            unit: 'ms',
            target: { better: 'lower', value: 5, text: '≤ 5 ms' },
            headline: sync === 'full',
            others: cpu.otherCores,
            ...(failed ? { invalid: `${failed} logins failed` } : {}),
          });
          if (quietDuring.length > 0)
            fig({
              workload: '5 login storm',
              name: `others' p99 during the storm, undisturbed seconds (${quietSecs('during')} s), ${sync}`,
              value: percentile(Float64Array.from(quietDuring).sort(), 0.99),
              unit: 'ms',
              target: { better: 'lower', value: 5, text: '≤ 5 ms' },
              note: `${quietBefore.length ? `before the storm, ${quietSecs('before')} undisturbed s: p99 ${percentile(Float64Array.from(quietBefore).sort(), 0.99).toFixed(2)} ms` : ''}`,
            });
          const aheadQuiet = ahead.quiet.during;
          fig({
            workload: '5 login storm',
            name: `others' p99 during ${z.rate} logins/s, clients' keys derived ahead (as on their own machines), ${sync}`,
            value: ahead.during.p99,
            unit: 'ms',
            target: { better: 'lower', value: 5, text: '≤ 5 ms' },
            others: ahead.cpu.otherCores,
            note: `undisturbed seconds: ${aheadQuiet.seconds} of ${aheadQuiet.of}, p99 ${aheadQuiet.summary.p99.toFixed(2)} ms`,
            ...(ahead.failed ? { invalid: `${ahead.failed} logins failed` } : {}),
          });
          for (const k of ['before', 'during'] as const) ahead.quiet[k].latency = [];
          run['pacedKeysAhead'] = ahead;
          runs.push(run);
        },
        db,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  rmSync(path.dirname(template), { recursive: true, force: true });
  details['storm'] = { params: z, clientIterations: MIN_ITERATIONS, runs };
}

async function scale(ctx: Ctx): Promise<void> {
  const z = ctx.size.scale;
  const dir = mkdtempSync(path.join(ctx.tmp, 'scale-'));
  const db = path.join(dir, 'jochat.db');
  const keys = await benchKeys('scale password', MIN_ITERATIONS);
  log(`scale: bulk-loading ${z.accounts.toLocaleString('en-US')} accounts and ${z.messages.toLocaleString('en-US')} messages`);
  let info: ScaleInfo;
  try {
    info = loadScale(db, keys, z);
    log(`  loaded in ${info.seconds.toFixed(1)} s (${info.fileMiB.toFixed(0)} MiB)`);
    const out: Record<string, unknown> = { params: z, load: { seconds: info.seconds, fileMiB: info.fileMiB, patterns: info.patterns } };
    const per = z.pendingUsers / ctx.o.syncs.length;
    const cpus: CpuWindow[] = [];
    for (const [k, sync] of ctx.o.syncs.entries()) {
      const rows = await withServer(
        ctx,
        'scale',
        sync,
        async (server) => {
          const win = cpuWindow(server, ctx.workers);
          const r = await ctx.workers[0]!.call<ScaleRow[]>('scale', {
            ...t(server, 'binary'),
            samples: z.samples,
            warmup: z.warmup,
            probe: info.probe,
            pendingTokens: info.pendingUsers.slice(k * per, (k + 1) * per).map((u) => u.token),
            pendingEach: z.pendingEach,
            deepToken: info.deep[k % info.deep.length]!.token,
            deepPending: info.deep[k % info.deep.length]!.pending,
            substring: info.patterns.substring.map((p) => p.pattern),
            glob: info.patterns.glob.map((p) => p.pattern),
            keys,
            signupPrefix: `new${k}_`,
          });
          cpus.push(win());
          return r;
        },
        db,
      );
      const cpu = cpus[cpus.length - 1]!;
      log(`  server ${(cpu.serverCores * 100).toFixed(0)}% CPU; ${disturbance(cpu)}`);
      const summary = rows.map((r) => ({ op: r.op, note: r.note, ...summarize(r.ms) }));
      out[sync] = { ops: summary, cpu };
      const tbl = summary.map((s) => [s.op, s.p50.toFixed(2), s.p99.toFixed(2), s.max.toFixed(1), s.note]);
      console.log(`\nData at scale, synchronous=${sync} (ms, client round trip over TCP)\n` + table(tbl, ['operation', 'p50', 'p99', 'max', 'note'], [0, 4]) + '\n');
      for (const s of summary) {
        fig({ workload: '6 scale', name: `${s.op} p50, ${sync}`, value: s.p50, unit: 'ms', others: cpu.otherCores });
        fig({
          workload: '6 scale',
          name: `${s.op} p99, ${sync}`,
          value: s.p99,
          unit: 'ms',
          target: { better: 'lower', value: 5, text: '≤ 5 ms' },
          headline: sync === 'full',
          others: cpu.otherCores,
        });
      }
    }
    details['scale'] = out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- main ----

export async function main(argv: string[]): Promise<void> {
  const o = parseArgs(argv);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'jochat-bench-'));
  const started = new Date();
  const m = await machine(tmp);
  log(`${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.kernel}, Node ${m.node}, SQLite ${m.sqlite}`);
  const f = m.fdatasyncMs;
  log(`fdatasync of 4 KiB: p50 ${f.p50.toFixed(2)} ms, p99 ${f.p99.toFixed(2)} ms, max ${f.max.toFixed(1)} ms; load average ${m.loadAverage.map((x) => x.toFixed(1)).join(' ')}; ulimit -n ${m.ulimitN}`);
  if (m.loadAverage[0]! > 1.5) log(`warning: the machine is busy (load ${m.loadAverage[0]!.toFixed(1)}): figures will be lower and noisier`);
  if (o.profile) mkdirSync(PROFILE_DIR, { recursive: true });
  const ctx: Ctx = {
    o,
    started: started.getTime(),
    budgetSeconds: o.quick ? 60 : 480,
    size: sizes(o.quick),
    workers: Array.from({ length: 4 }, (_, i) => new Worker(i, o.profile ? PROFILE_DIR : undefined)),
    tmp,
  };
  const run: Record<Workload, (c: Ctx) => Promise<void>> = { throughput, latency, connections, wire, storm, scale };
  const timings: Record<string, number> = {};
  try {
    for (const w of o.workloads) {
      const s = performance.now();
      await run[w](ctx);
      timings[w] = (performance.now() - s) / 1000;
    }
  } finally {
    for (const w of ctx.workers) w.close();
    rmSync(tmp, { recursive: true, force: true });
  }
  printFigures();
  const result = {
    date: started.toISOString(),
    seconds: (Date.now() - started.getTime()) / 1000,
    quick: o.quick,
    options: { workloads: o.workloads, syncs: o.syncs, protocols: o.protocols, workers: o.workers, attempts: o.attempts },
    machine: { ...m, loadAverageAfter: os.loadavg() },
    timings,
    figures: figures.map((f) => ({ ...f, ratio: ratio(f), status: statusOf(f) })),
    details,
  };
  mkdirSync(path.dirname(o.out), { recursive: true });
  writeFileSync(o.out, JSON.stringify(result, (_, v) => (v instanceof Float64Array ? undefined : v), 2) + '\n');
  log(`wrote ${path.relative(process.cwd(), o.out)} (${result.seconds.toFixed(0)} s in all)`);
}

