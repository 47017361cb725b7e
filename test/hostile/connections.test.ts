/**
 * Hostile clients that use up connections or output (issue 6): a flood of connections beyond --max-connections,
 * and clients that never read while the server has lots to send them (closed past --max-output, the server's memory
 * bounded). Measured with the latency probe; server memory from /proc/PID/status.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { connectClient, signedUp, uniqueName } from '../helpers/clients.js';
import { RawConnection, rawSignup } from '../helpers/raw.js';
import type { TestServer } from '../helpers/server.js';
import { Opened } from './opened.js';
import { describeStats, rssKiB } from './probe.js';

const opened = new Opened();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Opens a socket; resolves with whether the server closed it within `ms` (refused) or kept it. */
function tryConnect(s: TestServer, ms: number): Promise<{ sock: Socket; refused: boolean }> {
  return new Promise((resolve) => {
    const sock = opened.add(connect({ host: s.host, port: s.port }), (k) => k.destroy());
    sock.on('error', () => undefined);
    const t = setTimeout(() => resolve({ sock, refused: false }), ms);
    sock.once('close', () => {
      clearTimeout(t);
      resolve({ sock, refused: true });
    });
  });
}

describe('connection flood', () => {
  test('1,000 connections against --max-connections 50: the excess is closed at once, the probe carries on, slots come back', async (t) => {
    const { s, probe } = await opened.probed('--max-connections', '50');
    const base = await probe.baseline(500);
    const rss0 = rssKiB(s.proc.pid!);
    probe.start();
    const started = Date.now();
    // In waves of 100: a burst far above the limit, without running the test process out of descriptors.
    const results: { sock: Socket; refused: boolean }[] = [];
    for (let wave = 0; wave < 10; wave++) results.push(...(await Promise.all(Array.from({ length: 100 }, () => tryConnect(s, 1500)))));
    const elapsed = Date.now() - started;
    const during = await probe.stop();
    const kept = results.filter((r) => !r.refused);
    const rss1 = rssKiB(s.proc.pid!);
    t.diagnostic(`baseline: ${describeStats(base)}`);
    t.diagnostic(`1000 connections in ${elapsed} ms: ${kept.length} kept, ${results.length - kept.length} refused; probe: ${describeStats(during)}`);
    t.diagnostic(`server RSS ${rss0} KiB before, ${rss1} KiB after`);
    // The probe holds two of the 50 slots.
    assert.equal(kept.length, 48, 'exactly the free slots are served');
    assert.deepEqual(during.failures, []);
    assert.ok(during.max < 2000, `a probe round trip took ${during.max} ms`);
    await s.waitForOutput(/too_many_connections/);
    // Slots come back when the flood goes.
    for (const r of kept) r.sock.destroy();
    await sleep(300);
    const c = opened.add(await connectClient(s, 'json', { reconnect: false }), (k) => k.close());
    assert.deepEqual(await c.request('ping', {}), {});
    assert.ok(rss1 - rss0 < 64 * 1024, `the server grew by ${rss1 - rss0} KiB`);
  });
});

describe('clients that never read', () => {
  test('receiving lots of pushes: closed past --max-output, the others unaffected, server memory bounded', async (t) => {
    const { s, probe } = await opened.probed('--max-output', String(64 * 1024));
    const sender = opened.add(await signedUp(s, 'binary', uniqueName('pusher'), 'pw', { reconnect: false }), (k) => k.close());
    // Five sinks: logged in, then they stop reading (the kernel buffers fill, then the server's own queue).
    const sinks = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const r = opened.add(await RawConnection.open(s.port, 'binary'), (k) => k.close());
        await rawSignup(r, uniqueName('sink'), 'pw');
        r.socket.pause();
        return r;
      }),
    );
    const names = sinks.map((r) => r.self);
    const rss0 = rssKiB(s.proc.pid!);
    probe.start();
    const text = 'x'.repeat(16_000);
    let pushed = 0;
    let peak = rss0;
    // Until every sink is cut off (a push is no longer delivered), bounded at 64 MiB of messages per sink.
    const cutOff = new Set<string>();
    for (let round = 0; round < 4096 && cutOff.size < names.length; round++) {
      const results = await Promise.all(names.filter((n) => !cutOff.has(n)).map((n) => sender.send(n, text).then((r) => ({ n, r }))));
      for (const { n, r } of results) {
        if (r.delivered) pushed++;
        else cutOff.add(n);
      }
      if (round % 64 === 0) peak = Math.max(peak, rssKiB(s.proc.pid!));
    }
    const during = await probe.stop();
    await sleep(500);
    const rss1 = rssKiB(s.proc.pid!);
    t.diagnostic(`${pushed} pushes of 16 kB before all 5 non-reading sinks were closed; probe: ${describeStats(during)}`);
    t.diagnostic(`server RSS ${rss0} KiB before, peak ${peak} KiB, ${rss1} KiB after`);
    assert.equal(cutOff.size, names.length, 'every sink was closed (its sends are no longer delivered)');
    assert.equal((s.output().match(/output_overflow/g) ?? []).length, names.length);
    assert.deepEqual(during.failures, []);
    assert.ok(during.max < 2000, `a probe round trip took ${during.max} ms`);
    // What was queued for the sinks is freed: well under what was pushed at them.
    assert.ok(peak - rss0 < 128 * 1024, `the server grew by ${peak - rss0} KiB at the peak`);
    // The messages are kept for them: pending, fetched at the next login.
    assert.equal(s.proc.exitCode, null);
  });
});
