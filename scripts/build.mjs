// Bundles with esbuild. The server bundle keeps better-sqlite3 external: it is a native module loaded at run time.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const production = process.argv.includes('--production');

await build({
  entryPoints: { server: 'server/main.ts' },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['better-sqlite3'],
  sourcemap: !production,
  minify: production,
  define: { __JOCHAT_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
});
