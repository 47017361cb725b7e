/**
 * A quick path for the JSON requests that clients actually send: `{"id":N,"op":"NAME","args":{…}}` written without
 * spaces, the arguments being strings, integers and booleans only, each once, strings without escapes. These are
 * read from the frame's bytes in place: JSON.parse of the whole text, checking its shape, then checking and copying
 * the arguments cost more than twice as much for a `send`. Anything else, valid or not, is left to the general path
 * (json.ts), which gives the same request for what this reads and the exact error for what is wrong.
 */
import { OPS, type OpName, type Request } from './ops.js';
import { buildObject, fieldNames, generate, type Fields, type ObjS, type Schema } from './schema.js';

const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const ZERO = 0x30;
const NINE = 0x39;
const CLOSE = 0x7d;
/** Integers of up to 15 digits are safe; longer ones go the general way. */
const MAX_DIGITS = 15;

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const HEAD = ascii('{"id":');
const OP = ascii(',"op":"');
/** After the operation's name and its closing quote. */
const ARGS = ascii(',"args":{');
const TRUE = ascii('true');
const FALSE = ascii('false');

/** What an argument can be here; anything else (arrays, bytes, null) sends the request the general way. */
type Kind = 'uint' | 'str' | 'bool';

interface OpArgs {
  name: OpName;
  bytes: Uint8Array;
  fields: { bytes: Uint8Array; kind: Kind; optional: boolean }[];
  /** Builds the arguments from the values read, by field index, as the general path does (table order). */
  build: (values: unknown[]) => unknown;
}

function kindOf(s: Schema): Kind | undefined {
  const t = s.kind === 'opt' ? s.of : s;
  return t.kind === 'uint' || t.kind === 'str' || t.kind === 'bool' ? t.kind : undefined;
}

/** The operations whose arguments this reads. */
const QUICK: OpArgs[] = (Object.keys(OPS) as OpName[]).flatMap((name) => {
  const s: ObjS<Fields> = OPS[name].args;
  const names = fieldNames(s);
  const kinds = names.map((k) => kindOf(s.fields[k]!));
  if (kinds.some((k) => k === undefined)) return [];
  const fields = names.map((k, i) => ({ bytes: ascii(k), kind: kinds[i]!, optional: s.fields[k]!.kind === 'opt' }));
  const build = generate<(values: unknown[]) => unknown>({}, 'a', buildObject(s, (i) => `a[${i}]`));
  return [{ name, bytes: ascii(name), fields, build }];
});

/** Whether `p` holds `lit` at `at` (and not past `end`). */
function has(p: Buffer, at: number, end: number, lit: Uint8Array): boolean {
  if (at + lit.length > end) return false;
  for (let i = 0; i < lit.length; i++) if (p[at + i] !== lit[i]) return false;
  return true;
}

/** Reads bytes in place, moving `pos`; each read returns undefined where the general path must decide instead. */
class Scan {
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

  /** An element of `names` followed by a quote (after which `pos` then is), or undefined. */
  name<T extends { bytes: Uint8Array }>(names: readonly T[]): T | undefined {
    const { p, pos, end } = this;
    for (const n of names)
      if (pos + n.bytes.length < end && has(p, pos, end, n.bytes) && p[pos + n.bytes.length] === QUOTE) {
        this.pos = pos + n.bytes.length + 1;
        return n;
      }
    return undefined;
  }
}

/** The request in `payload` from `start` to `end` when it is of the form read here, else undefined. */
export function quickRequest(payload: Buffer, start: number, end: number): Request | undefined {
  const s = new Scan(payload, start, end);
  if (!s.skip(HEAD)) return undefined;
  const id = s.uint();
  if (id === undefined || id < 1 || !s.skip(OP)) return undefined;
  const op = s.name(QUICK);
  if (op === undefined || !s.skip(ARGS)) return undefined;
  const values: unknown[] = new Array(op.fields.length);
  if (s.peek() === CLOSE) s.pos++;
  else
    for (;;) {
      if (s.next() !== QUOTE) return undefined;
      const field = s.name(op.fields);
      if (field === undefined || s.next() !== COLON) return undefined;
      const f = op.fields.indexOf(field);
      if (values[f] !== undefined) return undefined; // repeated: JSON.parse keeps the last
      const v = field.kind === 'str' ? s.str() : field.kind === 'uint' ? s.uint() : s.bool();
      if (v === undefined) return undefined;
      values[f] = v;
      const c = s.next();
      if (c === CLOSE) break;
      if (c !== COMMA) return undefined;
    }
  if (s.next() !== CLOSE || s.pos !== end) return undefined;
  // A missing argument is an error, which the general path words.
  for (let f = 0; f < op.fields.length; f++) if (values[f] === undefined && !op.fields[f]!.optional) return undefined;
  return { kind: 'request', id, op: op.name, args: op.build(values) } as Request;
}
