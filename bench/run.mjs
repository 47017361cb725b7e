// `npm run bench` (after the production server build): raises the open-file limit, bundles the benchmark's
// TypeScript (orchestrator and load generator, which import the project's own client, schema and storage code)
// into .cache/bench/, and runs it. Arguments pass through: `npm run bench -- --quick throughput`.
// JOCHAT_BENCH_SERVER=path/to/server.js measures another server bundle (e.g. an experimental build).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);

// 10,000 connections need more than the usual 1,024 descriptors, in the server and in the load generators (they
// inherit this process's limit). The shell's `ulimit` raises the soft limit up to the hard one; then run again.
const WANT = 65536;
const sh = (cmd) => spawnSync('sh', ['-c', cmd], { encoding: 'utf8' }).stdout.trim();
const soft = sh('ulimit -n');
if (!process.env.JOCHAT_BENCH_ULIMIT && soft !== 'unlimited' && Number(soft) < WANT) {
  const hard = sh('ulimit -Hn');
  const target = hard === 'unlimited' ? WANT : Math.min(WANT, Number(hard));
  if (target > Number(soft)) {
    const r = spawnSync('sh', ['-c', `ulimit -n ${target} && exec "$@"`, 'sh', process.execPath, fileURLToPath(import.meta.url), ...args], {
      stdio: 'inherit',
      env: { ...process.env, JOCHAT_BENCH_ULIMIT: '1' },
    });
    process.exit(r.status ?? 1);
  }
}

const out = join(root, '.cache/bench');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['better-sqlite3'],
  logLevel: 'warning',
  sourcemap: 'inline',
  define: { __JOCHAT_VERSION__: '"bench"' },
};
await Promise.all([
  build({ ...common, entryPoints: [join(root, 'bench/main.ts')], outfile: join(out, 'main.cjs') }),
  build({ ...common, entryPoints: [join(root, 'bench/worker.ts')], outfile: join(out, 'worker.cjs') }),
  // --profile: the same server, bundled like the production one but without minifying, so that the CPU profiles
  // name the functions. (esbuild's minifier only renames and compacts; it does not change what the code does.)
  args.includes('--profile') &&
    !process.env.JOCHAT_BENCH_SERVER &&
    build({ ...common, sourcemap: false, entryPoints: [join(root, 'server/main.ts')], outfile: join(out, 'server.js') }).then(
      () => (process.env.JOCHAT_BENCH_SERVER = join(out, 'server.js')),
    ),
]);
const require = createRequire(import.meta.url);
try {
  await require(join(out, 'main.cjs')).main(args);
} catch (e) {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
}
process.exit(0);
