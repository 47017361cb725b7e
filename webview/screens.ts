/**
 * The screens before logging in (not connected; log in / sign up), the header and banners shown while logged in,
 * and the delete-account page.
 */
import type { App, Part } from './app.js';
import { button, custom, el, icon, plural, setAttrs, setError, setText } from './dom.js';
import { post, request, RequestError } from './host.js';
import { FETCH_MAX, MAX_PASSWORD, USERNAME_RE, type ErrorField } from './messages.js';
import { lower } from './store.js';

const USERNAME_RULE = 'Use 1 to 32 letters, digits, "_", "." or "-".';

/** A progress ring with a label (from @vscode-elements). */
export function spinner(label: string): HTMLElement {
  const ring = custom('vscode-progress-ring', { 'aria-label': label, role: 'status', 'aria-live': 'polite' });
  ring.className = 'spinner';
  ring.hidden = true;
  return ring;
}

export function errorOf(e: unknown): { message: string; field: ErrorField } {
  if (e instanceof RequestError) return e.error;
  return { message: e instanceof Error ? e.message : String(e), field: null };
}

interface Field {
  wrap: HTMLElement;
  input: HTMLInputElement;
  error: HTMLElement;
}

/** A labelled input with its error line (role="alert") and optional hint, tied together with aria-describedby. */
export function field(id: string, label: string, props: Partial<HTMLInputElement>, hint?: string): Field {
  const input = el('input', { id, ...props });
  const error = el('p', { id: `${id}-error`, className: 'field-error', attrs: { role: 'alert' } });
  error.hidden = true;
  const hintEl = hint ? el('p', { id: `${id}-hint`, className: 'hint', textContent: hint }) : null;
  setAttrs(input, { 'aria-describedby': [hintEl ? `${id}-hint` : '', `${id}-error`].join(' ').trim() });
  const wrap = el('div', { className: 'field' }, el('label', { htmlFor: id, textContent: label }), input, hintEl, error);
  return { wrap, input, error };
}

export function showFieldError(f: Field, message: string | null): void {
  setError(f.error, message);
  setAttrs(f.input, { 'aria-invalid': message ? 'true' : null });
}

function connectionText(connection: string, server: string): string {
  return connection === 'online' ? `Connected to ${server}` : connection === 'connecting' ? `Connecting to ${server}…` : `Not connected to ${server}`;
}

/** Not connected: the server address, the state, start the bundled server or connect. */
export class ConnectScreen implements Part {
  readonly root: HTMLElement;
  private readonly server = el('strong');
  private readonly status = el('p', { className: 'status-line', attrs: { role: 'status' } });
  private readonly ring = spinner('Connecting');
  private readonly error = el('p', { className: 'form-error', attrs: { role: 'alert' } });
  private busy = false;

  constructor(private readonly app: App) {
    this.error.hidden = true;
    const start = button('Start Bundled Server', () => void this.act('start_server'), { icon: 'server-process' });
    const connect = button('Connect', () => void this.act('connect'), { icon: 'plug', kind: 'secondary' });
    this.root = el(
      'section',
      { className: 'screen connect', attrs: { 'aria-labelledby': 'connect-title' } },
      el('h1', { id: 'connect-title', className: 'title' }, icon('comment-discussion'), ' JoChat'),
      el(
        'p',
        { className: 'server-line' },
        el('span', { textContent: 'Server: ' }),
        this.server,
        ' ',
        button('Change Server…', () => post({ type: 'open_settings' }), { kind: 'link', title: 'Open the JoChat settings' }),
      ),
      el('div', { className: 'status-row' }, this.ring, this.status),
      el('div', { className: 'actions' }, start, connect),
      this.error,
      el('p', {
        className: 'hint',
        textContent:
          'Start the bundled server to chat through this machine, or point the settings at a JoChat server that is already running and connect.',
      }),
    );
  }

