/**
 * The server's command line (SPEC §3): --help, bad values, settings from the environment and a config file, the
 * start-up line, a port in use, the default database location, and logs that never carry secrets.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { JoChatClient } from '../../protocol/client.js';
import { connectClient, uniqueName } from '../helpers/clients.js';
import { RawConnection, RawError, rawLogin, rawSignup } from '../helpers/raw.js';
import { SERVER_BUNDLE, startServer, type TestServer } from '../helpers/server.js';

const temps: string[] = [];
const procs: ChildProcess[] = [];
const clients: JoChatClient[] = [];
const raws: RawConnection[] = [];

const temp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'jochat-cli-'));
  temps.push(d);
  return d;
};

/** The environment without any JoChat setting or data-dir override inherited from the caller. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('JOCHAT_') && k !== 'XDG_DATA_HOME') env[k] = v;
  return { ...env, ...extra };
}

/** Runs the server to completion (for options that make it exit at once). */
function runToEnd(args: string[], env: NodeJS.ProcessEnv = cleanEnv()): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SERVER_BUNDLE, ...args], { env, encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Launched {
  proc: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** Resolves with the match once the output matches `re`; rejects if the process exits first or time runs out. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  stop(): Promise<number | null>;
}

function launch(args: string[], env: NodeJS.ProcessEnv): Launched {
  const proc = spawn(process.execPath, [SERVER_BUNDLE, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const l of listeners) l();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((r) =>
    proc.once('exit', (code) => {
      exitCode = code;
      r(code);
      for (const l of listeners) l();
    }),
  );
  return {
    proc,
    output: () => out,
    exited,
    waitFor: (re, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const m = re.exec(out);
          if (m) return done(() => resolve(m));
          if (exitCode !== undefined) done(() => reject(new Error(`exited with ${exitCode} before ${re}:\n${out}`)));
        };
        const t = setTimeout(() => done(() => reject(new Error(`no ${re} within ${timeoutMs} ms:\n${out}`))), timeoutMs);
        const done = (f: () => void): void => {
          clearTimeout(t);
          listeners.delete(check);
          f();
        };
        listeners.add(check);
        check();
      }),
    stop: async () => {
      if (exitCode === undefined) proc.kill('SIGTERM');
      return exited;
    },
  };
}

const LISTENING = / listening address=(\S+):(\d+)/;
const NO_STACK = /\n\s+at .+\(.*:\d+:\d+\)/;

