/**
 * The bounded network fuzz pass of `npm test`: a few seconds of valid, mutated, truncated and random frames over
 * many connections to a live server, while a well-behaved client keeps sending and pinging. Every frame must get
 * exactly one response (no desync), none INTERNAL; the server must not log an internal error; the well-behaved
 * client's sends all succeed, reach the peer in order, and its round trips stay under 2 s.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { LatencyProbe, describeStats } from '../hostile/probe.js';
import { runNetworkFuzz } from './network.js';

const DURATION_MS = Number(process.env['FUZZ_NET_MS'] ?? 6000);
const SEED = Number(process.env['FUZZ_SEED'] ?? Date.now() % 0x7fffffff);

let server: TestServer;
let probe: LatencyProbe;

before(async () => {
  server = await startServer();
  probe = await LatencyProbe.create(server);
});

after(async () => {
  probe?.close();
  await server?.stop();
  server?.cleanup();
});

test(`network fuzz for ${DURATION_MS} ms: no desync, no INTERNAL, the well-behaved client unaffected`, async (t) => {
  const base = await probe.baseline(500);
  probe.start();
  const stats = await runNetworkFuzz({ host: server.host, port: server.port, durationMs: DURATION_MS, connections: 6, seed: SEED });
  const during = await probe.stop();
  t.diagnostic(`seed ${SEED}: ${stats.frames} frames in ${stats.batches} batches over ${stats.connections} connections`);
  t.diagnostic(`refusals ${JSON.stringify(stats.codes)}; endings ${JSON.stringify(stats.terminal)}; ${stats.events} events`);
  t.diagnostic(`probe baseline: ${describeStats(base)}`);
  t.diagnostic(`probe under fuzz: ${describeStats(during)}`);
  assert.deepEqual(
    stats.findings.map((f) => `${f.kind}: ${f.detail}\n  ${f.frames.join('\n  ')}`),
    [],
    `seed ${SEED}: replay with FUZZ_SEED=${SEED}`,
  );
  assert.ok(stats.frames > 500, `the fuzzer sent only ${stats.frames} frames`);
  assert.ok((stats.codes['BAD_REQUEST'] ?? 0) > 0, 'malformed frames reached the server and were refused');
  assert.ok(Object.keys(stats.codes).some((c) => !['BAD_REQUEST', 'UNKNOWN_OP'].includes(c)), 'some requests got past the decoder');
  assert.equal(server.proc.exitCode, null, 'the server is still running');
  assert.doesNotMatch(server.output(), /internal_error|store_failed/, `seed ${SEED}`);
  assert.deepEqual(during.failures, [], "the well-behaved client's requests all succeed");
  assert.ok(during.count > 20, `the probe completed only ${during.count} round trips`);
  assert.ok(during.max < 2000, `a probe round trip took ${during.max} ms`);
  assert.equal(during.received, during.sent);
});
