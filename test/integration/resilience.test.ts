/**
 * Resilience (SPEC §4 "Connection lost", C4, C13, TLS): the client reconnects to a restarted server by itself,
 * resumes without the password and re-sends what was not acknowledged, exactly once; revoked tokens end the session;
 * silent connections are closed; TLS works end to end.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { JoChatError, type ClientOptions, type ConnectionState, type JoChatClient } from '../../protocol/client.js';
import type { Protocol } from '../../protocol/codec.js';
import type { Message, Result } from '../../protocol/ops.js';
import { EventLog, PROTOCOLS, connectClient, signedUp, uniqueName , allHistory } from '../helpers/clients.js';
import { RawConnection, rawSignup } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';

const servers: TestServer[] = [];
const clients: JoChatClient[] = [];
const raws: RawConnection[] = [];
const tempDirs: string[] = [];

async function start(opts: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const s = await startServer(opts);
  servers.push(s);
  return s;
}

/** A signed-up client that reconnects quickly by itself. */
async function user(server: TestServer, protocol: Protocol, opts: Partial<ClientOptions> = {}): Promise<JoChatClient> {
  const c = await signedUp(server, protocol, uniqueName('res'), 'pw', { backoff: { min: 50, max: 300 }, ...opts });
  clients.push(c);
  return c;
}

/** Polls (bounded) until `cond` holds. */
async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Rejects if `p` does not settle in time (so a lost send fails the test instead of hanging it). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}


/** Every text exactly once, in the order given. */
function assertExactlyOnce(history: Message[], texts: string[]): void {
  const got = history.map((m) => m.text);
  const counts = new Map<string, number>();
  for (const t of got) counts.set(t, (counts.get(t) ?? 0) + 1);
  const lost = texts.filter((t) => !counts.has(t));
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([t]) => t);
  assert.deepEqual({ lost, duplicated }, { lost: [], duplicated: [] });
  assert.equal(got.length, texts.length);
  assert.deepEqual(got, texts, 'in the order they were sent');
}

