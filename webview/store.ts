/**
 * What the view knows: the host's state, and what it has loaded (conversations, histories, search results) kept
 * up to date by live events. Rebuilt from the host whenever the view (re)loads; it holds nothing the host does not
 * have.
 */
import type { Account, ChatMessage, Conversation, Outgoing, ViewEvent, ViewState } from './messages.js';

export const lower = (s: string): string => s.toLowerCase();

export interface History {
  peer: string;
  messages: Map<number, ChatMessage>;
  /** Older messages exist on the server. */
  more: boolean;
  loaded: boolean;
  loading: boolean;
  error: string | null;
}

export interface SearchState {
  pattern: string;
  /** The cursor of each page shown so far (null for the first). */
  cursors: (string | null)[];
  page: { accounts: Account[]; total: number; cursor: string | null } | null;
  loading: boolean;
  error: string | null;
}

export interface FetchResult {
  count: number;
  /** What the fetch said; the banner shows the live pending count instead. */
  remaining: number;
  /** Peers the fetched messages came from, with how many each. */
  byPeer: { peer: string; count: number }[];
}

export interface Notice {
  id: number;
  text: string;
  kind: 'info' | 'warning';
  /** Goes away by itself when the session is back (a server restart, an idle connection). */
  untilReconnected: boolean;
}

const SESSION_ENDED: Record<string, string> = {
  signed_in_elsewhere: 'You were logged out because your account logged in somewhere else.',
  account_deleted: 'Your account was deleted.',
  server_shutdown: 'The JoChat server is shutting down. JoChat reconnects and resumes your session when it is back.',
  idle: 'The connection was idle for too long. JoChat is reconnecting.',
};

export class Store {
  state: ViewState | null = null;
  conversations: Conversation[] | null = null;
  conversationsError: string | null = null;
  private conversationsLoading = false;
  readonly histories = new Map<string, History>();
  /** Presence learned from events and lists, by lower-case name. */
  readonly online = new Map<string, boolean>();
  /** Accounts deleted while the view was open, by lower-case name. */
  readonly gone = new Set<string>();
  search: SearchState = { pattern: '', cursors: [null], page: null, loading: false, error: null };
  fetch: { busy: boolean; error: string | null; result: FetchResult | null } = { busy: false, error: null, result: null };
  notices: Notice[] = [];
  private noticeId = 1;
  /** A sent message keeps the key of the outbox entry it was, so its element stays put. */
  readonly sentKeys = new Map<number, string>();
  /** Called after every change. */
  onChange: () => void = () => undefined;
  /** Asked to reload the conversation list (its newest message was deleted). */
  onStale: () => void = () => undefined;

  get me(): string | null {
    return this.state?.username ?? null;
  }

  /** The other side of a message (yourself for a note to self). */
  peerOf(m: ChatMessage): string {
    const me = this.me;
    return me !== null && lower(m.from) === lower(me) ? m.to : m.from;
  }

  isMine(m: ChatMessage): boolean {
    return this.me !== null && lower(m.from) === lower(this.me);
  }

  unreadFrom(peer: string): number {
    return this.state?.byPeer.find((p) => lower(p.peer) === lower(peer))?.unread ?? 0;
  }

  isOnline(peer: string): boolean | undefined {
    return this.online.get(lower(peer));
  }

  outboxFor(peer: string): Outgoing[] {
    return (this.state?.outbox ?? []).filter((o) => lower(o.to) === lower(peer));
  }

  history(peer: string): History {
    let h = this.histories.get(lower(peer));
    if (!h) {
      h = { peer, messages: new Map(), more: false, loaded: false, loading: false, error: null };
      this.histories.set(lower(peer), h);
    }
    return h;
  }

  /** Forgets everything loaded (logged out, or another user logged in). */
  reset(): void {
    this.conversations = null;
    this.conversationsError = null;
    this.histories.clear();
    this.online.clear();
    this.gone.clear();
    this.sentKeys.clear();
    this.search = { pattern: '', cursors: [null], page: null, loading: false, error: null };
    this.fetch = { busy: false, error: null, result: null };
  }

  setState(s: ViewState): void {
    const before = this.me;
    this.state = s;
    if (before !== s.username) this.reset();
    if (s.username === null) this.fetch.result = null;
    this.onChange();
  }

  get loadingConversations(): boolean {
    return this.conversationsLoading;
  }

