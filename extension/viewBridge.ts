/**
 * The host side of the JoChat webview: answers the view's typed requests through ChatService, keeps the outbox of
 * messages being sent (so "sending…" survives a reload of the view), and forwards state and live events to it.
 * Every message from the view is validated against webview/messages.ts before it is used; everything sent to it is
 * built field by field from the wire types (nothing passes through unchecked).
 *
 * It does not know about webviews: it is given a `post` function, so tests drive it directly.
 */
import * as vscode from 'vscode';
import { isJoChatError } from '../protocol/client.js';
import type { Event, Message } from '../protocol/ops.js';
import {
  isFromWebview,
  type ChatMessage,
  type ErrorField,
  type FromWebview,
  type Outgoing,
  type ToWebview,
  type ViewArgs,
  type ViewError,
  type ViewEvent,
  type ViewOp,
  type ViewRequest,
  type ViewResult,
  type ViewState,
} from '../webview/messages.js';
import type { ChatService, ChatState } from './chat.js';
import { describeError } from './errors.js';

export const toChatMessage = (m: Message): ChatMessage => ({
  id: m.id,
  from: m.from,
  to: m.to,
  text: m.text,
  sentAt: m.sentAt,
  unread: m.unread,
});

/** A server push as the view sees it (counts travel in the state instead: undefined). */
export function toViewEvent(ev: Event): ViewEvent | undefined {
  switch (ev.event) {
    case 'message':
      return { kind: 'message', message: toChatMessage(ev.data.message) };
    case 'messages_deleted':
      return { kind: 'messages_deleted', ids: [...ev.data.ids] };
    case 'presence':
      return { kind: 'presence', username: ev.data.username, online: ev.data.online };
    case 'account_deleted':
      return { kind: 'account_deleted', username: ev.data.username };
    case 'session_ended':
      return { kind: 'session_ended', reason: ev.data.reason };
    case 'counts':
      return undefined;
  }
}

/** Errors that belong next to one field of a form, in plain words. */
function viewError(e: unknown, op?: ViewOp): ViewError {
  const code = isJoChatError(e) ? e.code : undefined;
  const at = (field: ErrorField, message: string): ViewError => ({ message, field });
  switch (code) {
    case 'USERNAME_TAKEN':
      return at('username', 'That username is taken. Choose another one.');
    case 'INVALID_USERNAME':
      return at('username', 'Use 1 to 32 letters, digits, "_", "." or "-".');
    case 'AUTH_FAILED':
      return op === 'delete_account' ? at('password', 'That is not the password of this account.') : at('password', 'Wrong username or password.');
    case 'OFFLINE':
      return at(null, isJoChatError(e) && /cannot reach/.test(e.message) ? capitalize(e.message) + '.' : 'JoChat is not connected to its server.');
    default:
      return at(null, describeError(e));
  }
}

const capitalize = (s: string): string => (s ? s[0]!.toUpperCase() + s.slice(1) : s);

type Handlers = { [K in ViewOp]: (args: ViewArgs<K>) => Promise<ViewResult<K>> };

export interface BridgeLog {
  info(message: string): void;
  warn(message: string): void;
}

export class ViewBridge implements vscode.Disposable {
  private readonly outbox = new Map<string, Outgoing>();
  private readonly subscriptions: vscode.Disposable[];
  private _viewing: string | null = null;
  private pendingOpen: string | undefined;
  private readonly handlers: Handlers;

  constructor(
    private readonly chat: ChatService,
    private readonly post: (m: ToWebview) => void,
    private readonly log: BridgeLog,
    /** Runs a whitelisted command (the real command registry unless a test gives another). */
    private readonly runCommand: (command: string, ...args: unknown[]) => Thenable<unknown> = vscode.commands.executeCommand,
  ) {
    this.subscriptions = [
      chat.onDidChange(() => this.postState()),
      chat.onEvent((ev) => {
        const e = toViewEvent(ev);
        if (e) this.post({ type: 'event', event: e });
      }),
    ];
    this.handlers = this.makeHandlers();
  }

  /** The conversation on screen in the view (null: none). */
  get viewing(): string | null {
    return this._viewing;
  }

  /** What the view renders: the chat state and the outbox. */
  snapshot(s: ChatState = this.chat.state): ViewState {
    return {
      server: s.server,
      connection: s.connection,
      username: s.username ?? null,
      pending: s.counts.pending,
      unread: s.counts.unread,
      byPeer: s.counts.byPeer.map((p) => ({ peer: p.peer, unread: p.unread })),
      outbox: [...this.outbox.values()].map((o) => ({ ...o })),
    };
  }

  postState(): void {
    this.post({ type: 'state', state: this.snapshot() });
  }

  /** Shows a conversation in the view now, or when it next says it is ready. */
  open(peer: string): void {
    this.pendingOpen = peer;
    this.post({ type: 'open', peer });
  }

  /** Forgets which conversation is on screen (the view went away). */
  viewGone(): void {
    this._viewing = null;
  }

