/**
 * Runs the in-host suite (test/extension-host, bundled to dist/test/suite.js by the build) inside code-server's
 * real VS Code extension host, with this repository as the extension under development.
 */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { ensureVsCodeTestEnv } from '../../scripts/vscode-setup.mjs';
import { runInHostTests } from './inHost.js';

const root = resolve(__dirname, '../..');

test('the in-host suite passes inside a real VS Code', { timeout: 300_000 }, async () => {
  await ensureVsCodeTestEnv();
  const r = await runInHostTests({
    extensionDevelopmentPath: root,
    extensionTestsPath: resolve(root, 'dist/test/suite.js'),
    timeoutMs: 240_000,
    onLog: (line) => process.stdout.write(`  [host] ${line}\n`),
  });
  assert.equal(r.code, 0, `the in-host suite failed:\n${r.logs.join('\n')}`);
});
