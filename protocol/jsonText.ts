/**
 * The JSON encoder: each frame's text written straight into the frame, from the schema, exactly as JSON.stringify
 * would write it (json.ts leaves what this cannot write to JSON.stringify).
 */
import { FrameWriter } from './codec.js';
import { Message } from './ops.js';
import { fieldNames, generate, hasBytes, perSchema } from './schema.js';

/**
 * A string without the characters JSON.stringify may escape: quote, backslash, controls and surrogates (it escapes
 * unpaired ones). Anchored and matching the whole string, which V8 runs in about half the time of a search for one.
 */
const UNESCAPED = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;
/** Strings up to this many UTF-16 units are checked and copied by hand (see JsonWriter.plainAscii). */
const SHORT_STRING = 32;

/** The JSON text of a message, written straight into its frame. */
export class JsonWriter extends FrameWriter {
  /** The fields of the Message last written (see putOf), and where its text is (that chunk stays alive meanwhile). */
  private last: Message | undefined;
  private lastBuf = this.buf;
  private lastStart = 0;
  private lastEnd = 0;

  override begin(): void {
    // What an unfinished frame held is written over (enc() starting over, or an encoder that threw).
    if (this.lastBuf === this.buf && this.lastEnd > this.start) this.last = undefined;
    super.begin();
  }

  /** Where the next byte goes, counted from the frame's start (which moves when the frame moves to a new chunk). */
  get offset(): number {
    return this.pos - this.start;
  }

  /** Notes the Message `m` just written from `offset`, to write it again by copying. */
  remember(m: Message, offset: number): void {
    this.last = { id: m.id, from: m.from, to: m.to, text: m.text, sentAt: m.sentAt, unread: m.unread };
    this.lastBuf = this.buf;
    this.lastStart = this.start + offset;
    this.lastEnd = this.pos;
  }

  /** Copies the text of the Message last written if `m` has the same fields (and so the same text). */
  again(m: Message): boolean {
    const l = this.last;
    if (l === undefined || m.id !== l.id || m.sentAt !== l.sentAt || m.from !== l.from || m.to !== l.to) return false;
    if (m.text !== l.text || m.unread !== l.unread) return false;
    const n = this.lastEnd - this.lastStart;
    this.room(n);
    if (this.lastBuf === this.buf) this.buf.copyWithin(this.pos, this.lastStart, this.lastEnd);
    else this.lastBuf.copy(this.buf, this.pos, this.lastStart, this.lastEnd);
    this.pos += n;
    return true;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }

  /** Appends text known to be ASCII without anything to escape: punctuation, field names, numbers. */
  ascii(s: string): void {
    this.room(s.length);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
    this.pos = pos;
  }

  /** Appends a number as JSON.stringify writes it. */
  number(n: number): void {
    if (n >= 0 && Number.isSafeInteger(n)) this.digits(n);
    else this.ascii(String(n));
  }

  /**
   * Writes a non-negative safe integer's digits by hand: String() of one above 2^31 (a timestamp) costs four times
   * as much. Arithmetic on doubles down to 2^31, then on 32-bit integers, which is faster.
   */
  private digits(n: number): void {
    let length = 1;
    for (let p = 10; p <= n; p *= 10) length++;
    this.room(length);
    const buf = this.buf;
    let pos = (this.pos += length);
    for (; n > 0x7fffffff; n = Math.floor(n / 10)) buf[--pos] = 0x30 + (n % 10);
    let m = n | 0;
    do {
      const q = (m / 10) | 0;
      buf[--pos] = 0x30 + m - q * 10;
      m = q;
    } while (m > 0);
  }

  /** Appends a string quoted as JSON.stringify quotes it. */
  quoted(s: string): void {
    if (s.length <= SHORT_STRING && this.plainAscii(s)) return;
    if (!UNESCAPED.test(s)) return this.utf8(JSON.stringify(s));
    this.byte(0x22);
    this.utf8(s);
    this.byte(0x22);
  }

  /**
   * Quotes a string that is ASCII with nothing to escape, copying it by hand: for short strings (names, ids) this
   * costs less than a regular expression test and a call into Buffer's native writer. False (and nothing written) for
   * any other string.
   */
  private plainAscii(s: string): boolean {
    this.room(s.length + 2);
    const buf = this.buf;
    let pos = this.pos;
    buf[pos++] = 0x22;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c >= 0x80 || c === 0x22 || c === 0x5c) return false;
      buf[pos++] = c;
    }
    buf[pos++] = 0x22;
    this.pos = pos;
    return true;
  }
}

/**
 * Writes a value of one schema as JSON text, exactly as JSON.stringify would, field by field from the schema, in
 * under half the time for a message: JSON.stringify inspects every value it meets and quotes every string with a scan
 * for characters to escape, and its text would then be copied into the frame. False when it cannot write the value
 * that way, having written part of it (enc() then starts the frame over with JSON.stringify): a schema with bytes,
 * a value not of the schema, an object that is not a plain one with the schema's keys in the schema's order
 * (JSON.stringify follows the object's own order and keys).
 */
