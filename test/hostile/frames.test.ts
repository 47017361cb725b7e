/**
 * Hostile clients at the framing level (issue 6), each measured with the latency probe: oversized length prefixes
 * on many connections at once (alone, split byte by byte, after valid frames, with a megabyte of body behind them),
 * slowloris connections sending one byte per second, peers that never close their side after the server closed
 * (half-open), and frames that are cheap to send but costly to parse. test/integration/wire.test.ts covers the
 * single-connection cases; these are the many-connection, under-load ones.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { DEFAULT_MAX_FRAME } from '../../protocol/limits.js';
import { RawConnection, lengthPrefix } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { Opened } from './opened.js';
import { describeStats, rssKiB } from './probe.js';

const opened = new Opened();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function raw(s: TestServer): Promise<RawConnection> {
  return opened.add(await RawConnection.open(s.port, 'binary'), (c) => c.close());
}

/** A socket that, like a hostile peer, keeps its side open after the server's FIN. */
function halfOpen(s: TestServer): Promise<{ sock: Socket; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    let closed = false;
    const sock = opened.add(
      connect({ host: s.host, port: s.port, allowHalfOpen: true }, () => resolve({ sock, closed: () => closed })),
      (k) => k.destroy(),
    );
    sock.on('data', () => undefined);
    sock.on('error', () => undefined);
    sock.on('close', () => (closed = true));
    sock.once('error', reject);
  });
}

describe('oversized length prefixes', () => {
  test('40 connections at once, in four ways: each gets FRAME_TOO_LARGE and is closed; the probe does not notice', async (t) => {
    const { s, probe } = await opened.probed();
    const base = await probe.baseline(500);
    const rss0 = rssKiB(s.proc.pid!);
    probe.start();
    const body = Buffer.alloc(DEFAULT_MAX_FRAME + 1, 0x61);
    const attacks = Array.from({ length: 40 }, async (_, i) => {
      const c = await raw(s);
      const len = [DEFAULT_MAX_FRAME + 1, 0x7fffffff, 0xffffffff, DEFAULT_MAX_FRAME * 2][i % 4]!;
      switch (i % 4) {
        case 0: // the prefix alone
          c.write(lengthPrefix(len));
          break;
        case 1: // split across four TCP segments
          await c.writeSlowly(lengthPrefix(len));
          break;
        case 2: // after valid frames, in the same write
          c.write(Buffer.concat([c.encode('hello', {}).bytes, c.encode('ping', {}).bytes, lengthPrefix(len)]));
          break;
        case 3: // with the whole body behind it, which the server must not read
          c.write(Buffer.concat([lengthPrefix(DEFAULT_MAX_FRAME + 1), body]));
          break;
      }
      const err = await c.error(0, 5000);
      assert.equal(err.error.code, 'FRAME_TOO_LARGE');
      await c.waitClosed(5000);
      if (i % 4 === 2) assert.equal(c.messages().filter((m) => m.kind === 'result').length, 2, 'the frames before it were answered');
    });
    await Promise.all(attacks);
    const during = await probe.stop();
    const rss1 = rssKiB(s.proc.pid!);
    t.diagnostic(`baseline: ${describeStats(base)}`);
    t.diagnostic(`40 oversized-prefix connections: ${describeStats(during)}`);
    t.diagnostic(`server RSS ${rss0} KiB before, ${rss1} KiB after (10 bodies of 1 MiB were sent to it)`);
    assert.deepEqual(during.failures, []);
    assert.ok(during.max < 2000, `a probe round trip took ${during.max} ms`);
    assert.ok(rss1 - rss0 < 64 * 1024, `the server grew by ${rss1 - rss0} KiB`);
    assert.equal(s.proc.exitCode, null);
  });
});

