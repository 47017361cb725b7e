/**
 * Durability (SPEC §3 "Storage", C7): what the server acknowledged survives a graceful restart and a SIGKILL, sign-up
 * races leave exactly one account, and a graceful shutdown tells clients and exits cleanly.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { JoChatError, type JoChatClient } from '../../protocol/client.js';
import type { Protocol } from '../../protocol/codec.js';
import { EventLog, PROTOCOLS, connectClient, uniqueName , allHistory } from '../helpers/clients.js';
import { startServer, type TestServer } from '../helpers/server.js';

const servers: TestServer[] = [];
const clients: JoChatClient[] = [];

async function start(opts: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const s = await startServer(opts);
  servers.push(s);
  return s;
}

/** A client that does not reconnect by itself (these tests restart servers on new ports). */
async function connected(server: TestServer, protocol: Protocol): Promise<JoChatClient> {
  const c = await connectClient(server, protocol, { reconnect: false });
  clients.push(c);
  return c;
}

async function account(
  server: TestServer,
  protocol: Protocol,
  name = uniqueName('dur'),
  password = 'pw ' + name,
): Promise<{ client: JoChatClient; name: string; password: string; token: string }> {
  const client = await connected(server, protocol);
  const r = await client.signup(name, password);
  return { client, name, password, token: r.token };
}


/** Reads stored messages straight from the database file (the server may be dead). */
function storedMessages(dbFile: string, ids: readonly number[]): Map<number, { text: string; sender: string; recipient: string }> {
  const db = new Database(dbFile, { readonly: true });
  try {
    const q = db.prepare(
      `SELECT m.id AS id, m.text AS text, s.username AS sender, r.username AS recipient
         FROM messages m JOIN accounts s ON s.id = m.sender_id JOIN accounts r ON r.id = m.recipient_id
        WHERE m.id = ?`,
    );
    const out = new Map<number, { text: string; sender: string; recipient: string }>();
    for (const id of ids) {
      const row = q.get(id) as { id: number; text: string; sender: string; recipient: string } | undefined;
      if (row) out.set(id, row);
    }
    return out;
  } finally {
    db.close();
  }
}

const closeAll = (): void => {
  for (const c of clients.splice(0)) c.close();
};

after(async () => {
  closeAll();
  for (const s of servers) {
    if (s.proc.exitCode === null && s.proc.signalCode === null) await s.kill();
  }
  for (const s of new Set(servers.map((x) => x.dir))) servers.find((x) => x.dir === s)!.cleanup();
});

describe('restarts', () => {
  test('accounts, messages, pending counts and tokens survive a graceful restart', async () => {
    const s1 = await start();
    const alice = await account(s1, 'json');
    const bob = await account(s1, 'binary');
    const aliceLog = new EventLog(alice.client);
    // A conversation first, so alice is told when bob goes away.
    await alice.client.send(bob.name, 'while you are here');
    bob.client.close(); // a dropped connection: the token stays valid
    await aliceLog.wait('presence', (d) => d.username === bob.name && !d.online);
    const away = ['one', 'two', 'three'];
    for (const t of away) assert.equal((await alice.client.send(bob.name, t)).delivered, false);
    alice.client.close();

    assert.equal(await s1.stop(), 0, 'a graceful stop exits 0');

    const s2 = await start({ dir: s1.dir });
    const bob2 = await connected(s2, 'binary');
    const resumed = await bob2.resume(bob.token);
    assert.equal(resumed.username, bob.name);
    assert.equal(resumed.pending, 3);
    assert.equal(resumed.unread, 4);
    const fetched = await bob2.request('fetch_pending', { limit: 10 });
    assert.deepEqual(fetched.messages.map((m) => m.text), away);
    assert.equal(fetched.remaining, 0);
    assert.deepEqual((await allHistory(bob2, alice.name)).map((m) => m.text), ['while you are here', ...away]);

    const alice2 = await connected(s2, 'json');
    const login = await alice2.login(alice.name, alice.password);
    assert.equal(login.username, alice.name);
    const again = await connected(s2, 'json');
    await assert.rejects(again.signup(alice.name.toUpperCase(), 'x'), (e: JoChatError) => e.code === 'USERNAME_TAKEN');
    const found = await alice2.request('list_accounts', { pattern: bob.name });
    assert.deepEqual(found.accounts, [{ username: bob.name, online: true }]);
    closeAll();
    assert.equal(await s2.stop(), 0);
  });

  test('after SIGKILL during continuous sending from several clients, every acknowledged message is stored (3 rounds)', async () => {
    let server = await start();
    const dir = server.dir;
    for (let round = 0; round < 3; round++) {
      const recipient = await account(server, 'json');
      const senders = await Promise.all([0, 1, 2, 3].map((i) => account(server, PROTOCOLS[i % 2]!)));
      const acked: { id: number; text: string; from: string }[] = [];
      let failed = 0;
      let stop = false;
      const loop = async (s: (typeof senders)[number], i: number): Promise<void> => {
        for (let k = 0; !stop; k += 8) {
          const batch = Array.from({ length: 8 }, (_, j) => `r${round} s${i} n${k + j}`);
          const results = await Promise.allSettled(
            batch.map((text) =>
              s.client.send(recipient.name, text).then((r) => {
                assert.equal(r.message.text, text);
                acked.push({ id: r.message.id, text, from: s.name });
              }),
            ),
          );
          if (results.some((r) => r.status === 'rejected')) {
            failed++;
            return;
          }
        }
      };
      const loops = senders.map((s, i) => loop(s, i));
      // Kill while sends are in flight: once some have been acknowledged, at once.
      const target = 100 + round * 50;
      const deadline = Date.now() + 15_000;
      while (acked.length < target && Date.now() < deadline) await new Promise((r) => setImmediate(r));
      assert.ok(acked.length >= target, `only ${acked.length} sends were acknowledged in time`);
      await server.kill();
      stop = true;
      const ackedAtKill = acked.length;
      closeAll(); // rejects what was still waiting
      await Promise.all(loops);
      assert.ok(failed >= 1, 'the kill cut sends off');

      const stored = storedMessages(server.db, acked.map((a) => a.id));
      const missing = acked.filter((a) => stored.get(a.id)?.text !== a.text);
      assert.deepEqual(missing, [], `round ${round}: acknowledged but not stored (${ackedAtKill} acknowledged)`);
      for (const a of acked) {
        const row = stored.get(a.id)!;
        assert.equal(row.sender, a.from);
        assert.equal(row.recipient, recipient.name);
      }

      // The restarted server (same folder) serves them, once each.
      server = await start({ dir });
      const r2 = await connected(server, 'binary');
      await r2.resume(recipient.token);
      for (const s of senders) {
        const texts = (await allHistory(r2, s.name)).map((m) => m.text);
        assert.equal(new Set(texts).size, texts.length, 'no duplicates');
        for (const a of acked.filter((x) => x.from === s.name)) assert.ok(texts.includes(a.text), `${a.text} is in the history`);
      }
      closeAll();
    }
    assert.equal(await server.stop(), 0);
  });

  for (const protocol of PROTOCOLS) {
    test(`${protocol}: an acknowledged send is durable at once (SIGKILL right after the ack)`, async () => {
      const s1 = await start();
      const a = await account(s1, protocol);
      const b = await account(s1, protocol);
      b.client.close();
      const text = `durable ${protocol} ${Date.now()}`;
      const r = await a.client.send(b.name, text);
      s1.proc.kill('SIGKILL'); // in the same turn as the ack
      await s1.kill();
      closeAll();
      const s2 = await start({ dir: s1.dir });
      const b2 = await connected(s2, protocol);
      await b2.resume(b.token);
      const hist = await allHistory(b2, a.name);
      const m = hist.find((x) => x.id === r.message.id);
      assert.ok(m, 'the acknowledged message is there after the kill');
      assert.equal(m.text, text);
      assert.equal(m.from, a.name);
      assert.equal(m.sentAt, r.message.sentAt);
      closeAll();
      await s2.stop();
    });
  }
});

