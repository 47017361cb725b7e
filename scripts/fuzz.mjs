// `npm run fuzz`: the long fuzz campaign of issue 6. At least 1,000,000 mutated requests per protocol through the
// decoders (plus server messages through the client's decoders and streams through the frame reader), then the
// network fuzzer against a live server with a well-behaved client measuring latency. Options:
//   --runs N          inputs per protocol for the request decoders (default 1000000)
//   --net-seconds S   how long the network phase runs (default 120; 0 skips it)
//   --connections C   fuzzing connections in the network phase (default 16)
//   --seed N          base seed (default: the time); the summary prints it, so a failure can be replayed
// Exits 1 when anything was found; each finding's input is printed, to be kept in test/fuzz/regressions.ts.
import { spawn, spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const runs = opt('runs', 1_000_000);
const netSeconds = opt('net-seconds', 120);
const connections = opt('connections', 16);
const seed = opt('seed', Date.now() % 0x7fffffff);

const build = spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

/** Runs one campaign part; resolves with its exit code, wall time and JSON summary (its last stdout line). */
function part(...partArgs) {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'test/fuzz/campaign.ts', ...partArgs.map(String)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      let summary;
      try {
        summary = JSON.parse(last);
      } catch {
        summary = { unreadable: out.slice(-2000) };
      }
      resolve({ code, seconds: (Date.now() - t0) / 1000, summary });
    });
  });
}

console.log(`fuzz campaign: ${runs} inputs per protocol, network ${netSeconds} s with ${connections} connections, seed ${seed}`);
const t0 = Date.now();
// Two cores: the two protocols' decoder parts run side by side.
const decoderParts = await Promise.all([part('decoders', 'json', runs, seed), part('decoders', 'binary', runs, seed + 1)]);
const parts = [...decoderParts];
if (netSeconds > 0) parts.push(await part('network', netSeconds * 1000, connections, seed + 2));

let failed = false;
for (const p of parts) {
  const s = p.summary;
  if (s.part === 'decoders') {
    for (const r of s.reports) {
      const rate = Math.round(r.runs / (r.ms / 1000));
      console.log(
        `${r.property}: ${r.runs} inputs in ${(r.ms / 1000).toFixed(1)} s (${rate}/s), slowest ${r.slowest.ms.toFixed(2)} ms` +
          (r.failure ? `\n  FAILED (seed ${r.failure.seed}, path ${r.failure.path}): ${r.failure.error}\n  input: ${r.failure.input}` : ''),
      );
    }
    if (s.slow.length > 0) console.log(`  slow inputs (over 1 s) in: ${s.slow.join(', ')}`);
  } else if (s.part === 'network') {
    const st = s.stats;
    console.log(
      `network: ${st.frames} frames in ${st.batches} batches over ${st.connections} connections in ${(s.elapsed / 1000).toFixed(0)} s; ` +
        `refusals ${JSON.stringify(st.codes)}; endings ${JSON.stringify(st.terminal)}`,
    );
    const fmt = (l) => `${l.count} round trips, p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, max ${l.max.toFixed(1)} ms, ${l.failures.length} failures`;
    console.log(`  probe baseline: ${fmt(s.baseline)}\n  probe under fuzz: ${fmt(s.during)}`);
    for (const f of st.findings.slice(0, 10)) console.log(`  FINDING ${f.kind}: ${f.detail}\n    ${f.frames.join('\n    ')}`);
    for (const l of s.logged) console.log(`  server log: ${l}`);
  } else console.log(`a part's output could not be read: ${JSON.stringify(s)}`);
  if (p.code !== 0) failed = true;
}
console.log(`${failed ? 'FOUND PROBLEMS' : 'nothing found'} in ${((Date.now() - t0) / 1000).toFixed(0)} s (seed ${seed})`);
process.exit(failed ? 1 : 0);
