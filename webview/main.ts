/**
 * The JoChat view. It renders the state the extension host sends and asks the host to act; it never talks to the
 * network. All text goes in through textContent, never as HTML.
 */
import { isToWebview, type FromWebview, type ViewCommand, type ViewState } from './messages.js';

interface VsCodeApi {
  postMessage(m: FromWebview): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const app = document.getElementById('app')!;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

function button(label: string, command: ViewCommand, secondary = false): HTMLButtonElement {
  const b = el('button', { type: 'button', textContent: label, className: secondary ? 'secondary' : '' });
  b.addEventListener('click', () => vscode.postMessage({ type: 'command', command }));
  return b;
}

function render(s: ViewState): void {
  const status =
    s.connection === 'online'
      ? `Connected to ${s.server}`
      : s.connection === 'connecting'
        ? `Connecting to ${s.server}…`
        : `Not connected (${s.server})`;
  const parts: Node[] = [el('p', { className: 'status', textContent: status })];
  if (s.connection !== 'online') {
    parts.push(el('div', { className: 'actions' }, button('Start Bundled Server', 'jochat.startServer'), button('Connect', 'jochat.connect', true)));
  } else if (!s.username) {
    parts.push(el('div', { className: 'actions' }, button('Log In', 'jochat.logIn'), button('Sign Up', 'jochat.signUp', true)));
  } else {
    parts.push(
      el('h2', { textContent: s.username }),
      el('p', { textContent: `${s.unread} unread` }),
    );
    if (s.pending > 0)
      parts.push(
        el('p', { role: 'status', textContent: `${s.pending} message${s.pending === 1 ? '' : 's'} arrived while you were away` }),
        button('Fetch Messages', 'jochat.fetchMessages'),
      );
    const list = el('ul', { ariaLabel: 'Unread by person' });
    for (const p of s.byPeer) list.append(el('li', { textContent: `${p.peer}: ${p.unread}` }));
    parts.push(
      list,
      el(
        'div',
        { className: 'actions' },
        button('Send Message', 'jochat.sendMessage'),
        button('Search Accounts', 'jochat.searchAccounts', true),
        button('Open Conversation', 'jochat.openConversation', true),
        button('Log Out', 'jochat.logOut', true),
      ),
    );
  }
  app.replaceChildren(...parts);
}

window.addEventListener('message', (e: MessageEvent<unknown>) => {
  if (!isToWebview(e.data)) return; // only the host's typed messages are acted on
  if (e.data.type === 'state') render(e.data.state);
});
vscode.postMessage({ type: 'ready' });
