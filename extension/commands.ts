/** Every JoChat command, each usable from the Command Palette alone through input boxes and quick picks. */
import * as vscode from 'vscode';
import { JoChatError } from '../protocol/client.js';
import { FETCH_MAX, MAX_TEXT_BYTES, USERNAME_RE } from '../protocol/limits.js';
import type { Message } from '../protocol/ops.js';
import type { ChatService } from './chat.js';
import { showError } from './errors.js';
import type { PickItem, Prompter } from './prompter.js';
import type { BundledServer } from './serverTask.js';
import { readSettings } from './settings.js';
import type { ChatViewProvider } from './view.js';

export interface CommandDeps {
  chat: ChatService;
  server: BundledServer;
  view: ChatViewProvider;
  log: vscode.LogOutputChannel;
  prompter: () => Prompter;
}

const time = (ms: number): string => new Date(ms).toLocaleString();
const oneLine = (t: string): string => t.replace(/\s+/g, ' ').trim();

const checkUsername = (v: string): string | undefined =>
  USERNAME_RE.test(v) ? undefined : 'Use 1 to 32 letters, digits, "_", "." or "-".';
const checkPassword = (v: string): string | undefined => (v.length > 0 ? undefined : 'Enter a password.');

function messageItem(m: Message, me: string | undefined): PickItem {
  const who = m.from === me ? `you → ${m.to}` : m.from;
  return { id: String(m.id), label: oneLine(m.text), description: who, detail: time(m.sentAt) };
}

/** Runs a command body; errors become a plain message with "Show Log"; a cancelled prompt just stops. */
function guarded(what: string, deps: CommandDeps, body: (...args: unknown[]) => Promise<unknown>) {
  return async (...args: unknown[]): Promise<unknown> => {
    try {
      return await body(...args);
    } catch (e) {
      showError(what, e, deps.log);
      return e; // for callers (and tests) that want to know how it ended
    }
  };
}

function withProgress<T>(title: string, task: () => Promise<T>): Thenable<T> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title }, task);
}

