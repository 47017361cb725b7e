// The same in-host suite on desktop VS Code, through @vscode/test-cli (`npm run test:desktop`). CI runs it inside
// code-server instead (test/vscode/extension.test.ts), since @vscode/test-electron downloads VS Code at test time.
import { defineConfig } from '@vscode/test-cli';

export default defineConfig({
  files: 'dist/test/suite.js',
  version: '1.100.3',
  // Point at an installed VS Code instead of a download: VSCODE_EXECUTABLE=/path/to/code npm run test:desktop
  ...(process.env.VSCODE_EXECUTABLE ? { useInstallation: { fromPath: process.env.VSCODE_EXECUTABLE } } : {}),
  mocha: { timeout: 60_000 },
});
