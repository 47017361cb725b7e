/**
 * Page objects for the end-to-end tests: a VS Code window (code-server in chromium) and the JoChat view inside it.
 * Controls are found by role and accessible name only; the workbench parts are reached through their documented
 * containers (`.activitybar`, `.statusbar`, `.monaco-workbench`), and the view's frame through the webview's URL.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BrowserContext, Frame, Locator, Page } from 'playwright-core';

/** How long a person would wait for something to show up, generous for a busy two-core machine. */
export const WAIT_MS = 45_000;
const POLL_MS = 100;
const EXTENSION_ID = 'jochat.jochat';

const describe = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/**
 * Polls `probe` until `ok` accepts its value (an expect-style wait); fails with the last value seen. Errors from
 * `probe` (an element not there yet, a frame being replaced) count as "not yet".
 */
export async function eventually<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: { value: T } | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (ok(value)) return value;
      last = { value };
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const seen = last ? `last seen ${describe(last.value)}` : `never read: ${lastError instanceof Error ? lastError.message.split('\n')[0] : describe(lastError)}`;
      throw new Error(`${what}: not within ${timeoutMs} ms (${seen})`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Waits until the trimmed text of `locator` is `expected` (or matches it). */
export function expectText(what: string, locator: Locator, expected: string | RegExp, timeoutMs = WAIT_MS): Promise<string> {
  return eventually(
    what,
    async () => ((await locator.textContent({ timeout: 1000 })) ?? '').replace(/\s+/g, ' ').trim(),
    (t) => (typeof expected === 'string' ? t === expected : expected.test(t)),
    timeoutMs,
  );
}

export const visible = (l: Locator, timeout = WAIT_MS): Promise<void> => l.waitFor({ state: 'visible', timeout });
/** Waits until `l` is visible and has stopped moving (e.g. a notification toast sliding in). */
export async function settled(what: string, l: Locator, timeoutMs = WAIT_MS): Promise<void> {
  await visible(l, timeoutMs);
  let previous = '';
  await eventually(
    `${what} stops moving`,
    async () => {
      const box = JSON.stringify(await l.boundingBox({ timeout: 1000 }));
      const same = box === previous;
      previous = box;
      return same;
    },
    (same) => same,
    timeoutMs,
  );
}

export const gone = (l: Locator, timeout = WAIT_MS): Promise<void> => l.waitFor({ state: 'detached', timeout });

/** Numbered screenshots of whole windows, so the files sort in the order the story happened. */
export class Screenshots {
  private n = 0;
  constructor(readonly dir: string) {}

  async take(win: VsCodeWindow, name: string): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    const file = join(this.dir, `${String(++this.n).padStart(2, '0')}-${win.who}-${name}.png`);
    await win.page.screenshot({ path: file });
    return file;
  }
}

/** One VS Code window: a code-server workbench in its own browser context. */
export class VsCodeWindow {
  /** Alerts, confirms and prompts the page (or any of its frames) opened; dismissed at once. */
  readonly dialogs: string[] = [];
  /** Uncaught errors in the page, for failure messages. */
  readonly pageErrors: string[] = [];
  readonly view: JoChatView;
  private cached: Frame | undefined;

  private constructor(
    readonly who: string,
    readonly page: Page,
    private readonly shots: Screenshots,
  ) {
    page.on('dialog', (d) => {
      this.dialogs.push(`${d.type()}: ${d.message()}`);
      void d.dismiss().catch(() => undefined);
    });
    page.on('pageerror', (e) => this.pageErrors.push(e.message));
    this.view = new JoChatView(this);
  }

  /** Opens the workbench at `url` (code-server's) with `folder` as the workspace and waits until it is ready. */
  static async open(who: string, context: BrowserContext, url: string, folder: string, shots: Screenshots): Promise<VsCodeWindow> {
    const page = await context.newPage();
    const win = new VsCodeWindow(who, page, shots);
    await page.goto(`${url}?folder=${encodeURIComponent(folder)}`, { timeout: WAIT_MS });
    await win.workbenchReady();
    return win;
  }

  private async workbenchReady(): Promise<void> {
    await visible(this.page.locator('.monaco-workbench'));
    // The extension contributes the container; it shows once the installed extensions are read.
    await visible(this.jochatTab());
  }

  /** The JoChat item in the activity bar (its name gains " - N unread JoChat messages" with the badge). */
  jochatTab(): Locator {
    return this.page.locator('.activitybar').getByRole('tab', { name: /^JoChat\b/ });
  }

  /**
   * Waits until the JoChat activity-bar item shows `unread` on its badge: the item's accessible name (which VS Code
   * makes from the badge's tooltip) and the number drawn on it; no badge at all for 0.
   */
  async expectBadge(unread: number): Promise<void> {
    const name = unread === 0 ? 'JoChat' : `JoChat - ${unread} unread JoChat message${unread === 1 ? '' : 's'}`;
    const tab = this.page.locator('.activitybar').getByRole('tab', { name, exact: true });
    try {
      await visible(tab);
      await expectText(`${this.who}'s activity-bar badge`, tab, unread === 0 ? '' : String(unread));
    } catch (e) {
      const seen = await this.jochatTab().ariaSnapshot({ timeout: 2000 }).catch(() => '(unreadable)');
      throw new Error(`${this.who}'s JoChat activity-bar item should be "${name}"; it is: ${seen}\n${String(e)}`);
    }
  }

  /** A notification toast (bottom right) with exactly this text. */
  toast(text: string): Locator {
    return this.page.locator('.notifications-toasts').getByText(text, { exact: true });
  }

