/**
 * Server settings: one table of options, read from the command line, then environment variables (JOCHAT_*), then a
 * JSON config file (--config), then defaults. `--help` is generated from the same table.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_IDLE_TIMEOUT_S, DEFAULT_MAX_FRAME } from '../protocol/limits.js';
import { LOG_LEVELS, type LogLevel } from './log.js';

export type Synchronous = 'full' | 'normal';

export interface Config {
  host: string;
  port: number;
  db: string;
  protocol: 'auto' | 'json' | 'binary';
  maxFrame: number;
  idleTimeout: number;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  logLevel: LogLevel;
  synchronous: Synchronous;
  maxOutput: number;
  maxConnections: number;
  loginFreeFailures: number;
  signupRate: number;
  sendRate: number;
}

/** Where the database lives when --db is not given: the platform's per-user data folder. */
export function defaultDbPath(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  const home = homedir();
  if (platform === 'win32') return join(env['APPDATA'] ?? join(home, 'AppData', 'Roaming'), 'JoChat', 'jochat.db');
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'JoChat', 'jochat.db');
  return join(env['XDG_DATA_HOME'] || join(home, '.local', 'share'), 'jochat', 'jochat.db');
}

const int = (min: number, max: number) => (v: string, name: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer from ${min} to ${max}`);
  return n;
};
const oneOf =
  <T extends string>(...values: T[]) =>
  (v: string, name: string): T => {
    if (!(values as string[]).includes(v)) throw new Error(`--${name} must be one of ${values.join(', ')}`);
    return v as T;
  };
const text = (v: string) => v;

interface Option<K extends keyof Config> {
  key: K;
  name: string;
  arg: string;
  help: string;
  parse: (v: string, name: string) => Config[K];
  default: () => Config[K];
}
const option = <K extends keyof Config>(o: Option<K>): Option<K> => o;

export const OPTIONS = [
  option({ key: 'host', name: 'host', arg: 'HOST', help: 'address to listen on', parse: text, default: () => '127.0.0.1' }),
  option({ key: 'port', name: 'port', arg: 'PORT', help: 'TCP port (0 picks a free one)', parse: int(0, 65535), default: () => 5000 }),
  option({ key: 'db', name: 'db', arg: 'FILE', help: 'SQLite database file', parse: text, default: () => defaultDbPath() }),
  option({
    key: 'protocol',
    name: 'protocol',
    arg: 'auto|json|binary',
    help: 'wire protocol; auto decides per connection from the first byte',
    parse: oneOf('auto', 'json', 'binary'),
    default: () => 'auto' as const,
  }),
  option({
    key: 'maxFrame',
    name: 'max-frame',
    arg: 'BYTES',
    help: 'largest frame accepted; a larger length prefix closes the connection',
    parse: int(1024, 64 * 1024 * 1024),
    default: () => DEFAULT_MAX_FRAME,
  }),
  option({
    key: 'idleTimeout',
    name: 'idle-timeout',
    arg: 'SECONDS',
    help: 'close a connection silent this long (0 = never)',
    parse: int(0, 86400),
    default: () => DEFAULT_IDLE_TIMEOUT_S,
  }),
  option({ key: 'tlsCert', name: 'tls-cert', arg: 'FILE', help: 'PEM certificate: listen with TLS', parse: text, default: () => undefined }),
  option({ key: 'tlsKey', name: 'tls-key', arg: 'FILE', help: 'PEM private key for --tls-cert', parse: text, default: () => undefined }),
  option({
    key: 'logLevel',
    name: 'log-level',
    arg: LOG_LEVELS.join('|'),
    help: 'least severe log lines printed',
    parse: oneOf(...LOG_LEVELS),
    default: () => 'info' as const,
  }),
  option({
    key: 'synchronous',
    name: 'synchronous',
    arg: 'full|normal',
    help: 'full: nothing is acknowledged before it is on disk (survives power loss); normal: survives a killed server',
    parse: oneOf('full', 'normal'),
    default: () => 'full' as const,
  }),
  option({
    key: 'maxOutput',
    name: 'max-output',
    arg: 'BYTES',
    help: "close a connection whose unread output exceeds this (a client that doesn't read)",
    parse: int(64 * 1024, 1024 * 1024 * 1024),
    default: () => 16 * 1024 * 1024,
  }),
  option({
    key: 'maxConnections',
    name: 'max-connections',
    arg: 'N',
    help: 'connections served at once; more are closed as they arrive',
    parse: int(1, 1_000_000),
    default: () => 20_000,
  }),
  option({
    key: 'loginFreeFailures',
    name: 'login-free-failures',
    arg: 'N',
    help: 'failed logins per account and per address before each further attempt waits (1 s, doubling, up to 15 min)',
    parse: int(0, 1_000_000),
    default: () => 5,
  }),
  option({
    key: 'signupRate',
    name: 'signup-rate',
    arg: 'N',
    help: 'sign-ups per minute from one address (0 = no limit)',
    parse: int(0, 1_000_000),
    default: () => 10,
  }),
  option({
    key: 'sendRate',
    name: 'send-rate',
    arg: 'N',
    help: 'messages per second one session may send, bursts of twice that (0 = no limit)',
    parse: int(0, 10_000_000),
    default: () => 20_000,
  }),
] as const;

const envName = (name: string) => 'JOCHAT_' + name.toUpperCase().replace(/-/g, '_');

export function helpText(): string {
  const lines = OPTIONS.map((o) => `  --${`${o.name} ${o.arg}`.padEnd(34)} ${o.help} (env ${envName(o.name)})`);
  return [
    'Usage: jochat-server [options]',
    '',
    'Runs the JoChat server in the foreground; prints a line with "listening" and the address when ready.',
    '',
    ...lines,
    `  --${'config FILE'.padEnd(34)} JSON file of the same settings, e.g. {"port": 5000} (env JOCHAT_CONFIG)`,
    `  --${'help'.padEnd(34)} this text`,
    '',
    'Order of precedence: command line, environment, config file, defaults.',
  ].join('\n');
}

export type ParsedArgs = { help: true } | { help: false; config: Config };

/** Reads settings; throws an Error with a plain message on a bad value. */
export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ParsedArgs {
  const cli = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return { help: true };
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unexpected argument "${a}" (see --help)`);
    const name = m[1]!;
    if (name !== 'config' && !OPTIONS.some((o) => o.name === name)) throw new Error(`unknown option --${name} (see --help)`);
    const value = m[2] ?? (argv[i + 1]?.startsWith('--') ? undefined : argv[++i]);
    if (value === undefined) throw new Error(`--${name} needs a value`);
    cli.set(name, value);
  }
  const configFile = cli.get('config') ?? env['JOCHAT_CONFIG'];
  const file: Record<string, unknown> = configFile ? JSON.parse(readFileSync(configFile, 'utf8')) : {};
  const config: Record<string, unknown> = {};
  for (const o of OPTIONS) {
    const fromFile = file[o.key] ?? file[o.name];
    const raw = cli.get(o.name) ?? env[envName(o.name)] ?? (fromFile === undefined ? undefined : String(fromFile));
    config[o.key] = raw === undefined ? o.default() : o.parse(raw, o.name);
  }
  const c = config as unknown as Config;
  if (!c.tlsCert !== !c.tlsKey) throw new Error('--tls-cert and --tls-key go together');
  return { help: false, config: c };
}
