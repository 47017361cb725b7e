/**
 * Integration: messages against the real server bundle, in both wire protocols — sending (C7), messages while away
 * (C8), read state and counts (C9), conversations and history (C10), deleting messages (C11), presence and order
 * (C14).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JoChatClient } from '../../protocol/client.js';
import type { Protocol } from '../../protocol/codec.js';
import type { Counts, Message } from '../../protocol/ops.js';
import { connectClient, EventLog, PROTOCOLS, uniqueName , isCode } from '../helpers/clients.js';
import { serverForFile } from '../helpers/server.js';

const PASSWORD = 'correct horse';
const SPEC_MAX_TEXT = 16_384;

const clients: JoChatClient[] = [];
const server = serverForFile(() => clients.forEach((c) => c.close()));

interface User {
  name: string;
  c: JoChatClient;
  log: EventLog;
}

async function user(protocol: Protocol, base = 'u'): Promise<User> {
  const name = uniqueName(base);
  const c = await connectClient(server(), protocol, { reconnect: false });
  clients.push(c);
  const log = new EventLog(c);
  await c.signup(name, PASSWORD);
  return { name, c, log };
}

/** A user who signed up and logged out: messages to it are kept pending. */
async function offlineUser(protocol: Protocol, base = 'off'): Promise<string> {
  const u = await user(protocol, base);
  await u.c.logout();
  u.c.close();
  return u.name;
}

async function login(protocol: Protocol, name: string) {
  const c = await connectClient(server(), protocol, { reconnect: false });
  clients.push(c);
  const log = new EventLog(c);
  const r = await c.login(name, PASSWORD);
  return { name, c, log, r };
}

/** A round trip: every event the server wrote to this connection before the answer has arrived when it resolves. */
const barrier = (c: JoChatClient): Promise<unknown> => c.request('ping', {});

/** The wire fields of SPEC's Message. */
const core = (m: Message) => ({ id: m.id, from: m.from, to: m.to, text: m.text, sentAt: m.sentAt });

const sortedCounts = (c: Counts): Counts => ({ ...c, byPeer: [...c.byPeer].sort((x, y) => (x.peer < y.peer ? -1 : 1)) });

const increasing = (ns: number[]): boolean => ns.every((n, i) => i === 0 || n > ns[i - 1]!);

