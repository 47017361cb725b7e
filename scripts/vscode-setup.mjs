// Sets up what the real-VS-Code tests need, once per machine, and reuses it afterwards:
//   - Debian packages: chromium (the browser Playwright drives), ripgrep (code-server's search), and the
//     headers that code-server's native modules compile against;
//   - code-server 4.100.3 (VS Code 1.100.3 on the system Node 20) in <repo>/.cache/code-server-4.100.3/.
// code-server's install scripts download ripgrep from the internet, which these machines cannot reach, so this
// follows the by-hand recipe of shared/VSCODE.md: scripts off, native modules rebuilt, Debian's rg, the
// postinstall links redone. A stamp file marks a finished install; with it present this is a fast no-op.
//
// CLI:    node scripts/vscode-setup.mjs
// Module: const { codeServerBin, chromium } = await ensureVsCodeTestEnv();
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CODE_SERVER_VERSION = '4.100.3';
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(REPO, '.cache');
const PREFIX = join(CACHE, `code-server-${CODE_SERVER_VERSION}`);
// Kept beside the prefix, not inside it: a retry wipes the prefix but the log of the failed try should survive.
const LOG = `${PREFIX}.setup.log`;
const LOCK = `${PREFIX}.lock`;
const STAMP = join(PREFIX, '.jochat-setup-complete');
const CODE_SERVER_BIN = join(PREFIX, 'node_modules', '.bin', 'code-server');
const CHROMIUM = '/usr/bin/chromium';
const RG = '/usr/bin/rg';
const APT_PACKAGES = ['chromium', 'ripgrep', 'libkrb5-dev', 'libxkbfile-dev', 'libsecret-1-dev', 'libx11-dev', 'pkg-config'];
const LOCK_WAIT_MS = 20 * 60_000;

const say = (line) => process.stderr.write(`[vscode-setup] ${line}\n`);
const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class SetupError extends Error {}

/** Debian packages from APT_PACKAGES that are not installed (one dpkg-query call: cheap enough for every run). */
function missingAptPackages() {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package} ${db:Status-Abbrev}\\n', ...APT_PACKAGES], { encoding: 'utf8' });
  if (r.error) throw new SetupError(`dpkg-query is not available (${r.error.message}); install by hand: ${APT_PACKAGES.join(' ')}`);
  const installed = new Set(
    r.stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter(([, status]) => status === 'ii')
      .map(([name]) => name.replace(/:.*$/, '')),
  );
  const missing = APT_PACKAGES.filter((p) => !installed.has(p));
  // dpkg can call a package installed while the file we run is gone: check the files too.
  if (!missing.includes('chromium') && !existsSync(CHROMIUM)) missing.push('chromium');
  if (!missing.includes('ripgrep') && !existsSync(RG)) missing.push('ripgrep');
  return missing;
}

const isDone = () => existsSync(STAMP) && existsSync(CODE_SERVER_BIN) && missingAptPackages().length === 0;

// npm run-script exports its own context (npm_lifecycle_*, npm_package_*, local prefix of the repo); the nested
// npm installs below must act on their own folders, so they get none of it.
function childEnv(extra = {}) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (/^npm_(lifecycle_|package_|command$|execpath$|node_execpath$|config_local_prefix$|config_prefix$)/.test(k)) delete env[k];
  }
  return { ...env, ...extra };
}

let logStream;
function log(text) {
  logStream ??= createWriteStream(LOG, { flags: 'a' });
  logStream.write(text);
}

