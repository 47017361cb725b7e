/** The home page when logged in: account search, the conversation list (most recent first), delete account. */
import type { App, Part } from './app.js';
import { button, el, icon, plural, preview, reconcile, setError, setText, shortTime, custom, fullTime } from './dom.js';
import { request } from './host.js';
import { MAX_PATTERN, type Account, type Conversation } from './messages.js';
import { errorOf, PendingBanner, spinner } from './screens.js';
import { lower } from './store.js';

const PAGE_SIZE = 20;

export function presenceDot(online: boolean | undefined): HTMLElement {
  return el('span', {
    className: `dot ${online ? 'online' : 'offline'}`,
    attrs: { 'aria-hidden': 'true', title: online ? 'Online' : 'Offline' },
  });
}

export class HomePage implements Part {
  readonly root: HTMLElement;
  private readonly pending: PendingBanner;
  private readonly search = el('input', {
    id: 'search-input',
    type: 'search',
    placeholder: 'e.g. ali, b*, ?ob',
    maxLength: MAX_PATTERN,
    spellcheck: false,
    autocomplete: 'off',
  });
  private readonly searchError = el('p', { className: 'field-error', attrs: { role: 'alert' } });
  private readonly results = el('div', { className: 'results' });
  private readonly resultsText = el('p', { className: 'results-text', attrs: { role: 'status' } });
  private readonly resultsList = el('ul', { className: 'list accounts', attrs: { 'aria-label': 'Accounts found' } });
  private readonly prev: HTMLButtonElement;
  private readonly next: HTMLButtonElement;
  private readonly searchRing = spinner('Searching');
  private readonly list = el('ul', { className: 'list conversations', attrs: { 'aria-labelledby': 'conversations-title' } });
  private readonly listStatus = el('p', { className: 'empty' });
  private readonly listRing = spinner('Loading conversations');

  constructor(private readonly app: App) {
    this.pending = new PendingBanner(app);
    this.searchError.hidden = true;
    this.search.value = app.ui.search;
    this.search.addEventListener('input', () => {
      app.ui.search = this.search.value;
      app.save();
    });
    const form = el(
      'form',
      { className: 'search-form', noValidate: true, attrs: { role: 'search', 'aria-label': 'Find people' } },
      el('label', { htmlFor: 'search-input', textContent: 'Search accounts' }),
      el(
        'div',
        { className: 'row' },
        this.search,
        el('button', { type: 'submit', className: 'btn icon', title: 'Search', attrs: { 'aria-label': 'Search' } }, icon('search')),
      ),
      el('p', {
        id: 'search-hint',
        className: 'hint',
        textContent: 'Plain text matches anywhere in a name. With * (any characters) or ? (one character) the whole name must match. Empty finds everyone.',
      }),
      this.searchError,
    );
    this.search.setAttribute('aria-describedby', 'search-hint');
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.runSearch(this.search.value.trim(), [null]);
    });
    this.prev = button('Previous Page', () => this.page(-1), { kind: 'secondary', icon: 'arrow-left' });
    this.next = button('Next Page', () => this.page(1), { kind: 'secondary', icon: 'arrow-right' });
    this.results.append(
      el('div', { className: 'results-head' }, this.resultsText, button('Close Search Results', () => this.closeSearch(), { kind: 'icon', icon: 'close' })),
      this.resultsList,
      el('div', { className: 'pager' }, this.prev, this.next),
    );
    this.root = el(
      'div',
      { className: 'page home' },
      this.pending.root,
      el('div', { className: 'search' }, form, this.searchRing, this.results),
      el(
        'section',
        { className: 'conversations-section', attrs: { 'aria-labelledby': 'conversations-title' } },
        el('h2', { id: 'conversations-title', className: 'section-title', textContent: 'Conversations' }),
        this.listRing,
        this.list,
        this.listStatus,
      ),
      el(
        'footer',
        { className: 'home-footer' },
        button('Delete Account…', () => this.app.go('account'), { kind: 'link', icon: 'trash' }),
      ),
    );
  }

  private async runSearch(pattern: string, cursors: (string | null)[]): Promise<void> {
    const s = this.app.store.search;
    s.pattern = pattern;
    s.cursors = cursors;
    s.loading = true;
    s.error = null;
    this.app.render();
    try {
      s.page = await request('list_accounts', { pattern, cursor: cursors[cursors.length - 1] ?? null, limit: PAGE_SIZE });
      for (const a of s.page.accounts) this.app.store.online.set(lower(a.username), a.online);
    } catch (e) {
      s.error = errorOf(e).message;
    } finally {
      s.loading = false;
      this.app.render();
    }
  }

  private page(delta: 1 | -1): void {
    const s = this.app.store.search;
    if (delta === 1 && s.page?.cursor) void this.runSearch(s.pattern, [...s.cursors, s.page.cursor]);
    if (delta === -1 && s.cursors.length > 1) void this.runSearch(s.pattern, s.cursors.slice(0, -1));
  }

  private closeSearch(): void {
    const s = this.app.store.search;
    s.page = null;
    s.error = null;
    this.search.focus();
    this.app.render();
  }

  update(): void {
    this.pending.update();
    this.updateSearch();
    this.updateList();
  }

  private updateSearch(): void {
    const s = this.app.store.search;
    setError(this.searchError, s.error);
    this.searchRing.hidden = !s.loading;
    this.results.hidden = s.page === null;
    if (!s.page) return;
    const pageNo = s.cursors.length;
    const pages = Math.max(1, Math.ceil(s.page.total / PAGE_SIZE));
    const what = s.pattern === '' ? 'in all' : `${s.page.total === 1 ? 'matches' : 'match'} "${s.pattern}"`;
    setText(
      this.resultsText,
      s.page.total === 0
        ? `No account matches "${s.pattern}".`
        : `${plural(s.page.total, 'account')} ${what}${pages > 1 ? ` — page ${pageNo} of ${pages}` : ''}`,
    );
    const me = this.app.store.me;
    reconcile(
      this.resultsList,
      s.page.accounts.map((a) => ({ key: lower(a.username), sig: JSON.stringify(a), a })),
      ({ a }) => accountItem(a, me !== null && lower(me) === lower(a.username), () => this.app.go('conversation', a.username)),
    );
    this.prev.disabled = pageNo <= 1 || s.loading;
    this.next.disabled = !s.page.cursor || s.loading;
    this.prev.hidden = this.next.hidden = pages <= 1 && pageNo <= 1;
  }

  private updateList(): void {
    const store = this.app.store;
    const list = store.conversations;
    this.listRing.hidden = !(list === null && store.loadingConversations);
    const items = (list ?? []).map((c) => {
      const unread = store.unreadFrom(c.peer);
      const online = store.isOnline(c.peer) ?? c.online;
      const mine = store.isMine(c.lastMessage);
      return { key: lower(c.peer), sig: JSON.stringify([c.peer, c.lastMessage.id, c.lastMessage.text, unread, online, mine, shortTime(c.lastMessage.sentAt)]), c, unread, online, mine };
    });
    reconcile(this.list, items, (i) => conversationItem(i.c, i.unread, i.online, i.mine, () => this.app.go('conversation', i.c.peer)));
    const status =
      store.conversationsError !== null
        ? `Could not load the conversations: ${store.conversationsError}`
        : list !== null && list.length === 0
          ? 'No conversations yet. Search for an account above and write to them.'
          : '';
    setText(this.listStatus, status);
    this.listStatus.hidden = status === '';
  }
}

