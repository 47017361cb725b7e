/**
 * Heavy but legal use, from one client (issue 6): 10,000 requests pipelined on one connection (each answered once,
 * matched by id, in any order), and 100,000 messages pending for one user fetched 500 at a time. The latency probe
 * shows what a second client sees meanwhile.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Protocol } from '../../protocol/codec.js';
import { MIN_ITERATIONS } from '../../protocol/limits.js';
import type { ServerMessage } from '../../protocol/ops.js';
import { newKeys } from '../../protocol/scram.js';
import { openDatabase } from '../../server/storage/db.js';
import { Store } from '../../server/storage/store.js';
import { connectClient, uniqueName } from '../helpers/clients.js';
import { RawConnection, jsonFrame, rawSignup, type Response } from '../helpers/raw.js';
import { startServer } from '../helpers/server.js';
import { Opened } from './opened.js';
import { LatencyProbe, describeStats } from './probe.js';

const opened = new Opened();

const isResponse = (m: ServerMessage): m is Response => m.kind === 'result' || m.kind === 'error';

describe('10,000 requests pipelined on one connection', () => {
  for (const protocol of ['binary', 'json'] as Protocol[]) {
    test(`${protocol}: every request answered exactly once, matched by id`, async (t) => {
      const { s, probe } = await opened.probed();
      const c = opened.add(await RawConnection.open(s.port, protocol), (k) => k.close());
      const me = uniqueName('pipe');
      await rawSignup(c, me, 'pw');
      // A mix of reads, writes (sends to oneself: each also pushes an event) and refusals, each with its id.
      const expected = new Map<number, 'result' | 'error'>();
      const parts: Buffer[] = [];
      for (let i = 0; i < 10_000; i++) {
        const k = i % 8;
        const r =
          k === 0 ? c.encode('send', { to: me, text: `pipelined ${i}` })
          : k === 1 ? c.encode('ping', {})
          : k === 2 ? c.encode('counts', {})
          : k === 3 ? c.encode('history', { peer: me, limit: 5 })
          : k === 4 ? c.encode('list_accounts', { pattern: me })
          : k === 5 ? c.encode('send', { to: 'nobody_at_all', text: 'x' }) // NO_SUCH_USER
          : k === 6 ? c.encode('fetch_pending', { limit: 0 }) // BAD_REQUEST
          : c.encode('conversations', {});
        expected.set(r.id, k === 5 || k === 6 ? 'error' : 'result');
        parts.push(r.bytes);
      }
      probe.start();
      const started = Date.now();
      const from = c.frames.length; // after the sign-up's own response
      const responses = (): ServerMessage[] => c.frames.slice(from).flatMap((f) => (f.message && isResponse(f.message) ? [f.message] : []));
      c.write(Buffer.concat(parts));
      // Counted as frames arrive (re-scanning all frames on each one would make this test process the bottleneck).
      let scanned = from;
      let answered = 0;
      const allAnswered = (): true | undefined => {
        for (; scanned < c.frames.length; scanned++) if (c.frames[scanned]!.message && isResponse(c.frames[scanned]!.message!)) answered++;
        return answered >= expected.size ? true : undefined;
      };
      await c.until(allAnswered, 60_000, '10,000 responses');
      const elapsed = Date.now() - started;
      const during = await probe.stop();
      const seen = new Map<number, string>();
      for (const m of responses().filter(isResponse)) {
        assert.equal(seen.has(m.id), false, `a second response to ${m.id}`);
        seen.set(m.id, m.kind);
      }
      assert.deepEqual(seen, expected);
      const events = c.messages().filter((m) => m.kind === 'event' && m.event === 'message').length;
      t.diagnostic(`${protocol}: 10,000 pipelined requests answered in ${elapsed} ms (${events} message events too); probe: ${describeStats(during)}`);
      assert.equal(events, 1250, 'each send to oneself was pushed once');
      assert.deepEqual(during.failures, []);
      assert.ok(during.max < 2000, `a probe round trip took ${during.max} ms`);
      // And a malformed frame in the middle of a pipeline does not desynchronise it (JSON only: a bad object).
      if (protocol === 'json') {
        const ping = c.encode('ping', {});
        c.write(Buffer.concat([jsonFrame({ id: 'x' }), ping.bytes]));
        assert.equal((await c.response(ping.id)).kind, 'result');
      }
    });
  }
});

describe('100,000 pending messages', () => {
  test('login reports 100,000; fetched 500 at a time, all of them, oldest first, remaining counting down to 0', async (t) => {
    const N = 100_000;
    const dir = mkdtempSync(join(tmpdir(), 'jochat-test-'));
    // Generated straight into the database file (the server's own schema), before the server starts.
    const db = openDatabase(join(dir, 'jochat.db'));
    const store = new Store(db);
    const keys = await newKeys('pw', MIN_ITERATIONS);
    const sender = store.createAccount('flooder', keys, Date.now())!;
    const recipient = store.createAccount('reader', keys, Date.now())!;
    const t0 = Date.now();
    store.insertMessages(
      Array.from({ length: N }, (_, i) => ({
        senderId: sender,
        recipientId: recipient,
        text: `m ${i}`,
        sentAt: t0 + i,
        pending: true,
        clientMsgId: undefined,
      })),
    );
    db.close();
    const generated = Date.now() - t0;
    const s = opened.server(await startServer({ dir }));
    const probe = opened.add(await LatencyProbe.create(s), (p) => p.close());
    const c = opened.add(await connectClient(s, 'binary', { reconnect: false }), (k) => k.close());
    const login = await c.login('reader', 'pw');
    assert.equal(login.pending, N);
    assert.equal(login.unread, N);
    probe.start();
    const started = Date.now();
    let fetched = 0;
    let lastId = 0;
    let fetches = 0;
    for (let remaining = N; remaining > 0; ) {
      const page = await c.request('fetch_pending', { limit: 500 });
      fetches++;
      assert.equal(page.messages.length, Math.min(500, remaining));
      for (const m of page.messages) {
        assert.ok(m.id > lastId, 'oldest first');
        assert.equal(m.text, `m ${fetched}`);
        assert.equal(m.from, 'flooder');
        lastId = m.id;
        fetched++;
      }
      assert.equal(page.remaining, remaining - page.messages.length);
      remaining = page.remaining;
    }
    const elapsed = Date.now() - started;
    const during = await probe.stop();
    t.diagnostic(`${N} rows generated in ${generated} ms; fetched in ${fetches} pages in ${elapsed} ms; probe: ${describeStats(during)}`);
    assert.equal(fetched, N);
    assert.deepEqual(await c.request('fetch_pending', { limit: 500 }), { messages: [], remaining: 0 });
    assert.deepEqual(during.failures, []);
    assert.ok(during.max < 2000, `a probe round trip took ${during.max} ms`);
  });
});
