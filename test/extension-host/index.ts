/**
 * The in-host test suite: runs inside a real VS Code extension host (code-server in CI, desktop VS Code through
 * @vscode/test-cli elsewhere). Its entry exports run(), the contract of @vscode/test-electron; loaded by a mocha
 * runner instead (@vscode/test-cli), it registers its suites with that runner's globals.
 */
import Mocha from 'mocha';

function registerSuites(): void {
  require('./extension.test');
  require('./view.test');
}

if (typeof (globalThis as { describe?: unknown }).describe === 'function') registerSuites();

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 60_000, color: false, reporter: 'spec' });
  // Defines describe/it for the suites, which are required after this so their top level sees them.
  mocha.suite.emit('pre-require', globalThis, 'extension-host', mocha);
  registerSuites();
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} in-host test(s) failed`)) : resolve()));
  });
}