type Put = (o: JsonWriter, v: unknown) => boolean;
const giveUp: Put = () => false;

/** Whether JSON.stringify writes this array as its elements (no toJSON, and the usual prototype). */
const plainArray = (v: unknown[]): boolean => Object.getPrototypeOf(v) === Array.prototype && !('toJSON' in v);

/**
 * The statements that return whether `v` (bound: the schema's field `names` and which are `optional`) is an object
 * that JSON.stringify writes as its own properties (no toJSON, the usual prototype) whose enumerable keys are the
 * schema's field names in order, with no others. A field missing from them must be optional and undefined:
 * JSON.stringify would not write a value that is not enumerable. Compiled for each schema like the writers, so that
 * V8 specialises each check to the few shapes it meets; one check shared by all meets every shape, and costs more
 * than writing the fields.
 */
function fitsCode(optional: readonly boolean[]): string {
  const plain = `if (typeof v !== 'object' || v === null) return false;
    if (Object.getPrototypeOf(v) !== Object.prototype || 'toJSON' in v) return false;
    let i = 0;`;
  if (!optional.includes(true))
    return `${plain} for (const k in v) if (k !== names[i++]) return false; return i === names.length;`;
  const skip = 'if (!optional[i] || v[names[i]] !== undefined) return false;';
  return `${plain}
    for (const k in v) {
      for (; i < names.length && names[i] !== k; i++) ${skip}
      if (i === names.length) return false;
      i++;
    }
    for (; i < names.length; i++) ${skip}
    return true;`;
}

/**
 * The statements that write an object's fields (the object is `v`; `f[i]` puts field i), optional ones only when
 * defined. Each field's `"name":` goes with the comma or brace before it as one constant, known when generating but
 * after optional fields: `w` then says whether one was written.
 */
function putFields(names: readonly string[], optional: readonly boolean[]): string {
  let before: 'none' | 'some' | 'unknown' = 'none';
  const code = names.map((k, i) => {
    const key = (lead: string): string => `'${lead}"${k}":'`;
    const head =
      before === 'none' ? key('{') : before === 'some' ? key(',') : `w ? ${key(',')} : ${key('{')}`;
    const put = `o.ascii(${head}); if (!f[${i}](o, x)) return false;`;
    if (!optional[i]) {
      before = 'some';
      return `x = v.${k}; ${put}`;
    }
    if (before === 'none') before = 'unknown';
    return `x = v.${k}; if (x !== undefined) { ${put}${before === 'unknown' ? ' w = true;' : ''} }`;
  });
  const end = before === 'none' ? `o.ascii('{}');` : before === 'some' ? 'o.byte(0x7d);' : `o.ascii(w ? '}' : '{}');`;
  return `let x, w = false; ${code.join(' ')} ${end} return true;`;
}

export const putOf = perSchema((s): Put => {
  if (hasBytes(s)) return giveUp;
  switch (s.kind) {
    case 'uint':
      return (o, v) => {
        if (typeof v !== 'number' || !Number.isFinite(v)) return false;
        o.number(v);
        return true;
      };
    case 'str':
      return (o, v) => {
        if (typeof v !== 'string') return false;
        o.quoted(v);
        return true;
      };
    case 'bool':
      return (o, v) => {
        if (v !== true && v !== false) return false;
        o.ascii(v ? 'true' : 'false');
        return true;
      };
    case 'opt': // the object leaves the field out when it is undefined
      return putOf(s.of);
    case 'nullable': {
      const of = putOf(s.of);
      return (o, v) => {
        if (v !== null) return of(o, v);
        o.ascii('null');
        return true;
      };
    }
    case 'arr': {
      const of = putOf(s.of);
      return (o, v) => {
        if (!Array.isArray(v) || !plainArray(v)) return false;
        o.byte(0x5b);
        for (let i = 0; i < v.length; i++) {
          if (i > 0) o.byte(0x2c);
          if (!of(o, v[i])) return false;
        }
        o.byte(0x5d);
        return true;
      };
    }
    case 'obj': {
      // o.ascii('{"id":'); f[0](o, v.id); o.ascii(',"from":'); …: see generate() for why.
      const names = fieldNames(s);
      const optional = names.map((k) => s.fields[k]!.kind === 'opt');
      const f = names.map((k) => putOf(s.fields[k]!));
      const put = generate<Put>({ f }, 'o, v', putFields(names, optional));
      const fits = generate<(v: unknown) => boolean>({ names, optional }, 'v', fitsCode(optional));
      if (s !== Message) return (o, v) => fits(v) && put(o, v);
      // A message is written twice in a row: pushed to its recipient, then in the result of its sender's request.
      // The second time, its text is copied from the first, for a fraction of the cost of writing it again. Values
      // that fit are objects with just these fields, so equal fields mean the same text.
      return (o, v) => {
        if (!fits(v)) return false;
        if (o.again(v as Message)) return true;
        const at = o.offset;
        if (!put(o, v)) return false;
        o.remember(v as Message, at);
        return true;
      };
    }
    default:
      return giveUp;
  }
});
