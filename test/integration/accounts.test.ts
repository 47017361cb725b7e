/**
 * Integration: listing and searching accounts (C6) against the real server bundle, in both wire protocols —
 * substring and whole-name glob patterns, literal characters, pagination with a cursor and a total, online flags
 * and the limits.
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { JoChatClient } from '../../protocol/client.js';
import type { Protocol } from '../../protocol/codec.js';
import type { Result } from '../../protocol/ops.js';
import { connectClient, EventLog, PROTOCOLS , isCode } from '../helpers/clients.js';
import { serverForFile, startServer, type TestServer } from '../helpers/server.js';

const PASSWORD = 'correct horse';

const clients: JoChatClient[] = [];
const server = serverForFile(() => clients.forEach((c) => c.close()));

/**
 * A random token: the names of one describe block start with it, so searches can be exact. Its letters are none
 * that the patterns below look for, so a token can never make a name match by accident.
 */
const TOKEN_LETTERS = 'fghmqstuvwy';
const token = (n: number): string =>
  Array.from({ length: n }, () => TOKEN_LETTERS.charAt(randomInt(TOKEN_LETTERS.length))).join('');

async function connected(protocol: Protocol): Promise<JoChatClient> {
  const c = await connectClient(server(), protocol, { reconnect: false });
  clients.push(c);
  return c;
}

/** Every page of a search, following the cursor; checks total and cursor on each page. */
async function allPages(c: JoChatClient, pattern: string, limit: number) {
  const pages: Result<'list_accounts'>[] = [];
  let cursor: string | null = null;
  do {
    const page: Result<'list_accounts'> = await c.request('list_accounts', { pattern, limit, cursor });
    pages.push(page);
    assert.ok(page.accounts.length <= limit);
    if (page.cursor !== null) assert.equal(page.accounts.length, limit, 'only the last page may be short');
    cursor = page.cursor;
    assert.ok(pages.length < 1000, 'the cursor must end');
  } while (cursor !== null);
  const totals = new Set(pages.map((p) => p.total));
  assert.equal(totals.size, 1, 'the total is the same on every page');
  const accounts = pages.flatMap((p) => p.accounts);
  assert.equal(accounts.length, pages[0]!.total, 'the pages hold exactly `total` accounts');
  return { pages, accounts, names: accounts.map((a) => a.username) };
}

const byLower = (a: string, b: string): number => (a.toLowerCase() < b.toLowerCase() ? -1 : 1);

