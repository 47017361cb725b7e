/**
 * End to end, as people use it: the packaged extension (.vsix, built by `npm run package`) installed in two real
 * VS Code windows (code-server in chromium) on one real JoChat server. Alice and Bob sign up in the sidebar, find
 * each other, chat live, Bob gets what arrived while he was away, a message is deleted on both sides, a hostile
 * text stays text, Alice's session survives a reload, and Alice deletes her account. Controls are found by role
 * and label; screenshots of each screen go to test-results/e2e/.
 *
 * One code-server per person: two windows of one code-server would share its SecretStorage and settings. Bob's
 * other client (for the hostile message) is a plain JoChatClient connection.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { Browser } from 'playwright-core';
import type { JoChatClient } from '../../protocol/client.js';
import { ensureVsCodeTestEnv } from '../../scripts/vscode-setup.mjs';
import { connectClient } from '../helpers/clients.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { launchBrowser } from '../vscode/browser.js';
import { startCodeServer, type CodeServer } from '../vscode/codeServer.js';
import { eventually, expectText, gone, Screenshots, settled, visible, VsCodeWindow, WAIT_MS } from './jochatView.js';

const ROOT = resolve(__dirname, '../..');
const SHOTS = join(ROOT, 'test-results', 'e2e');
const PASSWORD = 'correct horse battery staple';
const HOSTILE = '<img src=x onerror=alert(1)>';
const FIRST = 'Hi Bob! Is the build green?';
const AWAY = ['First of three', 'Second of three', 'Third of three'];
const STEP_TIMEOUT_MS = 120_000;
const PACKAGE_TIMEOUT_MS = 180_000;

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The .vsix under test: the one `npm test` packaged before starting the tests (JOCHAT_TEST_VSIX), or, when this file
 * runs alone, a fresh one from `npm run package` (production bundles, then vsce).
 */