  /** Handles one message from the view; resolves when it has been answered (tests await it). */
  async receive(raw: unknown): Promise<void> {
    if (!isFromWebview(raw)) {
      this.log.warn('ignored a malformed message from the JoChat view');
      return;
    }
    const m: FromWebview = raw;
    switch (m.type) {
      case 'ready':
        this.postState();
        if (this.pendingOpen) this.post({ type: 'open', peer: this.pendingOpen });
        return;
      case 'viewing':
        this._viewing = m.peer;
        if (m.peer !== null) this.pendingOpen = undefined;
        return;
      case 'command':
        await this.runCommand(m.command);
        return;
      case 'open_settings':
        await this.runCommand('workbench.action.openSettings', '@ext:jochat.jochat');
        return;
      case 'send':
        if (this.outbox.has(m.localId)) return; // the same send twice (e.g. a reloaded view): once is enough
        this.outbox.set(m.localId, { localId: m.localId, to: m.to, text: m.text, createdAt: Date.now(), status: 'sending', error: null });
        this.transmit(m.localId);
        return;
      case 'retry': {
        const o = this.outbox.get(m.localId);
        if (o?.status !== 'failed') return;
        o.status = 'sending';
        o.error = null;
        this.transmit(m.localId);
        return;
      }
      case 'discard':
        if (this.outbox.get(m.localId)?.status === 'failed') {
          this.outbox.delete(m.localId);
          this.postState();
        }
        return;
      case 'request':
        return this.answer(m);
    }
  }

  /** Hands an outbox entry to ChatService.send, which keeps it across reconnects until the server answers. */
  private transmit(localId: string): void {
    const o = this.outbox.get(localId);
    if (!o) return;
    this.postState();
    let sent: Promise<{ message: Message }>;
    try {
      sent = this.chat.send(o.to, o.text);
    } catch (e) {
      sent = Promise.reject(e); // no connection at all yet
    }
    sent.then(
      (r) => {
        this.outbox.delete(localId);
        this.post({ type: 'event', event: { kind: 'sent', localId, message: toChatMessage(r.message) } });
        this.postState();
      },
      (e: unknown) => {
        const still = this.outbox.get(localId);
        if (!still) return;
        still.status = 'failed';
        still.error = viewError(e).message;
        this.log.info(`a message to ${o.to} was not sent: ${still.error}`);
        this.postState();
      },
    );
  }

  private async answer(m: ViewRequest): Promise<void> {
    try {
      const result = await this.dispatch(m.op, m.args);
      this.post({ type: 'reply', reqId: m.reqId, ok: true, op: m.op, result } as ToWebview);
    } catch (e) {
      const error = viewError(e, m.op);
      this.log.info(`the view's ${m.op} request failed: ${error.message}`); // never the arguments (passwords)
      this.post({ type: 'reply', reqId: m.reqId, ok: false, error });
    }
  }

  private dispatch<K extends ViewOp>(op: K, args: ViewArgs<K>): Promise<ViewResult<K>> {
    const handler: Handlers[K] = this.handlers[op];
    return handler(args);
  }

  private makeHandlers(): Handlers {
    const chat = this.chat;
    return {
      connect: async () => {
        await chat.connect();
        return {};
      },
      start_server: async () => {
        // The command reports its own progress and errors, and returns an error as its outcome.
        const outcome = await this.runCommand('jochat.startServer');
        if (outcome instanceof Error) throw outcome;
        return {};
      },
      signup: async ({ username, password }) => {
        await chat.signup(username, password);
        return { username: chat.state.username ?? username };
      },
      login: async ({ username, password }) => {
        const r = await chat.login(username, password);
        return { username: r.username, pending: r.pending, unread: r.unread };
      },
      logout: async () => {
        await chat.logout();
        return {};
      },
      conversations: async () => {
        const r = await chat.request('conversations', {});
        return {
          conversations: r.conversations.map((c) => ({
            peer: c.peer,
            lastMessage: toChatMessage(c.lastMessage),
            unread: c.unread,
            online: c.online,
          })),
        };
      },
      history: async ({ peer, before, limit }) => {
        const r = await chat.request('history', before === null ? { peer, limit } : { peer, before, limit });
        return { messages: r.messages.map(toChatMessage), more: r.more };
      },
      mark_read: async ({ peer, upTo }) => {
        const r = await chat.request('mark_read', { peer, upTo });
        return { unread: r.unread };
      },
      fetch_pending: async ({ limit }) => {
        const r = await chat.fetchPending(limit);
        return { messages: r.messages.map(toChatMessage), remaining: r.remaining };
      },
      list_accounts: async ({ pattern, cursor, limit }) => {
        const r = await chat.request('list_accounts', { pattern, cursor, limit });
        return { accounts: r.accounts.map((a) => ({ username: a.username, online: a.online })), total: r.total, cursor: r.cursor };
      },
      delete_messages: async ({ ids }) => {
        const r = await chat.request('delete_messages', { ids });
        return { deleted: [...r.deleted], refused: [...r.refused] };
      },
      delete_account: async ({ password }) => {
        await chat.deleteAccount(password);
        return {};
      },
    };
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
  }
}