after(async () => {
  for (const c of clients) c.close();
  for (const r of raws) r.close();
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await Promise.all(procs.map((p) => (p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

describe('command line', () => {
  test('--help exits 0 and describes every option', () => {
    for (const flag of ['--help', '-h']) {
      const r = runToEnd([flag]);
      assert.equal(r.status, 0, r.stderr);
      for (const opt of ['--host', '--port', '--db', '--protocol', '--max-frame', '--idle-timeout', '--tls-cert', '--tls-key', '--log-level', '--config'])
        assert.ok(r.stdout.includes(opt), `--help mentions ${opt}`);
      assert.match(r.stdout, /JOCHAT_PORT/, 'and the environment variables');
    }
  });

  test('a bad option value exits non-zero with a plain message', () => {
    const dir = temp();
    const badJson = join(dir, 'bad.json');
    writeFileSync(badJson, '{ "port": ');
    const cases: { args: string[]; env?: Record<string, string>; says: RegExp }[] = [
      { args: ['--port', 'abc'], says: /--port must be an integer/ },
      { args: ['--port', '70000'], says: /--port/ },
      { args: ['--protocol', 'xml'], says: /--protocol must be one of auto, json, binary/ },
      { args: ['--max-frame', '10'], says: /--max-frame/ },
      { args: ['--idle-timeout', '-1'], says: /--idle-timeout/ },
      { args: ['--log-level', 'loud'], says: /--log-level/ },
      { args: ['--bogus', '1'], says: /unknown option --bogus/ },
      { args: ['--port'], says: /--port needs a value/ },
      { args: ['--tls-cert', join(dir, 'c.pem')], says: /--tls-cert and --tls-key go together/ },
      { args: [], env: { JOCHAT_PORT: 'abc' }, says: /port must be an integer/ },
      { args: ['--config', join(dir, 'missing.json')], says: /missing\.json/ },
      { args: ['--config', badJson], says: /JSON|json/ },
    ];
    for (const c of cases) {
      const r = runToEnd(['--db', join(dir, 'x.db'), ...c.args], cleanEnv(c.env));
      const all = r.stdout + r.stderr;
      assert.notEqual(r.status, 0, `${c.args.join(' ')} must fail`);
      assert.notEqual(r.status, null, `${c.args.join(' ')} must exit, not hang`);
      assert.match(all, c.says, `${c.args.join(' ')}: ${all}`);
      assert.doesNotMatch(all, NO_STACK, `${c.args.join(' ')}: a plain message, not a stack trace`);
      assert.doesNotMatch(all, / listening /);
    }
  });

  test('the start-up line says "listening" with the address, and the address works', async () => {
    const dir = temp();
    const s = launch(['--port', '0', '--db', join(dir, 'a.db')], cleanEnv());
    const m = await s.waitFor(LISTENING);
    assert.equal(m[1], '127.0.0.1');
    const port = Number(m[2]);
    assert.ok(port > 0 && port !== 5000);
    const c = await connectClient({ host: '127.0.0.1', port }, 'json', { reconnect: false });
    clients.push(c);
    assert.equal(c.state, 'online');
    c.close();
    assert.equal(await s.stop(), 0);
    assert.match(s.output(), /\bstopped\b/);
  });

  test('settings come from environment variables', async () => {
    const dir = temp();
    const db = join(dir, 'from-env.db');
    const s = launch([], cleanEnv({ JOCHAT_PORT: '0', JOCHAT_DB: db, JOCHAT_PROTOCOL: 'json', HOME: dir }));
    const m = await s.waitFor(LISTENING);
    assert.notEqual(m[2], '5000');
    assert.match(s.output(), /protocol=json/);
    assert.ok(existsSync(db), 'the database is where JOCHAT_DB says');
    const c = await connectClient({ host: '127.0.0.1', port: Number(m[2]) }, 'json', { reconnect: false });
    clients.push(c);
    c.close();
    assert.equal(await s.stop(), 0);
  });

  test('settings come from a --config JSON file; the command line wins over it', async () => {
    const dir = temp();
    const db = join(dir, 'from-file.db');
    const file = join(dir, 'jochat.json');
    writeFileSync(file, JSON.stringify({ port: 0, db, protocol: 'binary', 'idle-timeout': 30 }));
    const s = launch(['--config', file], cleanEnv({ HOME: dir }));
    const m = await s.waitFor(LISTENING);
    assert.notEqual(m[2], '5000');
    assert.match(s.output(), /protocol=binary/);
    assert.ok(existsSync(db), 'the database is where the config file says');
    assert.equal(await s.stop(), 0);

    const db2 = join(dir, 'cli-wins.db');
    const s2 = launch(['--config', file, '--protocol', 'json', '--db', db2], cleanEnv({ HOME: dir, JOCHAT_CONFIG: '/nonexistent.json' }));
    await s2.waitFor(LISTENING);
    assert.match(s2.output(), /protocol=json/);
    assert.ok(existsSync(db2));
    assert.equal(await s2.stop(), 0);

    // JOCHAT_CONFIG names the file too.
    const s3 = launch([], cleanEnv({ HOME: dir, JOCHAT_CONFIG: file }));
    await s3.waitFor(LISTENING);
    assert.match(s3.output(), /protocol=binary/);
    assert.equal(await s3.stop(), 0);
  });

  test('a port already in use: exit non-zero with a plain message', async () => {
    let busy: TestServer | undefined;
    try {
      busy = await startServer();
      const dir = temp();
      const r = launch(['--port', String(busy.port), '--db', join(dir, 'b.db')], cleanEnv());
      const code = await r.exited;
      assert.notEqual(code, 0);
      assert.notEqual(code, null);
      assert.match(r.output(), /already in use/);
      assert.doesNotMatch(r.output(), NO_STACK);
      assert.doesNotMatch(r.output(), / listening /);
    } finally {
      if (busy) {
        await busy.stop();
        busy.cleanup();
      }
    }
  });

  test('the default database is under the user data folder ($XDG_DATA_HOME/jochat, else ~/.local/share/jochat)', async () => {
    const home = temp();
    const xdg = join(home, 'xdg-data');
    const s = launch(['--port', '0'], cleanEnv({ HOME: home, XDG_DATA_HOME: xdg }));
    await s.waitFor(LISTENING);
    const expected = join(xdg, 'jochat', 'jochat.db');
    assert.ok(existsSync(expected), `${expected} exists`);
    assert.ok(s.output().includes(expected), 'the start-up line names the database');
    assert.equal(await s.stop(), 0);

    const s2 = launch(['--port', '0'], cleanEnv({ HOME: home }));
    await s2.waitFor(LISTENING);
    assert.ok(existsSync(join(home, '.local', 'share', 'jochat', 'jochat.db')));
    assert.equal(await s2.stop(), 0);
  });
});

describe('logs', () => {
  test('log lines never contain the token, the proof or password-derived keys (debug level)', async () => {
    const server = await startServer({ args: ['--log-level', 'debug'] });
    try {
      const secrets: { what: string; value: string }[] = [];
      const addBytes = (what: string, b: Uint8Array): void => {
        const buf = Buffer.from(b);
        for (const enc of ['base64', 'base64url', 'hex'] as const) secrets.push({ what: `${what} (${enc})`, value: buf.toString(enc) });
      };
      const password = 'hunter2 correct horse';
      secrets.push({ what: 'password', value: password });

      // Over raw JSON, where every value that crosses the wire is known here.
      const name = uniqueName('secret');
      const r1 = await RawConnection.open(server.port, 'json');
      raws.push(r1);
      const su = await rawSignup(r1, name, password);
      secrets.push({ what: 'signup token', value: su.result.token });
      addBytes('storedKey', su.keys.storedKey);
      addBytes('serverKey', su.keys.serverKey);
      addBytes('clientKey', su.keys.clientKey);
      r1.close();
      const r2 = await RawConnection.open(server.port, 'json');
      raws.push(r2);
      const li = await rawLogin(r2, name, password);
      secrets.push({ what: 'login token', value: li.result.token });
      addBytes('proof', li.proof);
      addBytes('serverSignature', li.result.serverSignature);
      const r3 = await RawConnection.open(server.port, 'json');
      raws.push(r3);
      const resumed = await r3.call('resume', { token: li.result.token });
      assert.equal(resumed.username, name);
      // A failed login: its proof must not show either.
      const r4 = await RawConnection.open(server.port, 'json');
      raws.push(r4);
      await assert.rejects(rawLogin(r4, name, 'wrong password'), (e: RawError) => e.code === 'AUTH_FAILED');
      await assert.rejects(r4.call('resume', { token: 'not-a-real-token-but-secret-looking' }), (e: RawError) => e.code === 'AUTH_FAILED');
      secrets.push({ what: 'bad resume token', value: 'not-a-real-token-but-secret-looking' });

      // And through the client, over binary: sign-up, login, resume; the token as the client reports it.
      const tokens: string[] = [];
      const c1 = await connectClient(server, 'binary', { reconnect: false });
      clients.push(c1);
      c1.on('token', (t) => t && tokens.push(t));
      const other = uniqueName('secret');
      await c1.signup(other, password);
      c1.close();
      const c2 = await connectClient(server, 'binary', { reconnect: false });
      clients.push(c2);
      c2.on('token', (t) => t && tokens.push(t));
      await c2.login(other, password);
      const c3 = await connectClient(server, 'json', { reconnect: false });
      clients.push(c3);
      c3.on('token', (t) => t && tokens.push(t));
      await c3.resume(tokens.at(-1)!);
      await c3.changePassword(password, password + '!');
      for (const t of tokens) secrets.push({ what: 'client token', value: t });
      assert.equal(new Set(tokens).size, 3, 'sign-up, login and password-change tokens');
      c2.close();
      c3.close();

      assert.equal(await server.stop(), 0);
      const out = server.output();
      // The logging did happen, so the check below is not vacuous.
      assert.match(out, new RegExp(`signup .*user=${name}`));
      assert.match(out, new RegExp(`login .*user=${other}`));
      assert.match(out, /auth_failed/);
      for (const s of secrets) assert.ok(!out.includes(s.value), `the log contains the ${s.what}`);
    } finally {
      if (server.proc.exitCode === null) await server.kill();
      server.cleanup();
    }
  });
});
