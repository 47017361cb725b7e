/**
 * Every account name in memory, in case-insensitive order, for account search. A page and its total need every
 * match counted: over 100,000 names SQL LIKE (no index serves a substring) took 4–9 ms for that, a scan of these
 * arrays, most names ruled out by their bit masks, 0.1–0.6 ms. The database stays the authority (uniqueness
 * included); the Store keeps this in step with it. About 85 bytes an account.
 */
import { charMask, compileNamePattern, pairMask } from './namePattern.js';

export interface SearchPage {
  accounts: { id: number; username: string }[];
  /** The lower-case name of the page's last account when more follow. */
  next: string | null;
  total: number;
}

export class AccountIndex {
  // Parallel arrays, sorted by lower-case name: the scan reads only the masks for most names.
  private readonly lc: string[] = [];
  private readonly names: string[] = [];
  private readonly ids: number[] = [];
  private readonly chars: number[] = [];
  private readonly pairs: number[] = [];

  constructor(accounts: readonly { id: number; username: string }[]) {
    const lc = accounts.map((a) => a.username.toLowerCase());
    const order = accounts.map((_, i) => i).sort((i, j) => (lc[i]! < lc[j]! ? -1 : 1));
    for (const i of order) this.put(this.lc.length, accounts[i]!.id, accounts[i]!.username, lc[i]!);
  }

  add(id: number, username: string): void {
    const lc = username.toLowerCase();
    this.put(this.lowerBound(lc), id, username, lc);
  }

  remove(username: string): void {
    const lc = username.toLowerCase();
    const i = this.lowerBound(lc);
    if (this.lc[i] !== lc) return;
    for (const a of [this.lc, this.names, this.ids, this.chars, this.pairs]) a.splice(i, 1);
  }

  /** One page of the names matching `pattern` after `cursor` (a lower-case name), and how many match in all. */
  search(pattern: string, cursor: string, limit: number): SearchPage {
    const { prefix, chars, pairs, test } = compileNamePattern(pattern);
    const lo = prefix === '' ? 0 : this.lowerBound(prefix);
    const hi = prefix === '' ? this.lc.length : this.lowerBound(prefix + '\uffff');
    const start = Math.max(lo, this.upperBound(cursor));
    const page: number[] = [];
    let total: number;
    if (chars === 0 && pairs === 0 && test === undefined) {
      total = hi - lo;
      for (let i = start; i < hi && page.length <= limit; i++) page.push(i);
    } else {
      // The total needs every match, so one pass counts them all and keeps the page's on the way.
      const { lc } = this;
      const c = this.chars;
      const q = this.pairs;
      total = 0;
      for (let i = lo; i < hi; i++) {
        if ((c[i]! & chars) !== chars || (q[i]! & pairs) !== pairs || (test !== undefined && !test(lc[i]!))) continue;
        total++;
        if (i >= start && page.length <= limit) page.push(i);
      }
    }
    const more = page.length > limit;
    if (more) page.pop();
    return {
      accounts: page.map((i) => ({ id: this.ids[i]!, username: this.names[i]! })),
      next: more ? this.lc[page[page.length - 1]!]! : null,
      total,
    };
  }

  private put(i: number, id: number, username: string, lc: string): void {
    this.lc.splice(i, 0, lc);
    // Most names are written in lower case: one string serves both.
    this.names.splice(i, 0, username === lc ? lc : username);
    this.ids.splice(i, 0, id);
    this.chars.splice(i, 0, charMask(lc));
    this.pairs.splice(i, 0, pairMask(lc));
  }

  /** The first position whose name is ≥ `key`. */
  private lowerBound(key: string): number {
    let lo = 0;
    let hi = this.lc.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.lc[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The first position whose name is > `key`. */
  private upperBound(key: string): number {
    const i = this.lowerBound(key);
    return this.lc[i] === key ? i + 1 : i;
  }
}