/** Runs one step, its output going to the log file; on failure throws with the tail of that output. */
function run(label, cmd, args, { cwd = REPO, env = {} } = {}) {
  const started = Date.now();
  say(`${label} ...`);
  log(`\n===== ${new Date().toISOString()} ${label}\n$ (cd ${cwd} && ${cmd} ${args.join(' ')})\n`);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const onData = (chunk) => {
      const s = chunk.toString();
      log(s);
      tail = (tail + s).slice(-6000);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => reject(new SetupError(`step "${label}" could not start ${cmd}: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) {
        say(`${label}: done in ${seconds(started)}`);
        resolvePromise(tail);
        return;
      }
      const lastLines = tail.split('\n').slice(-40).join('\n');
      reject(
        new SetupError(
          `step "${label}" failed (${signal ?? `exit ${code}`}): ${cmd} ${args.join(' ')}\n` +
            `in ${cwd}\n--- last output ---\n${lastLines}\n--- full log: ${LOG}`,
        ),
      );
    });
  });
}

function check(cond, message) {
  if (!cond) throw new SetupError(message);
}

async function installAptPackages(missing) {
  // Root here and in CI; elsewhere sudo without a password prompt, or a plain failure that says what to install.
  const apt = (args) => (process.getuid?.() === 0 ? ['apt-get', args] : ['sudo', ['-n', 'apt-get', ...args]]);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get update', ...apt(['update']), { env });
  // Wait for the dpkg lock instead of failing when something else (another job, unattended-upgrades) holds it.
  await run(`apt-get install ${missing.join(' ')}`, ...apt(['-o', 'DPkg::Lock::Timeout=600', 'install', '-y', ...missing]), { env });
  const still = missingAptPackages();
  check(still.length === 0, `apt-get finished but these are still missing: ${still.join(' ')}`);
}

/** Links `dest` → `target` (relative), replacing whatever is there, as code-server's postinstall.sh does. */
function relink(target, dest) {
  rmSync(dest, { recursive: true, force: true });
  symlinkSync(target, dest);
}

async function installCodeServer() {
  rmSync(PREFIX, { recursive: true, force: true }); // no stamp = an unfinished try: start clean
  mkdirSync(PREFIX, { recursive: true });
  writeFileSync(
    join(PREFIX, 'package.json'),
    JSON.stringify({ name: 'jochat-code-server-cache', private: true, description: 'made by scripts/vscode-setup.mjs' }, null, 2) + '\n',
  );
  const pkg = join(PREFIX, 'node_modules', 'code-server');
  const vscode = join(pkg, 'lib', 'vscode');
  // npm_config_yes: node-pty's build runs `npx node-gyp`, which aborts without a TTY unless told yes.
  const gypEnv = { npm_config_yes: 'true' };

  // Step 2. Scripts off: code-server's postinstall (and @vscode/ripgrep's) would download from the internet.
  await run(`npm install code-server@${CODE_SERVER_VERSION}`, 'npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', `code-server@${CODE_SERVER_VERSION}`], { cwd: PREFIX });
  await run('npm rebuild argon2', 'npm', ['rebuild', 'argon2'], { cwd: PREFIX, env: gypEnv });

  // Step 3. VS Code's own runtime dependencies, then its native modules against the system Node.
  await run('npm install in lib/vscode', 'npm', ['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: vscode });
  const rgDir = join(vscode, 'node_modules', '@vscode', 'ripgrep', 'bin');
  mkdirSync(rgDir, { recursive: true });
  copyFileSync(RG, join(rgDir, 'rg'));
  chmodSync(join(rgDir, 'rg'), 0o755);
  say(`copied ${RG} into @vscode/ripgrep`);
  const natives = ['node-pty', 'native-watchdog', '@vscode/spdlog', '@vscode/deviceid', '@parcel/watcher'];
  await run('npm rebuild native modules in lib/vscode', 'npm', ['rebuild', ...natives], { cwd: vscode, env: gypEnv });

  // Step 4. The rest of code-server's postinstall.sh.
  relink('node_modules', join(vscode, 'node_modules.asar'));
  relink('code-linux.sh', join(vscode, 'bin', 'remote-cli', 'code-server'));
  relink('browser-linux.sh', join(vscode, 'bin', 'helpers', 'browser.sh'));
  say('postinstall links made');
  await run('npm install in lib/vscode/extensions', 'npm', ['install', '--omit=dev', '--no-audit', '--no-fund'], { cwd: join(vscode, 'extensions') });

  // A rebuild that npm skipped quietly would otherwise surface only as a crash of the server under test.
  await run('load the native modules', process.execPath, ['-e', "require('argon2')"], { cwd: PREFIX });
  await run('load the native modules of lib/vscode', process.execPath, ['-e', natives.map((n) => `require(${JSON.stringify(n)});`).join('')], { cwd: vscode });

  // Step 5. The stamp is written only after the installed server answers with the right version.
  // CODE_SERVER_CONFIG: its first run writes a default config, which belongs in the cache, not in ~/.config.
  const out = await run('code-server --version', CODE_SERVER_BIN, ['--version'], { cwd: PREFIX, env: { CODE_SERVER_CONFIG: join(PREFIX, 'config.yaml') } });
  check(out.includes(CODE_SERVER_VERSION), `code-server --version did not print ${CODE_SERVER_VERSION}:\n${out}`);
  writeFileSync(STAMP, `${out.trim()}\n${new Date().toISOString()}\n`);
}

const isAlive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
};

/** mkdir is atomic: whoever creates LOCK owns it; a lock whose owner has died is taken over. */
async function withLock(fn) {
  mkdirSync(CACHE, { recursive: true });
  const deadline = Date.now() + LOCK_WAIT_MS;
  let told = false;
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    let owner = 0;
    try {
      owner = Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
    } catch {
      // The owner may be between its mkdir and writing its pid; only an old pid-less lock counts as abandoned.
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > 30_000) owner = -1;
      } catch {
        continue; // gone meanwhile: try again
      }
    }
    if (owner === -1 || (owner > 0 && !isAlive(owner))) {
      say(`removing a stale lock left by ${owner > 0 ? `pid ${owner}` : 'an unknown process'}`);
      rmSync(LOCK, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new SetupError(`gave up after ${LOCK_WAIT_MS / 60_000} min waiting for ${LOCK} (pid ${owner})`);
    if (!told) say(`another setup is running (pid ${owner || '?'}); waiting for it`);
    told = true;
    await sleep(1000);
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/**
 * Makes sure Debian's chromium and a working code-server 4.100.3 are installed; installs what is missing.
 * @returns {Promise<{ codeServerBin: string, chromium: string }>}
 */
export async function ensureVsCodeTestEnv() {
  const result = { codeServerBin: CODE_SERVER_BIN, chromium: CHROMIUM };
  if (isDone()) return result;
  const started = Date.now();
  await withLock(async () => {
    // Someone else may have finished while we waited for the lock.
    if (isDone()) {
      say('already set up by another process');
      return;
    }
    say(`setting up code-server ${CODE_SERVER_VERSION} and chromium for the VS Code tests (log: ${LOG})`);
    const missing = missingAptPackages();
    if (missing.length) await installAptPackages(missing);
    else say('Debian packages: all present');
    if (!existsSync(STAMP) || !existsSync(CODE_SERVER_BIN)) await installCodeServer();
    say(`ready in ${seconds(started)}: ${CODE_SERVER_BIN}`);
  }).finally(() => {
    logStream?.end();
    logStream = undefined;
  });
  return result;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // A closed stderr (e.g. piped into head) must not crash a setup half-way and leave its lock behind.
  process.stderr.on('error', () => {});
  ensureVsCodeTestEnv().then(
    ({ codeServerBin, chromium }) => {
      say(`code-server: ${codeServerBin}`);
      say(`chromium: ${chromium}`);
    },
    (err) => {
      say(`FAILED: ${err instanceof SetupError ? err.message : (err?.stack ?? String(err))}`);
      process.exit(1);
    },
  );
}
