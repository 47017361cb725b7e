/**
 * The authorization matrix of docs/SECURITY.md, one test per cell: who may call each operation (anonymous, logged
 * in, or logged in with a fresh proof of one's own password) and what it may touch (only one's own account, one's
 * own conversations, messages one sent or received). Raw connections, so nothing the typed client adds helps; both
 * protocols. Test names are referenced from the matrix.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Protocol } from '../../protocol/codec.js';
import { MIN_ITERATIONS } from '../../protocol/limits.js';
import { OPS, type Args, type OpName } from '../../protocol/ops.js';
import { authMessage, clientProof, deriveKeys, newKeys, newNonce } from '../../protocol/scram.js';
import { PROTOCOLS, uniqueName } from '../helpers/clients.js';
import { RawConnection, RawError, jsonFrame, rawSignup } from '../helpers/raw.js';
import { serverForFile } from '../helpers/server.js';

const raws: RawConnection[] = [];
const server = serverForFile(() => raws.forEach((r) => r.close()));

async function conn(protocol: Protocol): Promise<RawConnection> {
  const c = await RawConnection.open(server().port, protocol);
  raws.push(c);
  return c;
}

async function user(protocol: Protocol, base = 'authz'): Promise<{ c: RawConnection; name: string }> {
  const c = await conn(protocol);
  const name = uniqueName(base);
  await rawSignup(c, name, `pw ${name}`);
  return { c, name };
}

const refusedWith = (code: string) => (e: unknown): boolean => e instanceof RawError && e.code === code;

/** A proof over a fresh login_start on `c` for `username` with `password`. */
async function proof(c: RawConnection, username: string, password: string): Promise<{ nonce: string; proof: Buffer }> {
  const clientNonce = newNonce();
  const start = await c.call('login_start', { username, clientNonce });
  const keys = await deriveKeys(password, start.salt, start.iterations);
  return { nonce: start.nonce, proof: clientProof(keys, authMessage(username, clientNonce, start.nonce, start.salt, start.iterations)) };
}

/** Well-typed arguments for any operation (their values do not matter before the session check). */
async function sampleArgs(op: OpName): Promise<Args<OpName>> {
  const k = await newKeys('x', MIN_ITERATIONS);
  const keys = { salt: k.salt, iterations: k.iterations, storedKey: k.storedKey, serverKey: k.serverKey };
  const all: { [O in OpName]: Args<O> } = {
    hello: {},
    signup: { username: uniqueName('anon'), ...keys },
    login_start: { username: 'someone', clientNonce: 'abc' },
    login_finish: { nonce: 'abc', proof: Buffer.alloc(32) },
    resume: { token: 'not-a-token' },
    logout: {},
    counts: {},
    send: { to: 'someone', text: 'hi' },
    fetch_pending: { limit: 10 },
    mark_read: { ids: [1] },
    conversations: {},
    history: { peer: 'someone' },
    list_accounts: { pattern: '' },
    delete_messages: { ids: [1] },
    delete_account: { nonce: 'abc', proof: Buffer.alloc(32) },
    change_password: { nonce: 'abc', proof: Buffer.alloc(32), ...keys },
    ping: {},
  };
  return all[op] as Args<OpName>;
}

const OP_NAMES = Object.keys(OPS) as OpName[];
const anonymousOps = OP_NAMES.filter((op) => 'anonymous' in OPS[op]);
const sessionOps = OP_NAMES.filter((op) => !('anonymous' in OPS[op]));

