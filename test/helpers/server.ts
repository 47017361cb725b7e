/**
 * Starts the real server bundle (dist/server.js) as its own process, on an ephemeral port, with a database file in
 * a fresh temporary folder. Integration tests talk to it over TCP.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before } from 'node:test';

export const SERVER_BUNDLE = resolve(__dirname, '../../dist/server.js');
/** The server runs on plain Node.js; inside desktop VS Code's extension host process.execPath is Electron. */
const NODE = process.env['JOCHAT_TEST_NODE'] ?? (process.versions['electron'] ? 'node' : process.execPath);

export interface TestServer {
  port: number;
  host: string;
  dir: string;
  db: string;
  proc: ChildProcess;
  /** Everything the server printed so far. */
  output(): string;
  /**
   * Waits until the output matches: log lines come through a pipe and may arrive after the TCP answer to the
   * request that caused them.
   */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM and wait for exit (graceful shutdown). */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  /** Removes the temporary folder (after stop/kill). */
  cleanup(): void;
}

export interface StartOptions {
  /** Reuse a database folder (to restart on the same data). */
  dir?: string;
  /** Reuse a port (to restart where clients reconnect). */
  port?: number;
  args?: string[];
  env?: Record<string, string>;
}

export function startServer(opts: StartOptions = {}): Promise<TestServer> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'jochat-test-'));
  const db = join(dir, 'jochat.db');
  // Tests sign up many accounts and fail many logins from one address: rate limits are relaxed unless a test sets them.
  const relaxed = ['--signup-rate', '0', '--login-free-failures', '1000000'];
  // Durability as the server's default (--synchronous full): replies wait for the fsync, as users' do.
  const args = [SERVER_BUNDLE, '--port', String(opts.port ?? 0), '--db', db, ...relaxed, ...(opts.args ?? [])];
  const proc = spawn(NODE, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  let out = '';
  // 'close', not 'exit': by then everything the server printed has been read.
  const exited = new Promise<number | null>((r) => proc.once('close', (code) => r(code)));
  return new Promise((resolveStart, reject) => {
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = / listening address=(\S+):(\d+)/.exec(out);
      if (m && !started) {
        started = true;
        resolveStart({
          port: Number(m[2]),
          host: '127.0.0.1',
          dir,
          db,
          proc,
          output: () => out,
          waitForOutput: async (re, timeoutMs = 5000) => {
            const deadline = Date.now() + timeoutMs;
            while (!re.test(out)) {
              if (Date.now() > deadline) throw new Error(`the server never printed ${re}:\n${out}`);
              await new Promise((r) => setTimeout(r, 20));
            }
          },
          stop: async () => {
            proc.kill('SIGTERM');
            return exited;
          },
          kill: async () => {
            proc.kill('SIGKILL');
            await exited;
          },
          cleanup: () => rmSync(dir, { recursive: true, force: true }),
        });
      }
    };
    let started = false;
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    void exited.then((code) => {
      if (!started) reject(new Error(`server exited with ${code} before listening:\n${out}`));
    });
  });
}

/**
 * One server for a whole test file: started before its tests, stopped and removed after them, once `beforeStop` has
 * closed what the tests opened. Returns the server (for use inside tests, once started).
 */
export function serverForFile(beforeStop: () => void = () => {}): () => TestServer {
  let server: TestServer | undefined;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    beforeStop();
    await server?.stop();
    server?.cleanup();
  });
  return () => server ?? assert.fail('the file\'s server has not started');
}
