/**
 * Runs the real server bundle (dist/server.js) in its own process on an ephemeral port, and reads its memory and
 * CPU time from /proc while it runs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export type Synchronous = 'full' | 'normal';

export interface ServerOptions {
  bundle: string;
  db: string;
  synchronous: Synchronous;
  /** Extra server options (e.g. --log-level). */
  args?: string[];
  /** Options for node itself (e.g. --cpu-prof). */
  nodeArgs?: string[];
}

export interface BenchServer {
  host: string;
  port: number;
  pid: number;
  proc: ChildProcess;
  db: string;
  /** The last lines the server printed. */
  output(): string;
  /** Resident set size in KiB (VmRSS). */
  rssKiB(): number;
  /** User + system CPU seconds used so far. */
  cpuSeconds(): number;
  /** SIGTERM (graceful shutdown) and wait for the exit. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
}

const CLK_TCK = 100; // getconf CLK_TCK on Linux

const helpCache = new Map<string, string>();

/**
 * The load generators sign up a few hundred accounts from one address in seconds, which the server's per-address
 * sign-up limit would refuse: it is turned off when the server has it. Everything else keeps its default.
 */
function benchArgs(bundle: string): string[] {
  let help = helpCache.get(bundle);
  if (help === undefined) {
    help = spawnSync(process.execPath, [bundle, '--help'], { encoding: 'utf8' }).stdout ?? '';
    helpCache.set(bundle, help);
  }
  return help.includes('--signup-rate') ? ['--signup-rate', '0'] : [];
}

export function startServer(o: ServerOptions): Promise<BenchServer> {
  const args = [
    ...(o.nodeArgs ?? []),
    o.bundle,
    '--port',
    '0',
    '--db',
    o.db,
    '--synchronous',
    o.synchronous,
    ...benchArgs(o.bundle),
    ...(o.args ?? []),
  ];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((r) =>
    proc.once('exit', (code) => {
      exitCode = code;
      r(code);
    }),
  );
  const keep = (d: Buffer): void => {
    out += d.toString();
    if (out.length > 64 * 1024) out = out.slice(-32 * 1024);
  };
  return new Promise((resolve, reject) => {
    let started = false;
    const onData = (d: Buffer): void => {
      keep(d);
      // Only until the server listens: a login storm logs hundreds of lines a second, and this process shares the CPU.
      if (started) return;
      const m = / listening address=(\S+):(\d+)/.exec(out);
      if (!m) return;
      started = true;
      const pid = proc.pid!;
      resolve({
        host: '127.0.0.1',
        port: Number(m[2]),
        pid,
        proc,
        db: o.db,
        output: () => out,
        rssKiB: () => {
          const s = readFileSync(`/proc/${pid}/status`, 'utf8');
          return Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? NaN);
        },
        cpuSeconds: () => {
          const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
          const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
          return (Number(f[11]) + Number(f[12])) / CLK_TCK; // fields 14 and 15 of stat(5)
        },
        stop: async () => {
          if (exitCode === undefined) proc.kill('SIGTERM');
          return exited;
        },
        kill: async () => {
          if (exitCode === undefined) proc.kill('SIGKILL');
          await exited;
        },
      });
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    void exited.then((code) => {
      if (!started) reject(new Error(`the server exited with ${code} before listening:\n${out}`));
    });
  });
}