describe('races and shutdown', () => {
  test('two connections racing to sign up the same name: exactly one wins, the other gets USERNAME_TAKEN (20 times)', async () => {
    const server = await start();
    const x = await connected(server, 'json');
    const y = await connected(server, 'binary');
    const names: string[] = [];
    for (let i = 0; i < 20; i++) {
      const name = uniqueName('race') + 'x';
      names.push(name);
      // Half the rounds differ only in case: uniqueness is case-insensitive.
      const other = i % 2 === 0 ? name : name.toUpperCase();
      const results = await Promise.allSettled([x.signup(name, 'pw one'), y.signup(other, 'pw two')]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(won.length, 1, `round ${i}: exactly one sign-up succeeds`);
      assert.equal(lost.length, 1);
      assert.ok(lost[0]!.reason instanceof JoChatError);
      assert.equal((lost[0]!.reason as JoChatError).code, 'USERNAME_TAKEN');
      const winner = results[0]!.status === 'fulfilled' ? x : y;
      const loser = winner === x ? y : x;
      assert.equal(loser.isLoggedIn, false);
      await winner.logout();
    }
    const checker = await account(server, 'json');
    for (const name of names) {
      const r = await checker.client.request('list_accounts', { pattern: name });
      assert.equal(r.total, 1, `one account named ${name}`);
    }
    closeAll();
    await server.stop();
  });

  test('SIGTERM: logged-in clients get session_ended server_shutdown, queued sends are stored, exit 0 with "stopped"', async () => {
    const server = await start();
    const a = await account(server, 'json');
    const b = await account(server, 'binary');
    const logs = [new EventLog(a.client), new EventLog(b.client)];
    const acked: { id: number; text: string }[] = [];
    const sends = Array.from({ length: 60 }, (_, i) =>
      a.client.send(b.name, `before shutdown ${i}`).then(
        (r) => void acked.push({ id: r.message.id, text: r.message.text }),
        () => undefined,
      ),
    );
    // Shut down while the sends are streaming in: once the first is acknowledged.
    await new Promise<void>((resolve) => {
      const poll = (): void => (acked.length > 0 ? resolve() : void setImmediate(poll));
      poll();
    });
    const [code] = await Promise.all([
      server.stop(),
      ...logs.map((l) => l.wait('session_ended', (d) => d.reason === 'server_shutdown')),
    ]);
    assert.equal(code, 0);
    assert.match(server.output(), /\bstopped\b/);
    assert.match(server.output(), /shutting_down/);
    closeAll();
    await Promise.all(sends);
    const stored = storedMessages(server.db, acked.map((x) => x.id));
    for (const x of acked) assert.equal(stored.get(x.id)?.text, x.text, 'acknowledged before the shutdown: stored');
    assert.ok(acked.length > 0);
  });
});