function accountItem(a: Account, self: boolean, open: () => void): HTMLElement {
  const b = el(
    'button',
    { type: 'button', className: 'item account-item', attrs: { 'aria-label': `${a.username}${self ? ' (you)' : ''}, ${a.online ? 'online' : 'offline'}` } },
    presenceDot(a.online),
    el('span', { className: 'peer', textContent: a.username }),
    el('span', { className: 'muted', textContent: self ? 'you' : a.online ? 'online' : 'offline' }),
  );
  b.title = `Open the conversation with ${a.username}`;
  b.addEventListener('click', open);
  return el('li', {}, b);
}

function conversationItem(c: Conversation, unread: number, online: boolean, mine: boolean, open: () => void): HTMLElement {
  const m = c.lastMessage;
  const text = preview(m.text);
  const label = [
    c.peer,
    online ? 'online' : 'offline',
    unread > 0 ? `${unread} unread` : '',
    `${mine ? 'you' : c.peer} wrote ${shortTime(m.sentAt)}: ${text}`,
  ]
    .filter(Boolean)
    .join(', ');
  const badge = custom('vscode-badge', { variant: 'counter', 'aria-hidden': 'true' }, String(unread));
  badge.hidden = unread === 0;
  const b = el(
    'button',
    { type: 'button', className: `item conversation-item${unread > 0 ? ' has-unread' : ''}`, attrs: { 'aria-label': label } },
    el('span', { className: 'line' }, presenceDot(online), el('span', { className: 'peer', textContent: c.peer }), el('time', {
      className: 'muted',
      dateTime: new Date(m.sentAt).toISOString(),
      title: fullTime(m.sentAt),
      textContent: shortTime(m.sentAt),
    })),
    el('span', { className: 'line' }, el('span', { className: 'preview', textContent: mine ? `You: ${text}` : text }), badge),
  );
  b.addEventListener('click', open);
  return el('li', {}, b);
}
