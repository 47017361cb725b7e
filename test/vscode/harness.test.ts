// Proves the real-VS-Code harness end to end on a throwaway extension: a passing run() reports 0 from inside a
// real 1.100 extension host (with a command of the extension really executed), and a throwing run() reports 1,
// so a suite that never ran, or whose failures were lost, cannot look green. A third case covers the UI path:
// the same extension packaged as a .vsix, installed, and seen working in the workbench through chromium.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { ensureVsCodeTestEnv } from '../../scripts/vscode-setup.mjs';
import { launchBrowser } from './browser.js';
import { startCodeServer } from './codeServer.js';
import { runInHostTests } from './inHost.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

const PUBLISHER = 'jochat-test';
const NAME = 'harness-probe';

const manifest = {
  name: NAME,
  publisher: PUBLISHER,
  version: '0.0.1',
  engines: { vscode: '^1.100.0' },
  main: './extension.js',
  activationEvents: ['onStartupFinished'],
  contributes: { commands: [{ command: 'harnessProbe.answer', title: 'Harness Probe: Answer' }] },
};

const extensionJs = `
const vscode = require('vscode');
exports.activate = (context) => {
  context.subscriptions.push(
    vscode.commands.registerCommand('harnessProbe.answer', (question) => ({ answer: 42, question })),
  );
  const item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 1000);
  item.text = 'harness-probe ready';
  item.show();
  context.subscriptions.push(item);
  console.log('harness-probe activated');
};
exports.deactivate = () => {};
`;

const passingSuite = `
const assert = require('node:assert/strict');
const vscode = require('vscode');
exports.run = async () => {
  assert.ok(vscode.version.startsWith('1.100'), 'VS Code version ' + vscode.version);
  const ext = vscode.extensions.getExtension('${PUBLISHER}.${NAME}');
  assert.ok(ext, 'the extension under development is loaded');
  const result = await vscode.commands.executeCommand('harnessProbe.answer', 'ping');
  assert.deepEqual(result, { answer: 42, question: 'ping' });
  assert.ok(ext.isActive);
  console.log('harness-probe suite passed in VS Code ' + vscode.version);
};
`;

const failingSuite = `
exports.run = async () => {
  console.log('harness-probe failing suite started');
  throw new Error('harness-probe fails on purpose');
};
`;

let dir = '';

before(
  async () => {
    // First run on a machine installs chromium and code-server (~80 s); later runs return at once.
    await ensureVsCodeTestEnv();
    dir = await mkdtemp(join(tmpdir(), 'jochat-harness-'));
    await writeFile(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
    await writeFile(join(dir, 'extension.js'), extensionJs);
    await writeFile(join(dir, 'suite.js'), passingSuite);
    await writeFile(join(dir, 'failing-suite.js'), failingSuite);
  },
  { timeout: 20 * 60_000 },
);

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('a passing run() inside the VS Code extension host exits with 0', { timeout: 180_000 }, async () => {
  const { code, logs } = await runInHostTests({ extensionDevelopmentPath: dir, extensionTestsPath: join(dir, 'suite.js') });
  const shown = logs.join('\n');
  assert.equal(code, 0, `exit code ${code}; logs:\n${shown}`);
  // The console is forwarded, and these lines prove that the extension activated and run() got to its end.
  assert.match(shown, /harness-probe activated/);
  assert.match(shown, /harness-probe suite passed in VS Code 1\.100\./);
});

test('a run() that throws exits with 1', { timeout: 180_000 }, async () => {
  const { code, logs } = await runInHostTests({ extensionDevelopmentPath: dir, extensionTestsPath: join(dir, 'failing-suite.js') });
  const shown = logs.join('\n');
  assert.equal(code, 1, `exit code ${code}; logs:\n${shown}`);
  assert.match(shown, /harness-probe failing suite started/);
});

/** Live (non-zombie) processes in process group pgid, from /proc. */
async function liveInGroup(pgid: number): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] !== 'Z' && Number(fields[2]) === pgid) found.push(Number(name));
  }
  return found;
}

test('a .vsix installed by startCodeServer runs in the workbench; stop() leaves no process', { timeout: 180_000 }, async () => {
  const vsix = join(dir, 'out', 'harness-probe.vsix');
  await mkdir(join(dir, 'out'), { recursive: true });
  await promisify(execFile)(
    join(REPO, 'node_modules', '.bin', 'vsce'),
    ['package', '--allow-missing-repository', '--skip-license', '--no-dependencies', '--out', vsix],
    { cwd: dir },
  );
  // startupEditor none: no Welcome tab, which also shows that `settings` reached the workbench.
  const server = await startCodeServer({ folder: dir, installVsix: [vsix], settings: { 'workbench.startupEditor': 'none' } });
  let browser: Browser | undefined;
  try {
    assert.ok((await readdir(server.extensionsDir)).includes(`${PUBLISHER}.${NAME}-0.0.1`), 'the .vsix is installed');
    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await page.goto(`${server.url}?folder=${encodeURIComponent(dir)}`);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await page.locator('.statusbar').getByText('harness-probe ready').waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('.tabs-container .tab').count(), 0, 'no editor tab (Welcome) opened');
    await mkdir(join(REPO, 'test-results'), { recursive: true });
    await page.screenshot({ path: join(REPO, 'test-results', 'vscode-harness-workbench.png') });
  } finally {
    await browser?.close();
    await server.stop();
  }
  assert.deepEqual(await liveInGroup(server.pid), [], 'processes of the stopped code-server');
});
