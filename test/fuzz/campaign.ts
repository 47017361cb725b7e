/**
 * One part of the long fuzz campaign (scripts/fuzz.mjs runs the parts, in parallel where the cores allow):
 *
 *   node --import tsx test/fuzz/campaign.ts decoders <json|binary> <runs> <seed>
 *     `runs` mutated requests through that protocol's request decoder, a quarter as many server messages through
 *     its client-side decoder and (binary part) as many random streams through the frame reader; every input timed,
 *     so a slow one (a hang in the making) is reported with its bytes.
 *   node --import tsx test/fuzz/campaign.ts network <ms> <connections> <seed>
 *     the network fuzzer against a fresh server process, with the latency probe running.
 *
 * The last line printed is a JSON summary; the exit code is 1 when anything was found.
 */
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import type { Protocol } from '../../protocol/codec.js';
import { startServer } from '../helpers/server.js';
import { LatencyProbe } from '../hostile/probe.js';
import { checkFrameStream, checkRequest, checkServerMessage, frameStreamArb, requestInputArb, serverInputArb } from './harness.js';
import { runNetworkFuzz } from './network.js';

const CHUNK = 100_000;
/**
 * An input that takes this long to decode is reported as a hang in the making. Decoding is linear in the frame's
 * size; the costliest shape measured (1 MiB of nested JSON arrays) takes about 120 ms, the fuzzer's inputs are
 * smaller, and a loaded two-core machine adds pauses of a few hundred ms.
 */
const SLOW_MS = 1000;

interface PropertyReport {
  property: string;
  runs: number;
  ms: number;
  slowest: { ms: number; hex: string };
  failure?: { seed: number; path: string | undefined; error: string; input: string };
}

/** Runs a property in chunks (progress on stderr), timing each input; stops at the first failure. */
function campaign<T>(property: string, arb: fc.Arbitrary<T>, check: (v: T) => void, runs: number, seed: number, hexOf: (v: T) => string): PropertyReport {
  const report: PropertyReport = { property, runs: 0, ms: 0, slowest: { ms: 0, hex: '' } };
  const t0 = performance.now();
  for (let done = 0, chunk = 0; done < runs; chunk++) {
    const n = Math.min(CHUNK, runs - done);
    const chunkSeed = (seed + chunk * 7919) | 0;
    const details = fc.check(
      fc.property(arb, (v) => {
        const s = performance.now();
        check(v);
        const ms = performance.now() - s;
        if (ms > report.slowest.ms) report.slowest = { ms, hex: hexOf(v).slice(0, 400) };
      }),
      { numRuns: n, seed: chunkSeed },
    );
    done += details.numRuns;
    report.runs = done;
    if (details.failed) {
      const cx = details.counterexample?.[0];
      report.failure = {
        seed: chunkSeed,
        path: details.counterexamplePath ?? undefined,
        error: String((details.errorInstance as Error | undefined)?.message ?? details.errorInstance).slice(0, 2000),
        input: cx === undefined ? '' : hexOf(cx),
      };
      break;
    }
    process.stderr.write(`  ${property}: ${done}/${runs} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  report.ms = Math.round(performance.now() - t0);
  return report;
}

async function decoders(protocol: Protocol, runs: number, seed: number): Promise<boolean> {
  const reports: PropertyReport[] = [
    campaign(`${protocol} decodeRequest`, requestInputArb(protocol), (i) => void checkRequest(protocol, i.payload), runs, seed, (i) => i.payload.toString('hex')),
    campaign(
      `${protocol} decodeServerMessage`,
      serverInputArb(protocol),
      (i) => checkServerMessage(protocol, i.payload, i.pending),
      Math.ceil(runs / 4),
      seed + 1,
      (i) => i.payload.toString('hex'),
    ),
  ];
  if (protocol === 'binary')
    reports.push(campaign('FrameReader', frameStreamArb, checkFrameStream, Math.ceil(runs / 4), seed + 2, (s) => `${s.maxFrame} ${s.cuts.join(',')} ${s.bytes.toString('hex')}`));
  const slow = reports.filter((r) => r.slowest.ms > SLOW_MS);
  console.log(JSON.stringify({ part: 'decoders', protocol, seed, reports, slow: slow.map((r) => r.property) }));
  return reports.every((r) => !r.failure) && slow.length === 0;
}

async function network(ms: number, connections: number, seed: number): Promise<boolean> {
  const server = await startServer();
  try {
    const probe = await LatencyProbe.create(server);
    const baseline = await probe.baseline(2000);
    probe.start();
    const t0 = performance.now();
    const stats = await runNetworkFuzz({ host: server.host, port: server.port, durationMs: ms, connections, seed });
    const elapsed = Math.round(performance.now() - t0);
    const during = await probe.stop();
    probe.close();
    const alive = server.proc.exitCode === null;
    const logged = server.output().split('\n').filter((l) => /internal_error|store_failed/.test(l)).slice(0, 20);
    console.log(JSON.stringify({ part: 'network', seed, elapsed, alive, logged, stats, baseline, during }));
    return alive && logged.length === 0 && stats.findings.length === 0 && during.failures.length === 0 && during.max < 2000;
  } finally {
    await server.stop();
    server.cleanup();
  }
}

async function main(): Promise<void> {
  const [part, a, b, c] = process.argv.slice(2);
  let ok: boolean;
  if (part === 'decoders' && (a === 'json' || a === 'binary')) ok = await decoders(a, Number(b), Number(c));
  else if (part === 'network') ok = await network(Number(a), Number(b), Number(c));
  else throw new Error('usage: campaign.ts decoders <json|binary> <runs> <seed> | network <ms> <connections> <seed>');
  process.exitCode = ok ? 0 : 1;
}

void main();
