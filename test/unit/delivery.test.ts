/**
 * Delivery with a real Store and Hub, and connections that record what they are sent: a send is acknowledged and
 * pushed only after the fsync that covers its commit, and what happens when the recipient leaves or comes back
 * while that fsync runs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Event } from '../../protocol/ops.js';
import { parseConfig, type Config } from '../../server/config.js';
import type { Connection } from '../../server/connection.js';
import { Hub } from '../../server/hub.js';
import { Logger } from '../../server/log.js';
import { Session } from '../../server/session.js';
import { openDatabase } from '../../server/storage/db.js';
import { Store } from '../../server/storage/store.js';
import { WalSync } from '../../server/storage/walSync.js';

const dir = mkdtempSync(join(tmpdir(), 'jochat-delivery-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const keys = { salt: Buffer.alloc(16, 1), iterations: 4096, storedKey: Buffer.alloc(32, 2), serverKey: Buffer.alloc(32, 3) };
const turn = () => new Promise((r) => setImmediate(r));

function defaults(): Config {
  const parsed = parseConfig([], {});
  assert.ok(!parsed.help);
  return parsed.config;
}

/** What a fake connection was sent. */
interface Sent {
  results: { id: number; result: unknown }[];
  events: Event[];
}

function setup() {
  const file = join(dir, `d${Math.random().toString(36).slice(2)}.db`);
  const store = new Store(openDatabase(file));
  const fsyncs: (() => void)[] = [];
  const sync = new WalSync(openSync(`${file}-wal`, 'r'), (e) => assert.fail(e), (_fd, done) => fsyncs.push(() => done(null)));
  const hub = new Hub(store, sync, defaults(), new Logger('error', () => {}));
  const alice = store.createAccount('alice', keys, 1)!;
  const bob = store.createAccount('bob', keys, 1)!;
  const connect = (id: number, name: string): { conn: Connection; sent: Sent } => {
    const sent: Sent = { results: [], events: [] };
    const conn = {
      closed: false,
      session: new Session(id, name, undefined).reload(store),
      result: (reqId: number, _op: string, result: unknown) => sent.results.push({ id: reqId, result }),
      error: (reqId: number, e: unknown) => assert.fail(`error for ${reqId}: ${JSON.stringify(e)}`),
      event: (ev: Event) => sent.events.push(ev),
    } as unknown as Connection;
    hub.online.set(id, conn);
    return { conn, sent };
  };
  const a = connect(alice, 'alice');
  const send = (reqId: number, text: string) =>
    hub.delivery.enqueue({
      conn: a.conn,
      reqId,
      args: { to: 'bob', text },
      sender: a.conn.session!,
      recipient: { id: bob, username: 'bob' },
    });
  /** Sends each text in an event-loop turn of its own, as requests 1, 2, …: each commit starts its own fsync. */
  const sendInTurns = async (...texts: string[]) => {
    for (const [i, text] of texts.entries()) {
      send(i + 1, text);
      await turn();
    }
  };
  /** Ends the oldest fsync still running, or the `i`-th. */
  const finishFsync = (i = 0) => fsyncs.splice(i, 1)[0]!();
  return { store, hub, alice, bob, a, connect, send, sendInTurns, fsyncs, finishFsync };
}

const messages = (s: Sent) => s.events.filter((e) => e.event === 'message');