  async loadConversations(load: () => Promise<Conversation[]>): Promise<void> {
    if (this.conversationsLoading) return;
    this.conversationsLoading = true;
    try {
      const list = await load();
      this.conversations = [...list].sort((a, b) => b.lastMessage.id - a.lastMessage.id);
      for (const c of list) this.online.set(lower(c.peer), c.online);
      this.conversationsError = null;
    } catch (e) {
      this.conversationsError = (e as Error).message;
    } finally {
      this.conversationsLoading = false;
      this.onChange();
    }
  }

  /** Adds messages (from history, a fetch or an event) to their conversations. */
  addMessages(messages: readonly ChatMessage[]): void {
    for (const m of messages) {
      const peer = this.peerOf(m);
      // A conversation being loaded takes it too: the page that is on its way may be older than this message.
      this.histories.get(lower(peer))?.messages.set(m.id, m);
      this.touchConversation(peer, m);
    }
  }

  private touchConversation(peer: string, m: ChatMessage): void {
    if (!this.conversations) return;
    const i = this.conversations.findIndex((c) => lower(c.peer) === lower(peer));
    const c = this.conversations[i];
    if (c && c.lastMessage.id >= m.id) return;
    const online = this.isOnline(peer) ?? (!this.isMine(m) || c?.online === true);
    const updated: Conversation = { peer: c?.peer ?? peer, lastMessage: m, unread: c?.unread ?? 0, online };
    if (i >= 0) this.conversations.splice(i, 1);
    this.conversations.unshift(updated);
    this.conversations.sort((a, b) => b.lastMessage.id - a.lastMessage.id);
  }

  notify(text: string, kind: Notice['kind'] = 'info', untilReconnected = false): void {
    if (this.notices.some((n) => n.text === text)) return;
    this.notices.push({ id: this.noticeId++, text, kind, untilReconnected });
  }

  /** The connection and session are back: notices about their loss are over. */
  reconnected(): void {
    this.notices = this.notices.filter((n) => !n.untilReconnected);
  }

  dismiss(id: number): void {
    this.notices = this.notices.filter((n) => n.id !== id);
    this.onChange();
  }

  /** A live change from the host. */
  apply(ev: ViewEvent): void {
    switch (ev.kind) {
      case 'message':
        this.addMessages([ev.message]);
        break;
      case 'sent':
        this.sentKeys.set(ev.message.id, `o:${ev.localId}`);
        this.addMessages([ev.message]);
        break;
      case 'messages_deleted': {
        const ids = new Set(ev.ids);
        for (const h of this.histories.values()) for (const id of ids) h.messages.delete(id);
        if (this.conversations?.some((c) => ids.has(c.lastMessage.id))) this.onStale();
        break;
      }
      case 'presence':
        this.online.set(lower(ev.username), ev.online);
        if (this.conversations)
          this.conversations = this.conversations.map((c) => (lower(c.peer) === lower(ev.username) ? { ...c, online: ev.online } : c));
        if (this.search.page)
          this.search.page = {
            ...this.search.page,
            accounts: this.search.page.accounts.map((a) => (lower(a.username) === lower(ev.username) ? { ...a, online: ev.online } : a)),
          };
        break;
      case 'account_deleted': {
        const key = lower(ev.username);
        this.gone.add(key);
        this.online.set(key, false);
        this.histories.delete(key);
        if (this.conversations) this.conversations = this.conversations.filter((c) => lower(c.peer) !== key);
        if (this.search.page) {
          const accounts = this.search.page.accounts.filter((a) => lower(a.username) !== key);
          const total = this.search.page.total - (this.search.page.accounts.length - accounts.length);
          this.search.page = { ...this.search.page, accounts, total };
        }
        if (this.fetch.result) this.fetch.result = { ...this.fetch.result, byPeer: this.fetch.result.byPeer.filter((p) => lower(p.peer) !== key) };
        this.notify(`${ev.username} deleted their account. Your conversation with them is gone.`);
        break;
      }
      case 'session_ended':
        this.notify(
          SESSION_ENDED[ev.reason] ?? `The session ended (${ev.reason}).`,
          'warning',
          ev.reason === 'server_shutdown' || ev.reason === 'idle',
        );
        break;
    }
    this.onChange();
  }

  /** Removes deleted messages the person deleted from this side. */
  removeMessages(ids: readonly number[]): void {
    this.apply({ kind: 'messages_deleted', ids: [...ids] });
  }
}
