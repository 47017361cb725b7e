// Runs an extension's test entry (a module exporting `run(): Promise<void>`) inside a real VS Code extension
// host, the way @vscode/test-electron does on a desktop, but in code-server driven by headless chromium.
// code-server has no --extensionTestsPath flag; its web workbench reads the same settings from the `payload`
// URL parameter and reports the outcome through window.codeAutomationExit (see shared/VSCODE.md).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { format } from 'node:util';
import type { Browser } from 'playwright-core';
import { launchBrowser } from './browser.js';
import { startCodeServer, type CodeServer } from './codeServer.js';

export interface InHostOptions {
  /** Folder with the extension's package.json. */
  extensionDevelopmentPath: string;
  /** The JS file exporting run(); the workbench exits with 0 when it resolves and 1 when it throws. */
  extensionTestsPath: string;
  /** Workspace folder; an empty temp folder when omitted. */
  folder?: string;
  /** Fails the run after this long without an exit; default 120 s. */
  timeoutMs?: number;
  /** Called with every forwarded line as it arrives (e.g. to echo them live while debugging). */
  onLog?: (line: string) => void;
}

export interface InHostResult {
  /** 0 when run() resolved, 1 when it threw. */
  code: number;
  /** The extension host's console, as forwarded to the workbench, one entry per call. */
  logs: string[];
}

const DEFAULT_TIMEOUT_MS = 120_000;

function formatArg(arg: unknown): string {
  if (typeof arg === 'string') return arg;
  try {
    return JSON.stringify(arg) ?? String(arg);
  } catch {
    return String(arg);
  }
}

/** The workbench URL that loads extensionDevelopmentPath and runs extensionTestsPath. */
export function inHostUrl(server: Pick<CodeServer, 'url' | 'port'>, opts: { extensionDevelopmentPath: string; extensionTestsPath: string; folder: string }): string {
  // Paths are on the code-server side, which VS Code addresses as the remote authority host:port.
  const remote = (p: string) => `vscode-remote://127.0.0.1:${server.port}${resolve(p)}`;
  const payload = [
    ['extensionDevelopmentPath', remote(opts.extensionDevelopmentPath)],
    ['extensionTestsPath', remote(opts.extensionTestsPath)],
  ];
  return `${server.url}?folder=${encodeURIComponent(resolve(opts.folder))}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

export async function runInHostTests(opts: InHostOptions): Promise<InHostResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const logs: string[] = [];
  // Browser-side trouble (a workbench that fails to load never calls codeAutomationExit): only for error messages.
  const pageErrors: string[] = [];
  let scratch: string | undefined;
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const folder = opts.folder ?? (scratch = await mkdtemp(join(tmpdir(), 'jochat-inhost-workspace-')));
    server = await startCodeServer({ folder });
    browser = await launchBrowser();
    const context = await browser.newContext();

    let exit: (code: number) => void = () => {};
    const exited = new Promise<number>((r) => (exit = r));
    // Registered before navigation: the workbench looks for them on window when the test run ends.
    await context.exposeFunction('codeAutomationLog', (type: unknown, args: unknown) => {
      // console.log's printf-style arguments (mocha's reporter uses %s and %d) are formatted as Node would.
      const text = Array.isArray(args)
        ? typeof args[0] === 'string'
          ? format(...(args as [string, ...unknown[]]))
          : args.map(formatArg).join(' ')
        : formatArg(args);
      const line = type === 'info' ? text : `[${formatArg(type)}] ${text}`;
      logs.push(line);
      opts.onLog?.(line);
    });
    await context.exposeFunction('codeAutomationExit', (code: unknown) => {
      exit(typeof code === 'number' ? code : 1);
    });

    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(`[page error] ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') pageErrors.push(`[browser console] ${msg.text()}`);
    });
    const timedOut = new Promise<never>((_, rej) => {
      timer = setTimeout(() => {
        const seen = [...logs, ...pageErrors.slice(-20)].join('\n') || '(nothing)';
        rej(new Error(`in-host tests did not finish within ${timeoutMs} ms; logs so far:\n${seen}\n--- code-server output ---\n${server?.output().slice(-4000)}`));
      }, timeoutMs);
    });
    const url = inHostUrl(server, { ...opts, folder });
    const code = await Promise.race([page.goto(url).then(() => exited), timedOut]);
    return { code, logs };
  } finally {
    clearTimeout(timer);
    await browser?.close().catch(() => {});
    await server?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}
