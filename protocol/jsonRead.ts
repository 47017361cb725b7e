/**
 * Reading JSON in place, from a frame's bytes, for the quick paths of both ends: the server's requests
 * (jsonRequest.ts) and the client's results and events (jsonServerMessage.ts). Only the form the reference encoder
 * writes is read: no whitespace, integers as plain digits, strings without escapes, each member once, no member
 * the schema lacks. Every read returns undefined for anything else, valid or not, and the caller then leaves the
 * frame to the general path (json.ts: JSON.parse and validation), which gives the same value for what this reads
 * and the exact error for what is wrong.
 */
import { buildObject, fieldNames, generate, perSchema, type Schema } from './schema.js';

const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const ZERO = 0x30;
const NINE = 0x39;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN = 0x7b;
export const CLOSE = 0x7d;
/** Integers of up to 15 digits are safe; longer ones go the general way. */
const MAX_DIGITS = 15;

export const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const TRUE = ascii('true');
const FALSE = ascii('false');
const NULL = ascii('null');

/** Whether `p` holds `lit` at `at` (and not past `end`). */
function has(p: Buffer, at: number, end: number, lit: Uint8Array): boolean {
  if (at + lit.length > end) return false;
  for (let i = 0; i < lit.length; i++) if (p[at + i] !== lit[i]) return false;
  return true;
}

/** Reads bytes in place, moving `pos`; each read returns undefined where the general path must decide instead. */
export class Scan {
  constructor(
    readonly p: Buffer,
    public pos: number,
    readonly end: number,
  ) {}

  /** Whether `lit` comes next; if so, moves past it. */
  skip(lit: Uint8Array): boolean {
    if (!has(this.p, this.pos, this.end, lit)) return false;
    this.pos += lit.length;
    return true;
  }

  /** The byte at `pos` (undefined at the end). */
  peek(): number | undefined {
    return this.pos < this.end ? this.p[this.pos] : undefined;
  }

  /** The byte at `pos`, moving past it (undefined at the end). */
  next(): number | undefined {
    return this.pos < this.end ? this.p[this.pos++] : undefined;
  }

  /** A non-negative integer of plain digits, no leading zero. */
  uint(): number | undefined {
    const { p, end } = this;
    const start = this.pos;
    let i = start;
    let n = 0;
    for (; i < end && p[i]! >= ZERO && p[i]! <= NINE; i++) n = n * 10 + p[i]! - ZERO;
    const digits = i - start;
    if (digits === 0 || digits > MAX_DIGITS || (p[start] === ZERO && digits > 1)) return undefined;
    this.pos = i;
    return n;
  }

  /** A string without escapes or control characters. */
  str(): string | undefined {
    const { p, end } = this;
    if (this.peek() !== QUOTE) return undefined;
    const start = this.pos + 1;
    let i = start;
    for (; i < end; i++) {
      const c = p[i]!;
      if (c === QUOTE) break;
      if (c < 0x20 || c === 0x5c) return undefined;
    }
    if (i === end) return undefined;
    this.pos = i + 1;
    // Cut at quotes, which no UTF-8 sequence contains: the same characters as decoding the whole text gives.
    return p.toString('utf8', start, i);
  }

  bool(): boolean | undefined {
    return this.skip(TRUE) ? true : this.skip(FALSE) ? false : undefined;
  }

  /**
   * The index in `names` of the name that comes next, followed by a quote (after which `pos` then is), or -1.
   * `names[guess]` is tried first: writers put members in table order, so it is usually the one.
   */
  name(names: readonly Uint8Array[], guess = 0): number {
    if (guess < names.length && this.nameAt(names[guess]!)) return guess;
    for (let i = 0; i < names.length; i++) if (i !== guess && this.nameAt(names[i]!)) return i;
    return -1;
  }

  private nameAt(n: Uint8Array): boolean {
    const { p, pos, end } = this;
    if (pos + n.length >= end || p[pos + n.length] !== QUOTE || !has(p, pos, end, n)) return false;
    this.pos = pos + n.length + 1;
    return true;
  }
}

/** Reads a value of one schema at `pos`: the value (never undefined), or undefined for the general path. */
export type Read = (s: Scan) => unknown;

/**
 * The reader of a schema's values; undefined for schemas with bytes (base64 is left to the general path). Compiled
 * once per schema. Depth follows the schema, not the input, so no input can make it recurse deeply.
 */
export const readerOf = perSchema((s: Schema): Read | undefined => {
  switch (s.kind) {
    case 'uint':
      return (sc) => sc.uint();
    case 'str':
      return (sc) => sc.str();
    case 'bool':
      return (sc) => sc.bool();
    case 'bytes':
      return undefined;
    case 'opt': // an object leaves its member out when absent; present, it is a value of the inner schema
      return readerOf(s.of);
    case 'nullable': {
      const of = readerOf(s.of);
      return of && ((sc) => (sc.skip(NULL) ? null : of(sc)));
    }
    case 'arr': {
      const of = readerOf(s.of);
      if (of === undefined) return undefined;
      return (sc) => {
        if (sc.next() !== OPEN_ARRAY) return undefined;
        const out: unknown[] = [];
        if (sc.peek() === CLOSE_ARRAY) {
          sc.pos++;
          return out;
        }
        for (;;) {
          const v = of(sc);
          if (v === undefined) return undefined;
          out.push(v);
          const c = sc.next();
          if (c === CLOSE_ARRAY) return out;
          if (c !== COMMA) return undefined;
        }
      };
    }
    case 'obj': {
      const names = fieldNames(s);
      const r = names.map((k) => readerOf(s.fields[k]!));
      if (r.some((x) => x === undefined)) return undefined;
      const keys = names.map(ascii);
      // Generated, as the other codecs' readers are (see generate()): each member's value in a variable of its own
      // rather than an array, each member's reader called from a call site of its own, and the object built as the
      // general path builds it (same order of keys).
      const vars = names.map((_, i) => `v${i}`);
      // A member given twice (JSON.parse keeps the last), and a value not read here, go the general way.
      const cases = names.map(
        (_, i) => `case ${i}: if (v${i} !== undefined || (v${i} = r[${i}](sc)) === undefined) return undefined; break;`,
      );
      const missing = vars.filter((_, i) => s.fields[names[i]!]!.kind !== 'opt').map((v) => `${v} === undefined`);
      return generate<Read>(
        { r, keys, OPEN, CLOSE, QUOTE, COLON, COMMA },
        'sc',
        `if (sc.next() !== OPEN) return undefined;
        ${vars.length > 0 ? `let ${vars.join(', ')};` : ''}
        if (sc.peek() === CLOSE) sc.pos++;
        else
          for (let f = 0; ; f++) {
            if (sc.next() !== QUOTE) return undefined;
            f = sc.name(keys, f);
            if (f < 0 || sc.next() !== COLON) return undefined;
            switch (f) { ${cases.join(' ')} }
            const c = sc.next();
            if (c === CLOSE) break;
            if (c !== COMMA) return undefined;
          }
        ${missing.length > 0 ? `if (${missing.join(' || ')}) return undefined;` : ''}
        ${buildObject(s, (i) => `v${i}`)}`,
      );
    }
  }
});