  private async act(op: 'start_server' | 'connect'): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    setError(this.error, null);
    this.update();
    try {
      await request(op, {});
    } catch (e) {
      setError(this.error, errorOf(e).message);
    } finally {
      this.busy = false;
      this.update();
    }
  }

  update(): void {
    const s = this.app.store.state;
    if (!s) return;
    setText(this.server, s.server);
    setText(this.status, connectionText(s.connection, s.server).replace(` to ${s.server}`, '') + (s.connection === 'offline' ? '.' : ''));
    this.ring.hidden = !(this.busy || s.connection === 'connecting');
    for (const b of this.root.querySelectorAll<HTMLButtonElement>('.actions button')) b.disabled = this.busy;
  }
}

/** Connected, not logged in: log in or sign up. The password never leaves this form except to the host. */
export class AuthScreen implements Part {
  readonly root: HTMLElement;
  private readonly heading = el('h1', { id: 'auth-title', className: 'title' });
  private readonly username = field('username', 'Username', { autocomplete: 'username', spellcheck: false, maxLength: 32 }, '1 to 32 letters, digits, "_", "." or "-"');
  private readonly password = field('password', 'Password', { type: 'password', maxLength: MAX_PASSWORD });
  private readonly again = field('password-again', 'Password again', { type: 'password', autocomplete: 'new-password', maxLength: MAX_PASSWORD });
  private readonly formError = el('p', { className: 'form-error', attrs: { role: 'alert' } });
  private readonly submit = el('button', { type: 'submit', className: 'btn primary' });
  private readonly ring = spinner('Working');
  private readonly switchText = el('span');
  private readonly switchButton = button('', () => this.toggle(), { kind: 'link' });
  private readonly server = el('p', { className: 'server-line' });
  private busy = false;

  constructor(private readonly app: App) {
    this.formError.hidden = true;
    const form = el(
      'form',
      { className: 'form', noValidate: true, attrs: { 'aria-labelledby': 'auth-title' } },
      this.username.wrap,
      this.password.wrap,
      this.again.wrap,
      this.formError,
      el('div', { className: 'actions' }, this.submit, this.ring),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.send();
    });
    this.root = el(
      'section',
      { className: 'screen auth', attrs: { 'aria-labelledby': 'auth-title' } },
      this.heading,
      this.server,
      form,
      el('p', { className: 'switch' }, this.switchText, ' ', this.switchButton),
    );
  }

  mounted(): void {
    this.username.input.focus();
  }

  private get mode(): 'login' | 'signup' {
    return this.app.ui.authMode;
  }

  private toggle(): void {
    this.app.ui.authMode = this.mode === 'login' ? 'signup' : 'login';
    this.app.save();
    for (const f of [this.username, this.password, this.again]) showFieldError(f, null);
    setError(this.formError, null);
    this.again.input.value = '';
    this.update();
    this.username.input.focus();
  }

  /** Checks the fields; shows what is wrong next to each and focuses the first. */
  private validate(): boolean {
    const u = this.username.input.value.trim();
    const problems: [Field, string | null][] = [
      [this.username, u === '' ? 'Enter a username.' : USERNAME_RE.test(u) ? null : USERNAME_RULE],
      [this.password, this.password.input.value === '' ? 'Enter a password.' : null],
      [
        this.again,
        this.mode === 'signup' && this.again.input.value !== this.password.input.value ? 'The two passwords are not the same.' : null,
      ],
    ];
    for (const [f, p] of problems) showFieldError(f, p);
    const first = problems.find(([, p]) => p !== null);
    first?.[0].input.focus();
    return !first;
  }

  private async send(): Promise<void> {
    if (this.busy) return;
    setError(this.formError, null);
    if (!this.validate()) return;
    this.busy = true;
    this.update();
    const args = { username: this.username.input.value.trim(), password: this.password.input.value };
    try {
      if (this.mode === 'signup') await request('signup', args);
      else await request('login', args);
      // Next time (after logging out) this person logs in rather than signs up.
      this.app.ui.authMode = 'login';
      this.app.save();
      this.password.input.value = '';
      this.again.input.value = '';
    } catch (e) {
      const err = errorOf(e);
      const f = err.field === 'username' ? this.username : err.field === 'password' ? this.password : null;
      if (f) {
        showFieldError(f, err.message);
        f.input.focus();
      } else setError(this.formError, err.message);
    } finally {
      this.busy = false;
      this.update();
    }
  }

  update(): void {
    const s = this.app.store.state;
    const signup = this.mode === 'signup';
    setText(this.heading, signup ? 'Create a JoChat account' : 'Log in to JoChat');
    if (s) setText(this.server, connectionText(s.connection, s.server));
    this.again.wrap.hidden = !signup;
    this.password.input.autocomplete = signup ? 'new-password' : 'current-password';
    setText(this.submit, signup ? 'Sign Up' : 'Log In');
    setText(this.switchText, signup ? 'Already have an account?' : 'New to JoChat?');
    setText(this.switchButton.querySelector('span') ?? this.switchButton, signup ? 'Log in instead' : 'Create an account');
    this.submit.disabled = this.busy;
    this.ring.hidden = !this.busy;
    this.ring.setAttribute('aria-label', signup ? 'Creating your account' : 'Logging in');
  }
}