after(async () => {
  for (const c of clients) c.close();
  for (const r of raws) r.close();
  for (const s of servers) if (s.proc.exitCode === null && s.proc.signalCode === null) await s.kill();
  for (const d of new Set(servers.map((s) => s.dir))) rmSync(d, { recursive: true, force: true });
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

describe('reconnect, resume and re-send', () => {
  for (const protocol of PROTOCOLS) {
    test(`${protocol}: server killed with sends in flight; restarted on the same port, every send lands exactly once`, async (t) => {
      const s1 = await start();
      const alice = await user(s1, protocol);
      const bob = await user(s1, protocol === 'json' ? 'binary' : 'json');
      const sessions: (string | undefined)[] = [];
      alice.on('session', (u) => sessions.push(u));

      const n = 400;
      const texts = Array.from({ length: n }, (_, i) => `${protocol} msg ${i}`);
      const results: Result<'send'>[] = [];
      const sends: Promise<unknown>[] = [];
      // A steady stream of sends: some acknowledged before the kill, some on the wire at the kill, some made while
      // the server is down.
      let unackedAtKill = -1;
      let ackedAtKill = -1;
      const producer = (async () => {
        for (let i = 0; i < n; i++) {
          sends.push(alice.send(bob.username!, texts[i]!).then((r) => void results.push(r)));
          if (i % 10 !== 9) continue;
          // After the client's write of these ten (it uncorks on the next tick) and before any reply can be read:
          // once 60 are acknowledged (or at the last ten), kill the server with these on the wire.
          await new Promise((r) => process.nextTick(r));
          if (unackedAtKill < 0 && (results.length >= 60 || i === n - 1)) {
            s1.proc.kill('SIGKILL');
            unackedAtKill = alice.unacknowledged;
            ackedAtKill = results.length;
          }
          await new Promise((r) => setImmediate(r));
        }
      })();
      await until(() => unackedAtKill >= 0, 'the kill');
      await s1.kill();
      assert.ok(unackedAtKill > 0, 'sends were still unacknowledged when the server died');
      t.diagnostic(`acknowledged/unacknowledged at the kill: ${ackedAtKill}/${unackedAtKill}; made before the restart: ${sends.length}`);
      await until(() => alice.state !== 'online', 'the client to notice the lost connection');
      const s2 = await start({ dir: s1.dir, port: s1.port });
      await producer;
      await within(Promise.all(sends), 20_000, 'every send');
      assert.equal(alice.unacknowledged, 0);
      assert.equal(results.length, n);
      // (Acknowledgements already on their way when the server died may have settled everything before the
      // reconnect; the client still reconnects and resumes by itself.)
      await until(() => alice.isLoggedIn, 'alice to resume');
      assert.ok(sessions.length > 0 && sessions.every((u) => u === alice.username), `resumed as itself: ${sessions}`);
      assert.match(s2.output(), new RegExp(`login .*user=${alice.username}`), 'the restarted server saw the resume');

      await until(() => bob.isLoggedIn, 'bob to resume');
      assertExactlyOnce(await allHistory(bob, alice.username!), texts);
      const ids = results.map((r) => r.message.id);
      assert.equal(new Set(ids).size, n, 'each acknowledgement names its own message');
    });
  }

  for (const protocol of PROTOCOLS) {
    test(`${protocol}: a send repeated with its clientMsgId after a kill and restart is stored once`, async () => {
      const s1 = await start();
      const a = await RawConnection.open(s1.port, protocol);
      const b = await RawConnection.open(s1.port, protocol);
      raws.push(a, b);
      const { result: ar } = await rawSignup(a, uniqueName('idem'), 'pw');
      const { result: br } = await rawSignup(b, uniqueName('idem'), 'pw');
      const args = { to: br.username, text: `idempotent ${protocol}`, clientMsgId: 'retry-me-1' };
      const first = await a.call('send', args);
      await s1.kill(); // the acknowledgement is "lost": the client will try again
      const s2 = await start({ dir: s1.dir, port: s1.port });
      const a2 = await RawConnection.open(s2.port, protocol);
      raws.push(a2);
      a2.self = (await a2.call('resume', { token: ar.token })).username;
      const again = await a2.call('send', args);
      assert.equal(again.message.id, first.message.id, 'the retry names the message already stored');
      assert.equal(again.message.sentAt, first.message.sentAt);
      const other = await a2.call('send', { ...args, clientMsgId: 'retry-me-2' });
      assert.notEqual(other.message.id, first.message.id, 'another clientMsgId is another message');
      const b2 = await RawConnection.open(s2.port, protocol);
      raws.push(b2);
      await b2.call('resume', { token: br.token });
      const hist = await b2.call('history', { peer: ar.username });
      assert.deepEqual(
        hist.messages.map((m) => m.id),
        [other.message.id, first.message.id],
      );
    });
  }

  test('messages sent while the server is down are delivered after it comes back', async () => {
    const s1 = await start();
    const alice = await user(s1, 'binary');
    const bob = await user(s1, 'json');
    const bobLog = new EventLog(bob);
    await s1.kill();
    await until(() => alice.state === 'offline' && bob.state === 'offline', 'both clients to go offline');
    const texts = ['while down 1', 'while down 2', 'while down 3'];
    let settled = 0;
    const sends = texts.map((t) => alice.send(bob.username!, t).finally(() => settled++));
    assert.equal(alice.unacknowledged, 3);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(settled, 0, 'nothing is acknowledged while the server is down');
    await start({ dir: s1.dir, port: s1.port });
    const acks = await within(Promise.all(sends), 10_000, 'the offline sends');
    assert.deepEqual(acks.map((a) => a.message.text), texts);
    await until(() => bob.isLoggedIn, 'bob to resume');
    // Bob gets each pushed (if he was back first: delivered) or as pending; either way once, in order.
    for (const a of acks) if (a.delivered) await bobLog.wait('message', (d) => d.message.id === a.message.id);
    const pushed = bobLog.of('message').map((d) => d.message.text);
    const pending = (await bob.request('fetch_pending', { limit: 100 })).messages.map((m) => m.text);
    assert.deepEqual([...pushed, ...pending], texts);
    assert.deepEqual(pushed, acks.filter((a) => a.delivered).map((a) => a.message.text));
    assertExactlyOnce(await allHistory(bob, alice.username!), texts);
  });

  test('a client whose resume token was revoked gets a session event with undefined', async () => {
    const s1 = await start();
    const c = await user(s1, 'json');
    const name = c.username!;
    const sessions: [string | undefined, string | undefined][] = [];
    const tokens: (string | undefined)[] = [];
    c.on('session', (u, reason) => sessions.push([u, reason]));
    c.on('token', (t) => tokens.push(t));
    await s1.kill();
    // Revoke every token while the server is down (as logout/password change elsewhere would).
    const db = new Database(s1.db);
    const revoked = db.prepare('DELETE FROM sessions').run().changes;
    db.close();
    assert.ok(revoked >= 1);
    const queued = c.send(name, 'never sent').then(
      () => 'sent',
      (e: JoChatError) => e.code,
    );
    await start({ dir: s1.dir, port: s1.port });
    await until(() => sessions.length > 0, 'a session event');
    assert.deepEqual(sessions, [[undefined, undefined]]);
    assert.deepEqual(tokens, [undefined], 'the client forgets the dead token');
    assert.equal(c.isLoggedIn, false);
    assert.equal(c.username, undefined);
    assert.equal(c.state, 'online', 'connected, but logged out');
    assert.equal(await queued, 'NOT_LOGGED_IN', 'a send queued for the dead session fails');
  });

  test('a taken-over session ends with signed_in_elsewhere and its token no longer resumes', async () => {
    const server = await start();
    const name = uniqueName('takeover');
    const first = await connectClient(server, 'binary', { reconnect: false });
    clients.push(first);
    const { token } = await first.signup(name, 'pw');
    const ended: [string | undefined, string | undefined][] = [];
    first.on('session', (u, r) => ended.push([u, r]));
    const second = await connectClient(server, 'json', { reconnect: false });
    clients.push(second);
    await second.login(name, 'pw');
    await until(() => ended.length > 0, 'the old session to end');
    assert.deepEqual(ended, [[undefined, 'signed_in_elsewhere']]);
    const third = await connectClient(server, 'json', { reconnect: false });
    clients.push(third);
    await assert.rejects(third.resume(token), (e: JoChatError) => e.code === 'AUTH_FAILED');
  });
});

describe('idle timeout (--idle-timeout 1)', { concurrency: true }, () => {
  let server: TestServer;
  // `normal`: replies wait for no fsync, so a slow disk cannot keep these clients silent past the 1 s timeout.
  const ready = start({ args: ['--idle-timeout', '1', '--synchronous', 'normal'] }).then((s) => (server = s));

  test('a raw socket that says nothing is closed within a few seconds', async () => {
    await ready;
    const c = await RawConnection.open(server.port, 'json');
    raws.push(c);
    const t0 = Date.now();
    await c.waitClosed(4000);
    assert.ok(Date.now() - t0 >= 900, `closed after ${Date.now() - t0} ms, before the timeout`);
    assert.equal(c.frames.length, 0);
  });

  for (const protocol of PROTOCOLS) {
    test(`${protocol}: a silent logged-in raw connection receives session_ended idle, then is closed`, async () => {
      await ready;
      const c = await RawConnection.open(server.port, protocol);
      raws.push(c);
      await rawSignup(c, uniqueName('idle'), 'pw');
      const ended = await c.event('session_ended', () => true, 4000);
      assert.equal(ended.reason, 'idle');
      await c.waitClosed(3000);
      const last = c.messages().at(-1);
      assert.ok(last?.kind === 'event' && last.event === 'session_ended', 'session_ended is the last frame before the close');
    });
  }

  test('a JoChatClient pinging every 300 ms stays connected past the timeout', async () => {
    await ready;
    const c = await user(server, 'binary', { pingIntervalMs: 300, reconnect: false });
    const states: ConnectionState[] = [];
    c.on('state', (s) => states.push(s));
    const log = new EventLog(c);
    await new Promise((r) => setTimeout(r, 2600)); // well past the 1 s timeout and several sweeps
    assert.deepEqual(states, []);
    assert.equal(c.state, 'online');
    assert.equal(c.isLoggedIn, true);
    assert.deepEqual(log.of('session_ended'), []);
    assert.equal((await c.send(c.username!, 'still here')).message.text, 'still here');
  });
});

describe('TLS', () => {
  const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

  test('a TLS server serves TLS clients (self-signed certificate); plain TCP cannot use it', async (t) => {
    if (!hasOpenssl) {
      t.skip('openssl is not installed: cannot make a self-signed certificate');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'jochat-tls-'));
    tempDirs.push(dir);
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert],
      { stdio: 'ignore' },
    );
    const server = await start({ args: ['--tls-cert', cert, '--tls-key', key] });
    assert.match(server.output(), /listening .*tls=true/);
    const tls = { ca: readFileSync(cert), servername: 'localhost' };
    const a = await user(server, 'json', { tls, reconnect: false });
    const b = await user(server, 'binary', { tls, reconnect: false });
    const bLog = new EventLog(b);
    const sent = await a.send(b.username!, 'over TLS');
    assert.equal(sent.delivered, true);
    assert.equal((await bLog.wait('message')).message.text, 'over TLS');
    assert.equal((await b.send(a.username!, 'and back')).message.from, b.username);

    // Plain TCP to the TLS port: the hello never gets an answer.
    const plain = connectClient(server, 'json', { reconnect: false, requestTimeoutMs: 3000 });
    await assert.rejects(within(plain, 5000, 'a plain connection'), (e: Error) => e instanceof JoChatError);
    // A TLS client that does not trust the certificate refuses the server.
    const untrusting = connectClient(server, 'json', { reconnect: false, tls: true });
    await assert.rejects(within(untrusting, 5000, 'an untrusting TLS connection'));
  });
});