describe('Delivery', () => {
  test('the acknowledgement and the push wait for the fsync after the commit', async () => {
    const { store, bob, a, connect, send, fsyncs, finishFsync } = setup();
    const b = connect(bob, 'bob');
    send(1, 'hello');
    await turn();
    assert.equal(fsyncs.length, 1, 'committed, and the fsync started');
    assert.equal(a.sent.results.length, 0, 'not acknowledged before the fsync');
    assert.equal(messages(b.sent).length, 0, 'not pushed before the fsync');
    finishFsync();
    assert.equal(a.sent.results.length, 1);
    assert.equal((a.sent.results[0]!.result as { delivered: boolean }).delivered, true);
    assert.equal(messages(b.sent).length, 1);
    assert.equal(b.conn.session!.unread(), 1);
    assert.equal(store.pendingCount(bob), 0);
  });

  test('a send arriving during an fsync is committed at once, with a second fsync', async () => {
    const { store, bob, alice, a, connect, sendInTurns, fsyncs, finishFsync } = setup();
    connect(bob, 'bob');
    await sendInTurns('one', 'two');
    assert.equal(store.history(alice, bob, Number.MAX_SAFE_INTEGER, 10).messages.length, 2);
    assert.equal(fsyncs.length, 2);
    finishFsync();
    assert.deepEqual(a.sent.results.map((r) => r.id), [1], 'two was committed after the first fsync began');
    finishFsync();
    assert.deepEqual(a.sent.results.map((r) => r.id), [1, 2]);
  });

  test('sends arriving while two fsyncs run are committed together when one ends, and share the next', async () => {
    const { store, bob, alice, a, connect, send, sendInTurns, fsyncs, finishFsync } = setup();
    connect(bob, 'bob');
    await sendInTurns('one', 'two');
    send(3, 'three');
    send(4, 'four');
    await turn();
    assert.equal(store.history(alice, bob, Number.MAX_SAFE_INTEGER, 10).messages.length, 2, 'three and four wait');
    finishFsync();
    assert.equal(store.history(alice, bob, Number.MAX_SAFE_INTEGER, 10).messages.length, 4, 'committed at once after it');
    assert.deepEqual(a.sent.results.map((r) => r.id), [1]);
    assert.equal(fsyncs.length, 2, 'one fsync for both');
    finishFsync(1);
    assert.deepEqual(a.sent.results.map((r) => r.id), [1, 2, 3, 4]);
  });

  test('when the second fsync ends first, both batches are acknowledged and pushed in id order', async () => {
    const { bob, a, connect, sendInTurns, finishFsync } = setup();
    const b = connect(bob, 'bob');
    await sendInTurns('one', 'two');
    finishFsync(1);
    assert.deepEqual(a.sent.results.map((r) => r.id), [1, 2]);
    assert.deepEqual(messages(b.sent).map((e) => (e.data as { message: { text: string } }).message.text), ['one', 'two']);
    finishFsync();
    assert.equal(a.sent.results.length, 2, 'acknowledged once');
    assert.equal(messages(b.sent).length, 2, 'pushed once');
  });

  test('a recipient that leaves during the fsync gets the message as pending', async () => {
    const { store, hub, bob, a, connect, send, finishFsync } = setup();
    const b = connect(bob, 'bob');
    send(1, 'are you there?');
    await turn();
    hub.online.delete(bob);
    b.conn.session = undefined;
    finishFsync();
    assert.equal((a.sent.results[0]!.result as { delivered: boolean }).delivered, false);
    assert.deepEqual(messages(b.sent), []);
    assert.equal(store.pendingCount(bob), 1);
  });

  test('a recipient that logs in again during the fsync gets the push, counted once', async () => {
    const { bob, a, connect, send, finishFsync } = setup();
    connect(bob, 'bob');
    send(1, 'hi');
    await turn();
    const again = connect(bob, 'bob'); // its login counted the committed message already
    assert.equal(again.conn.session!.unread(), 1);
    finishFsync();
    assert.equal(messages(again.sent).length, 1);
    assert.equal(again.conn.session!.unread(), 1);
    assert.equal((a.sent.results[0]!.result as { delivered: boolean }).delivered, true);
  });

  test('a message to an offline recipient is stored pending and not pushed to one who logs in meanwhile', async () => {
    const { store, bob, a, connect, send, finishFsync } = setup();
    send(1, 'later');
    await turn();
    const b = connect(bob, 'bob');
    assert.equal(b.conn.session!.pending, 1);
    finishFsync();
    assert.deepEqual(messages(b.sent), []);
    assert.equal((a.sent.results[0]!.result as { delivered: boolean }).delivered, false);
    assert.equal(store.pendingCount(bob), 1);
  });
});