for (const protocol of PROTOCOLS) {
  describe(`list_accounts over ${protocol}`, () => {
    // The last letter differs between the two blocks, so neither block's token is inside the other's names.
    const P = token(4) + (protocol === 'json' ? 'j' : 'k');
    const N = (s: string): string => P + s;
    let me: JoChatClient;
    const online: JoChatClient[] = [];

    // The search fixtures: offline accounts, plus the searcher and one more online.
    const names = ['Alice', 'Kalina', 'bob', 'Bobby', 'rob', 'b', 'Anna', 'a_c', 'abc', 'a.c', 'a-c', 'xyz'].map(N);
    const tail = `Zed${P}`; // ends with the token instead of starting with it
    const pageNames = Array.from({ length: 27 }, (_, i) => N(`${i % 5 === 0 ? 'P' : 'p'}${String(i).padStart(2, '0')}`));

    before(async () => {
      const maker = await connected(protocol);
      for (const n of [...names, tail, ...pageNames, N('off1')]) {
        await maker.signup(n, PASSWORD);
        await maker.logout();
      }
      maker.close();
      me = await connected(protocol);
      await me.signup(N('me'), PASSWORD);
      const on = await connected(protocol);
      await on.signup(N('on1'), PASSWORD);
      online.push(on);
    });

    const search = async (pattern: string): Promise<string[]> => {
      const r = await me.request('list_accounts', { pattern, limit: 100 });
      assert.equal(r.cursor, null, 'these searches fit one page');
      assert.equal(r.total, r.accounts.length);
      return r.accounts.map((a) => a.username);
    };
    /** The names of this block among the matches. */
    const ours = (found: string[]): string[] => found.filter((n) => n.toLowerCase().includes(P));

    test('without * or ?, the pattern matches anywhere in the name, case-insensitively', async () => {
      const found = await search('ali');
      assert.ok(
        found.every((n) => n.toLowerCase().includes('ali')),
        `every match contains "ali": ${found.join(', ')}`,
      );
      assert.deepEqual(ours(found), [N('Alice'), N('Kalina')]);
      assert.deepEqual(ours(await search('ALI')), [N('Alice'), N('Kalina')]);
      assert.deepEqual(await search(N('ali')), [N('Alice')]);
      assert.deepEqual(await search(`${P.toUpperCase()}KAL`), [N('Kalina')]);
      assert.deepEqual(await search('ed' + P), [tail]);
      const every = await search(P);
      assert.deepEqual(
        every.filter((n) => !pageNames.includes(n)),
        [...names, tail, N('me'), N('off1'), N('on1')].sort(byLower),
      );
    });

    test('with * or ?, the pattern must match the whole name', async () => {
      assert.deepEqual(await search(N('b*')), [N('b'), N('bob'), N('Bobby')]);
      assert.deepEqual(await search(`${P.toUpperCase()}B*`), [N('b'), N('bob'), N('Bobby')]);
      assert.deepEqual(await search(N('?ob')), [N('bob'), N('rob')]);
      assert.deepEqual(await search(N('*a')), [N('Anna'), N('Kalina')]);
      assert.deepEqual(await search(N('a?c')), [N('a-c'), N('a.c'), N('a_c'), N('abc')]);
      assert.deepEqual(await search(N('*b*')), [N('abc'), N('b'), N('bob'), N('Bobby'), N('rob')]);
      assert.deepEqual(await search(`*${P}`), [tail]);
      assert.deepEqual(await search(`?ed${P}`), [tail]);
      assert.deepEqual(await search(`ed${P}*`), [], 'a glob is anchored at the start');
      assert.deepEqual(await search(N('b?')), [], '? is exactly one character');
      assert.deepEqual(await search(N('?o?')), [N('bob'), N('rob')]);
      assert.deepEqual(await search(N('x??')), [N('xyz')]);
      // the unprefixed forms from the spec: every match ends in "a" / starts with "b" / is 3 long ending in "ob"
      const endsA = await me.request('list_accounts', { pattern: '*a', limit: 100 });
      assert.ok(endsA.accounts.every((a) => a.username.toLowerCase().endsWith('a')));
      assert.deepEqual(ours(endsA.accounts.map((a) => a.username)), [N('Anna'), N('Kalina')]);
      const qob = await search('?ob');
      assert.ok(qob.every((n) => /^.ob$/i.test(n)), qob.join(', '));
      const bstar = await me.request('list_accounts', { pattern: 'b*', limit: 100 });
      assert.ok(bstar.accounts.every((a) => a.username.toLowerCase().startsWith('b')));
    });

    test('every other character is literal: % and _ and . match only themselves', async () => {
      assert.deepEqual(await search(N('a_c')), [N('a_c')], '"_" is not a one-character wildcard');
      assert.deepEqual(await search(N('a.c')), [N('a.c')], '"." is not a wildcard');
      assert.deepEqual(await search(N('a-c')), [N('a-c')]);
      assert.deepEqual(await search('%'), [], '"%" (no username has it) matches nothing, not everything');
      assert.deepEqual(await search(N('%')), []);
      assert.deepEqual(await search(N('%c')), []);
      assert.deepEqual(await search('\\'), []);
      assert.deepEqual(await search(N('a\\_c')), []);
      const underscores = await search('_');
      assert.ok(underscores.every((n) => n.includes('_')), underscores.join(', '));
      assert.deepEqual(ours(underscores), [N('a_c')]);
      // in a glob too
      assert.deepEqual(await search(N('a_*')), [N('a_c')]);
      assert.deepEqual(await search(N('%*')), []);
    });

    test('the empty pattern lists every account', async () => {
      const all = await allPages(me, '', 30);
      for (const n of [...names, tail, ...pageNames, N('me'), N('on1'), N('off1')])
        assert.ok(all.names.includes(n), `${n} is listed`);
      assert.equal(new Set(all.names).size, all.names.length, 'no account twice');
      assert.deepEqual(all.names, [...all.names].sort(byLower), 'in name order');
      const star = await allPages(me, '*', 30);
      assert.deepEqual(star.names, all.names, '"*" matches every name as well');
      const first = await me.request('list_accounts', { pattern: '' });
      assert.equal(first.total, all.names.length);
      assert.equal(first.accounts.length, Math.min(20, all.names.length), 'the default page size is 20');
    });

    test('pagination over 27 accounts: every match once, in order, total on each page, null cursor last', async () => {
      const expected = [...pageNames].sort(byLower);
      for (const limit of [10, 1, 7, 26, 27, 100]) {
        const r = await allPages(me, N('p'), limit);
        assert.deepEqual(r.names, expected, `limit ${limit}`);
        assert.equal(r.pages.length, Math.ceil(27 / limit));
        assert.equal(r.pages[0]!.total, 27);
        assert.equal(r.pages[r.pages.length - 1]!.cursor, null);
      }
      // the same through a glob, and the default page size
      const g = await allPages(me, N('p*'), 10);
      assert.deepEqual(g.names, expected);
      const first = await me.request('list_accounts', { pattern: N('p') });
      assert.equal(first.accounts.length, 20);
      assert.equal(first.total, 27);
      assert.notEqual(first.cursor, null);
      const rest = await me.request('list_accounts', { pattern: N('p'), cursor: first.cursor });
      assert.deepEqual(
        [...first.accounts, ...rest.accounts].map((a) => a.username),
        expected,
      );
      assert.equal(rest.cursor, null);
      assert.equal(rest.total, 27);
      // a glob with one wildcard inside
      assert.deepEqual(await search(N('p?5')), [pageNames[5]!, pageNames[15]!, pageNames[25]!]);
    });

    test('each account shows whether it is online', async () => {
      const r = await me.request('list_accounts', { pattern: N('o') });
      assert.deepEqual(r.accounts, [
        { username: N('off1'), online: false },
        { username: N('on1'), online: true },
      ]);
      const self = await me.request('list_accounts', { pattern: N('me') });
      assert.deepEqual(self.accounts, [{ username: N('me'), online: true }]);
      // log out, then log in and drop the connection
      const on = online[0]!;
      await on.logout();
      assert.deepEqual((await me.request('list_accounts', { pattern: N('on1') })).accounts, [
        { username: N('on1'), online: false },
      ]);
      const off = await connected(protocol);
      await off.login(N('off1'), PASSWORD);
      assert.deepEqual((await me.request('list_accounts', { pattern: N('off1') })).accounts, [
        { username: N('off1'), online: true },
      ]);
      // a dropped connection: `me` shares a conversation with it, so the presence event says when the server saw it
      await me.send(N('off1'), 'hello');
      const log = new EventLog(me);
      off.close();
      await log.wait('presence', (d) => d.username === N('off1') && !d.online);
      assert.deepEqual((await me.request('list_accounts', { pattern: N('off1') })).accounts, [
        { username: N('off1'), online: false },
      ]);
    });

    test('limit 0 → BAD_REQUEST, 101 → TOO_MANY, a pattern over 64 characters → BAD_REQUEST', async () => {
      await assert.rejects(me.request('list_accounts', { pattern: P, limit: 0 }), isCode('BAD_REQUEST'));
      await assert.rejects(me.request('list_accounts', { pattern: P, limit: 101 }), isCode('TOO_MANY'));
      await assert.rejects(me.request('list_accounts', { pattern: 'a'.repeat(65) }), isCode('BAD_REQUEST'));
      await assert.rejects(me.request('list_accounts', { pattern: '*'.repeat(65) }), isCode('BAD_REQUEST'));
      const max = await me.request('list_accounts', { pattern: P, limit: 100 });
      assert.ok(max.accounts.length > 0);
      const one = await me.request('list_accounts', { pattern: P, limit: 1 });
      assert.equal(one.accounts.length, 1);
      assert.deepEqual(await me.request('list_accounts', { pattern: 'a'.repeat(64) }), {
        accounts: [],
        total: 0,
        cursor: null,
      });
      assert.deepEqual((await me.request('list_accounts', { pattern: '*'.repeat(64), limit: 1 })).accounts.length, 1);
    });
  });
}