export function registerCommands(deps: CommandDeps): vscode.Disposable[] {
  const { chat, server, view, log } = deps;
  const ask = (): Prompter => deps.prompter();

  /** Conversation peers, most recent first, as pick items. */
  async function peerItems(): Promise<PickItem[]> {
    const { conversations } = await chat.request('conversations', {});
    return conversations.map((c) => ({
      id: c.peer,
      label: c.peer,
      description: [c.online ? 'online' : '', c.unread ? `${c.unread} unread` : ''].filter(Boolean).join(' · '),
      detail: oneLine(c.lastMessage.text),
    }));
  }

  async function pickPeer(title: string, allowTyped: boolean): Promise<string | undefined> {
    const typed = (t: string): PickItem | undefined =>
      USERNAME_RE.test(t) ? { id: t, label: t, description: 'send to this name' } : undefined;
    const picked = await ask().pick(await peerItems(), {
      title,
      placeHolder: allowTyped ? 'Pick a conversation or type a username' : 'Pick a conversation',
      ...(allowTyped ? { allowTyped: typed } : {}),
    });
    return picked?.id;
  }

  async function sendTo(to: string): Promise<void> {
    const text = await ask().input({
      title: `Message to ${to}`,
      prompt: 'The message text',
      validate: (v) =>
        v.trim().length === 0 ? 'Type a message.' : Buffer.byteLength(v) > MAX_TEXT_BYTES ? 'At most 16 KB.' : undefined,
    });
    if (text === undefined) return;
    const r = await chat.send(to, text);
    vscode.window.setStatusBarMessage(`$(check) Message sent to ${r.message.to}`, 4000);
  }

  async function askCredentials(title: string, twice: boolean): Promise<{ username: string; password: string } | undefined> {
    const username = await ask().input({ title, prompt: 'Username', validate: checkUsername });
    if (username === undefined) return undefined;
    const password = await ask().input({ title, prompt: 'Password', password: true, validate: checkPassword });
    if (password === undefined) return undefined;
    if (twice) {
      const again = await ask().input({
        title,
        prompt: 'The same password again',
        password: true,
        validate: (v) => (v === password ? undefined : 'The passwords do not match.'),
      });
      if (again === undefined) return undefined;
    }
    return { username, password };
  }

  async function ensureConnected(): Promise<void> {
    if (chat.state.connection !== 'online') await withProgress('Connecting to JoChat…', () => chat.connect());
  }

  const commands: Record<string, [string, (...args: unknown[]) => Promise<unknown>]> = {
    'jochat.startServer': [
      'Could not start the bundled server',
      async () => {
        const started = await withProgress('Starting the JoChat server…', () => server.start());
        if (!started) log.info('a JoChat server is already listening there; connecting to it');
        await chat.connect();
      },
    ],
    'jochat.stopServer': [
      'Could not stop the bundled server',
      async () => {
        if (!server.stop()) void vscode.window.showInformationMessage('The bundled JoChat server is not running.');
      },
    ],
    'jochat.connect': ['Could not connect', () => ensureConnected()],
    'jochat.signUp': [
      'Could not sign up',
      async () => {
        await ensureConnected();
        const c = await askCredentials('JoChat: Sign Up', true);
        if (!c) return;
        await withProgress('Creating your JoChat account…', () => chat.signup(c.username, c.password));
        void vscode.window.showInformationMessage(`Welcome to JoChat, ${c.username}.`);
      },
    ],
    'jochat.logIn': [
      'Could not log in',
      async () => {
        await ensureConnected();
        const c = await askCredentials('JoChat: Log In', false);
        if (!c) return;
        const r = await withProgress('Logging in to JoChat…', () => chat.login(c.username, c.password));
        if (r.pending > 0) {
          // Not awaited: the login is done; the offer stays until the person answers or closes it.
          void vscode.window
            .showInformationMessage(`${r.pending} message${r.pending === 1 ? '' : 's'} arrived while you were away.`, 'Fetch')
            .then((choice) => choice === 'Fetch' && vscode.commands.executeCommand('jochat.fetchMessages'));
        }
      },
    ],
    'jochat.logOut': ['Could not log out', () => chat.logout()],
    'jochat.sendMessage': [
      'Could not send the message',
      async (to?: unknown) => {
        const peer = typeof to === 'string' ? to : await pickPeer('JoChat: Send Message', true);
        if (peer) await sendTo(peer);
      },
    ],
    'jochat.fetchMessages': [
      'Could not fetch messages',
      async () => {
        const { pending } = chat.state.counts;
        if (pending === 0) return void vscode.window.showInformationMessage('No messages are waiting.');
        const batch = Math.min(readSettings().fetchBatchSize, pending);
        const answer = await ask().input({
          title: 'JoChat: Fetch Messages',
          prompt: `${pending} message${pending === 1 ? '' : 's'} arrived while you were away. How many to fetch now?`,
          value: String(batch),
          validate: (v) => {
            const n = Number(v);
            return Number.isInteger(n) && n >= 1 && n <= FETCH_MAX ? undefined : `A number from 1 to ${FETCH_MAX}.`;
          },
        });
        if (answer === undefined) return;
        const r = await chat.fetchPending(Number(answer));
        const picked = await ask().pick(
          r.messages.map((m) => messageItem(m, chat.state.username)),
          {
            title: `${r.messages.length} fetched, ${r.remaining} still waiting`,
            placeHolder: 'Pick a message to open its conversation',
          },
        );
        const m = picked && r.messages.find((x) => String(x.id) === picked.id);
        if (m) await view.open(m.from);
      },
    ],
    'jochat.searchAccounts': [
      'Could not search accounts',
      async () => {
        const pattern = await ask().input({
          title: 'JoChat: Search Accounts',
          prompt: 'Plain text matches anywhere in a name; * and ? match any run / one character of the whole name',
          placeHolder: 'e.g. ali, b*, ?ob (empty: everyone)',
        });
        if (pattern === undefined) return;
        const cursors: (string | null)[] = [null];
        for (;;) {
          const page = await chat.request('list_accounts', { pattern, cursor: cursors[cursors.length - 1] ?? null });
          const pageNo = cursors.length;
          const items: PickItem[] = page.accounts.map((a) => ({
            id: `user:${a.username}`,
            label: `${a.online ? '$(circle-filled)' : '$(circle-outline)'} ${a.username}`,
            description: a.online ? 'online' : 'offline',
          }));
          if (page.cursor) items.push({ id: 'next', label: '$(arrow-right) Next page' });
          if (pageNo > 1) items.push({ id: 'prev', label: '$(arrow-left) Previous page' });
          const picked = await ask().pick(items, {
            title: `${page.total} account${page.total === 1 ? '' : 's'} match "${pattern}" — page ${pageNo}`,
            placeHolder: 'Pick an account to message it',
          });
          if (!picked) return;
          if (picked.id === 'next') cursors.push(page.cursor);
          else if (picked.id === 'prev') cursors.pop();
          else return sendTo(picked.id.slice('user:'.length));
        }
      },
    ],
    'jochat.openConversation': [
      'Could not open the conversation',
      async (peer?: unknown) => {
        const p = typeof peer === 'string' ? peer : await pickPeer('JoChat: Open Conversation', true);
        if (p) await view.open(p);
      },
    ],
    'jochat.deleteMessages': [
      'Could not delete messages',
      async () => {
        const peer = await pickPeer('JoChat: Delete Messages — which conversation?', false);
        if (!peer) return;
        const { messages } = await chat.request('history', { peer, limit: 100 });
        const picked = await ask().pickMany(
          messages.map((m) => messageItem(m, chat.state.username)),
          { title: `Delete messages with ${peer}`, placeHolder: 'Select the messages to delete' },
        );
        if (!picked || picked.length === 0) return;
        const n = picked.length;
        const ok = await ask().confirm(
          `Delete ${n} message${n === 1 ? '' : 's'}?`,
          `They are deleted for you and for ${peer}. This cannot be undone.`,
          'Delete',
        );
        if (!ok) return;
        const r = await chat.request('delete_messages', { ids: picked.map((p) => Number(p.id)) });
        const note = r.refused.length ? ` ${r.refused.length} could not be deleted.` : '';
        void vscode.window.showInformationMessage(`Deleted ${r.deleted.length} message${r.deleted.length === 1 ? '' : 's'}.${note}`);
      },
    ],
    'jochat.deleteAccount': [
      'Could not delete the account',
      async () => {
        const me = chat.state.username;
        if (!me) throw new JoChatError('NOT_LOGGED_IN', 'log in first');
        const ok = await ask().confirm(
          `Delete the JoChat account "${me}"?`,
          'Your account and every message you sent or received — read, unread and waiting — are deleted for good, ' +
            'for you and for the people you talked with, who are told. Your username becomes free for anyone.',
          'Delete Account',
        );
        if (!ok) return;
        const password = await ask().input({
          title: 'JoChat: Delete Account',
          prompt: `Confirm with the password of ${me}`,
          password: true,
          validate: checkPassword,
        });
        if (password === undefined) return;
        await withProgress('Deleting your JoChat account…', () => chat.deleteAccount(password));
        void vscode.window.showInformationMessage(`The account "${me}" was deleted.`);
      },
    ],
    'jochat.showLog': ['Could not show the log', async () => log.show()],
  };

  return Object.entries(commands).map(([id, [what, body]]) =>
    vscode.commands.registerCommand(id, guarded(what, deps, body)),
  );
}
