/**
 * The JoChat view inside a real VS Code: the webview view resolves with a strict CSP, and the host side (ViewBridge)
 * answers the webview's typed requests through the real ChatService and server, and forwards live events. The
 * bridge is driven directly with messages exactly as the webview sends them; what it posts back is recorded.
 */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { JoChatClient } from '../../protocol/client.js';
import type { JoChatApi } from '../../extension/extension.js';
import { ViewBridge } from '../../extension/viewBridge.js';
import { isToWebview, type ReplyError, type ReplyOk, type ToWebview, type ViewEvent, type ViewOp, type ViewState } from '../../webview/messages.js';
import { EventLog, signedUp, uniqueName } from '../helpers/clients.js';
import { startServer, type TestServer } from '../helpers/server.js';

const PASSWORD = 'a long passphrase';
const XSS = '<img src=x onerror=alert(1)>';

async function waitFor(what: string, pred: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A ViewBridge on the extension's real ChatService, with everything it posts recorded (and validated). */
class Harness {
  readonly posted: ToWebview[] = [];
  readonly commands: string[] = [];
  readonly bridge: ViewBridge;
  private reqId = 0;

  constructor(api: JoChatApi) {
    const log = { info: (_: string) => undefined, warn: (_: string) => undefined };
    this.bridge = new ViewBridge(
      api.chat,
      (m) => {
        // What the webview would check on arrival.
        assert.ok(isToWebview(m), `the host posted a malformed message: ${JSON.stringify(m)}`);
        this.posted.push(m);
      },
      log,
      async (command) => {
        this.commands.push(command);
        return undefined;
      },
    );
  }

  /** Sends a request as the webview does and resolves with its reply. */
  async request(op: ViewOp, args: unknown): Promise<ReplyOk | ReplyError> {
    const reqId = ++this.reqId;
    await this.bridge.receive({ type: 'request', reqId, op, args });
    const reply = this.posted.find((m): m is ReplyOk | ReplyError => m.type === 'reply' && m.reqId === reqId);
    assert.ok(reply, `no reply to ${op}`);
    return reply;
  }

  async ok(op: ViewOp, args: unknown): Promise<unknown> {
    const r = await this.request(op, args);
    assert.ok(r.ok, `${op} failed: ${r.ok ? '' : r.error.message}`);
    assert.equal(r.op, op);
    return r.result;
  }

  get state(): ViewState | undefined {
    const states = this.posted.filter((m): m is Extract<ToWebview, { type: 'state' }> => m.type === 'state');
    return states[states.length - 1]?.state;
  }

  events(): ViewEvent[] {
    return this.posted.flatMap((m) => (m.type === 'event' ? [m.event] : []));
  }

  async event<K extends ViewEvent['kind']>(kind: K, pred: (e: Extract<ViewEvent, { kind: K }>) => boolean = () => true): Promise<Extract<ViewEvent, { kind: K }>> {
    let found: Extract<ViewEvent, { kind: K }> | undefined;
    await waitFor(`a forwarded ${kind} event`, () => {
      found = this.events().find((e): e is Extract<ViewEvent, { kind: K }> => e.kind === kind && pred(e as Extract<ViewEvent, { kind: K }>));
      return found !== undefined;
    });
    return found!;
  }

  dispose(): void {
    this.bridge.dispose();
  }
}

describe('JoChat view', () => {
  let server: TestServer;
  let api: JoChatApi;
  let h: Harness;
  let bob: JoChatClient;
  let bobEvents: EventLog;
  const alice = uniqueName('valice');
  const bobName = uniqueName('vbob');

  before(async () => {
    const ext = vscode.extensions.getExtension<JoChatApi>('jochat.jochat');
    assert.ok(ext);
    api = await ext.activate();
    server = await startServer();
    await vscode.workspace.getConfiguration('jochat').update('server.port', server.port, vscode.ConfigurationTarget.Global);
    await waitFor('connected', () => api.chat.state.connection === 'online' && api.chat.state.server.endsWith(`:${server.port}`));
    if (api.chat.state.username) await api.chat.logout();
    bob = await signedUp(server, 'json', bobName, PASSWORD);
    bobEvents = new EventLog(bob);
    h = new Harness(api);
  });

  after(async () => {
    h?.dispose();
    bob?.close();
    await server?.stop();
    server?.cleanup();
  });

  it('resolves the view with a strict CSP, a script nonce and resources from dist only', async () => {
    await vscode.commands.executeCommand('jochat.chat.focus');
    await waitFor('the view is visible', () => api.view.visible);
    const webview = api.view.webview;
    assert.ok(webview);
    const html = webview.html;
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1];
    assert.ok(csp, 'a CSP meta tag');
    assert.match(csp, /^default-src 'none'; /);
    // Nothing but our nonce and VS Code's own resource origin (which has a wildcard host of its own).
    assert.doesNotMatch(csp.split(webview.cspSource).join(''), /unsafe-inline|unsafe-eval|\*|https?:|data:/);
    const nonce = /script-src 'nonce-([A-Za-z0-9+/=]{16,})'/.exec(csp)?.[1];
    assert.ok(nonce, 'scripts by nonce');
    const scripts = [...html.matchAll(/<script([^>]*)>/g)].map((m) => m[1]!);
    assert.equal(scripts.length, 1);
    assert.ok(scripts[0]!.includes(`nonce="${nonce}"`));
    assert.ok(csp.includes(`style-src ${webview.cspSource}`) && csp.includes(`font-src ${webview.cspSource}`));
    const roots = webview.options.localResourceRoots?.map((u) => u.path);
    assert.deepEqual(roots, [vscode.Uri.joinPath(vscode.extensions.getExtension('jochat.jochat')!.extensionUri, 'dist').path]);
  });

  it('answers "ready" with a snapshot of the state', async () => {
    await h.bridge.receive({ type: 'ready' });
    const s = h.state;
    assert.ok(s);
    assert.equal(s.connection, 'online');
    assert.equal(s.username, null);
    assert.deepEqual(s.outbox, []);
  });

  it('ignores malformed messages without answering', async () => {
    const before = h.posted.length;
    await h.bridge.receive({ type: 'request', reqId: 99, op: 'login', args: { username: 'no spaces', password: PASSWORD } });
    await h.bridge.receive({ type: 'request', reqId: 100, op: 'drop_everything', args: {} });
    await h.bridge.receive({ type: 'command', command: 'workbench.action.terminal.new' });
    await h.bridge.receive('ready');
    assert.equal(h.posted.length, before);
    assert.deepEqual(h.commands, []);
  });

  it('signs up, and reports errors next to the field they belong to', async () => {
    const r = await h.request('signup', { username: bobName, password: PASSWORD });
    assert.ok(!r.ok);
    assert.equal(r.error.field, 'username');
    assert.match(r.error.message, /taken/);
    assert.deepEqual(await h.ok('signup', { username: alice, password: PASSWORD }), { username: alice });
    await waitFor('the state says who is logged in', () => h.state?.username === alice);
    await h.ok('logout', {});
    await waitFor('logged out', () => h.state?.username === null);
    const wrong = await h.request('login', { username: alice, password: 'not the password' });
    assert.ok(!wrong.ok);
    assert.deepEqual(wrong.error, { field: 'password', message: 'Wrong username or password.' });
    assert.deepEqual(await h.ok('login', { username: alice, password: PASSWORD }), { username: alice, pending: 0, unread: 0 });
    await waitFor('logged in', () => h.state?.username === alice);
  });

  it('forwards an incoming message, and answers conversations, history, mark_read and list_accounts', async () => {
    await bob.send(alice, XSS);
    await bob.send(alice, 'second');
    const ev = await h.event('message', (e) => e.message.text === 'second');
    assert.equal(ev.message.from, bobName);
    assert.equal(h.events().find((e) => e.kind === 'message' && e.message.text === XSS)?.kind, 'message', 'text passes as it is');
    await waitFor('2 unread in the state', () => h.state?.unread === 2 && h.state.byPeer.some((p) => p.peer === bobName && p.unread === 2));

    const conv = (await h.ok('conversations', {})) as { conversations: { peer: string; lastMessage: { text: string }; unread: number; online: boolean }[] };
    assert.equal(conv.conversations.length, 1);
    assert.equal(conv.conversations[0]!.peer, bobName);
    assert.equal(conv.conversations[0]!.lastMessage.text, 'second');
    assert.equal(conv.conversations[0]!.online, true);

    const hist = (await h.ok('history', { peer: bobName, before: null, limit: 1 })) as { messages: { id: number; text: string }[]; more: boolean };
    assert.deepEqual(hist.messages.map((m) => m.text), ['second']);
    assert.equal(hist.more, true);
    const older = (await h.ok('history', { peer: bobName, before: hist.messages[0]!.id, limit: 50 })) as typeof hist;
    assert.deepEqual(older.messages.map((m) => m.text), [XSS]);
    assert.equal(older.more, false);

    assert.deepEqual(await h.ok('mark_read', { peer: bobName, upTo: hist.messages[0]!.id }), { unread: 0 });
    await waitFor('0 unread in the state', () => h.state?.unread === 0);

    const found = (await h.ok('list_accounts', { pattern: `${bobName.slice(0, 4)}*`, cursor: null, limit: 20 })) as {
      accounts: { username: string; online: boolean }[];
      total: number;
    };
    assert.ok(found.accounts.some((a) => a.username === bobName && a.online));
    assert.equal(found.total, found.accounts.length);
  });

  it('sends through the outbox: "sending" in the state, then a sent event; a refused send fails and can be discarded', async () => {
    await h.bridge.receive({ type: 'send', localId: 'l1', to: bobName, text: `hi ${XSS}` });
    assert.equal(h.state?.outbox[0]?.status, 'sending', 'shown as sending at once');
    const sent = await h.event('sent', (e) => e.localId === 'l1');
    assert.equal(sent.message.text, `hi ${XSS}`);
    assert.equal(sent.message.to, bobName);
    await waitFor('the outbox is empty again', () => h.state?.outbox.length === 0);
    const got = await bobEvents.wait('message', (d) => d.message.id === sent.message.id);
    assert.equal(got.message.text, `hi ${XSS}`);

    await h.bridge.receive({ type: 'send', localId: 'l2', to: 'nobody_at_all', text: 'hello?' });
    await waitFor('the send failed', () => h.state?.outbox.some((o) => o.localId === 'l2' && o.status === 'failed') === true);
    assert.match(h.state!.outbox[0]!.error ?? '', /no such account/i);
    await h.bridge.receive({ type: 'retry', localId: 'l2' });
    await waitFor('failed again', () => h.state?.outbox.some((o) => o.localId === 'l2' && o.status === 'failed') === true);
    await h.bridge.receive({ type: 'discard', localId: 'l2' });
    assert.deepEqual(h.state?.outbox, []);
  });

  it('tracks the conversation on screen, opens one on request, and runs whitelisted commands', async () => {
    await h.bridge.receive({ type: 'viewing', peer: bobName });
    assert.equal(h.bridge.viewing, bobName);
    await h.bridge.receive({ type: 'viewing', peer: null });
    assert.equal(h.bridge.viewing, null);
    h.bridge.open(bobName);
    assert.deepEqual(h.posted[h.posted.length - 1], { type: 'open', peer: bobName });
    await h.bridge.receive({ type: 'command', command: 'jochat.showLog' });
    await h.bridge.receive({ type: 'open_settings' });
    assert.deepEqual(h.commands, ['jochat.showLog', 'workbench.action.openSettings']);
  });

  it('deletes messages for both sides and forwards the other side\'s deletions', async () => {
    const hist = (await h.ok('history', { peer: bobName, before: null, limit: 50 })) as { messages: { id: number; text: string }[] };
    const mine = hist.messages.find((m) => m.text === `hi ${XSS}`)!;
    assert.deepEqual(await h.ok('delete_messages', { ids: [mine.id] }), { deleted: [mine.id], refused: [] });
    assert.deepEqual((await bobEvents.wait('messages_deleted')).ids, [mine.id]);
    const theirs = hist.messages.find((m) => m.text === 'second')!;
    await bob.request('delete_messages', { ids: [theirs.id] });
    const ev = await h.event('messages_deleted');
    assert.deepEqual(ev.ids, [theirs.id]);
  });

  it('tells of messages that arrived while away and fetches them in parts', async () => {
    await h.ok('logout', {});
    for (const t of ['away 1', 'away 2', 'away 3']) await bob.send(alice, t);
    const r = (await h.ok('login', { username: alice, password: PASSWORD })) as { pending: number };
    assert.equal(r.pending, 3);
    await waitFor('3 pending in the state', () => h.state?.pending === 3);
    const first = (await h.ok('fetch_pending', { limit: 2 })) as { messages: { text: string }[]; remaining: number };
    assert.deepEqual(first.messages.map((m) => m.text), ['away 1', 'away 2']);
    assert.equal(first.remaining, 1);
    const rest = (await h.ok('fetch_pending', { limit: 5 })) as typeof first;
    assert.deepEqual(rest.messages.map((m) => m.text), ['away 3']);
    assert.equal(rest.remaining, 0);
    await waitFor('0 pending in the state', () => h.state?.pending === 0);
  });

  it('forwards presence and a peer\'s account deletion', async () => {
    await bob.logout();
    const off = await h.event('presence', (e) => e.username === bobName && !e.online);
    assert.equal(off.online, false);
    await bob.login(bobName, PASSWORD);
    await h.event('presence', (e) => e.username === bobName && e.online);
    await bob.deleteAccount(PASSWORD);
    const gone = await h.event('account_deleted');
    assert.equal(gone.username, bobName);
  });

  it('forwards session_ended when the account logs in elsewhere', async () => {
    const elsewhere = await signedUp(server, 'json', uniqueName('vtmp'), PASSWORD);
    await elsewhere.logout();
    await elsewhere.login(alice, PASSWORD);
    const ended = await h.event('session_ended');
    assert.equal(ended.reason, 'signed_in_elsewhere');
    await waitFor('logged out in the state', () => h.state?.username === null);
    elsewhere.close();
    await h.ok('login', { username: alice, password: PASSWORD });
  });

  it('deletes the account only with the right password', async () => {
    const wrong = await h.request('delete_account', { password: 'wrong' });
    assert.ok(!wrong.ok);
    assert.equal(wrong.error.field, 'password');
    assert.equal(api.chat.state.username, alice);
    await h.ok('delete_account', { password: PASSWORD });
    await waitFor('logged out', () => h.state?.username === null);
  });
});