describe('slowloris and half-open peers', () => {
  test('connections sending one byte per second are closed at the idle timeout; the probe does not notice', async (t) => {
    const { s, probe } = await opened.probed('--idle-timeout', '2');
    probe.start();
    // A valid hello trickled one byte per second never completes a frame, so it never counts as activity.
    const hello = (c: RawConnection): Buffer => c.encode('hello', { client: 'slowloris'.repeat(4) }).bytes;
    const lorises = await Promise.all(Array.from({ length: 8 }, () => raw(s)));
    const started = Date.now();
    const trickle = lorises.map(async (c) => {
      const bytes = hello(c);
      for (let i = 0; i < bytes.length && !c.closed; i++) {
        c.write(bytes.subarray(i, i + 1));
        await sleep(1000);
      }
    });
    await Promise.all(lorises.map((c) => c.waitClosed(8000)));
    const closedAfter = Date.now() - started;
    await Promise.all(trickle);
    const during = await probe.stop();
    t.diagnostic(`8 slowloris connections closed after ${closedAfter} ms (idle timeout 2 s); probe: ${describeStats(during)}`);
    assert.ok(closedAfter < 6000, `closed only after ${closedAfter} ms`);
    assert.deepEqual(during.failures, [], 'the probe (which pings) was not closed as idle');
    assert.ok(during.max < 2000);
    await s.waitForOutput(/idle_timeout/);
  });

  test('a peer that keeps its side open after the server closed is destroyed and frees its connection slot', async () => {
    // Regression: close() only half-closed the socket; such a peer held its slot (and the idle sweep logged it
    // four times a second) forever, so a few of them filled --max-connections for good.
    const s = opened.server(await startServer({ args: ['--max-connections', '3', '--idle-timeout', '1'] }));
    const oversized = await halfOpen(s);
    oversized.sock.write(lengthPrefix(0xffffffff));
    const idle = await halfOpen(s);
    idle.sock.write(Buffer.from([0, 0, 0, 10, 0x11])); // a frame that never completes
    const silent = await halfOpen(s);
    await sleep(4500); // idle timeout 1 s, sweep 250 ms, grace 2 s, and slack for a loaded machine
    const c = await raw(s);
    const hello = await c.call('hello', {});
    assert.equal(hello.server, 'jochat', 'a new client gets a slot');
    assert.doesNotMatch(s.output(), /too_many_connections/);
    const idleLines = s.output().split('\n').filter((l) => / idle_timeout /.test(l)).length;
    assert.ok(idleLines <= 3, `each idle connection is logged once, not on every sweep (${idleLines} lines)`);
    void silent;
  });
});

describe('frames that are cheap to send and costly to parse', () => {
  // Found by this test: JSON.parse of 1 MiB of nested arrays took ~120 ms of the server's one thread (60 times the
  // cost of 1 MiB of string); requests are now refused by their shape before JSON.parse (protocol/json.ts).
  test('six clients pipelining 1 MiB frames of nested JSON arrays: the probe still gets answers within 2 s', async (t) => {
    const { s, probe } = await opened.probed();
    const base = await probe.baseline(500);
    const n = DEFAULT_MAX_FRAME - 64;
    const nested = Buffer.from(`{"id":1,"op":"ping","x":${'['.repeat(n / 2)}${']'.repeat(n / 2)}}`);
    const framed = Buffer.concat([lengthPrefix(nested.length), nested]);
    probe.start();
    const attackers = await Promise.all(Array.from({ length: 6 }, () => raw(s)));
    const started = Date.now();
    let frames = 0;
    await Promise.all(
      attackers.map(async (c) => {
        for (let i = 0; i < 5; i++) {
          c.write(framed);
          frames++;
        }
        await c.until(() => (c.frames.length >= 5 ? true : undefined), 60_000, 'five answers');
      }),
    );
    const elapsed = Date.now() - started;
    const during = await probe.stop();
    t.diagnostic(`baseline: ${describeStats(base)}`);
    t.diagnostic(`${frames} nested 1 MiB frames parsed in ${elapsed} ms (${Math.round(elapsed / frames)} ms each); probe: ${describeStats(during)}`);
    assert.deepEqual(during.failures, []);
    assert.ok(during.max < 2000, `a probe round trip took ${during.max} ms`);
  });
});