/** The logged-in header: who, the unread total, Log Out. */
export class Header implements Part {
  readonly root: HTMLElement;
  private readonly name = el('span', { className: 'me-name' });
  private readonly unread = custom('vscode-badge', { title: 'Unread messages' });
  private readonly none = el('span', { className: 'muted', textContent: 'No unread' });

  constructor(private readonly app: App) {
    const logout = button('Log Out', () => void request('logout', {}).catch(() => undefined), { kind: 'icon', icon: 'sign-out' });
    this.root = el(
      'header',
      { className: 'me-bar' },
      el('h1', { className: 'me' }, icon('account'), this.name),
      el('p', { className: 'unread-total' }, this.unread, this.none),
      el('div', { className: 'toolbar' }, logout),
    );
  }

  update(): void {
    const s = this.app.store.state;
    if (!s) return;
    setText(this.name, s.username ?? '');
    setText(this.unread, `${s.unread} unread`);
    this.unread.hidden = s.unread === 0;
    this.none.hidden = s.unread > 0;
  }
}

/** Connection lost, notices (session ended, an account deleted). */
export class Banners implements Part {
  readonly root = el('div', { className: 'banners' });
  private readonly connection = el('div', { className: 'banner warning', attrs: { role: 'status' } });
  private readonly connectionText = el('span');
  private readonly notices = el('div', { className: 'notices' });

  constructor(private readonly app: App) {
    this.connectionText.className = 'banner-text';
    this.connection.append(
      icon('debug-disconnect'),
      this.connectionText,
      button('Reconnect Now', () => void request('connect', {}).catch(() => undefined), { kind: 'link' }),
    );
    this.connection.hidden = true;
    this.root.append(this.connection, this.notices);
  }

  update(): void {
    const { state, notices } = this.app.store;
    const off = state !== null && state.connection !== 'online';
    this.connection.hidden = !off;
    if (state && off)
      setText(
        this.connectionText,
        state.connection === 'connecting' ? `Reconnecting to ${state.server}…` : `Offline: JoChat keeps trying to reach ${state.server}.`,
      );
    const have = new Map(Array.from(this.notices.children, (c) => [(c as HTMLElement).dataset['id'], c]));
    for (const n of notices) {
      if (have.delete(String(n.id))) continue;
      const b = el(
        'div',
        { className: `banner ${n.kind}`, attrs: { role: n.kind === 'warning' ? 'alert' : 'status' } },
        icon(n.kind === 'warning' ? 'warning' : 'info'),
        el('span', { className: 'banner-text', textContent: n.text }),
        button('Dismiss', () => this.app.store.dismiss(n.id), { kind: 'icon', icon: 'close', title: 'Dismiss this notice' }),
      );
      b.dataset['id'] = String(n.id);
      this.notices.append(b);
    }
    for (const c of have.values()) c.remove();
  }
}

