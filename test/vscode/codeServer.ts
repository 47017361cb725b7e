// Starts a private code-server (VS Code 1.100 in the browser) for one test, and stops it with all its children.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureVsCodeTestEnv } from '../../scripts/vscode-setup.mjs';

export interface CodeServerOptions {
  /** Where extensions live; a temp dir (removed on stop) when omitted. */
  extensionsDir?: string;
  /** VS Code's user data (settings, logs, state); a temp dir (removed on stop) when omitted. */
  userDataDir?: string;
  /** Folder opened as the workspace. */
  folder?: string;
  /** .vsix files installed into extensionsDir before the server starts. */
  installVsix?: string[];
  /** Written as the user's settings.json before the server starts (replacing any), e.g. the extension's own settings. */
  settings?: Record<string, unknown>;
}

export interface CodeServer {
  url: string;
  port: number;
  userDataDir: string;
  extensionsDir: string;
  /** The server process, which leads its own process group. */
  pid: number;
  /** Everything code-server printed so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

const READY = 'HTTP server listening';
const START_TIMEOUT_MS = 60_000;
const INSTALL_TIMEOUT_MS = 120_000;
const OUTPUT_KEEP = 64_000;

/** A port free right now; code-server binds it a moment later, and a lost race is retried by startCodeServer. */
function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? res(port) : rej(new Error('no port assigned'))));
    });
  });
}

/**
 * The test process's environment minus what would change code-server's behaviour: VSCODE_* (inside a VS Code
 * terminal, VSCODE_IPC_HOOK_CLI turns code-server into a client of *that* VS Code), and Node options meant for
 * the test runner (tsx loader, node:test's child marker) that the extension host would inherit.
 */
function serverEnv(configFile: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('VSCODE_') || k === 'NODE_OPTIONS' || k === 'NODE_TEST_CONTEXT' || k === 'ELECTRON_RUN_AS_NODE') continue;
    env[k] = v;
  }
  // Keeps code-server from writing ~/.config/code-server/config.yaml.
  env.CODE_SERVER_CONFIG = configFile;
  return env;
}

/** Runs code-server as a one-shot CLI (e.g. --install-extension) and returns its output. */
function runCli(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((res, rej) => {
    const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), INSTALL_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      rej(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) res(out);
      else rej(new Error(`code-server ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${out}`));
    });
  });
}

interface ProcInfo {
  ppid: number;
  pgid: number;
}

/** ppid and process group of every process, read from /proc (Linux). */
async function processTable(): Promise<Map<number, ProcInfo>> {
  const table = new Map<number, ProcInfo>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      // Fields after the command name, which is in parentheses and may itself contain spaces or ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(name), { ppid: Number(rest[1]), pgid: Number(rest[2]) });
    } catch {
      // The process ended while we were reading.
    }
  }
  return table;
}

/**
 * The server's processes: its group, plus (while the leader still runs, so its pid cannot belong to someone
 * else) every descendant of the leader, including any that moved to a group of their own.
 */
async function serverProcesses(child: ChildProcess, leader: number): Promise<number[]> {
  const table = await processTable();
  const found = new Set<number>();
  for (const [pid, info] of table) if (info.pgid === leader) found.add(pid);
  if (child.exitCode === null && child.signalCode === null) {
    const queue = [leader];
    for (let i = 0; i < queue.length; i++) {
      found.add(queue[i]!);
      for (const [pid, info] of table) if (info.ppid === queue[i]) queue.push(pid);
    }
  }
  return [...found];
}

/** Alive and not a zombie (a zombie has exited; it only waits for its parent to reap it). */
async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/**
 * Ends the process group led by child (spawned detached, it leads its own group) and, by PID, every descendant:
 * shared/VSCODE.md notes that stopping only the main PID leaves a file-watcher child running.
 */
