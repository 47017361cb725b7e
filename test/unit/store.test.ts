/** Storage on a real SQLite file: migrations, query plans, accounts, tokens, messages, search. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { MIGRATIONS } from '../../server/storage/migrations.js';
import { openDatabase } from '../../server/storage/db.js';
import { hashToken, likePattern, Store, type NewMessage } from '../../server/storage/store.js';

const dir = mkdtempSync(join(tmpdir(), 'jochat-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (): Store => new Store(openDatabase(join(dir, `t${++n}.db`), 'normal'));
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
    const db1 = openDatabase(file, 'normal');
    assert.equal(db1.pragma('user_version', { simple: true }), MIGRATIONS.length);
    assert.equal(db1.pragma('journal_mode', { simple: true }), 'wal');
    db1.close();
    const db2 = openDatabase(file, 'full'); // re-opening must not re-run them
    assert.equal(db2.pragma('user_version', { simple: true }), MIGRATIONS.length);
    assert.equal(db2.pragma('synchronous', { simple: true }), 2);
    db2.close();
  });

  test('a database from a newer server is refused', () => {
    const file = join(dir, 'newer.db');
    const db = openDatabase(file, 'normal');
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    assert.throws(() => openDatabase(file, 'normal'), /newer than this server/);
  });

  test('every statement uses an index (only the substring count scans the name index)', () => {
    const st = fresh();
    for (const [name, stmt] of Object.entries(st.s)) {
      const params = (stmt.source.match(/\?/g) ?? []).length;
      const plan = st.db.prepare('EXPLAIN QUERY PLAN ' + stmt.source).all(...Array(params).fill(null)) as {
        detail: string;
      }[];
      for (const { detail } of plan) {
        const fullScan = /^SCAN (messages|accounts|sessions|meta|m|s|r|a)\b/.test(detail);
        if (name === 'searchCount') assert.match(detail, /COVERING INDEX/, `${name}: ${detail}`);
        else assert.ok(!fullScan, `${name} scans a table: ${detail}`);
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
    assert.equal(st.pendingCount(b), 4);
    const page = st.takePending(b, 10, 25, () => 10); // room for two
    assert.deepEqual(page.map((m) => m.text), ['m1', 'm2']);
    assert.equal(st.pendingCount(b), 2);
    assert.deepEqual(st.takePending(b, 1, 0, () => 10).map((m) => m.text), ['m3']); // always at least one
    assert.deepEqual(st.unreadByPeer(b), [{ peerId: a, peer: 'a', unread: 4 }]);
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
});

describe('account search', () => {
  test('LIKE patterns: substring without wildcards, whole-name glob with them, % and _ literal', () => {
    assert.equal(likePattern('Ali'), '%ali%');
    assert.equal(likePattern('b*'), 'b%');
    assert.equal(likePattern('?ob'), '_ob');
    assert.equal(likePattern('a_c'), '%a\\_c%');
    assert.equal(likePattern('50%*'), '50\\%%');
    assert.equal(likePattern(''), '%%');
  });

  test('pages in name order with a cursor and a total', () => {
    const st = fresh();
    for (const name of ['Alice', 'kalina', 'bob', 'a_c', 'abc', 'Bobby']) st.createAccount(name, keys, 1);
    const names = (p: string) => st.searchAccounts(p, '', 100).accounts.map((a) => a.username);
    assert.deepEqual(names('ali'), ['Alice', 'kalina']);
    assert.deepEqual(names('b*'), ['bob', 'Bobby']);
    assert.deepEqual(names('a_c'), ['a_c']);
    assert.deepEqual(names('?ob'), ['bob']);
    const p1 = st.searchAccounts('', '', 4);
    assert.equal(p1.total, 6);
    assert.equal(p1.accounts.length, 4);
    const p2 = st.searchAccounts('', p1.next!, 4);
    assert.equal(p2.next, null);
    assert.deepEqual(
      [...p1.accounts, ...p2.accounts].map((a) => a.username),
      ['a_c', 'abc', 'Alice', 'bob', 'Bobby', 'kalina'],
    );
  });
});