/** "N messages arrived while you were away": fetch some, say how many remain, link to their conversations. */
export class PendingBanner implements Part {
  readonly root: HTMLElement;
  private readonly text = el('p', { id: 'pending-text', className: 'banner-title' });
  private readonly form: HTMLFormElement;
  private readonly count = el('input', {
    id: 'fetch-count',
    type: 'number',
    min: '1',
    max: String(FETCH_MAX),
    step: '1',
    className: 'number',
  });
  private readonly error = el('p', { className: 'field-error', attrs: { role: 'alert' } });
  private readonly result = el('div', { className: 'fetch-result' });
  private readonly resultText = el('p', { attrs: { role: 'status' } });
  private readonly resultPeers = el('ul', { className: 'fetched-peers', attrs: { 'aria-label': 'Conversations with fetched messages' } });
  private readonly ring = spinner('Fetching messages');

  constructor(private readonly app: App) {
    this.error.hidden = true;
    this.form = el(
      'form',
      { className: 'fetch-row', noValidate: true },
      el('label', { htmlFor: 'fetch-count', textContent: 'How many to fetch' }),
      this.count,
      el('button', { type: 'submit', className: 'btn primary', textContent: 'Fetch' }),
      this.ring,
    );
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.fetch();
    });
    this.count.addEventListener('input', () => {
      const n = Number(this.count.value);
      this.app.ui.fetchCount = Number.isInteger(n) && n > 0 ? n : null;
      this.app.save();
    });
    this.result.append(
      this.resultText,
      this.resultPeers,
      button('Dismiss', () => {
        this.app.store.fetch.result = null;
        this.app.render();
      }, { kind: 'link' }),
    );
    this.root = el(
      'section',
      { className: 'banner info pending', attrs: { 'aria-labelledby': 'pending-text' } },
      el('div', { className: 'banner-head' }, icon('mail'), this.text),
      this.form,
      this.error,
      this.result,
    );
  }

  private async fetch(): Promise<void> {
    const store = this.app.store;
    const pending = store.state?.pending ?? 0;
    const n = Number(this.count.value);
    const max = Math.min(FETCH_MAX, Math.max(pending, 1));
    if (!Number.isInteger(n) || n < 1 || n > max) {
      setError(this.error, `Enter a whole number from 1 to ${max}.`);
      setAttrs(this.count, { 'aria-invalid': 'true', 'aria-errormessage': undefined });
      this.count.focus();
      return;
    }
    setError(this.error, null);
    setAttrs(this.count, { 'aria-invalid': null });
    store.fetch.busy = true;
    this.app.render();
    try {
      const r = await request('fetch_pending', { limit: n });
      store.addMessages(r.messages);
      const peers = new Map<string, { peer: string; count: number }>();
      for (const m of r.messages) {
        const p = store.peerOf(m);
        const e = peers.get(lower(p)) ?? { peer: p, count: 0 };
        e.count++;
        peers.set(lower(p), e);
      }
      store.fetch.result = { count: r.messages.length, remaining: r.remaining, byPeer: [...peers.values()] };
    } catch (e) {
      setError(this.error, errorOf(e).message);
    } finally {
      store.fetch.busy = false;
      this.app.render();
    }
  }

  update(): void {
    const { state, fetch } = this.app.store;
    const pending = state?.pending ?? 0;
    this.root.hidden = pending === 0 && fetch.result === null;
    this.form.hidden = pending === 0;
    setText(this.text, pending > 0 ? `${plural(pending, 'message')} arrived while you were away.` : 'Messages from while you were away');
    const max = Math.min(FETCH_MAX, Math.max(pending, 1));
    this.count.max = String(max);
    if (document.activeElement !== this.count) {
      const want = Math.min(this.app.ui.fetchCount ?? 20, max);
      if (this.count.value !== String(want)) this.count.value = String(want);
    }
    this.ring.hidden = !fetch.busy;
    for (const b of this.form.querySelectorAll('button')) b.disabled = fetch.busy;
    const r = fetch.result;
    this.result.hidden = r === null;
    if (r) {
      setText(
        this.resultText,
        `Fetched ${plural(r.count, 'message')}; ${pending === 0 ? 'none' : pending} still waiting.`,
      );
      const sig = JSON.stringify(r.byPeer);
      if (this.resultPeers.dataset['sig'] !== sig) {
        this.resultPeers.dataset['sig'] = sig;
        this.resultPeers.replaceChildren(
          ...r.byPeer.map((p) =>
            el('li', {}, button(`Open ${p.peer} (${p.count} fetched)`, () => this.app.go('conversation', p.peer), { kind: 'link', icon: 'comment' })),
          ),
        );
      }
    }
  }
}