async function killTree(child: ChildProcess): Promise<void> {
  const leader = child.pid;
  if (leader === undefined) return;
  const pids = await serverProcesses(child, leader);
  signal(-leader, 'SIGTERM');
  for (const p of pids) signal(p, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const alive = await Promise.all(pids.map(isRunning));
    if (!alive.some(Boolean)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  signal(-leader, 'SIGKILL');
  for (const p of pids) if (await isRunning(p)) signal(p, 'SIGKILL');
}

interface Launched {
  child: ChildProcess;
  output: () => string;
}

/** Spawns code-server on port and waits for READY; rejects with its output if it exits or hangs first. */
function launch(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<Launched> {
  // detached: its own process group, so stop() can signal the server and everything it spawned at once.
  const child = spawn(bin, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const onData = (d: Buffer) => {
    out = (out + d.toString()).slice(-OUTPUT_KEEP);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return new Promise((res, rej) => {
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.stderr?.off('data', check);
      if (err) {
        void killTree(child).then(() => rej(err));
        return;
      }
      res({ child, output: () => out });
    };
    const check = () => {
      if (out.includes(READY)) finish();
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.on('error', (err) => finish(err));
    child.on('exit', (code, sig) => finish(new Error(`code-server exited (${sig ?? `exit ${code}`}) before "${READY}":\n${out}`)));
    const timer = setTimeout(() => finish(new Error(`code-server did not print "${READY}" within ${START_TIMEOUT_MS} ms:\n${out}`)), START_TIMEOUT_MS);
  });
}

export async function startCodeServer(opts: CodeServerOptions = {}): Promise<CodeServer> {
  const { codeServerBin } = await ensureVsCodeTestEnv();
  const scratch = await mkdtemp(join(tmpdir(), 'jochat-code-server-'));
  const extensionsDir = resolve(opts.extensionsDir ?? join(scratch, 'extensions'));
  const userDataDir = resolve(opts.userDataDir ?? join(scratch, 'user-data'));
  await mkdir(extensionsDir, { recursive: true });
  await mkdir(userDataDir, { recursive: true });
  const env = serverEnv(join(scratch, 'config.yaml'));
  const common = ['--extensions-dir', extensionsDir, '--user-data-dir', userDataDir];

  try {
    if (opts.installVsix?.length) {
      // shared/VSCODE.md's recipe seeds an empty extensions.json first (here 4.100.3 also installed without it).
      const manifest = join(extensionsDir, 'extensions.json');
      await readFile(manifest).catch(() => writeFile(manifest, '[]\n'));
      const vsixes = opts.installVsix.map((v) => resolve(v));
      const out = await runCli(codeServerBin, [...common, ...vsixes.flatMap((v) => ['--install-extension', v])], env);
      // A failed install exits 1 (runCli throws); the count also catches a .vsix that was silently skipped.
      const installed = out.match(/was successfully installed/g)?.length ?? 0;
      if (installed !== vsixes.length) throw new Error(`installing ${vsixes.join(', ')} confirmed ${installed} of ${vsixes.length}:\n${out}`);
    }

    if (opts.settings) {
      await mkdir(join(userDataDir, 'User'), { recursive: true });
      await writeFile(join(userDataDir, 'User', 'settings.json'), JSON.stringify(opts.settings, null, 2));
    }

    const flags = [
      '--auth', 'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      ...common,
    ];
    const folder = opts.folder === undefined ? [] : [resolve(opts.folder)];
    let launched: Launched | undefined;
    let port = 0;
    for (let attempt = 1; !launched; attempt++) {
      port = await freePort();
      try {
        launched = await launch(codeServerBin, ['--bind-addr', `127.0.0.1:${port}`, ...flags, ...folder], env);
      } catch (err) {
        // Someone else took the port between freePort() and code-server's bind: try another.
        if (attempt < 3 && err instanceof Error && err.message.includes('EADDRINUSE')) continue;
        throw err;
      }
    }
    const { child, output } = launched;
    const pid = child.pid;
    if (pid === undefined) throw new Error('code-server started without a pid');
    // Safety net for a test that forgets stop() or a runner that exits early: no server outlives the process.
    const onExit = () => signal(-pid, 'SIGKILL');
    process.once('exit', onExit);
    let stopping: Promise<void> | undefined;
    return {
      url: `http://127.0.0.1:${port}/`,
      port,
      pid,
      userDataDir,
      extensionsDir,
      output,
      stop: () =>
        (stopping ??= (async () => {
          process.off('exit', onExit);
          await killTree(child);
          await rm(scratch, { recursive: true, force: true });
        })()),
    };
  } catch (err) {
    await rm(scratch, { recursive: true, force: true });
    throw err;
  }
}