describe('list_accounts follows sign-ups and deletions', () => {
  test('a new account is found at once, a deleted one is gone, and a restarted server finds the same', async () => {
    const own = await startServer();
    const connect = async (s: TestServer): Promise<JoChatClient> => {
      const c = await connectClient(s, 'binary', { reconnect: false });
      clients.push(c);
      return c;
    };
    const P = token(5) + 'x';
    const names = async (c: JoChatClient, pattern: string): Promise<{ names: string[]; total: number }> => {
      const r = await c.request('list_accounts', { pattern, limit: 100 });
      return { names: r.accounts.map((a) => a.username), total: r.total };
    };
    try {
      const maker = await connect(own);
      for (const n of ['Carol', 'carla']) {
        await maker.signup(P + n, PASSWORD);
        await maker.logout();
      }
      await maker.signup(P + 'CARL', PASSWORD);
      assert.deepEqual(await names(maker, P + 'car'), { names: [P + 'CARL', P + 'carla', P + 'Carol'], total: 3 });
      await maker.deleteAccount(PASSWORD);

      const c = await connect(own);
      await c.login(P + 'carla', PASSWORD);
      assert.deepEqual(await names(c, P + 'car'), { names: [P + 'carla', P + 'Carol'], total: 2 });
      assert.deepEqual(await names(c, `${P}c?r*`), { names: [P + 'carla', P + 'Carol'], total: 2 });
      const again = await connect(own);
      await again.signup(P + 'Carl', PASSWORD); // the deleted account's name is free again, in another case
      assert.deepEqual(await names(c, P + 'CARL'), { names: [P + 'Carl', P + 'carla'], total: 2 });

      await own.stop();
      const restarted = await startServer({ dir: own.dir });
      try {
        const r = await connect(restarted);
        await r.login(P + 'carla', PASSWORD);
        const all = { names: [P + 'Carl', P + 'carla', P + 'Carol'], total: 3 };
        assert.deepEqual(await names(r, ''), all);
        assert.deepEqual(await names(r, `${P.toUpperCase()}*`), all);
      } finally {
        await restarted.stop();
      }
    } finally {
      await own.stop();
      own.cleanup();
    }
  });
});
