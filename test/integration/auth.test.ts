/**
 * Integration: accounts and sessions against the real server bundle, in both wire protocols — hello, sign-up
 * (C1), SCRAM login (C2), one session per account and takeover (C3), resume tokens (C4), logout (C5), password
 * change (C12b), account deletion (C12), and the error codes only reachable below the typed client (UNKNOWN_OP,
 * FRAME_TOO_LARGE, BAD_REQUEST for a malformed frame).
 */
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { binaryCodec } from '../../protocol/binary.js';
import { JoChatClient, JoChatError } from '../../protocol/client.js';
import type { Codec, PendingInfo, Protocol } from '../../protocol/codec.js';
import { FrameReader } from '../../protocol/framing.js';
import { jsonCodec } from '../../protocol/json.js';
import type { Result, ServerMessage } from '../../protocol/ops.js';
import { authMessage, clientProof, deriveKeys, newKeys, newNonce, serverSignature } from '../../protocol/scram.js';
import { connectClient, EventLog, PROTOCOLS, uniqueName , isCode } from '../helpers/clients.js';
import { serverForFile, startServer, type TestServer } from '../helpers/server.js';

const PASSWORD = 'correct horse';
/** SPEC values, written out so a changed constant in the code cannot make these tests agree with it. */
const SPEC_MAX_FRAME = 1024 * 1024;
const SPEC_MAX_TEXT = 16_384;
const SPEC_MIN_ITERATIONS = 4096;
const CLIENT_DEFAULT_ITERATIONS = 600_000;

const clients: JoChatClient[] = [];
const sockets: Socket[] = [];
const server = serverForFile(() => {
  for (const c of clients) c.close();
  for (const s of sockets) s.destroy();
});

