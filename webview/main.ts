/**
 * The JoChat view. It renders the state the extension host sends, asks the host to act, and never talks to the
 * network. Every message from the host is validated before use; all data goes in as text, never as HTML.
 *
 * Screens: loading → not connected → log in / sign up → logged in (header, banners, and one page: conversations
 * with search, a conversation, or delete account). On (re)load it rebuilds everything from the host: it says
 * `ready`, gets the state, and loads what the saved UI state shows.
 */
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import type { App, Part } from './app.js';
import { ConversationPage } from './conversation.js';
import { el } from './dom.js';
import { HomePage } from './home.js';
import { loadUi, post, request, saveUi, saveUiNow, settle, type Page } from './host.js';
import { isToWebview, USERNAME_RE, type ToWebview } from './messages.js';
import { AccountPage, AuthScreen, Banners, ConnectScreen, Header, spinner } from './screens.js';
import { lower, Store } from './store.js';

class LoadingScreen implements Part {
  readonly root: HTMLElement;
  constructor() {
    const ring = spinner('Loading JoChat');
    ring.hidden = false;
    this.root = el('div', { className: 'screen loading' }, ring);
  }
  update(): void {}
}

/** Logged in: the header and banners stay; the page below changes. */
class MainScreen implements Part {
  readonly root = el('div', { className: 'screen main' });
  private readonly header: Header;
  private readonly banners: Banners;
  private readonly host = el('div', { className: 'page-host' });
  private page: Part | undefined;
  private pageKey = '';
  /** After going back to the list, focus this conversation's entry. */
  focusPeer: string | null = null;

  constructor(private readonly app: App) {
    this.header = new Header(app);
    this.banners = new Banners(app);
    this.root.append(this.header.root, this.banners.root, this.host);
  }

  update(): void {
    const { ui } = this.app;
    const key = ui.page === 'conversation' && ui.peer ? `conversation:${lower(ui.peer)}` : ui.page === 'account' ? 'account' : 'home';
    let fresh = false;
    if (key !== this.pageKey || !this.page) {
      this.page?.dispose?.();
      this.page =
        ui.page === 'conversation' && ui.peer ? new ConversationPage(this.app, ui.peer) : ui.page === 'account' ? new AccountPage(this.app) : new HomePage(this.app);
      this.pageKey = key;
      this.host.replaceChildren(this.page.root);
      fresh = true;
    }
    this.header.update();
    this.banners.update();
    this.page.update();
    if (fresh) {
      this.page.mounted?.();
      if (this.page instanceof HomePage && this.focusPeer) {
        this.page.root.querySelector<HTMLElement>(`.conversations li[data-key="${CSS.escape(lower(this.focusPeer))}"] button`)?.focus();
        this.focusPeer = null;
      }
    }
  }

  /** The connection came back: bring the loaded conversation up to date. */
  refresh(): void {
    if (this.page instanceof ConversationPage) this.page.refresh();
  }

  dispose(): void {
    this.page?.dispose?.();
  }
}

class View implements App {
  readonly store = new Store();
  readonly ui = loadUi();
  private screen: Part = new LoadingScreen();
  private screenKey = 'loading';
  private scheduled = false;
  private openWhenReady: string | null = null;
  private lastConnection: string | null = null;
  private viewing: string | null | undefined;

  constructor(private readonly root: HTMLElement) {
    this.root.replaceChildren(this.screen.root);
    this.store.onChange = () => this.render();
    this.store.onStale = () => this.loadConversations();
  }

  save(): void {
    saveUi(this.ui);
  }

  go(page: Page, peer: string | null = null): void {
    const from = this.ui.page === 'conversation' ? this.ui.peer : null;
    this.ui.page = page;
    this.ui.peer = page === 'conversation' ? peer : null;
    if (this.screen instanceof MainScreen && page === 'home') this.screen.focusPeer = from;
    saveUiNow(this.ui);
    this.render();
  }

  render(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.draw();
    });
  }

  private draw(): void {
    const s = this.store.state;
    const key = s === null ? 'loading' : s.username === null ? (s.connection === 'online' ? 'auth' : 'connect') : 'main';
    if (key !== this.screenKey) {
      this.screen.dispose?.();
      this.screen = key === 'connect' ? new ConnectScreen(this) : key === 'auth' ? new AuthScreen(this) : key === 'main' ? new MainScreen(this) : new LoadingScreen();
      this.screenKey = key;
      this.root.replaceChildren(this.screen.root);
      this.screen.update();
      this.screen.mounted?.();
    } else this.screen.update();
    this.tellViewing();
  }

  /** Tells the host which conversation is on screen, so it notifies only about the others. */
  private tellViewing(): void {
    const peer = this.screenKey === 'main' && this.ui.page === 'conversation' ? this.ui.peer : null;
    const valid = peer !== null && USERNAME_RE.test(peer) ? peer : null;
    if (valid === this.viewing) return;
    this.viewing = valid;
    post({ type: 'viewing', peer: valid });
  }

  private loadConversations(): void {
    void this.store.loadConversations(async () => (await request('conversations', {})).conversations);
  }

  receive(m: ToWebview): void {
    switch (m.type) {
      case 'state': {
        const s = m.state;
        const before = this.lastConnection;
        this.lastConnection = s.connection;
        if (s.username !== null && this.ui.user !== null && lower(this.ui.user) !== lower(s.username)) {
          // Another account: its pages and drafts are not this one's.
          Object.assign(this.ui, { page: 'home', peer: null, drafts: {}, scroll: {}, fetchCount: null });
        }
        if (s.username !== null) this.ui.user = s.username;
        this.save();
        const reconnected = before !== null && before !== 'online' && s.connection === 'online';
        if (reconnected && s.username !== null) this.store.reconnected();
        this.store.setState(s);
        if (s.username !== null && s.connection === 'online') {
          if (this.store.conversations === null || reconnected) this.loadConversations();
          if (reconnected && this.screen instanceof MainScreen) this.screen.refresh();
          if (this.openWhenReady) {
            this.go('conversation', this.openWhenReady);
            this.openWhenReady = null;
          }
        }
        return;
      }
      case 'open':
        if (this.store.me !== null) this.go('conversation', m.peer);
        else this.openWhenReady = m.peer;
        return;
      case 'event':
        this.store.apply(m.event);
        return;
      case 'reply':
        settle(m);
        return;
    }
  }
}

const view = new View(document.getElementById('app')!);
window.addEventListener('message', (e: MessageEvent<unknown>) => {
  if (!isToWebview(e.data)) {
    console.warn('JoChat view: ignored a malformed message from the extension');
    return;
  }
  view.receive(e.data);
});
post({ type: 'ready' });
