/**
 * One conversation: messages oldest at the top and newest at the bottom (older ones load on scrolling up or with
 * "Load Older Messages"), the state of each own message, read state updated as the newest becomes visible, the
 * composer (Enter sends, Shift+Enter adds a line), and selecting messages to delete them.
 */
import type { App, Part } from './app.js';
import { button, el, fullTime, icon, plural, preview, reconcile, setAttrs, setError, setText, shortTime, srOnly } from './dom.js';
import { post, request } from './host.js';
import { HISTORY_MAX, MAX_TEXT_BYTES, utf8Length, type ChatMessage, type Outgoing } from './messages.js';
import { presenceDot } from './home.js';
import { errorOf, spinner } from './screens.js';
import { lower, type History } from './store.js';

const PAGE = 50;
/** Within this many pixels of the bottom counts as "at the newest message". */
const BOTTOM_SLACK = 24;

type Item =
  | { key: string; sig: string; kind: 'message'; m: ChatMessage; mine: boolean }
  | { key: string; sig: string; kind: 'outgoing'; o: Outgoing };

function newLocalId(): string {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export class ConversationPage implements Part {
  readonly root: HTMLElement;
  readonly peer: string;
  private readonly key: string;
  private readonly presence = el('span', { className: 'presence muted' });
  private readonly dot = el('span');
  private readonly scroller = el('div', { className: 'scroller' });
  private readonly top = el('div', { className: 'log-top' });
  private readonly olderButton: HTMLButtonElement;
  private readonly beginning = el('p', { className: 'muted beginning' });
  private readonly olderRing = spinner('Loading older messages');
  private readonly log: HTMLElement;
  private readonly loadError = el('p', { className: 'form-error', attrs: { role: 'alert' } });
  private readonly jump: HTMLButtonElement;
  private readonly goneNotice = el('p', { className: 'banner warning', attrs: { role: 'status' } });
  // composer
  private readonly form: HTMLFormElement;
  private readonly input = el('textarea', { id: 'compose', rows: 1, className: 'compose', spellcheck: true });
  private readonly sendButton: HTMLButtonElement;
  private readonly composeError = el('p', { id: 'compose-error', className: 'field-error', attrs: { role: 'alert' } });
  // selection
  private selecting = false;
  private readonly selected = new Set<number>();
  private readonly selectButton: HTMLButtonElement;
  private readonly selectBar = el('div', { className: 'select-bar', attrs: { role: 'toolbar', 'aria-label': 'Selected messages' } });
  private readonly selectCount = el('span', { className: 'select-count', attrs: { 'aria-live': 'polite' } });
  private readonly deleteButton: HTMLButtonElement;
  private readonly dialog: HTMLDialogElement;
  private readonly dialogTitle = el('h2', { id: 'confirm-title' });
  private readonly dialogText = el('p', { id: 'confirm-text' });
  private readonly deleteError = el('p', { className: 'form-error', attrs: { role: 'alert' } });
  // scrolling and read state
  private restoreScroll = true;
  /** The reader is at the newest message: keep them there as messages arrive or the view changes size. */
  private stick = true;
  private readonly resize = new ResizeObserver(() => {
    if (this.stick) this.scroller.scrollTop = this.scroller.scrollHeight;
  });
  private lastCount = 0;
  private lastNewestKey: string | undefined;
  private markedUpTo = 0;
  private marking = false;

  constructor(private readonly app: App, peer: string) {
    this.peer = peer;
    this.key = lower(peer);
    this.loadError.hidden = true;
    this.composeError.hidden = true;
    this.deleteError.hidden = true;
    const title = el('h2', { id: 'conversation-title', className: 'peer-title' }, this.dot, el('span', { className: 'peer', textContent: peer }), this.presence);

    this.selectButton = button('Select Messages', () => this.setSelecting(true), { kind: 'icon', icon: 'checklist', title: 'Select messages to delete' });
    this.deleteButton = button('Delete Selected', () => this.confirmDelete(), { kind: 'danger', icon: 'trash' });
    this.selectBar.append(this.selectCount, this.deleteButton, button('Cancel', () => this.setSelecting(false), { kind: 'secondary' }));
    this.selectBar.hidden = true;

    this.olderButton = button('Load Older Messages', () => void this.loadOlder(), { kind: 'link', icon: 'fold-up' });
    this.top.append(this.olderButton, this.olderRing, this.beginning);
    this.log = el('div', {
      className: 'log',
      attrs: { role: 'log', 'aria-live': 'polite', 'aria-label': `Messages with ${peer}`, 'aria-relevant': 'additions' },
    });
    this.scroller.append(this.top, this.log);
    this.scroller.tabIndex = 0;
    this.scroller.setAttribute('aria-label', `Conversation with ${peer}`);
    this.scroller.setAttribute('role', 'region');
    this.scroller.addEventListener('scroll', () => this.onScroll(), { passive: true });
    this.resize.observe(this.scroller);
    this.resize.observe(this.log);
    this.jump = button('Jump to Newest', () => this.toBottom(), { kind: 'secondary', icon: 'arrow-down' });
    this.jump.classList.add('jump');
    this.jump.hidden = true;

    // Composer.
    this.sendButton = el('button', { type: 'submit', className: 'btn icon send', title: 'Send (Enter)', attrs: { 'aria-label': 'Send' } }, icon('send'));
    this.input.placeholder = `Message ${peer}`;
    setAttrs(this.input, { 'aria-describedby': 'compose-hint compose-error', maxlength: null });
    this.input.value = app.ui.drafts[this.key] ?? '';
    this.input.addEventListener('input', () => this.onInput());
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && !e.altKey && !e.ctrlKey && !e.metaKey) {
        e.preventDefault();
        this.send();
      }
    });
    this.form = el(
      'form',
      { className: 'composer', noValidate: true },
      el('label', { htmlFor: 'compose', className: 'sr-only', textContent: `Message to ${peer}` }),
      el('div', { className: 'compose-row' }, this.input, this.sendButton),
      el('p', { id: 'compose-hint', className: 'hint', textContent: 'Enter sends · Shift+Enter adds a line' }),
      this.composeError,
    );
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.send();
    });

    // Delete confirmation (a modal dialog: focus stays inside, Escape cancels).
    const confirm = button('Delete', () => void this.deleteSelected(), { kind: 'danger' });
    const cancel = button('Cancel', () => this.dialog.close(), { kind: 'secondary' });
    cancel.autofocus = true;
    this.dialog = el(
      'dialog',
      { className: 'confirm', attrs: { 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-text' } },
      this.dialogTitle,
      this.dialogText,
      this.deleteError,
      el('div', { className: 'actions' }, confirm, cancel),
    );

    this.root = el(
      'section',
      { className: 'page conversation', attrs: { 'aria-labelledby': 'conversation-title' } },
      el(
        'div',
        { className: 'page-bar' },
        button('Back to Conversations', () => this.app.go('home'), { kind: 'icon', icon: 'arrow-left' }),
        title,
        el('div', { className: 'toolbar' }, this.selectButton),
      ),
      this.selectBar,
      this.goneNotice,
      this.loadError,
      this.scroller,
      this.jump,
      this.form,
      this.dialog,
    );
    this.root.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.selecting && !this.dialog.open) this.setSelecting(false);
    });
    document.addEventListener('visibilitychange', this.onVisible);
  }

  private readonly onVisible = (): void => this.checkRead();

  private get history(): History {
    return this.app.store.history(this.peer);
  }

  private get gone(): boolean {
    return this.app.store.gone.has(this.key);
  }

  mounted(): void {
    const h = this.history;
    if (!h.loaded && !h.loading) void this.loadNewest();
    this.autosize();
    if (!this.gone) this.input.focus();
  }

  dispose(): void {
    this.resize.disconnect();
    document.removeEventListener('visibilitychange', this.onVisible);
  }

  // ---- loading ----

  private async load(before: number | null): Promise<void> {
    const h = this.history;
    if (h.loading) return;
    h.loading = true;
    h.error = null;
    this.app.render();
    try {
      const r = await request('history', { peer: this.peer, before, limit: Math.min(HISTORY_MAX, PAGE) });
      if (before === null && h.loaded) {
        // A refresh: what it covers and lacks was deleted meanwhile (newer ones may have arrived since it left).
        const ids = r.messages.map((m) => m.id);
        const low = r.more ? Math.min(...ids) : 0;
        const high = ids.length ? Math.max(...ids) : 0;
        const have = new Set(ids);
        for (const id of [...h.messages.keys()]) if (id >= low && id <= high && !have.has(id)) h.messages.delete(id);
      }
      for (const m of r.messages) h.messages.set(m.id, m);
      // The first page says whether more exist; later pages say whether more exist before them.
      if (before === null ? !h.loaded : true) h.more = r.more;
      h.loaded = true;
    } catch (e) {
      h.error = errorOf(e).message;
    } finally {
      h.loading = false;
      this.app.render();
    }
  }

  /** The connection came back: load the newest page again (merging, and dropping what was deleted meanwhile). */
  refresh(): void {
    void this.load(null);
  }

  private loadNewest(): Promise<void> {
    return this.load(null);
  }

  private async loadOlder(): Promise<void> {
    const h = this.history;
    if (!h.more || h.loading) return;
    const oldest = Math.min(...h.messages.keys());
    await this.load(Number.isFinite(oldest) ? oldest : null);
  }

  // ---- scrolling and read state ----

  private distanceFromBottom(): number {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight;
  }

  private atBottom(): boolean {
    return this.distanceFromBottom() <= BOTTOM_SLACK;
  }

  private toBottom(): void {
    this.stick = true;
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.jump.hidden = true;
    this.checkRead();
  }

  private onScroll(): void {
    this.stick = this.atBottom();
    this.app.ui.scroll[this.key] = Math.max(0, Math.round(this.distanceFromBottom()));
    this.app.save();
    if (this.atBottom()) this.jump.hidden = true;
    if (this.scroller.scrollTop < 80) void this.loadOlder();
    this.checkRead();
  }

  /** Marks the conversation read up to the newest received message once the newest message is in view. */
  private checkRead(): void {
    const store = this.app.store;
    const h = this.history;
    if (!h.loaded || this.marking || document.visibilityState !== 'visible' || !this.atBottom()) return;
    const received = [...h.messages.values()].filter((m) => !store.isMine(m) || lower(m.to) === lower(m.from));
    if (received.length === 0) return;
    const upTo = Math.max(...received.map((m) => m.id));
    const needed = store.unreadFrom(this.peer) > 0 || received.some((m) => m.unread);
    if (!needed || upTo <= this.markedUpTo) return;
    this.marking = true;
    request('mark_read', { peer: this.peer, upTo })
      .then(() => {
        this.markedUpTo = upTo;
        for (const m of received) if (m.id <= upTo && m.unread) h.messages.set(m.id, { ...m, unread: false });
      })
      .catch(() => undefined) // the next scroll or message tries again
      .finally(() => {
        this.marking = false;
        this.app.render();
      });
  }

  // ---- composing ----

  private onInput(): void {
    const v = this.input.value;
    if (v === '') delete this.app.ui.drafts[this.key];
    else this.app.ui.drafts[this.key] = v;
    this.app.save();
    this.autosize();
    const bytes = v.length * 3 > MAX_TEXT_BYTES ? utf8Length(v) : 0;
    setError(this.composeError, bytes > MAX_TEXT_BYTES ? `Too long to send: ${bytes.toLocaleString()} bytes of at most ${MAX_TEXT_BYTES.toLocaleString()}.` : null);
  }

  private autosize(): void {
    const t = this.input;
    t.style.height = 'auto';
    t.style.height = `${Math.min(t.scrollHeight + 2, 160)}px`;
  }

  private send(): void {
    const text = this.input.value;
    if (text.trim() === '' || this.gone) return;
    if (utf8Length(text) > MAX_TEXT_BYTES) {
      this.onInput();
      this.input.focus();
      return;
    }
    post({ type: 'send', localId: newLocalId(), to: this.peer, text });
    this.input.value = '';
    this.onInput();
    this.scrollDown = true;
  }

  /** The next update scrolls to the newest message (after sending). */
  private scrollDown = false;

  // ---- selecting and deleting ----

  private setSelecting(on: boolean): void {
    this.selecting = on;
    this.selected.clear();
    this.app.render();
    if (on) this.log.querySelector<HTMLInputElement>('input[type=checkbox]:not([hidden])')?.focus();
    else this.selectButton.focus();
  }

  private toggle(id: number, on?: boolean): void {
    if (on ?? !this.selected.has(id)) this.selected.add(id);
    else this.selected.delete(id);
    this.app.render();
  }

  private confirmDelete(): void {
    const n = this.selected.size;
    if (n === 0) return;
    setText(this.dialogTitle, `Delete ${plural(n, 'message')}?`);
    setText(this.dialogText, `${n === 1 ? 'It is' : 'They are'} deleted for you and for ${this.peer}. This cannot be undone.`);
    setError(this.deleteError, null);
    this.dialog.showModal();
  }

  private async deleteSelected(): Promise<void> {
    const ids = [...this.selected];
    try {
      const r = await request('delete_messages', { ids });
      this.app.store.removeMessages(r.deleted);
      if (r.refused.length > 0) this.app.store.notify(`${plural(r.refused.length, 'message')} could not be deleted.`, 'warning');
      this.dialog.close();
      this.setSelecting(false);
    } catch (e) {
      setError(this.deleteError, errorOf(e).message);
    }
  }

  // ---- rendering ----

  private items(): Item[] {
    const store = this.app.store;
    const sent = new Set(store.sentKeys.values());
    const messages: Item[] = [...this.history.messages.values()]
      .sort((a, b) => a.id - b.id)
      .map((m) => ({ key: store.sentKeys.get(m.id) ?? `m:${m.id}`, sig: `${m.id}`, kind: 'message', m, mine: store.isMine(m) }));
    const outgoing: Item[] = store
      .outboxFor(this.peer)
      .filter((o) => !sent.has(`o:${o.localId}`))
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((o) => ({ key: `o:${o.localId}`, sig: `o:${o.localId}`, kind: 'outgoing', o }));
    return [...messages, ...outgoing];
  }

  private make(item: Item): HTMLElement {
    const mine = item.kind === 'outgoing' || item.mine;
    const text = item.kind === 'message' ? item.m.text : item.o.text;
    const at = item.kind === 'message' ? item.m.sentAt : item.o.createdAt;
    const who = mine ? 'You' : item.kind === 'message' ? item.m.from : '';
    const article = el('article', { className: `msg ${mine ? 'mine' : 'theirs'}` });
    const bubble = el(
      'div',
      { className: 'bubble' },
      el(
        'div',
        { className: 'meta' },
        el('span', { className: 'author', textContent: who }),
        el('time', { dateTime: new Date(at).toISOString(), title: fullTime(at), textContent: shortTime(at) }),
        el('span', { className: 'unread-mark' }, icon('circle-filled'), srOnly('unread')),
      ),
      // Text only: whatever the message says is shown as those characters.
      el('div', { className: 'text', textContent: text }),
      mine ? el('div', { className: 'status' }) : null,
    );
    if (item.kind === 'message') {
      const box = el('input', { type: 'checkbox', className: 'pick' });
      setAttrs(box, { 'aria-label': `Select the message from ${mine ? 'you' : item.m.from}, ${shortTime(at)}: ${preview(text, 60)}` });
      box.addEventListener('change', () => this.toggle(item.m.id, box.checked));
      article.append(box);
      article.addEventListener('click', (e) => {
        if (this.selecting && e.target !== box && !(e.target instanceof HTMLButtonElement)) this.toggle(item.m.id);
      });
    }
    article.append(bubble);
    return article;
  }

  /** The parts of a message that change in place (no re-announcement in the live log). */
  private patch(node: HTMLElement, item: Item): void {
    const store = this.app.store;
    if (item.kind === 'message') {
      const m = item.m;
      node.classList.toggle('unread', !item.mine && m.unread);
      node.classList.toggle('selected', this.selecting && this.selected.has(m.id));
      const box = node.querySelector<HTMLInputElement>('input.pick');
      if (box) {
        box.hidden = !this.selecting;
        box.checked = this.selected.has(m.id);
      }
      const status = node.querySelector<HTMLElement>('.status');
      if (status) this.setStatus(status, 'sent', 'Sent', 'check');
      return;
    }
    const o = item.o;
    const status = node.querySelector<HTMLElement>('.status');
    if (!status) return;
    node.classList.toggle('failed', o.status === 'failed');
    node.classList.toggle('sending', o.status === 'sending');
    if (o.status === 'failed') {
      const sig = `failed:${o.error ?? ''}`;
      if (status.dataset['sig'] === sig) return;
      status.dataset['sig'] = sig;
      status.replaceChildren(
        icon('error'),
        el('span', { textContent: `Not sent: ${o.error ?? 'unknown error'}` }),
        button('Retry', () => post({ type: 'retry', localId: o.localId }), { kind: 'link', title: 'Send this message again' }),
        button('Discard', () => post({ type: 'discard', localId: o.localId }), { kind: 'link', title: 'Remove this unsent message' }),
      );
    } else if (store.state?.connection === 'online') this.setStatus(status, 'sending', 'Sending…', 'loading codicon-modifier-spin');
    else this.setStatus(status, 'waiting', 'Waiting for connection', 'debug-disconnect');
  }

  private setStatus(status: HTMLElement, sig: string, text: string, iconName: string): void {
    const full = `${sig}:${text}`;
    if (status.dataset['sig'] === full) return;
    status.dataset['sig'] = full;
    status.replaceChildren(icon(iconName), el('span', { textContent: text }));
  }

  update(): void {
    const store = this.app.store;
    const h = this.history;
    const self = store.me !== null && lower(store.me) === this.key;
    // While JoChat itself is offline, nobody's presence is known.
    // Unknown from presence events yet (a first message just started the conversation): what the list shows.
    const online =
      store.state?.connection === 'online'
        ? (store.isOnline(this.peer) ?? store.conversations?.find((c) => lower(c.peer) === this.key)?.online)
        : undefined;
    this.dot.replaceChildren(this.gone ? icon('circle-slash') : presenceDot(self || online === true));
    setText(this.presence, this.gone ? 'account deleted' : self ? 'you' : online === undefined ? '' : online ? 'online' : 'offline');
    this.goneNotice.hidden = !this.gone;
    setText(this.goneNotice, `${this.peer} deleted their account. The conversation is gone and no message can be sent to them.`);
    this.form.hidden = this.gone;
    setError(this.loadError, h.error === null ? null : `Could not load the messages: ${h.error}`);

    this.selectButton.hidden = this.selecting;
    this.selectBar.hidden = !this.selecting;
    for (const id of this.selected) if (!h.messages.has(id)) this.selected.delete(id);
    setText(this.selectCount, this.selected.size === 0 ? 'Select the messages to delete' : `${plural(this.selected.size, 'message')} selected`);
    this.deleteButton.disabled = this.selected.size === 0;
    this.log.classList.toggle('selecting', this.selecting);

    this.olderButton.hidden = !(h.loaded && h.more) || h.loading;
    this.olderRing.hidden = !h.loading;
    this.beginning.hidden = !(h.loaded && !h.more);
    setText(this.beginning, h.messages.size === 0 && store.outboxFor(this.peer).length === 0 ? `No messages with ${this.peer} yet. Say hello.` : 'The beginning of the conversation.');
    this.sendButton.disabled = this.gone;

    // Keep the reader's place: at the bottom stays at the bottom; older messages above do not move the view.
    const wasAtBottom = this.stick;
    const oldHeight = this.scroller.scrollHeight;
    const oldTop = this.scroller.scrollTop;
    const items = this.items();
    const firstBefore = (this.log.firstElementChild as HTMLElement | null)?.dataset['key'];
    this.log.setAttribute('aria-busy', h.loading ? 'true' : 'false');
    reconcile(this.log, items, (i) => this.make(i), (node, i) => this.patch(node, i));
    const newest = items[items.length - 1]?.key;
    const grewAtEnd = newest !== this.lastNewestKey && items.length >= this.lastCount;
    this.lastCount = items.length;
    this.lastNewestKey = newest;

    if (this.restoreScroll && h.loaded) {
      this.restoreScroll = false;
      const fromBottom = this.app.ui.scroll[this.key] ?? 0;
      this.scroller.scrollTop = this.scroller.scrollHeight - this.scroller.clientHeight - fromBottom;
      this.stick = this.atBottom();
    } else if (this.scrollDown || wasAtBottom) {
      this.scrollDown = false;
      this.stick = true;
      this.scroller.scrollTop = this.scroller.scrollHeight;
    } else if (firstBefore !== undefined && items[0]?.key !== firstBefore) {
      this.scroller.scrollTop = oldTop + (this.scroller.scrollHeight - oldHeight);
    } else if (grewAtEnd) {
      this.jump.hidden = false;
    }
    if (this.atBottom()) this.jump.hidden = true;
    // After layout: is the newest message visible now?
    requestAnimationFrame(() => this.checkRead());
  }
}
