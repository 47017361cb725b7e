/**
 * The extension inside a real VS Code: commands driven through their real prompts (answered by a script), a real
 * server process, and a second user on a plain client connection.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import * as vscode from 'vscode';
import { isJoChatError, JoChatClient } from '../../protocol/client.js';
import type { JoChatApi } from '../../extension/extension.js';
import { describeError } from '../../extension/errors.js';
import { shouldNotify } from '../../extension/notifier.js';
import { isListening } from '../../extension/serverTask.js';
import { readSettings } from '../../extension/settings.js';
import { EventLog, signedUp, uniqueName } from '../helpers/clients.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { byId, ScriptedPrompter, typed } from './scripted.js';

const PASSWORD = 'a long passphrase';

async function waitFor(what: string, pred: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

const config = () => vscode.workspace.getConfiguration('jochat');
const setSetting = (key: string, value: unknown) => config().update(key, value, vscode.ConfigurationTarget.Global);

describe('JoChat in VS Code', () => {
  let server: TestServer;
  let api: JoChatApi;
  let script: ScriptedPrompter;
  let bob: JoChatClient;
  let bobEvents: EventLog;
  const alice = uniqueName('alice');
  const bobName = uniqueName('bob');

  /** Runs a command with scripted answers; fails if it ended in an error or left answers unused. */
  async function run(command: string, prompts: (s: ScriptedPrompter) => void, ...args: unknown[]): Promise<void> {
    script = new ScriptedPrompter();
    prompts(script);
    api.setPrompter(script.prompter);
    const outcome = await vscode.commands.executeCommand(command, ...args);
    if (outcome instanceof Error) throw outcome;
    script.done();
  }

  const state = () => api.chat.state;

  before(async () => {
    server = await startServer();
    await setSetting('server.host', '127.0.0.1');
    await setSetting('server.protocol', 'binary');
    await setSetting('notifications', 'off');
    const ext = vscode.extensions.getExtension<JoChatApi>('jochat.jochat');
    assert.ok(ext, 'the JoChat extension is installed');
    api = await ext.activate();
    await setSetting('server.port', server.port); // a connection setting: the extension reconnects by itself
    await waitFor('connected', () => state().connection === 'online' && state().server.endsWith(`:${server.port}`));
    bob = await signedUp(server, 'json', bobName, PASSWORD);
    bobEvents = new EventLog(bob);
  });

  after(async () => {
    api?.setPrompter(undefined);
    bob?.close();
    await server?.stop();
    server?.cleanup();
  });

  it('contributes every command in category JoChat and registers it', async () => {
    const ext = vscode.extensions.getExtension('jochat.jochat')!;
    const contributed = (ext.packageJSON.contributes.commands as { command: string; category: string }[]);
    assert.ok(contributed.length >= 13);
    const registered = new Set(await vscode.commands.getCommands(true));
    for (const c of contributed) {
      assert.equal(c.category, 'JoChat');
      assert.ok(registered.has(c.command), `${c.command} is registered`);
    }
  });

  it('shows the connection in the status bar before anyone logs in', () => {
    assert.equal(api.statusBar.text, '$(comment-discussion) JoChat');
  });

  it('signs up through the command, asking the password twice and masked', async () => {
    await run('jochat.signUp', (s) =>
      s.input(/Username/, alice).input(/^Password/, PASSWORD, true).input(/same password again/, PASSWORD, true),
    );
    assert.equal(state().username, alice);
    await waitFor('status bar shows the user', () => api.statusBar.text === `$(comment-discussion) ${alice} · 0`);
  });

  it('sends a message to a typed name, and the other user receives it live', async () => {
    await run('jochat.sendMessage', (s) => s.pick(/Send Message/, typed(bobName)).input(/message text/, 'hello bob'));
    const got = await bobEvents.wait('message', (d) => d.message.text === 'hello bob');
    assert.equal(got.message.from, alice);
  });

  it('counts received messages in the status bar and on the view badge', async () => {
    await vscode.commands.executeCommand('jochat.chat.focus');
    await bob.send(alice, 'one');
    await bob.send(alice, 'two');
    await waitFor('status bar shows 2 unread', () => api.statusBar.text === `$(comment-discussion) ${alice} · 2`);
    await waitFor('badge shows 2', () => api.view.badge === 2);
  });

  it('notifies about a new message only when its conversation is not on screen, as the setting says', () => {
    const m = { id: 1, from: 'bob', to: 'alice', text: 'hi', sentAt: 0, unread: true };
    const ctx = (mode: 'all' | 'whenHidden' | 'off', showing: boolean, viewVisible: boolean) => ({
      mode: () => mode,
      me: () => 'alice',
      showing: () => showing,
      viewVisible: () => viewVisible,
    });
    assert.equal(shouldNotify(m, ctx('all', false, true)), true);
    assert.equal(shouldNotify(m, ctx('all', true, true)), false);
    assert.equal(shouldNotify(m, ctx('whenHidden', false, true)), false);
    assert.equal(shouldNotify(m, ctx('whenHidden', false, false)), true);
    assert.equal(shouldNotify(m, ctx('off', false, false)), false);
    assert.equal(shouldNotify({ ...m, from: 'alice' }, ctx('all', false, false)), false);
  });

  it('explains a wrong password in plain words', async () => {
    await run('jochat.logOut', () => undefined);
    script = new ScriptedPrompter().input(/Username/, alice).input(/^Password/, 'wrong password', true);
    api.setPrompter(script.prompter);
    const outcome = await vscode.commands.executeCommand('jochat.logIn');
    assert.ok(isJoChatError(outcome) && outcome.code === 'AUTH_FAILED', `outcome: ${String(outcome)}`);
    assert.equal(describeError(outcome), 'Wrong username or password.');
  });

  it('after logging out, tells of messages that arrived while away and fetches them in parts', async () => {
    assert.equal(state().username, undefined);
    for (const t of ['away 1', 'away 2', 'away 3']) await bob.send(alice, t);
    await run('jochat.logIn', (s) => s.input(/Username/, alice).input(/^Password/, PASSWORD, true));
    await waitFor('3 pending', () => state().counts.pending === 3);
    await run('jochat.fetchMessages', (s) =>
      s.input(/3 messages arrived while you were away/, '2').pick(/2 fetched, 1 still waiting/, (items) => {
        assert.deepEqual(items.map((i) => i.label), ['away 1', 'away 2']);
        return undefined;
      }),
    );
    await waitFor('1 pending', () => state().counts.pending === 1);
    await run('jochat.fetchMessages', (s) =>
      s.input(/1 message arrived/, '1').pick(/1 fetched, 0 still waiting/, () => undefined),
    );
    await waitFor('0 pending', () => state().counts.pending === 0);
  });

  it('searches accounts page by page and messages the one picked', async () => {
    const prefix = `zq${Math.random().toString(36).slice(2, 6)}`;
    const names = Array.from({ length: 23 }, (_, i) => `${prefix}_${String(i).padStart(2, '0')}`);
    const others = await Promise.all(names.map((n) => signedUp(server, 'binary', n, PASSWORD)));
    const target = new EventLog(others[21]!);
    await run('jochat.searchAccounts', (s) =>
      s
        .input(/matches anywhere/, prefix)
        .pick(/23 accounts match .* page 1/, byId('next'))
        .pick(/page 2/, (items) => {
          assert.deepEqual(items.filter((i) => i.id.startsWith('user:')).map((i) => i.id), names.slice(20).map((n) => `user:${n}`));
          assert.ok(items.every((i) => !i.id.startsWith('user:') || i.description === 'online'));
          return byId(`user:${names[21]}`)(items);
        })
        .input(/message text/, 'found you'),
    );
    await target.wait('message', (d) => d.message.text === 'found you');
    for (const c of others) c.close();
  });

  it('deletes chosen messages for both sides after a confirmation', async () => {
    let chosen = 0;
    await run('jochat.deleteMessages', (s) =>
      s
        .pick(/which conversation/, byId(bobName))
        .pickMany((items) => {
          const mine = items.filter((i) => i.label === 'hello bob');
          chosen = Number(mine[0]!.id);
          return mine;
        })
        .confirm(/Delete 1 message\?/, true),
    );
    const ev = await bobEvents.wait('messages_deleted');
    assert.deepEqual(ev.ids, [chosen]);
  });

  it('resumes the session after a reload without asking anything', async () => {
    script = new ScriptedPrompter(); // no answers: any prompt fails the test
    api.setPrompter(script.prompter);
    await api.chat.reconfigure(readSettings()); // what a window reload does: a new connection, the saved token
    await waitFor('logged in again', () => state().username === alice);
    assert.deepEqual(script.seen, []);
  });

  it('loses nothing across a server restart: a message typed while it is down arrives once', async () => {
    const { dir, port } = server;
    await server.kill();
    await waitFor('offline', () => state().connection !== 'online');
    const sent = api.chat.send(bobName, 'typed while the server was down');
    server = await startServer({ dir, port });
    const r = await sent;
    assert.equal(r.message.text, 'typed while the server was down');
    await waitFor('alice back', () => state().username === alice && state().connection === 'online');
    await waitFor('bob back', () => bob.isLoggedIn);
    const { messages } = await bob.request('history', { peer: alice, limit: 100 });
    assert.equal(messages.filter((m) => m.text === 'typed while the server was down').length, 1);
  });

  it('deletes the account after the password, and the other user is told', async () => {
    await run('jochat.deleteAccount', (s) =>
      s.confirm(/Delete the JoChat account/, true).input(/password of/, PASSWORD, true),
    );
    const ev = await bobEvents.wait('account_deleted');
    assert.equal(ev.username, alice);
    await waitFor('logged out', () => state().username === undefined);
    await api.chat.reconfigure(readSettings()); // the token is gone from SecretStorage too
    await waitFor('connected', () => state().connection === 'online');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(state().username, undefined);
  });

  it('provides the jochat task, which starts a server that accepts connections', async () => {
    const tasks = await vscode.tasks.fetchTasks({ type: 'jochat' });
    assert.equal(tasks.length, 1);
    assert.equal(tasks[0]!.isBackground, true);
    const port = await freePort();
    await setSetting('server.databasePath', `${server.dir}/bundled.db`);
    await setSetting('server.port', port);
    await run('jochat.startServer', () => undefined);
    assert.ok(await isListening('127.0.0.1', port));
    await waitFor('connected to the bundled server', () => state().connection === 'online' && state().server.endsWith(`:${port}`));
    await run('jochat.stopServer', () => undefined);
    await waitFor('bundled server stopped', () => !api.server.running, 10_000);
    await setSetting('server.port', server.port);
  });
});