for (const protocol of PROTOCOLS) {
  describe(`messages over ${protocol}`, () => {
    describe('send (C7)', () => {
      test('to an online recipient: delivered, pushed with the same fields, then a counts event', async () => {
        const a = await user(protocol, 'alice');
        const b = await user(protocol, 'bob');
        const before = Date.now();
        const r = await a.c.send(b.name, 'hello bob');
        assert.equal(r.delivered, true);
        assert.ok(r.message.id > 0);
        assert.equal(r.message.from, a.name);
        assert.equal(r.message.to, b.name);
        assert.equal(r.message.text, 'hello bob');
        assert.ok(r.message.sentAt >= before - 5000 && r.message.sentAt <= Date.now() + 5000, 'sentAt is ms since epoch');

        const ev = await b.log.wait('message', (d) => d.message.id === r.message.id);
        assert.deepEqual(core(ev.message), core(r.message));
        const counts = await b.log.wait('counts');
        assert.deepEqual(counts, { pending: 0, unread: 1, byPeer: [{ peer: a.name, unread: 1 }] });
        const iMsg = b.log.events.findIndex((e) => e.event === 'message');
        const iCounts = b.log.events.findIndex((e) => e.event === 'counts');
        assert.ok(iMsg >= 0 && iCounts > iMsg, 'the counts event follows the message');

        // the sender gets no push of its own message
        await barrier(a.c);
        assert.equal(a.log.of('message').length, 0);
        // the name as typed in another case reaches the same account, shown as signed up
        const r2 = await a.c.send(b.name.toUpperCase(), 'case');
        assert.equal(r2.message.to, b.name);
        const ev2 = await b.log.wait('message', (d) => d.message.id === r2.message.id);
        assert.equal(ev2.message.to, b.name);
        assert.equal(ev2.message.from, a.name);
      });

      test('to an offline recipient: not delivered, and login reports it pending', async () => {
        const a = await user(protocol, 'alice');
        const bName = await offlineUser(protocol, 'bob');
        for (const t of ['one', 'two', 'three']) {
          const r = await a.c.send(bName, t);
          assert.equal(r.delivered, false);
          assert.equal(r.message.to, bName);
        }
        const b = await login(protocol, bName);
        assert.equal(b.r.pending, 3);
        assert.equal(b.r.unread, 3);
        // pending messages are not pushed at login: the user fetches them
        await barrier(b.c);
        assert.equal(b.log.of('message').length, 0);
        assert.deepEqual(await b.c.request('counts', {}), { pending: 3, unread: 3, byPeer: [{ peer: a.name, unread: 3 }] });
      });

      test('NO_SUCH_USER, BAD_REQUEST for empty text or a bad clientMsgId', async () => {
        const a = await user(protocol, 'alice');
        const b = await user(protocol, 'bob');
        await assert.rejects(a.c.send(uniqueName('nobody'), 'hi'), isCode('NO_SUCH_USER'));
        await assert.rejects(a.c.send('not a valid name!', 'hi'), isCode('NO_SUCH_USER'));
        await assert.rejects(a.c.send(b.name, ''), isCode('BAD_REQUEST'));
        await assert.rejects(a.c.request('send', { to: b.name, text: 'x', clientMsgId: '' }), isCode('BAD_REQUEST'));
        await assert.rejects(
          a.c.request('send', { to: b.name, text: 'x', clientMsgId: 'k'.repeat(65) }),
          isCode('BAD_REQUEST'),
        );
        // nothing of that was stored or pushed
        await barrier(b.c);
        assert.equal(b.log.of('message').length, 0);
        assert.deepEqual((await a.c.request('history', { peer: b.name })).messages, []);
      });

      test('text up to exactly 16384 bytes of UTF-8 is accepted, 16385 gets TEXT_TOO_LONG', async () => {
        const a = await user(protocol, 'alice');
        const b = await user(protocol, 'bob');
        const fits = [
          'a'.repeat(SPEC_MAX_TEXT),
          '€'.repeat(5461) + 'a', // 3-byte characters
          '😀'.repeat(4096), // 4-byte characters (2 UTF-16 units each)
          'é'.repeat(8192), // 2-byte characters
        ];
        const tooLong = [
          'a'.repeat(SPEC_MAX_TEXT + 1),
          '€'.repeat(5461) + 'ab',
          '😀'.repeat(4096) + 'a',
          'é'.repeat(8192) + 'a',
          '€'.repeat(5462), // 16386 bytes in only 5462 UTF-16 units
        ];
        for (const t of fits) assert.equal(Buffer.byteLength(t), SPEC_MAX_TEXT);
        for (const t of tooLong) assert.ok(Buffer.byteLength(t) > SPEC_MAX_TEXT);
        for (const t of fits) {
          const r = await a.c.send(b.name, t);
          const ev = await b.log.wait('message', (d) => d.message.id === r.message.id);
          assert.equal(ev.message.text, t);
        }
        for (const t of tooLong) await assert.rejects(a.c.send(b.name, t), isCode('TEXT_TOO_LONG'));
        const h = await b.c.request('history', { peer: a.name });
        assert.deepEqual(
          h.messages.map((m) => m.text),
          [...fits].reverse(),
        );
      });

      test('to yourself: delivered and pushed to the same connection, one conversation with yourself', async () => {
        const a = await user(protocol, 'self');
        const r = await a.c.send(a.name, 'note to self');
        assert.equal(r.delivered, true);
        assert.equal(r.message.from, a.name);
        assert.equal(r.message.to, a.name);
        const ev = await a.log.wait('message');
        assert.deepEqual(core(ev.message), core(r.message));
        await a.log.wait('counts', (d) => d.unread === 1);
        assert.deepEqual(await a.c.request('counts', {}), { pending: 0, unread: 1, byPeer: [{ peer: a.name, unread: 1 }] });
        const h = await a.c.request('history', { peer: a.name });
        assert.deepEqual(h.messages.map(core), [core(r.message)], 'one message, not one per direction');
        const conv = await a.c.request('conversations', {});
        assert.equal(conv.conversations.length, 1);
        assert.equal(conv.conversations[0]!.peer, a.name);
        assert.equal(conv.conversations[0]!.lastMessage.id, r.message.id);
        assert.equal((await a.c.request('mark_read', { peer: a.name, upTo: r.message.id })).unread, 0);
      });

      test('the same clientMsgId twice stores and pushes one message and answers with the same id', async () => {
        const a = await user(protocol, 'alice');
        const b = await user(protocol, 'bob');
        const r1 = await a.c.request('send', { to: b.name, text: 'once', clientMsgId: 'retry-1' });
        const r2 = await a.c.request('send', { to: b.name, text: 'once', clientMsgId: 'retry-1' });
        assert.equal(r2.message.id, r1.message.id);
        assert.equal(r2.message.sentAt, r1.message.sentAt);
        // the retry tells the truth about the first one: it reached bob, who is online
        assert.equal(r1.delivered, true);
        assert.equal(r2.delivered, true);
        // both at once (one group commit)
        const [r3, r4] = await Promise.all([
          a.c.request('send', { to: b.name, text: 'twice at once', clientMsgId: 'retry-2' }),
          a.c.request('send', { to: b.name, text: 'twice at once', clientMsgId: 'retry-2' }),
        ]);
        assert.equal(r4.message.id, r3.message.id);
        assert.notEqual(r3.message.id, r1.message.id);
        // another sender may use the same clientMsgId: it is a different message
        const c = await user(protocol, 'carol');
        const r5 = await c.c.request('send', { to: b.name, text: 'mine', clientMsgId: 'retry-1' });
        assert.notEqual(r5.message.id, r1.message.id);

        await b.log.wait('message', (d) => d.message.id === r5.message.id);
        await barrier(b.c);
        const ids = b.log.of('message').map((d) => d.message.id);
        assert.deepEqual(ids, [r1.message.id, r3.message.id, r5.message.id]);
        const h = await b.c.request('history', { peer: a.name });
        assert.deepEqual(
          h.messages.map((m) => m.text),
          ['twice at once', 'once'],
        );
        assert.equal((await b.c.request('counts', {})).unread, 3);
      });

      test('ids increase in send order and pushes arrive in that order (200 quick sends)', async () => {
        const a = await user(protocol, 'alice');
        const b = await user(protocol, 'bob');
        const n = 200;
        const acks = await Promise.all(Array.from({ length: n }, (_, i) => a.c.send(b.name, `n${i}`)));
        assert.ok(acks.every((r) => r.delivered));
        const ids = acks.map((r) => r.message.id);
        assert.ok(increasing(ids), 'ids follow the send order');
        assert.ok(acks.every((r, i) => i === 0 || r.message.sentAt >= acks[i - 1]!.message.sentAt));
        await b.log.wait('message', (d) => d.message.text === `n${n - 1}`);
        const got = b.log.of('message').map((d) => d.message);
        assert.deepEqual(
          got.map((m) => m.text),
          Array.from({ length: n }, (_, i) => `n${i}`),
        );
        assert.deepEqual(
          got.map((m) => m.id),
          ids,
        );
        await b.log.wait('counts', (d) => d.unread === n);
      });
      test('with several senders at once, pushes to one recipient still come in id order', async () => {
        const b = await user(protocol, 'bob');
        const senders = await Promise.all([user(protocol, 's1'), user(protocol, 's2'), user(protocol, 's3')]);
        const n = 60;
        const acks = await Promise.all(
          senders.flatMap((s) => Array.from({ length: n }, (_, i) => s.c.send(b.name, `${s.name}:${i}`))),
        );
        const all = new Set(acks.map((r) => r.message.id));
        assert.equal(all.size, acks.length, 'every message has its own id');
        for (const s of senders) {
          const mine = acks.filter((r) => r.message.from === s.name).map((r) => r.message.id);
          assert.ok(increasing(mine), 'ids follow each sender\'s order');
        }
        await b.log.wait('message', () => b.log.of('message').length === acks.length);
        const got = b.log.of('message').map((d) => d.message);
        assert.ok(increasing(got.map((m) => m.id)), 'pushed in commit (id) order');
        assert.deepEqual(new Set(got.map((m) => m.id)), all);
        assert.ok(got.every((m, i) => i === 0 || m.sentAt >= got[i - 1]!.sentAt), 'sentAt never goes back');
      });
    });

    describe('messages while away (C8)', () => {
      test('fetch_pending: oldest first, remaining decreases, fetched ones stop being pending', async () => {
        const a = await user(protocol, 'alice');
        const bName = await offlineUser(protocol, 'bob');
        const acks = [];
        for (let i = 0; i < 5; i++) acks.push(await a.c.send(bName, `m${i}`));
        const b = await login(protocol, bName);
        assert.equal(b.r.pending, 5);

        const f1 = await b.c.request('fetch_pending', { limit: 2 });
        assert.deepEqual(f1.messages.map(core), acks.slice(0, 2).map((r) => core(r.message)));
        assert.equal(f1.remaining, 3);
        // `remaining` is the new pending count: unread did not change, so no counts event follows a fetch.
        assert.equal((await b.c.request('counts', {})).pending, 3);
        assert.ok(!b.log.events.some((e) => e.event === 'counts' && e.data.pending === 3));
        const f2 = await b.c.request('fetch_pending', { limit: 2 });
        assert.deepEqual(
          f2.messages.map((m) => m.text),
          ['m2', 'm3'],
        );
        assert.equal(f2.remaining, 1);
        const f3 = await b.c.request('fetch_pending', { limit: 2 });
        assert.deepEqual(
          f3.messages.map((m) => m.text),
          ['m4'],
        );
        assert.equal(f3.remaining, 0);
        const f4 = await b.c.request('fetch_pending', { limit: 2 });
        assert.deepEqual(f4, { messages: [], remaining: 0 });

        // no longer pending, still unread, still in the history
        assert.deepEqual(await b.c.request('counts', {}), { pending: 0, unread: 5, byPeer: [{ peer: a.name, unread: 5 }] });
        assert.equal((await b.c.request('history', { peer: a.name })).messages.length, 5);
        await b.c.logout();
        const again = await b.c.login(bName, PASSWORD);
        assert.equal(again.pending, 0);
        assert.equal(again.unread, 5);
      });

      test('a page that ends exactly at the last pending message: remaining 0, then an empty page', async () => {
        const a = await user(protocol, 'alice');
        const bName = await offlineUser(protocol, 'bob');
        for (let i = 0; i < 4; i++) await a.c.send(bName, `m${i}`);
        const b = await login(protocol, bName);
        assert.equal((await b.c.request('fetch_pending', { limit: 2 })).remaining, 2);
        const f2 = await b.c.request('fetch_pending', { limit: 2 });
        assert.deepEqual([f2.messages.map((m) => m.text), f2.remaining], [['m2', 'm3'], 0]);
        assert.equal((await b.c.request('counts', {})).pending, 0);
        assert.deepEqual(await b.c.request('fetch_pending', { limit: 2 }), { messages: [], remaining: 0 });
      });

      test('pending messages deleted while their recipient is online: remaining and counts end exact', async () => {
        const a = await user(protocol, 'alice');
        const bName = await offlineUser(protocol, 'bob');
        const acks = [];
        for (let i = 0; i < 4; i++) acks.push(await a.c.send(bName, `m${i}`));
        const b = await login(protocol, bName);
        assert.equal(b.r.pending, 4);
        // Read before it was fetched, then deleted by its sender: no unread count changes, so nothing recounts.
        const id = acks[0]!.message.id;
        assert.deepEqual(await b.c.request('mark_read', { ids: [id] }), { unread: 3 });
        assert.deepEqual(await a.c.request('delete_messages', { ids: [id] }), { deleted: [id], refused: [] });
        const f = await b.c.request('fetch_pending', { limit: 10 });
        assert.deepEqual([f.messages.map((m) => m.text), f.remaining], [['m1', 'm2', 'm3'], 0]);
        assert.equal((await b.c.request('counts', {})).pending, 0);
      });

      test('320 pending messages come in one fetch with limit 500', async () => {
        const a = await user(protocol, 'alice');
        const bName = await offlineUser(protocol, 'bob');
        const n = 320;
        const acks = await Promise.all(Array.from({ length: n }, (_, i) => a.c.send(bName, `p${i}`)));
        assert.ok(acks.every((r) => !r.delivered));
        const b = await login(protocol, bName);
        assert.equal(b.r.pending, n);
        const f = await b.c.request('fetch_pending', { limit: 500 });
        assert.equal(f.messages.length, n);
        assert.equal(f.remaining, 0);
        assert.deepEqual(
          f.messages.map((m) => m.id),
          acks.map((r) => r.message.id),
        );
        assert.deepEqual(
          f.messages.map((m) => m.text),
          Array.from({ length: n }, (_, i) => `p${i}`),
        );
      });

      test('pages of large messages stay within the 1 MiB frame: fetch and history split them', async () => {
        const a = await user(protocol, 'alice');
        const bName = await offlineUser(protocol, 'bob');
        // 70 × 16384 bytes is over 1 MiB in any encoding; control characters take 6 bytes each in JSON (\u0001)
        const texts = Array.from({ length: 70 }, (_, i) =>
          i % 2 === 0 ? String(i).padEnd(SPEC_MAX_TEXT, 'x') : String(i).padEnd(SPEC_MAX_TEXT, '\u0001'),
        );
        for (const t of texts) await a.c.send(bName, t);
        // a client that refuses frames over SPEC's 1 MiB default: an oversized page would drop its connection
        const c = await connectClient(server(), protocol, { reconnect: false, maxFrame: 1024 * 1024 });
        clients.push(c);
        assert.equal((await c.login(bName, PASSWORD)).pending, texts.length);
        const got: string[] = [];
        let remaining = texts.length;
        let fetches = 0;
        while (remaining > 0) {
          const f = await c.request('fetch_pending', { limit: 500 });
          assert.ok(f.messages.length > 0, 'every fetch makes progress');
          assert.equal(f.remaining, remaining - f.messages.length);
          got.push(...f.messages.map((m) => m.text));
          remaining = f.remaining;
          assert.ok(++fetches <= texts.length);
        }
        assert.ok(fetches > 1, 'the messages did not fit one frame, so it took several fetches');
        assert.deepEqual(got, texts);
        const pages: string[] = [];
        let before: number | undefined;
        for (;;) {
          const h = await c.request('history', { peer: a.name, limit: 500, ...(before === undefined ? {} : { before }) });
          pages.push(...h.messages.map((m) => m.text));
          if (!h.more) break;
          assert.ok(h.messages.length > 0);
          before = h.messages[h.messages.length - 1]!.id;
        }
        assert.deepEqual(pages, [...texts].reverse());
      });

      test('fetch_pending limit 0 → BAD_REQUEST, 501 → TOO_MANY, 500 is fine', async () => {
        const a = await user(protocol, 'alice');
        await assert.rejects(a.c.request('fetch_pending', { limit: 0 }), isCode('BAD_REQUEST'));
        await assert.rejects(a.c.request('fetch_pending', { limit: 501 }), isCode('TOO_MANY'));
        assert.deepEqual(await a.c.request('fetch_pending', { limit: 500 }), { messages: [], remaining: 0 });
        assert.deepEqual(await a.c.request('fetch_pending', { limit: 1 }), { messages: [], remaining: 0 });
      });
    });

    describe('read state and counts (C9)', () => {
      test('mark_read by ids and by {peer, upTo} lowers unread; counts are pushed', async () => {
        const a = await user(protocol, 'alice');
        const c = await user(protocol, 'carol');
        const b = await user(protocol, 'bob');
        const x = [];
        for (let i = 0; i < 4; i++) x.push((await a.c.send(b.name, `x${i}`)).message.id);
        const fromC = (await c.c.send(b.name, 'from carol')).message.id;
        await b.log.wait('counts', (d) => d.unread === 5);

        assert.deepEqual(await b.c.request('mark_read', { ids: [x[0]!] }), { unread: 4 });
        await b.log.wait('counts', (d) => d.unread === 4);
        assert.deepEqual(
          sortedCounts(await b.c.request('counts', {})),
          sortedCounts({
            pending: 0,
            unread: 4,
            byPeer: [
              { peer: a.name, unread: 3 },
              { peer: c.name, unread: 1 },
            ],
          }),
        );

        // everything from alice up to x2: x1 and x2 (x0 is read already); carol's message is not hers
        assert.deepEqual(await b.c.request('mark_read', { peer: a.name, upTo: x[2]! }), { unread: 2 });
        await b.log.wait('counts', (d) => d.unread === 2);
        const h = await b.c.request('history', { peer: a.name });
        assert.deepEqual(
          h.messages.map((m) => [m.text, m.unread]),
          [
            ['x3', true],
            ['x2', false],
            ['x1', false],
            ['x0', false],
          ],
        );

        // the sender cannot mark the recipient's messages read; nor can anyone mark others' messages
        assert.deepEqual(await a.c.request('mark_read', { ids: [x[3]!] }), { unread: 0 });
        assert.deepEqual(await c.c.request('mark_read', { peer: a.name, upTo: x[3]! }), { unread: 0 });
        assert.equal((await b.c.request('counts', {})).unread, 2);
        // marking read what is read changes nothing
        assert.deepEqual(await b.c.request('mark_read', { ids: [x[0]!, x[1]!] }), { unread: 2 });
        // a peer name in any case
        assert.deepEqual(await b.c.request('mark_read', { peer: c.name.toUpperCase(), upTo: fromC }), { unread: 1 });
        assert.deepEqual(await b.c.request('counts', {}), { pending: 0, unread: 1, byPeer: [{ peer: a.name, unread: 1 }] });
        // read state survives a new login
        await b.c.logout();
        assert.equal((await b.c.login(b.name, PASSWORD)).unread, 1);
      });

      test('mark_read with both forms or neither → BAD_REQUEST, >500 ids → TOO_MANY, unknown peer → NO_SUCH_USER', async () => {
        const a = await user(protocol, 'alice');
        const b = await user(protocol, 'bob');
        const id = (await a.c.send(b.name, 'm')).message.id;
        await b.log.wait('message');
        const bad = [
          {},
          { ids: [id], peer: a.name, upTo: id },
          { ids: [id], peer: a.name },
          { ids: [id], upTo: id },
          { peer: a.name },
          { upTo: id },
          { ids: [] },
        ];
        for (const args of bad)
          await assert.rejects(b.c.request('mark_read', args), isCode('BAD_REQUEST'), JSON.stringify(args));
        await assert.rejects(
          b.c.request('mark_read', { ids: Array.from({ length: 501 }, (_, i) => i + 1) }),
          isCode('TOO_MANY'),
        );
        await assert.rejects(b.c.request('mark_read', { peer: uniqueName('nobody'), upTo: id }), isCode('NO_SUCH_USER'));
        // none of those marked anything
        assert.equal((await b.c.request('counts', {})).unread, 1);
        // 500 ids are fine
        assert.deepEqual(
          await b.c.request('mark_read', { ids: [id, ...Array.from({ length: 499 }, (_, i) => 2 ** 40 + i)] }),
          { unread: 0 },
        );
      });

      test('counts: pending, unread and unread by peer', async () => {
        const bName = await offlineUser(protocol, 'bob');
        const d = await user(protocol, 'dora');
        await d.c.send(bName, 'while away');
        const b = await login(protocol, bName);
        assert.deepEqual(await b.c.request('counts', {}), { pending: 1, unread: 1, byPeer: [{ peer: d.name, unread: 1 }] });
        const a = await user(protocol, 'alice');
        const c = await user(protocol, 'carol');
        await a.c.send(bName, 'a1');
        await a.c.send(bName, 'a2');
        await c.c.send(bName, 'c1');
        await b.log.wait('counts', (x) => x.unread === 4);
        const expected = {
          pending: 1,
          unread: 4,
          byPeer: [
            { peer: a.name, unread: 2 },
            { peer: c.name, unread: 1 },
            { peer: d.name, unread: 1 },
          ],
        };
        assert.deepEqual(sortedCounts(await b.c.request('counts', {})), sortedCounts(expected));
        // the last pushed counts agree with the op
        const pushed = b.log.of('counts');
        assert.deepEqual(sortedCounts(pushed[pushed.length - 1]!), sortedCounts(expected));
        // a sender's own counts do not change by sending
        assert.deepEqual(await a.c.request('counts', {}), { pending: 0, unread: 0, byPeer: [] });
      });
    });

    describe('conversations and history (C10)', () => {
      test('conversations: most recent first, with the last message, unread and online', async () => {
        const b = await user(protocol, 'bob');
        const p1 = await user(protocol, 'pone');
        const p2 = await user(protocol, 'ptwo');
        const p3 = await user(protocol, 'pthree');
        await p1.c.send(b.name, 'p1 first');
        await b.c.send(p2.name, 'b to p2'); // b's own message: nothing unread here
        await p3.c.send(b.name, 'p3 a');
        await p3.c.send(b.name, 'p3 b');
        const last1 = await p1.c.send(b.name, 'p1 again');
        await p2.c.logout();

        const conv = (await b.c.request('conversations', {})).conversations;
        assert.deepEqual(
          conv.map((c) => c.peer),
          [p1.name, p3.name, p2.name],
        );
        assert.deepEqual(core(conv[0]!.lastMessage), core(last1.message));
        assert.equal(conv[1]!.lastMessage.text, 'p3 b');
        assert.equal(conv[2]!.lastMessage.text, 'b to p2');
        assert.equal(conv[2]!.lastMessage.from, b.name);
        assert.deepEqual(
          conv.map((c) => c.unread),
          [2, 2, 0],
        );
        assert.deepEqual(
          conv.map((c) => c.online),
          [true, true, false],
        );
        // the other side sees it too, shown with b's name
        const c1 = (await p1.c.request('conversations', {})).conversations;
        assert.deepEqual(
          c1.map((c) => [c.peer, c.unread, c.online]),
          [[b.name, 0, true]],
        );
        // a new user has none
        const n = await user(protocol, 'new');
        assert.deepEqual(await n.c.request('conversations', {}), { conversations: [] });
      });

      test('history: both directions, newest first, paginated with before and more', async () => {
        const a = await user(protocol, 'alice');
        const b = await user(protocol, 'bob');
        const c = await user(protocol, 'carol');
        const ids: number[] = [];
        for (let i = 0; i < 7; i++) {
          const [from, to] = i % 2 === 0 ? [a, b] : [b, a];
          ids.push((await from.c.send(to.name, `h${i}`)).message.id);
          if (i === 3) await c.c.send(b.name, 'not in this conversation');
        }
        const desc = [...ids].reverse();
        const p1 = await b.c.request('history', { peer: a.name, limit: 3 });
        assert.deepEqual(
          p1.messages.map((m) => m.id),
          desc.slice(0, 3),
        );
        assert.equal(p1.more, true);
        const p2 = await b.c.request('history', { peer: a.name, limit: 3, before: p1.messages[2]!.id });
        assert.deepEqual(
          p2.messages.map((m) => m.id),
          desc.slice(3, 6),
        );
        assert.equal(p2.more, true);
        const p3 = await b.c.request('history', { peer: a.name, limit: 3, before: p2.messages[2]!.id });
        assert.deepEqual(
          p3.messages.map((m) => m.id),
          desc.slice(6),
        );
        assert.equal(p3.more, false);
        // directions and texts
        assert.deepEqual(
          p3.messages.map((m) => [m.from, m.to, m.text]),
          [[a.name, b.name, 'h0']],
        );
        assert.deepEqual(
          p1.messages.map((m) => [m.from, m.to]),
          [
            [a.name, b.name],
            [b.name, a.name],
            [a.name, b.name],
          ],
        );
        // default limit, both sides, exact fit
        const all = await a.c.request('history', { peer: b.name });
        assert.deepEqual(
          all.messages.map((m) => m.id),
          desc,
        );
        assert.equal(all.more, false);
        const exact = await a.c.request('history', { peer: b.name, limit: 7 });
        assert.equal(exact.more, false);
        assert.equal(exact.messages.length, 7);
        const six = await a.c.request('history', { peer: b.name, limit: 6 });
        assert.equal(six.more, true);
        assert.deepEqual(await a.c.request('history', { peer: b.name, before: ids[0]! }), { messages: [], more: false });
        assert.equal((await a.c.request('history', { peer: b.name, limit: 500 })).messages.length, 7);
      });

      test('history: limit > 500 → TOO_MANY, limit 0 → BAD_REQUEST, unknown peer → NO_SUCH_USER', async () => {
        const a = await user(protocol, 'alice');
        const b = await user(protocol, 'bob');
        await assert.rejects(a.c.request('history', { peer: b.name, limit: 501 }), isCode('TOO_MANY'));
        await assert.rejects(a.c.request('history', { peer: b.name, limit: 0 }), isCode('BAD_REQUEST'));
        await assert.rejects(a.c.request('history', { peer: uniqueName('nobody') }), isCode('NO_SUCH_USER'));
        assert.deepEqual(await a.c.request('history', { peer: b.name }), { messages: [], more: false });
      });
    });

    describe('delete messages (C11)', () => {
      test('sender and recipient may delete; gone for both; the other side is told; others are refused', async () => {
        const a = await user(protocol, 'alice');
        const b = await user(protocol, 'bob');
        const c = await user(protocol, 'carol');
        const m1 = (await a.c.send(b.name, 'm1 a→b')).message.id;
        const m2 = (await b.c.send(a.name, 'm2 b→a')).message.id;
        const m3 = (await a.c.send(b.name, 'm3 a→b')).message.id;
        const m4 = (await c.c.send(b.name, 'm4 c→b')).message.id;
        await b.log.wait('message', (d) => d.message.id === m4);
        await b.log.wait('counts', (d) => d.unread === 3);
        const missing = 2 ** 40;

        // a deletes one it sent and one it received; carol's and a missing one are refused
        const r = await a.c.request('delete_messages', { ids: [m1, m2, m4, missing] });
        assert.deepEqual([...r.deleted].sort((x, y) => x - y), [m1, m2]);
        assert.deepEqual([...r.refused].sort((x, y) => x - y), [m4, missing]);
        const ev = await b.log.wait('messages_deleted');
        assert.deepEqual([...ev.ids].sort((x, y) => x - y), [m1, m2]);
        // m1 was unread for b: b's counts drop
        await b.log.wait('counts', (d) => d.unread === 2);
        assert.deepEqual(
          sortedCounts(await b.c.request('counts', {})),
          sortedCounts({
            pending: 0,
            unread: 2,
            byPeer: [
              { peer: a.name, unread: 1 },
              { peer: c.name, unread: 1 },
            ],
          }),
        );
        // gone for both sides; carol's message is still there
        const idsOf = async (u: User, peer: string) =>
          (await u.c.request('history', { peer })).messages.map((m) => m.id);
        assert.deepEqual(await idsOf(a, b.name), [m3]);
        assert.deepEqual(await idsOf(b, a.name), [m3]);
        assert.deepEqual(await idsOf(b, c.name), [m4]);
        assert.deepEqual(await idsOf(c, b.name), [m4]);
        // carol was not told anything
        await barrier(c.c);
        assert.equal(c.log.of('messages_deleted').length, 0);

        // the recipient deletes one it received; the sender is told
        assert.deepEqual(await b.c.request('delete_messages', { ids: [m3] }), { deleted: [m3], refused: [] });
        const ev2 = await a.log.wait('messages_deleted');
        assert.deepEqual(ev2.ids, [m3]);
        assert.deepEqual(await idsOf(a, b.name), []);
        assert.equal((await b.c.request('counts', {})).unread, 1);
        // deleting again: refused, as it no longer exists
        assert.deepEqual(await b.c.request('delete_messages', { ids: [m3] }), { deleted: [], refused: [m3] });
        // the deleted conversation is gone from the list; carol's remains
        assert.deepEqual(
          (await b.c.request('conversations', {})).conversations.map((x) => x.peer),
          [c.name],
        );
      });

      test('deleting a message to an offline user removes it from its pending messages', async () => {
        const a = await user(protocol, 'alice');
        const bName = await offlineUser(protocol, 'bob');
        const keep = (await a.c.send(bName, 'keep')).message.id;
        const drop = (await a.c.send(bName, 'drop')).message.id;
        assert.deepEqual(await a.c.request('delete_messages', { ids: [drop] }), { deleted: [drop], refused: [] });
        const b = await login(protocol, bName);
        assert.equal(b.r.pending, 1);
        assert.equal(b.r.unread, 1);
        const f = await b.c.request('fetch_pending', { limit: 10 });
        assert.deepEqual(
          f.messages.map((m) => m.id),
          [keep],
        );
      });

      test('delete_messages: empty → BAD_REQUEST, more than 500 ids → TOO_MANY', async () => {
        const a = await user(protocol, 'alice');
        const b = await user(protocol, 'bob');
        const id = (await a.c.send(b.name, 'stay')).message.id;
        await assert.rejects(a.c.request('delete_messages', { ids: [] }), isCode('BAD_REQUEST'));
        await assert.rejects(
          a.c.request('delete_messages', { ids: [id, ...Array.from({ length: 500 }, (_, i) => 2 ** 40 + i)] }),
          isCode('TOO_MANY'),
        );
        assert.deepEqual(
          (await b.c.request('history', { peer: a.name })).messages.map((m) => m.id),
          [id],
          'a refused request deletes nothing',
        );
        // exactly 500 are accepted
        const r = await a.c.request('delete_messages', { ids: [id, ...Array.from({ length: 499 }, (_, i) => 2 ** 40 + i)] });
        assert.deepEqual(r.deleted, [id]);
        assert.equal(r.refused.length, 499);
      });
    });

    describe('presence and text (C14, C7)', () => {
      test('peers who share a conversation see log in, log out and a dropped connection', async () => {
        const a = await user(protocol, 'alice');
        const b = await user(protocol, 'bob');
        const stranger = await user(protocol, 'stranger');
        await b.c.send(a.name, 'we share a conversation');
        const isA = (online: boolean) => (d: { username: string; online: boolean }) =>
          d.username === a.name && d.online === online;

        await a.c.logout();
        await b.log.wait('presence', isA(false));
        await a.c.login(a.name, PASSWORD);
        await b.log.wait('presence', isA(true));
        a.c.close();
        await b.log.wait('presence', (d) => isA(false)(d) && b.log.of('presence').filter(isA(false)).length === 2);
        assert.deepEqual(
          b.log.of('presence').filter((d) => d.username === a.name),
          [
            { username: a.name, online: false },
            { username: a.name, online: true },
            { username: a.name, online: false },
          ],
        );
        // someone without a conversation with a hears nothing
        await barrier(stranger.c);
        assert.deepEqual(stranger.log.of('presence'), []);

        // logging in again on a new connection is announced too
        const a2 = await login(protocol, a.name);
        await b.log.wait('presence', () => b.log.of('presence').filter(isA(true)).length === 2);
        // and the presence of b is seen by a when b logs out
        await b.c.logout();
        await a2.log.wait('presence', (d) => d.username === b.name && !d.online);
      });

      test('text round-trips exactly: markup, quotes, unicode, emoji', async () => {
        const a = await user(protocol, 'alice');
        const b = await user(protocol, 'bob');
        const offName = await offlineUser(protocol, 'away');
        const texts = [
          '<img src=x onerror=alert(1)>',
          '<script>alert("x")</script> & &amp; \'single\' "double" `back`',
          'back\\slash \\u0041 {"json": true}',
          'line one\nline two\r\n\ttabbed',
          'Ünïcödé — ‘quotes’ «guillemets» 中文 日本語 한국어 עברית العربية',
          '😀👍🏽👩‍👩‍👧‍👦🇫🇷 e\u0301 \u200b zero width',
          'nul\u0000inside',
          ' ',
        ];
        const sent: Message[] = [];
        for (const t of texts) {
          const r = await a.c.send(b.name, t);
          sent.push(r.message);
          const ev = await b.log.wait('message', (d) => d.message.id === r.message.id);
          assert.equal(ev.message.text, t);
          await a.c.send(offName, t);
        }
        const h = await b.c.request('history', { peer: a.name });
        assert.deepEqual(
          h.messages.map((m) => m.text),
          [...texts].reverse(),
        );
        const conv = await b.c.request('conversations', {});
        assert.equal(conv.conversations[0]!.lastMessage.text, texts[texts.length - 1]);
        const off = await login(protocol, offName);
        const f = await off.c.request('fetch_pending', { limit: 100 });
        assert.deepEqual(
          f.messages.map((m) => m.text),
          texts,
        );
      });
    });
  });
}

describe('presence to peers of both protocols (C14)', () => {
  test('one login reaches every online peer, JSON and binary alike, each in its own protocol', async () => {
    const a = await user('json', 'alice');
    const peers = [await user('json', 'pj'), await user('json', 'pj'), await user('binary', 'pb'), await user('binary', 'pb')];
    for (const p of peers) await p.c.send(a.name, `hi from ${p.name}`);
    await a.c.logout();
    const back = await login('binary', a.name);
    for (const p of peers)
      await p.log.wait('presence', (d) => d.username === a.name && d.online && p.log.of('presence').length === 2);
    for (const p of peers)
      assert.deepEqual(p.log.of('presence'), [
        { username: a.name, online: false },
        { username: a.name, online: true },
      ]);
    assert.equal(back.r.username, a.name);
  });
});
