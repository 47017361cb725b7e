/**
 * Small DOM helpers for the view. Data (message texts, usernames) only ever goes in as text: `el` takes children as
 * strings (text nodes) and properties like textContent; nothing here accepts HTML.
 */

type Props<K extends keyof HTMLElementTagNameMap> = Partial<Omit<HTMLElementTagNameMap[K], 'style' | 'dataset'>> & {
  /** Attributes set with setAttribute (aria-*, role, data-*, for, ...). */
  attrs?: Record<string, string | number | boolean | null | undefined>;
  className?: string;
};

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props<K> = {},
  ...children: (Node | string | null | undefined | false)[]
): HTMLElementTagNameMap[K] {
  const { attrs, ...rest } = props;
  const e = Object.assign(document.createElement(tag), rest);
  if (attrs) setAttrs(e, attrs);
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

/** Sets (or, for null/undefined/false, removes) attributes. */
export function setAttrs(e: Element, attrs: Record<string, string | number | boolean | null | undefined>): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) e.removeAttribute(k);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
}

/** A custom element (e.g. from @vscode-elements) with attributes and text children. */
export function custom(tag: string, attrs: Record<string, string | boolean | null | undefined> = {}, ...children: (Node | string)[]): HTMLElement {
  const e = document.createElement(tag);
  setAttrs(e, attrs);
  e.append(...children);
  return e;
}

/** A codicon, hidden from assistive technology (its meaning is always in text or a label nearby). */
export function icon(name: string, extra = ''): HTMLSpanElement {
  return el('span', { className: `codicon codicon-${name}${extra ? ' ' + extra : ''}`, attrs: { 'aria-hidden': 'true' } });
}

/** Text only assistive technology reads. */
export const srOnly = (text: string): HTMLSpanElement => el('span', { className: 'sr-only', textContent: text });

export function setText(e: Node, text: string): void {
  if (e.textContent !== text) e.textContent = text;
}

/** Shows an error in an element with role="alert" (hidden while empty, so empty alerts are not in the way). */
export function setError(e: HTMLElement, text: string | null): void {
  setText(e, text ?? '');
  e.hidden = !text;
}

export function button(
  label: string,
  onClick: (ev: MouseEvent) => void,
  opts: { icon?: string; kind?: 'primary' | 'secondary' | 'icon' | 'link' | 'danger'; title?: string; type?: 'button' | 'submit' } = {},
): HTMLButtonElement {
  const kind = opts.kind ?? 'primary';
  const b = el('button', { type: opts.type ?? 'button', className: `btn ${kind}` });
  if (kind === 'icon') {
    // The name is the label; the tooltip says the same.
    setAttrs(b, { 'aria-label': label, title: opts.title ?? label });
    b.append(icon(opts.icon ?? 'circle'));
  } else {
    if (opts.icon) b.append(icon(opts.icon));
    b.append(el('span', { textContent: label }));
    if (opts.title) b.title = opts.title;
  }
  b.addEventListener('click', onClick);
  return b;
}

export interface Keyed {
  key: string;
  /** Everything the element shows: an element is rebuilt only when this changes. */
  sig: string;
}

/**
 * Brings `parent`'s children in line with `items`, reusing an element whose key and signature are unchanged (so
 * focus, selection and screen-reader state stay put), removing the stale ones first and inserting new ones in place
 * without moving the others. A rebuilt element that had focus hands it to its replacement.
 */
export function reconcile<T extends Keyed>(
  parent: HTMLElement,
  items: readonly T[],
  make: (item: T) => HTMLElement,
  /** Brings the parts of an element that change in place (e.g. read state) up to date; runs for every item. */
  patch?: (element: HTMLElement, item: T) => void,
): void {
  const existing = new Map<string, HTMLElement>();
  for (const c of Array.from(parent.children)) if (c instanceof HTMLElement && c.dataset['key']) existing.set(c.dataset['key'], c);
  const wanted = new Set(items.map((i) => i.key));
  let refocus: string | undefined;
  const active = document.activeElement;
  for (const [k, c] of existing) {
    if (wanted.has(k)) continue;
    c.remove();
    existing.delete(k);
  }
  const next: HTMLElement[] = items.map((item) => {
    const old = existing.get(item.key);
    if (old && old.dataset['sig'] === item.sig) return old;
    const fresh = make(item);
    fresh.dataset['key'] = item.key;
    fresh.dataset['sig'] = item.sig;
    if (old) {
      if (active && old.contains(active)) refocus = item.key;
      old.replaceWith(fresh);
    }
    return fresh;
  });
  next.forEach((node, i) => {
    if (parent.children[i] !== node) parent.insertBefore(node, parent.children[i] ?? null);
    if (patch) patch(node, items[i]!);
  });
  if (refocus !== undefined) {
    const n = next.find((x) => x.dataset['key'] === refocus);
    const target = n?.matches('button, input, textarea, [tabindex]') ? n : n?.querySelector<HTMLElement>('button, input, textarea, [tabindex]');
    target?.focus();
  }
}

const sameDay = (a: Date, b: Date): boolean =>
  a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();

/** "14:05" today, "Yesterday 14:05", "3 Mar 14:05" this year, "3 Mar 2024" before. */
export function shortTime(ms: number, now = new Date()): string {
  const d = new Date(ms);
  const hm = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  if (sameDay(d, now)) return hm;
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (sameDay(d, yesterday)) return `Yesterday ${hm}`;
  if (d.getFullYear() === now.getFullYear()) return `${d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })} ${hm}`;
  return d.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
}

export const fullTime = (ms: number): string => new Date(ms).toLocaleString();

export function timeEl(ms: number): HTMLTimeElement {
  return el('time', { dateTime: new Date(ms).toISOString(), title: fullTime(ms), textContent: shortTime(ms) });
}

export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** The text on one line, shortened for a list. */
export function preview(text: string, max = 120): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? one.slice(0, max - 1) + '…' : one;
}