/** Delete the account: what goes, and the password to confirm. */
export class AccountPage implements Part {
  readonly root: HTMLElement;
  private readonly password = field('delete-password', 'Password', { type: 'password', autocomplete: 'current-password', maxLength: MAX_PASSWORD });
  private readonly formError = el('p', { className: 'form-error', attrs: { role: 'alert' } });
  private readonly ring = spinner('Deleting your account');
  private readonly submit = button('Delete Account', () => undefined, { kind: 'danger', type: 'submit', icon: 'trash' });
  private readonly title = el('h2', { id: 'account-title' });
  private busy = false;

  constructor(private readonly app: App) {
    this.formError.hidden = true;
    const form = el(
      'form',
      { className: 'form', noValidate: true, attrs: { 'aria-labelledby': 'account-title' } },
      this.password.wrap,
      this.formError,
      el(
        'div',
        { className: 'actions' },
        this.submit,
        button('Cancel', () => this.app.go('home'), { kind: 'secondary' }),
        this.ring,
      ),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.send();
    });
    this.root = el(
      'section',
      { className: 'page account', attrs: { 'aria-labelledby': 'account-title' } },
      el('div', { className: 'page-bar' }, button('Back to Conversations', () => this.app.go('home'), { kind: 'icon', icon: 'arrow-left' }), this.title),
      el('p', { textContent: 'Deleting your account cannot be undone. It deletes, for good:' }),
      el(
        'ul',
        { className: 'what-goes' },
        el('li', { textContent: 'your account and its saved sessions (every window is logged out);' }),
        el('li', {
          textContent:
            'every message you sent or received — read, unread, and still waiting — for you and for the people you talked with.',
        }),
      ),
      el('p', { textContent: 'The people you talked with who are online are told. Your username becomes free for anyone to take.' }),
      el('p', { textContent: 'To confirm, enter your password.' }),
      form,
    );
  }

  mounted(): void {
    this.password.input.focus();
  }

  private async send(): Promise<void> {
    if (this.busy) return;
    setError(this.formError, null);
    if (this.password.input.value === '') {
      showFieldError(this.password, 'Enter your password to confirm.');
      this.password.input.focus();
      return;
    }
    showFieldError(this.password, null);
    this.busy = true;
    this.update();
    try {
      await request('delete_account', { password: this.password.input.value });
      this.password.input.value = '';
      this.app.store.notify('Your account was deleted.');
      this.app.go('home');
    } catch (e) {
      const err = errorOf(e);
      if (err.field === 'password') {
        showFieldError(this.password, err.message);
        this.password.input.focus();
      } else setError(this.formError, err.message);
    } finally {
      this.busy = false;
      this.update();
    }
  }

  update(): void {
    setText(this.title, `Delete the account "${this.app.store.me ?? ''}"`);
    this.submit.disabled = this.busy;
    this.ring.hidden = !this.busy;
  }
}
