// `npm test`: builds the bundles users run, type-checks, then runs every test file with node's test runner.
// Pass file paths or folders to run a subset: `npm test -- test/unit`.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

function testFiles(path) {
  if (statSync(path).isFile()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => {
      const p = join(path, name);
      return statSync(p).isDirectory() ? testFiles(p) : p.endsWith('.test.ts') ? [p] : [];
    });
}

const targets = process.argv.slice(2);
run(process.execPath, ['scripts/build.mjs']);
run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--noEmit']);
const files = (targets.length ? targets : ['test/unit', 'test/integration', 'test/vscode']).flatMap(testFiles);
run(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files]);