  /** The JoChat status bar item. */
  statusItem(): Locator {
    return this.page.locator('.statusbar').getByRole('button', { name: /JoChat/ });
  }

  /**
   * Shows the JoChat view from the activity bar. Clicking the item of the container already shown would hide the
   * side bar, so it clicks only while another container is shown, and again if the workbench switched away.
   */
  async openJoChat(): Promise<void> {
    const tab = this.jochatTab();
    for (let attempt = 1; (await tab.getAttribute('aria-selected')) !== 'true'; attempt++) {
      // The unread badge sits on top of the icon and takes the click; it opens the same container.
      await tab.click({ force: true });
      try {
        await this.joChatShown(5000);
      } catch (e) {
        if (attempt >= 3) throw e;
      }
    }
    // Away from the activity bar, so its hover doesn't cover the view in screenshots.
    await this.page.mouse.move(800, 600);
  }

  /** Waits until the JoChat container is the one shown in the side bar (e.g. restored after a reload). */
  async joChatShown(timeoutMs = WAIT_MS): Promise<void> {
    await eventually(`${this.who}'s JoChat container is shown`, () => this.jochatTab().getAttribute('aria-selected'), (v) => v === 'true', timeoutMs);
  }

  /**
   * The frame of the JoChat view's content (a webview is two nested iframes). Found through the frames' URLs,
   * because the view gets new frames when it is shown again or the window reloads.
   */
  async frame(timeoutMs = WAIT_MS): Promise<Frame> {
    if (this.cached && !this.cached.isDetached()) return this.cached;
    this.cached = await eventually(
      `${this.who}'s JoChat view frame`,
      async () => {
        for (const f of this.page.frames().reverse()) {
          const parent = f.parentFrame();
          if (f.isDetached() || !parent) continue;
          const url = parent.url();
          if (!url.includes(`extensionId=${EXTENSION_ID}`) || !url.includes('purpose=webviewView')) continue;
          const element = await f.frameElement();
          if ((await element.getAttribute('id')) === 'active-frame') return f;
        }
        return undefined;
      },
      (f) => f !== undefined,
      timeoutMs,
    );
    return this.cached!;
  }

  /** What the view says, as text (for failure messages). */
  async viewText(): Promise<string> {
    return (await this.frame(3000)).locator('body').innerText({ timeout: 2000 });
  }

  /** Reloads the window (the same browser context, so the same SecretStorage) and waits for the workbench. */
  async reload(): Promise<void> {
    this.cached = undefined;
    await this.page.reload({ timeout: WAIT_MS });
    await this.workbenchReady();
  }

  shot(name: string): Promise<string> {
    return this.shots.take(this, name);
  }
}

/** The JoChat sidebar view of one window. Each call finds the current frame, so it survives reloads. */
export class JoChatView {
  constructor(private readonly win: VsCodeWindow) {}

  private async f(): Promise<Frame> {
    return this.win.frame();
  }

  async button(name: string | RegExp): Promise<Locator> {
    return (await this.f()).getByRole('button', { name, exact: typeof name === 'string' });
  }

  async label(name: string | RegExp, exact = true): Promise<Locator> {
    return (await this.f()).getByLabel(name, { exact });
  }

  async text(text: string | RegExp, exact = true): Promise<Locator> {
    return (await this.f()).getByText(text, { exact });
  }

  async role(role: Parameters<Frame['getByRole']>[0], name?: string | RegExp): Promise<Locator> {
    return (await this.f()).getByRole(role, name === undefined ? {} : { name, exact: typeof name === 'string' });
  }

  async click(name: string | RegExp): Promise<void> {
    await (await this.button(name)).click();
  }

  /** The account form: "Create an account" first when signing up. */
  async signUp(username: string, password: string): Promise<void> {
    await visible(await this.button('Create an account'));
    await this.click('Create an account');
    await visible(await this.role('heading', 'Create a JoChat account'));
    await (await this.label('Username')).fill(username);
    await (await this.label('Password')).fill(password);
    await (await this.label('Password again')).fill(password);
  }

  async logIn(username: string, password: string): Promise<void> {
    await visible(await this.role('heading', 'Log in to JoChat'));
    await (await this.label('Username')).fill(username);
    await (await this.label('Password')).fill(password);
    await this.click('Log In');
    await this.loggedInAs(username);
  }

  /** The header of a logged-in view names the person and offers Log Out. */
  async loggedInAs(username: string): Promise<void> {
    await visible(await this.button('Log Out'));
    await visible(await this.role('heading', username));
  }

  async logOut(): Promise<void> {
    await this.click('Log Out');
    await visible(await this.role('heading', 'Log in to JoChat'));
  }

  /** The list of messages of the open conversation. */
  async log(peer: string): Promise<Locator> {
    return this.role('log', `Messages with ${peer}`);
  }

  /** One message of the open conversation, by its exact text. */
  async message(peer: string, text: string): Promise<Locator> {
    return (await this.log(peer)).getByRole('article').filter({ has: (await this.f()).getByText(text, { exact: true }) });
  }

  /** Types into the composer and presses Enter, as a person would. */
  async send(peer: string, text: string): Promise<void> {
    const compose = await this.label(`Message to ${peer}`);
    await compose.pressSequentially(text);
    await compose.press('Enter');
  }

  /** Waits until the own message `text` says "Sent" (the server committed it). */
  async sent(peer: string, text: string): Promise<void> {
    await visible((await this.message(peer, text)).getByText('Sent', { exact: true }));
  }
}
