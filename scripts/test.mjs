// `npm test`: builds the bundles users run, type-checks, then runs every test file with node's test runner.
// Pass file paths or folders to run a subset: `npm test -- test/unit`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

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
// The production bundles users run (plus the in-host suite), packaged once before any test starts, so no test reads
// dist/ while another rewrites it; the end-to-end tests install this .vsix.
run(process.execPath, ['scripts/build.mjs', '--production', '--tests']);
run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--noEmit']);
run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'webview/tsconfig.json', '--noEmit']);
const vsix = resolve('.cache/test/jochat-test.vsix');
mkdirSync(dirname(vsix), { recursive: true });
run(process.execPath, ['node_modules/@vscode/vsce/vsce', 'package', '--no-rewrite-relative-links', '--out', vsix]);
process.env['JOCHAT_TEST_VSIX'] = vsix;
const files = (targets.length ? targets : ['test/unit', 'test/integration', 'test/fuzz', 'test/hostile', 'test/vscode', 'test/e2e']).flatMap(testFiles);
run(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files]);
