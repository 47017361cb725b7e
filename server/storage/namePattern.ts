/**
 * Account search patterns (SPEC C6), compiled for a scan over lower-case names: with `*` (any run) or `?` (one
 * character) a glob over the whole name, otherwise a substring; every other character is literal.
 */

/**
 * A lower-case name matches when it starts with `prefix`, has every bit of `chars` and `pairs` in its own masks,
 * and passes `test`, if there is one: the search scans only the prefix's range, and most names there fail the
 * masks, one AND each, before any string is looked at.
 */
export interface NameMatcher {
  prefix: string;
  chars: number;
  pairs: number;
  test: ((lc: string) => boolean) | undefined;
}

/** One bit per letter (so a letter's bit is exact), four for the digits, one for everything else. */
export function charMask(s: string): number {
  let m = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    m |= c >= 97 && c <= 122 ? 1 << (c - 97) : c >= 48 && c <= 57 ? 1 << (26 + ((c - 48) & 3)) : 1 << 30;
  }
  return m;
}

/**
 * A bit (of 32, by a hash) per pair of adjacent characters: with charMask, it leaves `ann` 9,000 names of
 * 100,000 to look into instead of 36,000 (those with an `a` and an `n`).
 */
export function pairMask(s: string): number {
  let m = 0;
  for (let i = 1; i < s.length; i++) m |= 1 << (Math.imul(s.charCodeAt(i - 1) * 131 + s.charCodeAt(i), 0x9e3779b1) >>> 27);
  return m;
}

/** Whether `seg` (with `?` for any one character) matches `s` at `at`. */
function matchesAt(s: string, at: number, seg: string): boolean {
  for (let k = 0; k < seg.length; k++) {
    const c = seg.charCodeAt(k);
    if (c !== 63 && c !== s.charCodeAt(at + k)) return false;
  }
  return true;
}

/**
 * A glob's test: the first `*`-separated segment at the start, the last at the end, and the ones between found
 * leftmost, in order, which decides a glob match. That is a pass per segment, where backtracking (a regular
 * expression, SQL LIKE) can try every way to place them: `*a*a*a*a*b` against a long run of `a`s.
 */
function globTest(glob: string): (lc: string) => boolean {
  const segments = glob.split(/\*+/);
  const first = segments.shift()!;
  const last = segments.pop();
  if (last === undefined) return (lc) => lc.length === first.length && matchesAt(lc, 0, first);
  const min = first.length + last.length + segments.reduce((n, seg) => n + seg.length, 0);
  return (lc) => {
    const end = lc.length - last.length;
    if (lc.length < min || !matchesAt(lc, 0, first) || !matchesAt(lc, end, last)) return false;
    let at = first.length;
    for (const seg of segments) {
      while (at + seg.length <= end && !matchesAt(lc, at, seg)) at++;
      if (at + seg.length > end) return false;
      at += seg.length;
    }
    return true;
  };
}

export function compileNamePattern(pattern: string): NameMatcher {
  // `*abc*` is the substring `abc`.
  const p = pattern.toLowerCase().replace(/^\*+([^*?]+)\*+$/, '$1');
  const wild = p.search(/[*?]/);
  if (wild < 0) {
    // The empty pattern matches every name, and a letter's bit alone decides whether a name has that letter.
    const test = p === '' || /^[a-z]$/.test(p) ? undefined : (lc: string) => lc.includes(p);
    return { prefix: '', chars: charMask(p), pairs: pairMask(p), test };
  }
  const runs = p.split(/[*?]+/);
  const prefix = runs[0]!;
  // `abc*`: every name in the prefix's range matches.
  if (/^\*+$/.test(p.slice(wild))) return { prefix, chars: 0, pairs: 0, test: undefined };
  const pairs = runs.reduce((m, run) => m | pairMask(run), 0);
  return { prefix, chars: charMask(runs.join('')), pairs, test: globTest(p) };
}
