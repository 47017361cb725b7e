/** Storage on a real SQLite file: migrations, query plans, accounts, tokens, messages, search. */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { after, describe, test } from 'node:test';
import { MIGRATIONS } from '../../server/storage/migrations.js';
import { openDatabase } from '../../server/storage/db.js';
import { hashToken, Store, type NewMessage } from '../../server/storage/store.js';

const dir = mkdtempSync(join(tmpdir(), 'jochat-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (): Store => new Store(openDatabase(join(dir, `t${++n}.db`)));
const keys = { salt: Buffer.alloc(16, 1), iterations: 4096, storedKey: Buffer.alloc(32, 2), serverKey: Buffer.alloc(32, 3) };
const msg = (senderId: number, recipientId: number, text: string, extra: Partial<NewMessage> = {}): NewMessage => ({
  senderId,
  recipientId,
  text,
  sentAt: 1000,
  pending: false,
  clientMsgId: undefined,
  ...extra,
});

describe('database', () => {
  test('migrations run once, set user_version, and WAL is on', () => {
    const file = join(dir, 'migrate.db');
    const db1 = openDatabase(file);
    assert.equal(db1.pragma('user_version', { simple: true }), MIGRATIONS.length);
    assert.equal(db1.pragma('journal_mode', { simple: true }), 'wal');
    db1.close();
    const db2 = openDatabase(file); // re-opening must not re-run them
    assert.equal(db2.pragma('user_version', { simple: true }), MIGRATIONS.length);
    assert.equal(db2.pragma('synchronous', { simple: true }), 1, 'NORMAL: the server fsyncs the WAL itself');
    db2.close();
  });

  test('a version 1 database keeps its conversations and pending messages through the later migrations', () => {
    const file = join(dir, 'v1.db');
    const old = new Database(file);
    old.exec(MIGRATIONS[0]!);
    old.pragma('user_version = 1');
    const add = old.prepare("INSERT INTO accounts (username, username_lc, salt, iterations, stored_key, server_key, created_at) VALUES (?, ?, x'00', 4096, x'00', x'00', 1)");
    const a = Number(add.run('a', 'a').lastInsertRowid);
    const b = Number(add.run('b', 'b').lastInsertRowid);
    const send = old.prepare('INSERT INTO messages (sender_id, recipient_id, text, sent_at, pending, unread) VALUES (?, ?, ?, 1, ?, 1)');
    send.run(a, b, 'delivered', 0);
    send.run(a, b, 'waiting', 1);
    send.run(b, a, 'reply', 0);
    old.close();
    const st = new Store(openDatabase(file));
    assert.equal(st.pendingCount(b), 1);
    assert.deepEqual(st.takePending(b, 10, 1000, () => 10).messages.map((m) => m.text), ['waiting']);
    assert.deepEqual(st.history(a, b, Number.MAX_SAFE_INTEGER, 10).messages.map((m) => m.text), ['reply', 'waiting', 'delivered']);
    assert.deepEqual(st.peersOf(a), [b]);
    assert.deepEqual(st.conversations(b).map((c) => c.peer), [a]);
    assert.deepEqual(st.unreadByPeer(b), [{ peerId: a, peer: 'a', unread: 2 }]);
    assert.deepEqual(st.unreadByPeer(a), [{ peerId: b, peer: 'b', unread: 1 }]);
  });

  test('a database from a newer server is refused', () => {
    const file = join(dir, 'newer.db');
    const db = openDatabase(file);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    assert.throws(() => openDatabase(file), /newer than this server/);
  });

  test('every statement uses an index (but the one reading every name at start)', () => {
    const st = fresh();
    for (const [name, stmt] of Object.entries(st.s)) {
      const params = (stmt.source.match(/\?/g) ?? []).length;
      const named = Object.fromEntries((stmt.source.match(/@\w+/g) ?? []).map((p) => [p.slice(1), null]));
      const explain = st.db.prepare('EXPLAIN QUERY PLAN ' + stmt.source);
      const plan = (params > 0 ? explain.all(...Array(params).fill(null)) : explain.all(named)) as { detail: string }[];
      for (const { detail } of plan) {
        const fullScan = /^SCAN (?!CONSTANT ROW|\(subquery)/.test(detail);
        if (name !== 'accountNames') assert.ok(!fullScan, `${name} scans a table: ${detail}`);
      }
    }
  });
});

describe('accounts and tokens', () => {
  test('names are unique case-insensitively and kept as typed', () => {
    const st = fresh();
    const id = st.createAccount('Alice', keys, 1);
    assert.ok(id);
    assert.equal(st.createAccount('aLICE', keys, 2), undefined);
    assert.equal(st.accountByName('ALICE')?.username, 'Alice');
  });

  test('tokens are stored hashed, expire, and die with revocation or a key change', () => {
    const st = fresh();
    const id = st.createAccount('bob', keys, 1)!;
    const { token, hash } = st.createToken(id, 1000, 500);
    assert.deepEqual(hash, hashToken(token));
    const stored = st.db.prepare('SELECT token_hash FROM sessions').all() as { token_hash: Buffer }[];
    assert.ok(stored.every((r) => !r.token_hash.toString('latin1').includes(token)));
    assert.equal(st.tokenAccount(hash, 1499), id);
    assert.equal(st.tokenAccount(hash, 1500), undefined);
    const t2 = st.createToken(id, 1000, 500);
    st.revokeToken(t2.hash);
    assert.equal(st.tokenAccount(t2.hash, 1001), undefined);
    const t3 = st.createToken(id, 1000, 500);
    st.changeKeys(id, keys);
    assert.equal(st.tokenAccount(t3.hash, 1001), undefined);
  });

  test('deleting an account removes its messages both ways and its tokens, and frees the name', () => {
    const st = fresh();
    const a = st.createAccount('a', keys, 1)!;
    const b = st.createAccount('b', keys, 1)!;
    const c = st.createAccount('c', keys, 1)!;
    st.insertMessages([msg(a, b, 'ab'), msg(b, a, 'ba'), msg(b, c, 'bc')]);
    const { hash } = st.createToken(a, 1, 1000);
    assert.deepEqual(st.deleteAccount(a), [b]);
    assert.equal(st.tokenAccount(hash, 2), undefined);
    assert.deepEqual(
      st.history(b, c, Number.MAX_SAFE_INTEGER, 10).messages.map((m) => m.text),
      ['bc'],
    );
    assert.equal((st.db.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n, 1);
    assert.ok(st.createAccount('A', keys, 3));
  });
});

describe('messages', () => {
  test('peersOf lists each conversation partner once, in either direction, and never oneself', () => {
    const st = fresh();
    const [me, lower, higher, stranger] = ['me', 'lower', 'higher', 'stranger'].map((u) => st.createAccount(u, keys, 1)!);
    // ids: me < lower < higher; "lower" talks to me first (so the pair is stored (me, lower)), "higher" both ways.
    st.insertMessages([msg(lower!, me!, 'hi'), msg(me!, higher!, 'yo'), msg(higher!, me!, 'back'), msg(me!, me!, 'note')]);
    st.insertMessages([msg(stranger!, higher!, 'elsewhere')]);
    assert.deepEqual([...st.peersOf(me!)].sort((x, y) => x - y), [lower, higher]);
    assert.deepEqual([...st.peersOf(higher!)].sort((x, y) => x - y), [me, stranger]);
    assert.deepEqual(st.peersOf(stranger!), [higher]);
  });

  test('a repeated clientMsgId returns the first message instead of a duplicate', () => {
    const st = fresh();
    const a = st.createAccount('a', keys, 1)!;
    const b = st.createAccount('b', keys, 1)!;
    const [first, again, other] = st.insertMessages([
      msg(a, b, 'one', { clientMsgId: 'x1' }),
      msg(a, b, 'one', { clientMsgId: 'x1' }),
      msg(b, a, 'two', { clientMsgId: 'x1' }), // another sender may use the same id
    ]);
    assert.equal(first!.duplicate, undefined);
    assert.equal(again!.duplicate?.id, first!.id);
    assert.equal(other!.duplicate, undefined);
    assert.equal((st.db.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n, 2);
  });

  test('pending messages come oldest first, within the byte budget, and stop being pending', () => {
    const st = fresh();
    const a = st.createAccount('a', keys, 1)!;
    const b = st.createAccount('b', keys, 1)!;
    st.insertMessages(['m1', 'm2', 'm3', 'm4'].map((t) => msg(a, b, t, { pending: true })));
    st.insertMessages([msg(a, b, 'pushed'), msg(b, a, 'to a', { pending: true }), msg(a, b, 'm5', { pending: true })]);
    assert.equal(st.pendingCount(b), 5);
    const page = st.takePending(b, 10, 25, () => 10); // room for two
    assert.deepEqual(page.messages.map((m) => m.text), ['m1', 'm2']);
    assert.equal(page.drained, false);
    assert.equal(st.pendingCount(b), 3);
    const one = st.takePending(b, 1, 0, () => 10); // always at least one
    assert.deepEqual(one.messages.map((m) => m.text), ['m3']);
    assert.equal(one.drained, false);
    const exact = st.takePending(b, 2, 1000, () => 10); // a full page: whether more are left is not known
    assert.deepEqual(exact.messages.map((m) => m.text), ['m4', 'm5']);
    assert.equal(exact.drained, false);
    assert.deepEqual(st.takePending(b, 2, 1000, () => 10), { messages: [], drained: true });
    assert.equal(st.pendingCount(b), 0);
    assert.equal(st.pendingCount(a), 1, 'only the recipient\'s messages stop being pending');
    assert.deepEqual(st.unreadByPeer(b), [{ peerId: a, peer: 'a', unread: 6 }]);
    const last = st.takePending(a, 5, 1000, () => 10);
    assert.deepEqual([last.messages.length, last.drained], [1, true]);
  });

  test('taking pending messages deletes a range of the pending table, and touches no message row', () => {
    const st = fresh();
    const plan = st.db.prepare('EXPLAIN QUERY PLAN ' + st.s.pendingClear.source).all(1, 1) as { detail: string }[];
    assert.match(plan.map((r) => r.detail).join('; '), /SEARCH pending USING PRIMARY KEY \(recipient_id=\? AND message_id<\?\)/);
    const a = st.createAccount('a', keys, 1)!;
    const b = st.createAccount('b', keys, 1)!;
    st.insertMessages([msg(a, b, 'waiting', { pending: true })]);
    const changes = st.db.prepare('SELECT total_changes() AS n').pluck();
    const before = changes.get() as number;
    st.takePending(b, 10, 1000, () => 10);
    assert.equal((changes.get() as number) - before, 1, 'one pending row deleted, nothing else changed');
  });

  test('a pending message deleted by its sender, or with its sender\'s account, is no longer pending', () => {
    const st = fresh();
    const a = st.createAccount('a', keys, 1)!;
    const b = st.createAccount('b', keys, 1)!;
    const c = st.createAccount('c', keys, 1)!;
    const [m1] = st.insertMessages([msg(a, b, 'one', { pending: true }), msg(a, b, 'two', { pending: true })]);
    st.insertMessages([msg(c, b, 'from c', { pending: true }), msg(b, a, 'to a', { pending: true })]);
    assert.equal(st.pendingCount(b), 3);
    st.deleteMessages(a, [m1!.id]);
    assert.equal(st.pendingCount(b), 2);
    st.deleteAccount(a);
    assert.equal(st.pendingCount(b), 1, "only c's message is left");
    assert.deepEqual(st.takePending(b, 10, 1000, () => 10).messages.map((m) => m.text), ['from c']);
  });

  test('a retried send says whether the original is still pending', () => {
    const st = fresh();
    const a = st.createAccount('a', keys, 1)!;
    const b = st.createAccount('b', keys, 1)!;
    st.insertMessages([msg(a, b, 'hi', { pending: true, clientMsgId: 'x1' })]);
    const [again] = st.insertMessages([msg(a, b, 'hi', { pending: true, clientMsgId: 'x1' })]);
    assert.equal(again!.duplicate?.text, 'hi');
    assert.equal(again!.duplicate && again!.delivered, false);
    st.takePending(b, 10, 1000, () => 10);
    const [third] = st.insertMessages([msg(a, b, 'hi', { clientMsgId: 'x1' })]);
    assert.equal(third!.duplicate && third!.delivered, true);
    assert.equal(st.pendingCount(b), 0);
  });

  test('history merges both directions newest first with a cursor', () => {
    const st = fresh();
    const a = st.createAccount('a', keys, 1)!;
    const b = st.createAccount('b', keys, 1)!;
    const c = st.createAccount('c', keys, 1)!;
    st.insertMessages([msg(a, b, '1'), msg(b, a, '2'), msg(a, c, 'x'), msg(a, b, '3'), msg(b, a, '4')]);
    const p1 = st.history(a, b, Number.MAX_SAFE_INTEGER, 3);
    assert.deepEqual(p1.messages.map((m) => m.text), ['4', '3', '2']);
    assert.equal(p1.more, true);
    const p2 = st.history(a, b, p1.messages[2]!.id, 3);
    assert.deepEqual(p2.messages.map((m) => m.text), ['1']);
    assert.equal(p2.more, false);
    assert.deepEqual(st.conversations(a).map((r) => r.peer), [b, c]);
  });

  test('only the sender or the recipient may delete a message', () => {
    const st = fresh();
    const a = st.createAccount('a', keys, 1)!;
    const b = st.createAccount('b', keys, 1)!;
    const c = st.createAccount('c', keys, 1)!;
    const [m1, m2] = st.insertMessages([msg(a, b, '1'), msg(b, a, '2')]);
    const r = st.deleteMessages(c, [m1!.id]);
    assert.deepEqual(r, { deleted: [], refused: [m1!.id] });
    const r2 = st.deleteMessages(b, [m1!.id, m2!.id, 999]);
    assert.deepEqual(r2.deleted.map((d) => d.id), [m1!.id, m2!.id]);
    assert.deepEqual(r2.refused, [999]);
  });

  test('mark read by ids and up to an id', () => {
    const st = fresh();
    const a = st.createAccount('a', keys, 1)!;
    const b = st.createAccount('b', keys, 1)!;
    const ids = st.insertMessages(['1', '2', '3'].map((t) => msg(a, b, t))).map((i) => i.id);
    assert.equal(st.markRead(a, [ids[0]!]), 0); // the sender can't mark its own sent message read
    assert.equal(st.markRead(b, [ids[0]!]), 1);
    assert.equal(st.markReadUpTo(b, a, ids[1]!), 1);
    assert.deepEqual(st.unreadByPeer(b), [{ peerId: a, peer: 'a', unread: 1 }]);
  });

  test('marking up to an id reads only the unread stretch of the conversation, through its index', () => {
    const st = fresh();
    const plan = st.db.prepare('EXPLAIN QUERY PLAN ' + st.s.readUpTo.source).all(1, 2, 3, 4, 1) as { detail: string }[];
    assert.match(plan.map((r) => r.detail).join('; '), /SEARCH m USING INDEX messages_by_pair \(<expr>=\? AND <expr>=\? AND id>\? AND id<\?\)/);
    const a = st.createAccount('a', keys, 1)!;
    const b = st.createAccount('b', keys, 1)!;
    const ids = st.insertMessages(['1', '2', '3', '4'].map((t) => msg(a, b, t))).map((i) => i.id);
    st.markReadUpTo(b, a, ids[1]!);
    const since = st.db.prepare('SELECT since FROM unread_counts WHERE recipient_id = ? AND sender_id = ?').pluck();
    assert.equal(since.get(b, a), ids[1]! + 1);
    assert.equal(st.markReadUpTo(b, a, ids[0]!), 0, 'already read');
    assert.equal(st.markReadUpTo(b, a, ids[3]!), 2);
    assert.equal(since.get(b, a), undefined, 'no row once nothing is unread');
  });

  test('unread counts always equal the unread messages, whatever the order of sends, reads and deletions', () => {
    type Op =
      | { k: 'send'; from: number; to: number; n: number }
      | { k: 'read'; who: number; picks: number[] }
      | { k: 'upTo'; who: number; peer: number; pick: number }
      | { k: 'delete'; who: number; picks: number[] }
      | { k: 'deleteAccount'; who: number };
    const who = fc.integer({ min: 0, max: 3 });
    const pick = fc.nat(1000);
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ k: fc.constant('send' as const), from: who, to: who, n: fc.integer({ min: 1, max: 4 }) }) },
      { weight: 2, arbitrary: fc.record({ k: fc.constant('read' as const), who, picks: fc.array(pick, { maxLength: 4 }) }) },
      { weight: 2, arbitrary: fc.record({ k: fc.constant('upTo' as const), who, peer: who, pick }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('delete' as const), who, picks: fc.array(pick, { maxLength: 3 }) }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('deleteAccount' as const), who }) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const st = fresh();
        let accounts = ['a', 'b', 'c', 'd'].map((name) => st.createAccount(name, keys, 1)!);
        const all = (): number[] => (st.db.prepare('SELECT id FROM messages ORDER BY id').pluck().all() as number[]);
        const at = (ids: number[], i: number): number => ids.length === 0 ? 1 : ids[i % ids.length]!;
        const truth = st.db.prepare(
          `SELECT m.sender_id AS peerId, a.username AS peer, count(*) AS unread FROM messages m JOIN accounts a ON a.id = m.sender_id
           WHERE m.recipient_id = ? AND m.unread = 1 GROUP BY m.sender_id ORDER BY m.sender_id`,
        );
        const firstUnread = st.db.prepare('SELECT min(id) FROM messages WHERE recipient_id = ? AND sender_id = ? AND unread = 1').pluck();
        for (const o of ops) {
          const id = (i: number) => accounts[i]!;
          if (o.k === 'send') st.insertMessages(Array.from({ length: o.n }, () => msg(id(o.from), id(o.to), 't')));
          else if (o.k === 'read') st.markRead(id(o.who), o.picks.map((p) => at(all(), p)));
          else if (o.k === 'upTo') st.markReadUpTo(id(o.who), id(o.peer), at(all(), o.pick));
          else if (o.k === 'delete') st.deleteMessages(id(o.who), o.picks.map((p) => at(all(), p)));
          else {
            st.deleteAccount(id(o.who));
            accounts = accounts.map((x, i) => (i === o.who ? st.createAccount(`n${x}`, keys, 1)! : x));
          }
          for (const r of accounts) {
            assert.deepEqual(st.unreadByPeer(r), truth.all(r));
            for (const c of st.unreadByPeer(r)) {
              const since = st.db.prepare('SELECT since FROM unread_counts WHERE recipient_id = ? AND sender_id = ?').pluck().get(r, c.peerId) as number;
              assert.ok(since <= (firstUnread.get(r, c.peerId) as number), 'since never passes an unread message');
            }
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('account search', () => {
  const names = (st: Store, pattern: string): string[] =>
    st.searchAccounts(pattern, '', 1000).accounts.map((a) => a.username);

  test('a substring without wildcards, a whole-name glob with them, any case, every other character literal', () => {
    const st = fresh();
    for (const name of ['Alice', 'kalina', 'bob', 'a_c', 'abc', 'Bobby', 'a.c', 'a-c', 'Rob']) st.createAccount(name, keys, 1);
    assert.deepEqual(names(st, 'ali'), ['Alice', 'kalina']);
    assert.deepEqual(names(st, 'ALI'), ['Alice', 'kalina']);
    assert.deepEqual(names(st, 'bob'), ['bob', 'Bobby']);
    assert.deepEqual(names(st, 'b*'), ['bob', 'Bobby']);
    assert.deepEqual(names(st, 'B*Y'), ['Bobby']);
    assert.deepEqual(names(st, '?ob'), ['bob', 'Rob']);
    assert.deepEqual(names(st, '*ob'), ['bob', 'Rob']);
    assert.deepEqual(names(st, 'bob?'), []);
    assert.deepEqual(names(st, 'bob??'), ['Bobby']);
    assert.deepEqual(names(st, '*o*b*'), ['bob', 'Bobby', 'Rob']);
    assert.deepEqual(names(st, 'a?c'), ['a-c', 'a.c', 'a_c', 'abc']);
    assert.deepEqual(names(st, 'a_c'), ['a_c']);
    assert.deepEqual(names(st, 'a.c'), ['a.c']);
    assert.deepEqual(names(st, 'a.?'), ['a.c']);
    for (const literal of ['a%c', '%', '(a)', 'a|b', '[a]*', '^a*', 'a+', '\\', '*c$', 'é']) assert.deepEqual(names(st, literal), [], literal);
    const all = ['a-c', 'a.c', 'a_c', 'abc', 'Alice', 'bob', 'Bobby', 'kalina', 'Rob'];
    assert.deepEqual(names(st, ''), all);
    assert.deepEqual(names(st, '**'), all);
    assert.equal(st.searchAccounts('*', '', 1).total, all.length);
  });

  test('substrings and globs agree with plain matchers', () => {
    const st = fresh();
    // A fixed pseudo-random sequence: the same cases every run.
    let seed = 7;
    const rand = (n: number): number => (seed = (seed * 48271) % 2147483647) % n;
    const pick = (chars: string, len: number): string => Array.from({ length: len }, () => chars[rand(chars.length)]).join('');
    const all = new Set<string>();
    while (all.size < 300) all.add(pick('ab.7_3', 1 + rand(8)));
    for (const name of all) st.createAccount(rand(2) ? name : name.toUpperCase(), keys, 1);
    const glob = (p: string, s: string): boolean =>
      p === ''
        ? s === ''
        : p[0] === '*'
          ? glob(p.slice(1), s) || (s !== '' && glob(p, s.slice(1)))
          : s !== '' && (p[0] === '?' || p[0] === s[0]) && glob(p.slice(1), s.slice(1));
    const sorted = [...all].sort();
    for (let i = 0; i < 400; i++) {
      const p = pick('abB.7_3*?', 1 + rand(7));
      const lp = p.toLowerCase();
      const want = sorted.filter((s) => (/[*?]/.test(lp) ? glob(lp, s) : s.includes(lp)));
      const page = st.searchAccounts(p, '', 1000);
      assert.deepEqual(page.accounts.map((a) => a.username.toLowerCase()), want, p);
      assert.equal(page.total, want.length, p);
    }
  });

  test('many stars cost a pass per star, not a try of every way to place them', () => {
    const st = fresh();
    // Each name has a `b`, but before its run of `a`s: trying every way to place 20 `a`s would take about a minute.
    for (let i = 0; i < 200; i++) st.createAccount(`b${'a'.repeat(28)}${i}`, keys, 1);
    assert.deepEqual(names(st, '*a'.repeat(20) + '*b'), []);
  });

  test('pages follow the cursor in name order, each with the total of all matches', () => {
    const st = fresh();
    const all = Array.from({ length: 27 }, (_, i) => `${i % 4 === 0 ? 'P' : 'p'}${String(i).padStart(2, '0')}`);
    for (const name of [...all].reverse()) st.createAccount(name, keys, 1);
    st.createAccount('xp00', keys, 1);
    const seen: string[] = [];
    let cursor = '';
    for (let pages = 1; ; pages++) {
      const page = st.searchAccounts('p*', cursor, 10);
      assert.equal(page.total, 27);
      seen.push(...page.accounts.map((a) => a.username));
      if (page.next === null) {
        assert.equal(pages, 3);
        break;
      }
      assert.equal(page.accounts.length, 10);
      cursor = page.next;
    }
    assert.deepEqual(seen, all);
    // A cursor outlives the account it names.
    const first = st.searchAccounts('p', '', 5);
    assert.equal(first.total, 28);
    st.deleteAccount(first.accounts[4]!.id);
    assert.deepEqual(
      st.searchAccounts('p', first.next!, 3).accounts.map((a) => a.username),
      ['p05', 'p06', 'p07'],
    );
  });

  test('sign-ups and deletions show at once, and a new Store reads every name back', () => {
    const st = fresh();
    const alice = st.createAccount('Alice', keys, 1)!;
    assert.equal(st.createAccount('aLICE', keys, 1), undefined); // still the database's to refuse
    assert.deepEqual(names(st, 'ali'), ['Alice']);
    const zed = st.createAccount('Zed', keys, 1)!;
    st.createAccount('zedd', keys, 1);
    assert.deepEqual(names(st, 'ZED'), ['Zed', 'zedd']);
    st.deleteAccount(zed);
    assert.deepEqual(names(st, 'zed'), ['zedd']);
    assert.equal(st.searchAccounts('', '', 10).total, 2);
    assert.ok(st.createAccount('zEd', keys, 1));
    st.deleteAccount(alice);
    assert.deepEqual(names(new Store(st.db), '*'), ['zEd', 'zedd']);
    assert.deepEqual(
      st.searchAccounts('z*', '', 1).accounts.map((a) => a.id),
      [st.accountByName('zed')!.id],
    );
  });
});