async function packageVsix(): Promise<string> {
  const given = process.env['JOCHAT_TEST_VSIX'];
  if (given) return given;
  const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const vsix = join(ROOT, `jochat-${version}.vsix`);
  const started = Date.now();
  const env = { ...process.env };
  delete env['NODE_TEST_CONTEXT'];
  await new Promise<void>((res, rej) => {
    execFile('npm', ['run', 'package'], { cwd: ROOT, env, timeout: PACKAGE_TIMEOUT_MS, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      err ? rej(new Error(`npm run package failed: ${err.message}\n${stdout}\n${stderr}`)) : res(),
    );
  });
  // Not some older package left in the folder: this run's build.
  const made = await stat(vsix);
  assert.ok(made.mtimeMs >= started - 1000, `${vsix} was not written by this run's npm run package`);
  return vsix;
}

describe('a person using JoChat in VS Code', () => {
  let server: TestServer | undefined;
  const codeServers: CodeServer[] = [];
  const folders: string[] = [];
  /** Everything temporary goes under this folder, which `after` removes (see `before`). */
  let scratch: string | undefined;
  const tmpdirBefore = process.env['TMPDIR'];
  const clients: JoChatClient[] = [];
  let browser: Browser | undefined;
  const shots = new Screenshots(SHOTS);
  let alice: VsCodeWindow;
  let bob: VsCodeWindow;
  /** The first step that failed: the later ones build on it, so they are skipped rather than failing again. */
  let broken: string | undefined;

  before(async () => {
    await rm(SHOTS, { recursive: true, force: true });
    // code-server's extension hosts leave their IPC and git sockets in the temporary folder when stopped; with
    // TMPDIR set (inherited by code-server, chromium and the JoChat server) they go where `after` cleans up.
    scratch = await mkdtemp(join(tmpdir(), 'jochat-e2e-'));
    process.env['TMPDIR'] = scratch;
    const [, vsix] = await Promise.all([ensureVsCodeTestEnv(), packageVsix()]);
    server = await startServer();
    const settings = { 'jochat.server.port': server.port, 'workbench.startupEditor': 'none' };
    for (const who of ['alice', 'bob']) folders.push(await mkdtemp(join(scratch, `${who}-workspace-`)));
    // Two code-servers, each with its own user data (settings, SecretStorage) and the packaged extension.
    const started = await Promise.allSettled(folders.map((folder) => startCodeServer({ installVsix: [vsix], settings, folder })));
    for (const s of started) if (s.status === 'fulfilled') codeServers.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    for (const cs of codeServers) {
      const installed = await readdir(cs.extensionsDir);
      assert.ok(installed.some((d) => d.startsWith('jochat.jochat-')), `the .vsix is installed: ${installed.join(', ')}`);
    }

    browser = await launchBrowser();
    const open = async (who: string, cs: CodeServer, folder: string): Promise<VsCodeWindow> => {
      // A context each: two people, two browsers' worth of storage.
      const context = await browser!.newContext({ viewport: { width: 1200, height: 800 } });
      context.setDefaultTimeout(WAIT_MS);
      return VsCodeWindow.open(who, context, cs.url, folder, shots);
    };
    [alice, bob] = await Promise.all([open('alice', codeServers[0]!, folders[0]!), open('bob', codeServers[1]!, folders[1]!)]);
  }, { timeout: PACKAGE_TIMEOUT_MS + 120_000 });

  after(async () => {
    for (const c of clients) c.close();
    await browser?.close().catch(() => undefined);
    await Promise.all(codeServers.map((cs) => cs.stop()));
    if (server) {
      await server.stop();
      server.cleanup();
    }
    await Promise.all(folders.map((f) => rm(f, { recursive: true, force: true })));
    if (tmpdirBefore === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = tmpdirBefore;
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  /** One step of the story; on failure both windows are photographed and what they reported is attached. */
  const step = (name: string, fn: (t: TestContext) => Promise<void>): void => {
    test(name, { timeout: STEP_TIMEOUT_MS }, async (t) => {
      if (broken !== undefined) return t.skip(`"${broken}" failed`);
      try {
        await fn(t);
      } catch (e) {
        broken = name;
        const details: string[] = [];
        for (const win of [alice, bob]) {
          if (!win) continue;
          await win.shot('FAILURE').then((f) => details.push(`screenshot: ${f}`), () => undefined);
          const text = await win.viewText().catch((err: unknown) => `(not readable: ${String(err)})`);
          details.push(`${win.who}'s view reads:\n  ${text.replace(/\n+/g, '\n  ')}`);
          if (win.pageErrors.length) details.push(`${win.who}'s page errors:\n  ${win.pageErrors.join('\n  ')}`);
          if (win.dialogs.length) details.push(`${win.who}'s dialogs: ${win.dialogs.join('; ')}`);
        }
        if (e instanceof Error) e.message += `\n${details.join('\n')}`;
        throw e;
      }
    });
  };

  step('1. Alice opens JoChat from the activity bar and signs up', async () => {
    await alice.openJoChat();
    const v = alice.view;
    await visible(await v.role('heading', 'Log in to JoChat'));
    await alice.shot('log-in-form');
    await v.signUp('alice', PASSWORD);
    await alice.shot('sign-up-form-filled');
    await v.click('Sign Up');
    await v.loggedInAs('alice');
    await visible(await v.text('No conversations yet. Search for an account above and write to them.'));
    await expectText("alice's status bar item", alice.statusItem(), 'alice · 0');
    await alice.shot('signed-up');
  });

  step('2. Bob, in his own VS Code window, signs up too', async () => {
    await bob.openJoChat();
    await bob.view.signUp('bob', PASSWORD);
    await bob.view.click('Sign Up');
    await bob.view.loggedInAs('bob');
    await expectText("bob's status bar item", bob.statusItem(), 'bob · 0');
    await bob.expectBadge(0);
    await bob.shot('signed-up');
  });

  step('3. Alice finds bob with b*, writes to him; he sees it at once with the count in his status bar and badge', async () => {
    const v = alice.view;
    await (await v.label('Search accounts')).fill('b*');
    await v.click('Search');
    await visible(await v.text('1 account matches "b*"'));
    const found = (await v.role('list', 'Accounts found')).getByRole('button', { name: 'bob, online', exact: true });
    await visible(found);
    await alice.shot('search-b-star');
    await found.click();
    await visible(await v.text('No messages with bob yet. Say hello.'));
    await v.send('bob', FIRST);
    await v.sent('bob', FIRST);
    await alice.shot('message-sent');

    // Bob is on his conversation list: the count shows in the status bar, on the activity bar and in the list.
    await expectText("bob's status bar item", bob.statusItem(), 'bob · 1');
    await bob.expectBadge(1);
    const fromAlice = (await bob.view.role('list', 'Conversations')).getByRole('button', {
      name: new RegExp(`^alice, online, 1 unread, alice wrote .*: ${escape(FIRST)}$`),
    });
    await visible(fromAlice);
    await bob.shot('unread-in-status-bar-and-badge');

    // He opens it: the message is there, and reading it clears the counts.
    await fromAlice.click();
    await visible(await bob.view.message('alice', FIRST));
    await visible(await bob.view.role('heading', /^alice\s*online$/));
    await expectText("bob's status bar item", bob.statusItem(), 'bob · 0');
    await bob.expectBadge(0);
    await bob.shot('reads-alice-message');
  });

  step('4. Bob logs out; Alice sends 3; Bob logs in, is told, fetches 2 and then 1', async () => {
    await bob.view.click('Back to Conversations');
    await bob.view.logOut();
    // Alice sees him go offline, so the server has logged him out before she writes.
    await visible(await alice.view.role('heading', /^bob\s*offline$/));
    for (const text of AWAY) {
      await alice.view.send('bob', text);
      await alice.view.sent('bob', text);
    }
    await alice.shot('sent-three-while-bob-away');
    await bob.shot('logged-out');

    const v = bob.view;
    await v.logIn('bob', PASSWORD);
    await visible(await v.text('3 messages arrived while you were away.'));
    await expectText("bob's status bar item", bob.statusItem(), 'bob · 3');
    await bob.shot('three-arrived-while-away');

    await (await v.label('How many to fetch')).fill('2');
    await v.click('Fetch');
    await visible(await v.text('Fetched 2 messages; 1 still waiting.'));
    await visible(await v.text('1 message arrived while you were away.'));
    await bob.shot('fetched-2-of-3');

    await (await v.label('How many to fetch')).fill('1');
    await v.click('Fetch');
    await visible(await v.text('Fetched 1 message; none still waiting.'));
    await visible(await v.text('Messages from while you were away'));
    await bob.shot('fetched-the-last-1');
  });

  step('5. Alice deletes a message (select, confirm) and it vanishes on both sides', async () => {
    const target = AWAY[1]!;
    await (await bob.view.role('list', 'Conversations')).getByRole('button', { name: /^alice, online, / }).click();
    for (const text of [FIRST, ...AWAY]) await visible(await bob.view.message('alice', text));

    const v = alice.view;
    await v.click('Select Messages');
    const box = (await v.log('bob')).getByRole('checkbox', { name: new RegExp(`^Select the message from you, .*: ${escape(target)}$`) });
    await box.check();
    await visible(await v.text('1 message selected'));
    await alice.shot('message-selected');
    await v.click('Delete Selected');
    const dialog = await v.role('dialog');
    await visible(dialog);
    await alice.shot('confirm-delete');
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });

    await gone(await v.message('bob', target));
    await gone(await bob.view.message('alice', target));
    for (const text of [FIRST, AWAY[0]!, AWAY[2]!]) {
      await visible(await v.message('bob', text));
      await visible(await bob.view.message('alice', text));
    }
    await alice.shot('message-deleted');
    await bob.shot('message-gone');
  });

  step('6. A hostile text from Bob shows as exactly those characters, and nothing runs', async () => {
    // Bob writes from another client (his window logs out first: one session per account).
    await bob.view.logOut();
    await visible(await alice.view.role('heading', /^bob\s*offline$/));
    const bobsClient = await connectClient(server!, 'json');
    clients.push(bobsClient);
    await bobsClient.login('bob', PASSWORD);
    await bobsClient.send('alice', HOSTILE);
    await bobsClient.logout();
    bobsClient.close();

    const v = alice.view;
    const hostile = await v.message('bob', HOSTILE);
    await visible(hostile);
    assert.equal(await hostile.getByText(HOSTILE, { exact: true }).textContent(), HOSTILE);
    assert.equal(await (await v.log('bob')).getByRole('img').count(), 0, 'no image element was made from the text');
    assert.deepEqual(alice.dialogs, [], 'no alert or other dialog opened');
    await alice.shot('hostile-text-shown-as-text');

    // Bob back in his window: his own message is text there too, and he is back in the conversation.
    await bob.view.logIn('bob', PASSWORD);
    await visible(await bob.view.message('alice', HOSTILE));
    assert.deepEqual(bob.dialogs, [], 'no dialog in bob window');
    await bob.shot('hostile-text-in-his-window');
  });

  step('7. Alice reloads her window and is still logged in without typing anything', async (t) => {
    await alice.reload();
    // The workbench brings back the side bar as it was: the JoChat view, without a click.
    await alice.joChatShown();
    const v = alice.view;
    await v.loggedInAs('alice');
    assert.equal(await (await v.label('Username')).count(), 0, 'no log-in form');
    await expectText("alice's status bar item", alice.statusItem(), 'alice · 0');
    // The view keeps its page in the webview state, which code-server stores only a while after it changes; so the
    // conversation may or may not be the page that comes back. Either way its messages come from the server.
    const bobInList = async () => (await v.role('list', 'Conversations')).getByRole('button', { name: /^bob, / });
    const page = await eventually(
      "alice's view after the reload shows a page",
      async () => ((await (await v.log('bob')).isVisible()) ? 'conversation' : (await (await bobInList()).isVisible()) ? 'conversations' : undefined),
      (p) => p !== undefined,
    );
    t.diagnostic(`after the reload the view showed the ${page} page`);
    await alice.shot(`after-reload-still-logged-in-on-${page}`);
    if (page === 'conversations') await (await bobInList()).click();
    await visible(await v.message('bob', HOSTILE));
    await visible(await v.message('bob', AWAY[2]!));
    assert.deepEqual(alice.dialogs, []);
  });

  step('8. Alice deletes her account with her password; Bob is told', async () => {
    const v = alice.view;
    await v.click('Back to Conversations');
    await v.click('Delete Account…');
    await visible(await v.role('heading', 'Delete the account "alice"'));
    await visible(await v.text('Deleting your account cannot be undone. It deletes, for good:'));
    await visible(await v.text(/^every message you sent or received — read, unread, and still waiting —/, false));
    await visible(await v.text('To confirm, enter your password.'));
    await (await v.label('Password')).fill(PASSWORD);
    await alice.shot('delete-account-confirm');
    await v.click('Delete Account');
    await visible(await v.role('heading', 'Log in to JoChat'));
    await settled("alice's notification", alice.toast('Your JoChat account was deleted.'));
    await expectText("alice's status bar item", alice.statusItem(), 'JoChat');
    await alice.shot('account-deleted');

    await visible(await bob.view.text('alice deleted their account. Your conversation with them is gone.'));
    await visible(await bob.view.text('alice deleted their account. The conversation is gone and no message can be sent to them.'));
    await gone(await bob.view.message('alice', FIRST));
    await bob.shot('told-alice-deleted-her-account');
  });
});