for (const protocol of PROTOCOLS) {
  describe(`authorization over ${protocol}`, () => {
    test('anonymous: every operation that needs a session is refused with NOT_LOGGED_IN, and changes nothing', async () => {
      assert.deepEqual(sessionOps.sort(), ['change_password', 'conversations', 'counts', 'delete_account', 'delete_messages', 'fetch_pending', 'history', 'list_accounts', 'logout', 'mark_read', 'send'].sort(), 'the table of docs/SECURITY.md');
      const { name: victim } = await user(protocol, 'victim');
      const c = await conn(protocol);
      for (const op of sessionOps) {
        const args = await sampleArgs(op);
        if (op === 'send') Object.assign(args, { to: victim });
        await assert.rejects(c.call(op, args), refusedWith('NOT_LOGGED_IN'), op);
      }
      const v = await conn(protocol);
      await rawSignup(v, uniqueName('check'), 'pw');
      assert.deepEqual((await v.call('history', { peer: victim })).messages, [], 'the anonymous send stored nothing');
    });

    test('anonymous: hello, ping, login_start, signup, login_finish and resume are allowed (and only those)', async () => {
      assert.deepEqual(anonymousOps.sort(), ['hello', 'login_finish', 'login_start', 'ping', 'resume', 'signup'].sort());
      const c = await conn(protocol);
      assert.equal((await c.call('hello', {})).server, 'jochat');
      assert.deepEqual(await c.call('ping', {}), {});
      const start = await c.call('login_start', { username: 'nobody_here', clientNonce: 'abc' });
      assert.ok(start.nonce.startsWith('abc'));
      await assert.rejects(c.call('login_finish', { nonce: start.nonce, proof: Buffer.alloc(32) }), refusedWith('AUTH_FAILED'));
      await assert.rejects(c.call('resume', { token: 'guess' }), refusedWith('AUTH_FAILED'));
      await rawSignup(c, uniqueName('anon'), 'pw');
    });

    test('login_finish: a nonce belongs to the connection that asked for it', async () => {
      const { c: owner, name } = await user(protocol);
      const start = await proof(owner, name, `pw ${name}`);
      const thief = await conn(protocol);
      await assert.rejects(thief.call('login_finish', start), refusedWith('AUTH_FAILED'), 'a stolen nonce and proof are no use elsewhere');
    });

    test('send: the sender is always the session\'s account, whatever the request says', async () => {
      const { c: mallory } = await user(protocol, 'mallory');
      const { c: bob, name: bobName } = await user(protocol, 'bob');
      const { name: alice } = await user(protocol, 'alice');
      if (protocol === 'json') {
        // Extra members (from, sender) are ignored by the decoder.
        mallory.encode('send', { to: bobName, text: 'spoof?' }, 7); // so the result can be decoded
        mallory.write(jsonFrame({ id: 7, op: 'send', args: { to: bobName, text: 'spoof?', from: alice, sender: alice } }));
        const r = await mallory.response(7);
        assert.equal(r.kind, 'result');
      } else await mallory.call('send', { to: bobName, text: 'spoof?' });
      const m = await bob.event('message', (d) => d.message.text === 'spoof?');
      assert.equal(m.message.from, mallory.self);
    });

    test('history and conversations: only one\'s own conversations', async () => {
      const { c: a, name: aName } = await user(protocol, 'a');
      const { c: b, name: bName } = await user(protocol, 'b');
      const { c: x, name: xName } = await user(protocol, 'x');
      await a.call('send', { to: bName, text: 'a to b, private' });
      await b.call('send', { to: aName, text: 'b to a, private' });
      await x.call('send', { to: aName, text: 'x to a' });
      // x sees its own conversation with a, not a's with b.
      assert.deepEqual((await x.call('history', { peer: aName })).messages.map((m) => m.text), ['x to a']);
      assert.deepEqual((await x.call('history', { peer: bName })).messages, []);
      assert.deepEqual((await x.call('conversations', {})).conversations.map((c) => c.peer), [aName]);
      const seen = (await a.call('history', { peer: xName })).messages.map((m) => m.text);
      assert.deepEqual(seen, ['x to a']);
    });

    test('delete_messages: others\' messages are refused and stay; one\'s own (sent or received) go', async () => {
      const { c: a, name: aName } = await user(protocol, 'a');
      const { c: b, name: bName } = await user(protocol, 'b');
      const { c: x } = await user(protocol, 'x');
      const ab = await a.call('send', { to: bName, text: 'a to b' });
      const ba = await b.call('send', { to: aName, text: 'b to a' });
      const r = await x.call('delete_messages', { ids: [ab.message.id, ba.message.id] });
      assert.deepEqual(r, { deleted: [], refused: [ab.message.id, ba.message.id] });
      assert.equal((await a.call('history', { peer: bName })).messages.length, 2, 'still there for both');
      // b may delete both: one it received, one it sent.
      assert.deepEqual((await b.call('delete_messages', { ids: [ab.message.id, ba.message.id] })).deleted.sort(), [ab.message.id, ba.message.id].sort());
    });

    test('mark_read: only messages one received, by ids or by peer', async () => {
      const { c: a, name: aName } = await user(protocol, 'a');
      const { c: b, name: bName } = await user(protocol, 'b');
      const { c: x } = await user(protocol, 'x');
      const sent = await a.call('send', { to: bName, text: 'unread for b' });
      // The sender, or a third party, marking it changes nothing for b.
      await a.call('mark_read', { ids: [sent.message.id] });
      await x.call('mark_read', { ids: [sent.message.id] });
      await x.call('mark_read', { peer: aName, upTo: Number.MAX_SAFE_INTEGER });
      await a.call('mark_read', { peer: bName, upTo: Number.MAX_SAFE_INTEGER });
      assert.equal((await b.call('counts', {})).unread, 1);
      assert.equal((await b.call('mark_read', { ids: [sent.message.id] })).unread, 0);
    });

    test('fetch_pending and counts: only one\'s own', async () => {
      const { c: a } = await user(protocol, 'a');
      const away = await user(protocol, 'away');
      await away.c.call('logout', {});
      await a.call('send', { to: away.name, text: 'pending for away' });
      const { c: x } = await user(protocol, 'x');
      assert.deepEqual(await x.call('fetch_pending', { limit: 500 }), { messages: [], remaining: 0 });
      assert.deepEqual(await x.call('counts', {}), { pending: 0, unread: 0, byPeer: [] });
      const back = await conn(protocol);
      const l = await proof(back, away.name, `pw ${away.name}`);
      assert.equal((await back.call('login_finish', l)).pending, 1, 'still pending for its owner');
    });

    test('list_accounts: names and online flags only, never keys or salts', async () => {
      const { c, name } = await user(protocol, 'lister');
      const r = await c.call('list_accounts', { pattern: name });
      assert.deepEqual(r.accounts, [{ username: name, online: true }]);
      if (protocol === 'json') {
        const raw = c.frames.at(-1)!.payload.toString('utf8');
        assert.doesNotMatch(raw, /salt|storedKey|serverKey|iterations|token/);
      }
    });

    test('logout: ends only one\'s own session', async () => {
      const { c: a } = await user(protocol, 'a');
      const { c: b } = await user(protocol, 'b');
      await a.call('logout', {});
      assert.equal((await b.call('counts', {})).pending, 0, 'b is still logged in');
    });

    test('delete_account and change_password: need a fresh proof over one\'s own username', async () => {
      const { c: a, name: aName } = await user(protocol, 'a');
      const { c: b, name: bName } = await user(protocol, 'b');
      await b.call('send', { to: aName, text: 'b to a' });
      const k = await newKeys('new', MIN_ITERATIONS);
      const keys = { salt: k.salt, iterations: k.iterations, storedKey: k.storedKey, serverKey: k.serverKey };
      // A session alone: refused.
      await assert.rejects(a.call('delete_account', { nonce: 'none', proof: Buffer.alloc(32) }), refusedWith('AUTH_FAILED'));
      // Someone else's valid proof (b's password over a login_start for b): refused.
      const other = await proof(a, bName, `pw ${bName}`);
      await assert.rejects(a.call('delete_account', other), refusedWith('AUTH_FAILED'));
      const other2 = await proof(a, bName, `pw ${bName}`);
      await assert.rejects(a.call('change_password', { ...other2, ...keys }), refusedWith('AUTH_FAILED'));
      // A proof made on another connection (its nonce): refused.
      const elsewhere = await proof(b, aName, `pw ${aName}`);
      await assert.rejects(a.call('delete_account', elsewhere), refusedWith('AUTH_FAILED'));
      // A used nonce: refused the second time.
      const own = await proof(a, aName, `pw ${aName}`);
      await a.call('change_password', { ...own, ...keys });
      await assert.rejects(a.call('change_password', { ...own, ...keys }), refusedWith('AUTH_FAILED'));
      // One's own fresh proof: works, and deletes only a's account and a's messages.
      const { c: x, name: xName } = await user(protocol, 'x');
      await x.call('send', { to: bName, text: 'x to b, kept' });
      const del = await proof(a, aName, 'new');
      assert.deepEqual(await a.call('delete_account', del), {});
      assert.deepEqual((await b.call('history', { peer: xName })).messages.map((m) => m.text), ['x to b, kept']);
      await assert.rejects(b.call('history', { peer: aName }), refusedWith('NO_SUCH_USER'));
    });

    test('resume: a token logs in only its own account, and a revoked one nothing', async () => {
      const c = await conn(protocol);
      const name = uniqueName('tok');
      const { result } = await rawSignup(c, name, 'pw');
      const other = await conn(protocol);
      assert.equal((await other.call('resume', { token: result.token })).username, name);
      await other.call('logout', {});
      const third = await conn(protocol);
      await assert.rejects(third.call('resume', { token: result.token }), refusedWith('AUTH_FAILED'));
    });
  });
}