/** The error a promise rejects with (it must reject with a JoChatError). */
async function errorOf(p: Promise<unknown>): Promise<JoChatError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof JoChatError, `expected a JoChatError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the request to fail');
}

async function client(protocol: Protocol): Promise<JoChatClient> {
  const c = await connectClient(server(), protocol, { reconnect: false });
  clients.push(c);
  return c;
}

async function signedUpAs(protocol: Protocol, name: string, password = PASSWORD): Promise<{ c: JoChatClient; token: string }> {
  const c = await client(protocol);
  const r = await c.signup(name, password);
  return { c, token: r.token };
}

/** A SCRAM proof over a fresh login_start, made by hand (for login_finish, delete_account, change_password). */
async function prove(c: JoChatClient, username: string, password: string) {
  const clientNonce = newNonce();
  const start = await c.request('login_start', { username, clientNonce });
  const keys = await deriveKeys(password, start.salt, start.iterations);
  const am = authMessage(username, clientNonce, start.nonce, start.salt, start.iterations);
  return { start, nonce: start.nonce, proof: clientProof(keys, am), signature: serverSignature(keys.serverKey, am) };
}

/**
 * A round trip on this connection: every event the server wrote to it before answering this ping has been
 * received when it resolves (one connection, one ordered byte stream).
 */
const barrier = (c: JoChatClient): Promise<unknown> => c.request('ping', {});

const codecs: Record<Protocol, Codec> = { json: jsonCodec, binary: binaryCodec };

/** A bare TCP connection that speaks one protocol through the codecs, below the typed client. */
async function rawConnection(protocol: Protocol) {
  const codec = codecs[protocol];
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = netConnect({ host: server().host, port: server().port }, () => resolve(s));
    s.once('error', reject);
  });
  sockets.push(socket);
  const inbox: Buffer[] = [];
  let waiting: ((b: Buffer) => void) | undefined;
  const reader = new FrameReader(64 * 1024 * 1024, (p) => {
    const copy = Buffer.from(p);
    if (waiting) {
      const w = waiting;
      waiting = undefined;
      w(copy);
    } else inbox.push(copy);
  });
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const pending = new Map<number, PendingInfo>();
  const next = (timeoutMs = 5000): Promise<ServerMessage> =>
    new Promise<Buffer>((resolve, reject) => {
      const b = inbox.shift();
      if (b) return resolve(b);
      const t = setTimeout(() => reject(new Error('no frame from the server')), timeoutMs);
      waiting = (x) => {
        clearTimeout(t);
        resolve(x);
      };
    }).then((payload) => {
      const d = codec.decodeServerMessage(payload, (id) => pending.get(id));
      assert.ok(d.ok, 'the server sent a frame this codec cannot read');
      return d.value;
    });
  return {
    socket,
    closed,
    next,
    hello(id: number): void {
      pending.set(id, { op: 'hello', args: {}, self: '' });
      socket.write(codec.encodeRequest({ kind: 'request', id, op: 'hello', args: {} }));
    },
    writePayload(payload: Buffer): void {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(payload.length, 0);
      socket.write(Buffer.concat([len, payload]));
    },
  };
}

for (const protocol of PROTOCOLS) {
  describe(`auth over ${protocol}`, () => {
    describe('hello and sign-up (C1)', () => {
      test('hello reports the server, protocol version and limits', async () => {
        const c = await client(protocol);
        const r = await c.request('hello', { client: 'auth-test', version: '1' });
        assert.equal(r.server, 'jochat');
        assert.equal(typeof r.version, 'string');
        assert.ok(r.version.length > 0);
        assert.equal(r.protocol, 1);
        assert.equal(r.maxFrame, SPEC_MAX_FRAME);
        assert.equal(r.maxText, SPEC_MAX_TEXT);
        // hello and ping need no session
        assert.deepEqual(await c.request('hello', {}), r);
        assert.deepEqual(await c.request('ping', {}), {});
      });

      test('sign-up logs the connection in, with a token and zero counts; the name is shown as typed', async () => {
        const name = uniqueName('MixedCase');
        const c = await client(protocol);
        const r = await c.signup(name, PASSWORD);
        assert.equal(r.username, name);
        assert.equal(r.pending, 0);
        assert.equal(r.unread, 0);
        assert.equal(typeof r.token, 'string');
        // ≥128 bits of randomness: at least 22 base64 characters
        assert.ok(r.token.length >= 22, `token too short: ${r.token.length}`);
        assert.equal(c.isLoggedIn, true);
        assert.deepEqual(await c.request('counts', {}), { pending: 0, unread: 0, byPeer: [] });
        // logged in for real: an op that needs a session works, and list_accounts shows it online
        const list = await c.request('list_accounts', { pattern: name });
        assert.deepEqual(list.accounts, [{ username: name, online: true }]);
      });

      test('a taken name gets USERNAME_TAKEN, case-insensitively', async () => {
        const base = uniqueName('alice');
        await signedUpAs(protocol, base.charAt(0).toUpperCase() + base.slice(1)); // "Alice…"
        const c = await client(protocol);
        await assert.rejects(c.signup(base, PASSWORD), isCode('USERNAME_TAKEN')); // "alice…"
        await assert.rejects(c.signup(base.toUpperCase(), PASSWORD), isCode('USERNAME_TAKEN'));
        assert.equal(c.isLoggedIn, false);
        await assert.rejects(c.request('counts', {}), isCode('NOT_LOGGED_IN'));
      });

      test('invalid usernames get INVALID_USERNAME; 1 and 32 characters of A–Z a–z 0–9 _ . - are fine', async () => {
        const c = await client(protocol);
        const bad = ['', 'x'.repeat(33), 'has space', 'ünïcödé', 'emoji😀', 'semi;colon', 'a,b', 'per%cent', 'tab\tname'];
        for (const name of bad)
          await assert.rejects(c.signup(name, PASSWORD), isCode('INVALID_USERNAME'), `"${name}" must be refused`);
        assert.equal(c.isLoggedIn, false);
        const tag = uniqueName('').replace(/_/g, '');
        const ok32 = ('Z9_.-' + tag + 'q'.repeat(32)).slice(0, 32);
        assert.equal(ok32.length, 32);
        assert.equal((await c.signup(ok32, PASSWORD)).username, ok32);
        await c.logout();
        // a one-character name: unique in this server run (other describe blocks use the other letters)
        const one = protocol === 'json' ? 'J' : 'B';
        assert.equal((await c.signup(one, PASSWORD)).username, one);
      });

      test('fewer than 4096 iterations, bad key sizes → BAD_REQUEST; exactly 4096 is accepted', async () => {
        const c = await client(protocol);
        const name = uniqueName('iter');
        const weak = await newKeys(PASSWORD, SPEC_MIN_ITERATIONS - 1);
        const { salt, storedKey, serverKey } = weak;
        await assert.rejects(
          c.request('signup', { username: name, salt, iterations: SPEC_MIN_ITERATIONS - 1, storedKey, serverKey }),
          isCode('BAD_REQUEST'),
        );
        await assert.rejects(
          c.request('signup', { username: name, salt, iterations: 0, storedKey, serverKey }),
          isCode('BAD_REQUEST'),
        );
        await assert.rejects(
          c.request('signup', { username: name, salt, iterations: 5000, storedKey: storedKey.subarray(0, 16), serverKey }),
          isCode('BAD_REQUEST'),
        );
        // none of these created the account
        const ok = await newKeys(PASSWORD, SPEC_MIN_ITERATIONS);
        const r = await c.request('signup', {
          username: name,
          salt: ok.salt,
          iterations: ok.iterations,
          storedKey: ok.storedKey,
          serverKey: ok.serverKey,
        });
        assert.equal(r.username, name);
        const start = await c.request('login_start', { username: name, clientNonce: newNonce() });
        assert.equal(start.iterations, SPEC_MIN_ITERATIONS);
        assert.deepEqual(Buffer.from(start.salt), ok.salt);
      });
    });

    describe('log in (C2)', () => {
      test('the right password logs in, reports pending and unread, and the server proves itself', async () => {
        const name = uniqueName('bob');
        const peer = uniqueName('peer');
        const { c: b } = await signedUpAs(protocol, name);
        await b.logout();
        const { c: p } = await signedUpAs(protocol, peer);
        for (const t of ['one', 'two', 'three']) assert.equal((await p.send(name, t)).delivered, false);

        const c = await client(protocol);
        const r = await c.login(name, PASSWORD); // the client verifies serverSignature; it throws if wrong
        assert.equal(r.username, name);
        assert.equal(r.pending, 3);
        assert.equal(r.unread, 3);
        assert.ok(r.token.length >= 22);
        assert.equal(c.isLoggedIn, true);
        const counts = await c.request('counts', {});
        assert.deepEqual(counts, { pending: 3, unread: 3, byPeer: [{ peer, unread: 3 }] });
      });

      test('login by hand: serverSignature is HMAC(ServerKey, AuthMessage); any case of the name works', async () => {
        const name = uniqueName('Carol');
        await (await signedUpAs(protocol, name)).c.logout();
        const c = await client(protocol);
        const typed = name.toLowerCase();
        const pr = await prove(c, typed, PASSWORD);
        assert.equal(pr.start.iterations, SPEC_MIN_ITERATIONS);
        const r = await c.request('login_finish', { nonce: pr.nonce, proof: pr.proof });
        assert.deepEqual(Buffer.from(r.serverSignature), pr.signature);
        assert.equal(r.username, name, 'the name is shown as it was signed up');
      });

      test('wrong password and unknown username both get AUTH_FAILED with the same message', async () => {
        const name = uniqueName('dave');
        await (await signedUpAs(protocol, name)).c.logout();
        const c = await client(protocol);
        const wrong = await errorOf(c.login(name, 'not the password'));
        assert.equal(wrong.code, 'AUTH_FAILED');
        const unknown = await errorOf(c.login(uniqueName('nobody'), PASSWORD));
        assert.equal(unknown.code, 'AUTH_FAILED');
        assert.equal(unknown.message, wrong.message);
        assert.equal(c.isLoggedIn, false);
        await assert.rejects(c.request('counts', {}), isCode('NOT_LOGGED_IN'));
        // and the right one still works afterwards
        assert.equal((await c.login(name, PASSWORD)).username, name);
      });

      test('login_start for an unknown name: a deterministic fake salt, 600000 iterations', async () => {
        const c = await client(protocol);
        const ghost = uniqueName('ghost');
        const other = uniqueName('ghost');
        const a1 = await c.request('login_start', { username: ghost, clientNonce: newNonce() });
        const a2 = await c.request('login_start', { username: ghost, clientNonce: newNonce() });
        const b1 = await c.request('login_start', { username: other, clientNonce: newNonce() });
        assert.deepEqual(Buffer.from(a1.salt), Buffer.from(a2.salt));
        assert.notDeepEqual(Buffer.from(a1.salt), Buffer.from(b1.salt));
        assert.equal(a1.salt.length, 16, 'the same size as a real salt from the JoChat client');
        assert.equal(a1.iterations, CLIENT_DEFAULT_ITERATIONS);
        assert.equal(b1.iterations, CLIENT_DEFAULT_ITERATIONS);
        // like a real account, any case of the name gives the same salt
        const a3 = await c.request('login_start', { username: ghost.toUpperCase(), clientNonce: newNonce() });
        assert.deepEqual(Buffer.from(a3.salt), Buffer.from(a1.salt));
        // the combined nonce starts with the client's
        const cn = newNonce();
        const s = await c.request('login_start', { username: ghost, clientNonce: cn });
        assert.ok(s.nonce.startsWith(cn) && s.nonce.length > cn.length);
        // a real account answers with its own salt, every time
        const real = uniqueName('real');
        const { c: rc } = await signedUpAs(protocol, real);
        const r1 = await rc.request('login_start', { username: real, clientNonce: newNonce() });
        const r2 = await c.request('login_start', { username: real, clientNonce: newNonce() });
        assert.deepEqual(Buffer.from(r1.salt), Buffer.from(r2.salt));
      });

      test('login_start refuses a bad client nonce with BAD_REQUEST', async () => {
        const c = await client(protocol);
        const name = uniqueName('nonce');
        for (const clientNonce of ['', 'has,comma', 'has space', 'x'.repeat(129), 'ünï'])
          await assert.rejects(c.request('login_start', { username: name, clientNonce }), isCode('BAD_REQUEST'), clientNonce);
        const ok = await c.request('login_start', { username: name, clientNonce: 'x'.repeat(128) });
        assert.ok(ok.nonce.startsWith('x'.repeat(128)));
      });

      test('a login_start nonce is single-use', async () => {
        const name = uniqueName('erin');
        await (await signedUpAs(protocol, name)).c.logout();
        const c = await client(protocol);
        const pr = await prove(c, name, PASSWORD);
        await c.request('login_finish', { nonce: pr.nonce, proof: pr.proof });
        await c.request('logout', {});
        await assert.rejects(c.request('login_finish', { nonce: pr.nonce, proof: pr.proof }), isCode('AUTH_FAILED'));
        // a failed attempt also uses the nonce up: the right proof after a wrong one fails
        const pr2 = await prove(c, name, PASSWORD);
        await assert.rejects(
          c.request('login_finish', { nonce: pr2.nonce, proof: Buffer.alloc(32, 7) }),
          isCode('AUTH_FAILED'),
        );
        await assert.rejects(c.request('login_finish', { nonce: pr2.nonce, proof: pr2.proof }), isCode('AUTH_FAILED'));
        // a nonce from another connection is not this connection's
        const d = await client(protocol);
        const pr3 = await prove(c, name, PASSWORD);
        await assert.rejects(d.request('login_finish', { nonce: pr3.nonce, proof: pr3.proof }), isCode('AUTH_FAILED'));
        // an invented nonce
        await assert.rejects(d.request('login_finish', { nonce: 'made-up', proof: pr3.proof }), isCode('AUTH_FAILED'));
      });

      test('a connection holds 4 login attempts at most: a fifth drops the oldest; the others stay usable', async () => {
        const name = uniqueName('fay');
        await (await signedUpAs(protocol, name)).c.logout();
        const c = await client(protocol);
        const starts: (Result<'login_start'> & { clientNonce: string })[] = [];
        for (let i = 0; i < 5; i++) {
          const clientNonce = newNonce();
          starts.push({ clientNonce, ...(await c.request('login_start', { username: name, clientNonce })) });
        }
        const keys = await deriveKeys(PASSWORD, starts[0]!.salt, starts[0]!.iterations);
        const proof = (s: (typeof starts)[number]) =>
          clientProof(keys, authMessage(name, s.clientNonce, s.nonce, s.salt, s.iterations));
        await assert.rejects(c.request('login_finish', { nonce: starts[0]!.nonce, proof: proof(starts[0]!) }), isCode('AUTH_FAILED'));
        // The newest and an older one both work, each once; after the last is used, a new attempt works again.
        for (const s of [starts[4]!, starts[1]!, starts[2]!, starts[3]!]) {
          await c.request('login_finish', { nonce: s.nonce, proof: proof(s) });
          await c.request('logout', {});
        }
        await assert.rejects(c.request('login_finish', { nonce: starts[2]!.nonce, proof: proof(starts[2]!) }), isCode('AUTH_FAILED'));
        const again = await prove(c, name, PASSWORD);
        await c.request('login_finish', { nonce: again.nonce, proof: again.proof });
      });

      test('every operation that needs a session gets NOT_LOGGED_IN before logging in', async () => {
        const c = await client(protocol);
        const someone = uniqueName('someone');
        await signedUpAs(protocol, someone);
        const calls: [string, Promise<unknown>][] = [
          ['logout', c.request('logout', {})],
          ['counts', c.request('counts', {})],
          ['send', c.request('send', { to: someone, text: 'hi' })],
          ['fetch_pending', c.request('fetch_pending', { limit: 10 })],
          ['mark_read', c.request('mark_read', { ids: [1] })],
          ['conversations', c.request('conversations', {})],
          ['history', c.request('history', { peer: someone })],
          ['list_accounts', c.request('list_accounts', { pattern: '' })],
          ['delete_messages', c.request('delete_messages', { ids: [1] })],
          ['delete_account', c.request('delete_account', { nonce: 'x', proof: Buffer.alloc(32) })],
          [
            'change_password',
            c.request('change_password', {
              nonce: 'x',
              proof: Buffer.alloc(32),
              salt: Buffer.alloc(16),
              iterations: 5000,
              storedKey: Buffer.alloc(32),
              serverKey: Buffer.alloc(32),
            }),
          ],
        ];
        for (const [op, p] of calls) await assert.rejects(p, isCode('NOT_LOGGED_IN'), op);
        // after a logout too
        const { c: d } = await signedUpAs(protocol, uniqueName('gone'));
        await d.logout();
        await assert.rejects(d.request('counts', {}), isCode('NOT_LOGGED_IN'));
        await assert.rejects(d.request('send', { to: someone, text: 'hi' }), isCode('NOT_LOGGED_IN'));
      });

      test('signup, login_finish and resume while logged in get ALREADY_LOGGED_IN', async () => {
        const name = uniqueName('frank');
        const other = uniqueName('other');
        await (await signedUpAs(protocol, other)).c.logout();
        const { c, token } = await signedUpAs(protocol, name);
        const k = await newKeys(PASSWORD, SPEC_MIN_ITERATIONS);
        const fresh = uniqueName('fresh');
        await assert.rejects(
          c.request('signup', { username: fresh, salt: k.salt, iterations: k.iterations, storedKey: k.storedKey, serverKey: k.serverKey }),
          isCode('ALREADY_LOGGED_IN'),
        );
        const pr = await prove(c, other, PASSWORD); // login_start itself is allowed
        await assert.rejects(c.request('login_finish', { nonce: pr.nonce, proof: pr.proof }), isCode('ALREADY_LOGGED_IN'));
        await assert.rejects(c.request('resume', { token }), isCode('ALREADY_LOGGED_IN'));
        // still logged in as before, and the refused sign-up created nothing
        const list = await c.request('list_accounts', { pattern: fresh });
        assert.deepEqual(list.accounts, []);
        const mine = await c.request('list_accounts', { pattern: name });
        assert.deepEqual(mine.accounts, [{ username: name, online: true }]);
        const x = await client(protocol);
        assert.equal((await x.login(other, PASSWORD)).username, other, 'the other account was not logged in by c');
      });
    });

    describe('one session per account (C3) and resume (C4)', () => {
      test('a login elsewhere takes over: session_ended, NOT_LOGGED_IN, and the old token is dead', async () => {
        const name = uniqueName('gina');
        const { c: first, token: oldToken } = await signedUpAs(protocol, name);
        const log1 = new EventLog(first);
        const second = await client(protocol);
        const r = await second.login(name, PASSWORD);
        assert.equal(r.username, name);
        assert.deepEqual(await log1.wait('session_ended'), { reason: 'signed_in_elsewhere' });
        await assert.rejects(first.request('counts', {}), isCode('NOT_LOGGED_IN'));
        assert.equal(first.isLoggedIn, false);
        const third = await client(protocol);
        await assert.rejects(third.resume(oldToken), isCode('AUTH_FAILED'));
        // the second connection is the logged-in one
        assert.deepEqual(await second.request('counts', {}), { pending: 0, unread: 0, byPeer: [] });
        const list = await second.request('list_accounts', { pattern: name });
        assert.deepEqual(list.accounts, [{ username: name, online: true }]);
        // and a connection is logged in to one account at most: the first can log in to another one
        const other = uniqueName('other');
        await (await signedUpAs(protocol, other)).c.logout();
        assert.equal((await first.login(other, PASSWORD)).username, other);
        assert.deepEqual(await second.request('counts', {}), { pending: 0, unread: 0, byPeer: [] });
      });

      test('resume with the token on a new connection: username, pending and unread', async () => {
        const name = uniqueName('hank');
        const peer = uniqueName('peer');
        const { c: h, token } = await signedUpAs(protocol, name);
        const { c: p } = await signedUpAs(protocol, peer);
        const logP = new EventLog(p);
        await h.send(peer, 'hello peer'); // a conversation, so p sees h's presence
        await logP.wait('message');
        h.close(); // the connection drops; the token stays valid
        await logP.wait('presence', (d) => d.username === name && !d.online);
        assert.equal((await p.send(name, 'while away 1')).delivered, false);
        assert.equal((await p.send(name, 'while away 2')).delivered, false);

        const c = await client(protocol);
        const r = await c.resume(token);
        assert.deepEqual(r, { username: name, pending: 2, unread: 2 });
        assert.equal(c.isLoggedIn, true);
        const fetched = await c.request('fetch_pending', { limit: 10 });
        assert.deepEqual(
          fetched.messages.map((m) => m.text),
          ['while away 1', 'while away 2'],
        );
        // a made-up token does not resume
        const d = await client(protocol);
        await assert.rejects(d.resume('not-a-token'), isCode('AUTH_FAILED'));
        await assert.rejects(d.resume(''), isCode('AUTH_FAILED'));
      });

      test('resume of a logged-in account elsewhere takes over too', async () => {
        const name = uniqueName('ivy');
        const { c: a, token } = await signedUpAs(protocol, name);
        const logA = new EventLog(a);
        const b = await client(protocol);
        assert.equal((await b.resume(token)).username, name);
        assert.deepEqual(await logA.wait('session_ended'), { reason: 'signed_in_elsewhere' });
        await assert.rejects(a.request('counts', {}), isCode('NOT_LOGGED_IN'));
      });
      test('resuming while the server still holds the old connection keeps the token alive for the next resume', async () => {
        // A reload or a network change: the client reconnects and resumes with its token before the server has
        // noticed that the old connection is dead. The session moves to the new connection, and the token it holds
        // must keep working (C4), or the next reload would ask for the password.
        const name = uniqueName('quinn');
        const { c: old, token } = await signedUpAs(protocol, name);
        const logOld = new EventLog(old);
        const fresh = await client(protocol);
        assert.equal((await fresh.resume(token)).username, name);
        await logOld.wait('session_ended', (d) => d.reason === 'signed_in_elsewhere');
        fresh.close(); // the next reload
        const again = await client(protocol);
        const r = await again.resume(token);
        assert.equal(r.username, name);
      });
    });

    describe('log out (C5) and password change (C12b)', () => {
      test('logout ends the session and revokes its token', async () => {
        const name = uniqueName('jack');
        const { c, token } = await signedUpAs(protocol, name);
        await c.logout();
        assert.equal(c.isLoggedIn, false);
        await assert.rejects(c.request('counts', {}), isCode('NOT_LOGGED_IN'));
        await assert.rejects(c.request('logout', {}), isCode('NOT_LOGGED_IN'));
        const d = await client(protocol);
        await assert.rejects(d.resume(token), isCode('AUTH_FAILED'));
        // the account is not online any more
        const e = (await signedUpAs(protocol, uniqueName('eye'))).c;
        const list = await e.request('list_accounts', { pattern: name });
        assert.deepEqual(list.accounts, [{ username: name, online: false }]);
        // the password still works
        assert.equal((await d.login(name, PASSWORD)).username, name);
      });

      test('change_password: the old password stops working, the new one works, other tokens die', async () => {
        const name = uniqueName('kate');
        const { c: a, token: t1 } = await signedUpAs(protocol, name);
        a.close(); // t1 stays valid after a drop
        const b = await client(protocol);
        const t2 = (await b.login(name, PASSWORD)).token;
        let t3: string | undefined;
        b.on('token', (t) => (t3 = t));

        await assert.rejects(b.changePassword('wrong old password', 'new secret'), isCode('AUTH_FAILED'));
        assert.equal(t3, undefined);
        assert.equal(b.isLoggedIn, true, 'a refused change leaves the session alone');
        await b.changePassword(PASSWORD, 'new secret');
        assert.ok(t3 !== undefined && t3 !== t2 && t3 !== t1);
        assert.equal(b.isLoggedIn, true);
        await b.request('counts', {}); // still logged in

        const c = await client(protocol);
        await assert.rejects(c.resume(t1), isCode('AUTH_FAILED'));
        await assert.rejects(c.resume(t2), isCode('AUTH_FAILED'));
        await assert.rejects(c.login(name, PASSWORD), isCode('AUTH_FAILED'));
        // the returned token works (and takes the session over from b)
        const logB = new EventLog(b);
        assert.equal((await c.resume(t3!)).username, name);
        await logB.wait('session_ended', (d) => d.reason === 'signed_in_elsewhere');
        await c.logout();
        const d = await client(protocol);
        assert.equal((await d.login(name, 'new secret')).username, name);
      });

      test('change_password with too few iterations is refused and changes nothing', async () => {
        const name = uniqueName('liam');
        const { c } = await signedUpAs(protocol, name);
        const pr = await prove(c, name, PASSWORD);
        const k = await newKeys('weak', SPEC_MIN_ITERATIONS - 1);
        await assert.rejects(
          c.request('change_password', {
            nonce: pr.nonce,
            proof: pr.proof,
            ...k,
          }),
          isCode('BAD_REQUEST'),
        );
        await c.logout();
        assert.equal((await c.login(name, PASSWORD)).username, name);
      });

      test("change_password proven with another account's password is refused", async () => {
        const name = uniqueName('mona');
        const other = uniqueName('nick');
        await (await signedUpAs(protocol, other)).c.logout();
        const { c } = await signedUpAs(protocol, name);
        const pr = await prove(c, other, PASSWORD); // a valid proof, but for someone else
        const k = await newKeys('hijack', SPEC_MIN_ITERATIONS);
        await assert.rejects(
          c.request('change_password', {
            nonce: pr.nonce,
            proof: pr.proof,
            ...k,
          }),
          isCode('AUTH_FAILED'),
        );
        const x = await client(protocol);
        assert.equal((await x.login(other, PASSWORD)).username, other);
      });
    });

    describe('delete account (C12)', () => {
      test('the wrong password → AUTH_FAILED, and nothing is deleted', async () => {
        const name = uniqueName('olga');
        const peer = uniqueName('peer');
        const { c: a, token } = await signedUpAs(protocol, name);
        const { c: p } = await signedUpAs(protocol, peer);
        await a.send(peer, 'kept');
        await assert.rejects(a.deleteAccount('wrong password'), isCode('AUTH_FAILED'));
        assert.equal(a.isLoggedIn, true);
        await a.request('counts', {});
        const h = await p.request('history', { peer: name });
        assert.deepEqual(
          h.messages.map((m) => m.text),
          ['kept'],
        );
        // a session token alone (no fresh proof) is not enough
        await assert.rejects(
          a.request('delete_account', { nonce: 'stolen', proof: Buffer.alloc(32) }),
          isCode('AUTH_FAILED'),
        );
        // someone else's proof is not enough either
        const pr = await prove(a, peer, PASSWORD);
        await assert.rejects(a.request('delete_account', { nonce: pr.nonce, proof: pr.proof }), isCode('AUTH_FAILED'));
        a.close();
        const b = await client(protocol);
        assert.equal((await b.resume(token)).username, name, 'the token still works');
        await b.logout();
        assert.equal((await b.login(name, PASSWORD)).username, name);
      });

      test('the right password deletes the account, its messages and tokens; peers are told', async () => {
        const name = uniqueName('pete');
        const peer = uniqueName('peer');
        const away = uniqueName('away');
        const bystander = uniqueName('by');
        const { c: a, token } = await signedUpAs(protocol, name);
        const { c: p } = await signedUpAs(protocol, peer);
        const { c: q } = await signedUpAs(protocol, away);
        await q.logout();
        const { c: by } = await signedUpAs(protocol, bystander);
        const logA = new EventLog(a);
        const logP = new EventLog(p);
        const logBy = new EventLog(by);

        const sentByA = (await a.send(peer, 'from a, unread')).message.id;
        const sentByP = (await p.send(name, 'from p')).message.id;
        await p.send(bystander, 'p to by');
        assert.equal((await a.send(away, 'pending for q')).delivered, false);
        await logP.wait('message', (d) => d.message.text === 'from a, unread');
        assert.equal((await p.request('counts', {})).unread, 1);

        await a.deleteAccount(PASSWORD);
        assert.deepEqual(await logA.wait('session_ended'), { reason: 'account_deleted' });
        assert.deepEqual(await logP.wait('account_deleted'), { username: name });
        assert.equal(a.isLoggedIn, false);
        await assert.rejects(a.request('counts', {}), isCode('NOT_LOGGED_IN'));

        // the peer: no conversation, no unread from it, no history (the name is gone)
        await logP.wait('counts', (d) => d.unread === 0);
        const counts = await p.request('counts', {});
        assert.deepEqual(counts, { pending: 0, unread: 0, byPeer: [] });
        const convs = await p.request('conversations', {});
        assert.deepEqual(
          convs.conversations.map((c) => c.peer),
          [bystander],
        );
        await assert.rejects(p.request('history', { peer: name }), isCode('NO_SUCH_USER'));
        await assert.rejects(p.request('send', { to: name, text: 'hello?' }), isCode('NO_SUCH_USER'));
        // both directions are really gone (not just hidden): deleting them finds nothing to delete
        assert.deepEqual(await p.request('delete_messages', { ids: [sentByA, sentByP] }), {
          deleted: [],
          refused: [sentByA, sentByP],
        });
        // someone who never talked to it is not told
        await barrier(by);
        assert.equal(logBy.of('account_deleted').length, 0);

        // the pending message for the offline user is gone too
        const q2 = await client(protocol);
        const lq = await q2.login(away, PASSWORD);
        assert.equal(lq.pending, 0);
        assert.equal(lq.unread, 0);
        assert.deepEqual((await q2.request('fetch_pending', { limit: 10 })).messages, []);
        assert.deepEqual((await q2.request('conversations', {})).conversations, []);

        // its tokens and password are dead
        const x = await client(protocol);
        await assert.rejects(x.resume(token), isCode('AUTH_FAILED'));
        await assert.rejects(x.login(name, PASSWORD), isCode('AUTH_FAILED'));
        const list = await p.request('list_accounts', { pattern: name });
        assert.deepEqual(list.accounts, []);
        assert.equal(list.total, 0);

        // the name is free again (in any case), and the new account starts empty
        const renamed = name.toUpperCase();
        const y = await client(protocol);
        const r = await y.signup(renamed, 'another password');
        assert.deepEqual([r.username, r.pending, r.unread], [renamed, 0, 0]);
        assert.deepEqual((await p.request('history', { peer: renamed })).messages, []);
        assert.deepEqual((await y.request('conversations', {})).conversations, []);
        const z = await client(protocol);
        await assert.rejects(z.resume(token), isCode('AUTH_FAILED'), 'an old token must not open the new account');
      });
    });

    describe('heartbeat (C13)', () => {
      let idle: TestServer;
      before(async () => {
        idle = await startServer({ args: ['--idle-timeout', '1'] });
      });
      after(async () => {
        await idle.stop();
        idle.cleanup();
      });

      test('a silent connection is closed after the idle timeout and its session ends; a pinging one stays', async () => {
        const silent = await connectClient(idle, protocol, { reconnect: false, pingIntervalMs: 600_000 });
        const chatty = await connectClient(idle, protocol, { reconnect: false, pingIntervalMs: 100 });
        clients.push(silent, chatty);
        const sName = uniqueName('silent');
        const cName = uniqueName('chatty');
        const { token } = await silent.signup(sName, PASSWORD);
        await chatty.signup(cName, PASSWORD);
        const logS = new EventLog(silent);
        const logC = new EventLog(chatty);
        const closed = new Promise<void>((resolve) => silent.on('state', (st) => st === 'offline' && resolve()));
        const t0 = Date.now();
        await silent.send(cName, 'then silence'); // a conversation, so chatty sees silent's presence

        assert.deepEqual(await logS.wait('session_ended', () => true, 5000), { reason: 'idle' });
        await closed;
        assert.ok(Date.now() - t0 >= 900, 'not closed before the idle timeout');
        await logC.wait('presence', (d) => d.username === sName && !d.online, 5000);
        // the pinging connection outlived the silent one and is still logged in
        assert.deepEqual(await chatty.request('counts', {}), { pending: 0, unread: 1, byPeer: [{ peer: sName, unread: 1 }] });
        assert.equal(chatty.state, 'online');
        // idle is not a logout: the token resumes
        const back = await connectClient(idle, protocol, { reconnect: false });
        clients.push(back);
        assert.equal((await back.resume(token)).username, sName);
        back.close();
        chatty.close();
      });
    });

    describe('errors below the typed client', () => {
      test('an unknown operation gets UNKNOWN_OP and the connection goes on', async () => {
        const raw = await rawConnection(protocol);
        raw.hello(1);
        const h = await raw.next();
        assert.equal(h.kind, 'result');
        if (protocol === 'json') raw.writePayload(Buffer.from(JSON.stringify({ id: 2, op: 'teleport', args: {} })));
        else raw.writePayload(Buffer.from([0x3a, 0x02])); // an op code no operation has
        const e = await raw.next();
        assert.equal(e.kind, 'error');
        if (e.kind === 'error') {
          assert.equal(e.id, 2);
          assert.equal(e.error.code, 'UNKNOWN_OP');
          assert.ok(e.error.message.length > 0);
        }
        raw.hello(3);
        const again = await raw.next();
        assert.equal(again.kind, 'result');
      });

      test('a malformed frame gets BAD_REQUEST and does not hurt other connections', async () => {
        const bystander = await client(protocol);
        const raw = await rawConnection(protocol);
        raw.hello(1);
        await raw.next();
        if (protocol === 'json') raw.writePayload(Buffer.from('{"id": 2, "op": "send", "args": {'));
        else raw.writePayload(Buffer.from([0x08, 0x02, 0x05])); // send, id 2, then a truncated string
        const e = await raw.next();
        assert.equal(e.kind, 'error');
        if (e.kind === 'error') assert.equal(e.error.code, 'BAD_REQUEST');
        raw.hello(4);
        assert.equal((await raw.next()).kind, 'result');
        assert.equal((await bystander.request('hello', {})).server, 'jochat');
      });

      test('a frame larger than the maximum gets FRAME_TOO_LARGE and the connection is closed', async () => {
        const bystander = await client(protocol);
        const raw = await rawConnection(protocol);
        raw.hello(1);
        await raw.next(); // the protocol is chosen
        const len = Buffer.alloc(4);
        len.writeUInt32BE(SPEC_MAX_FRAME + 1, 0);
        raw.socket.write(len);
        const e = await raw.next();
        assert.equal(e.kind, 'error');
        if (e.kind === 'error') {
          assert.equal(e.error.code, 'FRAME_TOO_LARGE');
          assert.equal(e.id, 0);
        }
        await raw.closed;
        assert.equal((await bystander.request('hello', {})).server, 'jochat');
      });
    });
  });
}
