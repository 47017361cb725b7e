/**
 * The in-host test suite: runs inside a real VS Code extension host (code-server in CI, desktop VS Code through
 * @vscode/test-cli elsewhere). Its entry exports run(), the contract of @vscode/test-electron.
 */
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 60_000, color: false, reporter: 'spec' });
  // Defines describe/it for the suites below; they are required after this so their top level sees them.
  mocha.suite.emit('pre-require', globalThis, 'extension-host', mocha);
  require('./extension.test');
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} in-host test(s) failed`)) : resolve()));
  });
}
