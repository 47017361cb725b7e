// Bundles with esbuild: the server (node; better-sqlite3 stays external, a native module loaded at run time), the
// extension (node/cjs; `vscode` is provided by the editor), and the webview (browser).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const production = process.argv.includes('--production');
// The in-host test suite is built in development, and in production when the tests ask for it (`--tests`).
const tests = !production || process.argv.includes('--tests');
const common = {
  bundle: true,
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  define: { __JOCHAT_VERSION__: JSON.stringify(pkg.version) },
};
const node = { ...common, platform: 'node', target: 'node20', format: 'cjs' };

mkdirSync('dist', { recursive: true });
await Promise.all([
  build({ ...node, entryPoints: { server: 'server/main.ts' }, outdir: 'dist', external: ['better-sqlite3'] }),
  build({ ...node, entryPoints: { extension: 'extension/extension.ts' }, outdir: 'dist', external: ['vscode'] }),
  build({ ...common, entryPoints: { webview: 'webview/main.ts' }, outdir: 'dist', platform: 'browser', format: 'iife', target: 'es2022' }),
  // The in-host test suite (not shipped): mocha comes from node_modules at run time.
  tests &&
    build({ ...node, entryPoints: { 'test/suite': 'test/extension-host/index.ts' }, outdir: 'dist', external: ['vscode', 'mocha'] }),
]);
copyFileSync('webview/style.css', 'dist/webview.css');
// Codicons for the webview (its CSP lets in styles and fonts from the extension's own files only).
for (const f of ['codicon.css', 'codicon.ttf']) copyFileSync(`node_modules/@vscode/codicons/dist/${f}`, `dist/${f}`);
