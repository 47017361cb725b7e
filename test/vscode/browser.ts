// Headless Debian chromium driven by playwright-core (Playwright's own browser builds cannot be downloaded here).
import { chromium, type Browser, type LaunchOptions } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags from shared/VSCODE.md: no sandbox as root, and nothing that reaches for the network on its own. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** `overrides` is for debugging (e.g. `{ headless: false }` under Xvfb); tests call it without. */
export function launchBrowser(overrides: LaunchOptions = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    ...overrides,
    args: [...CHROMIUM_ARGS, ...(overrides.args ?? [])],
  });
}
