/**
 * A quick path for the JSON requests that clients actually send: `{"id":N,"op":"NAME","args":{…}}` written without
 * spaces, the arguments being strings, integers and booleans only, each once, strings without escapes. These are
 * read from the frame's bytes in place (jsonRead.ts): JSON.parse of the whole text, checking its shape, then
 * checking and copying the arguments cost more than twice as much for a `send`. Anything else, valid or not, is
 * left to the general path (json.ts), which gives the same request for what this reads and the exact error for what
 * is wrong.
 */
import { CLOSE, Scan, ascii, readerOf, type Read } from './jsonRead.js';
import { OPS, type OpName, type Request } from './ops.js';
import type { Schema } from './schema.js';

const HEAD = ascii('{"id":');
const OP = ascii(',"op":"');
/** After the operation's name and its closing quote. */
const ARGS = ascii(',"args":');

/**
 * Arguments are read here only when flat: an array could hold more values than the general path's shape check
 * (checkShape in json.ts) lets through, and that refusal is the general path's to give.
 */
const flat = (s: Schema): boolean =>
  s.kind === 'uint' || s.kind === 'str' || s.kind === 'bool' || (s.kind === 'opt' && flat(s.of));

/** The operations whose arguments this reads, with their names' bytes (in the same order) for Scan.name. */
const QUICK = (Object.keys(OPS) as OpName[]).flatMap((name) => {
  const args = OPS[name].args;
  const read = readerOf(args);
  return read !== undefined && Object.values(args.fields).every(flat) ? [{ name, read }] : [];
});
const QUICK_NAMES = QUICK.map((q) => ascii(q.name));

/** The request in `payload` from `start` to `end` when it is of the form read here, else undefined. */
export function quickRequest(payload: Buffer, start: number, end: number): Request | undefined {
  const s = new Scan(payload, start, end);
  if (!s.skip(HEAD)) return undefined;
  const id = s.uint();
  if (id === undefined || id < 1 || !s.skip(OP)) return undefined;
  const op = s.name(QUICK_NAMES);
  if (op < 0 || !s.skip(ARGS)) return undefined;
  const { name, read }: { name: OpName; read: Read } = QUICK[op]!;
  const args = read(s);
  if (args === undefined || s.next() !== CLOSE || s.pos !== end) return undefined;
  return { kind: 'request', id, op: name, args } as Request;
}
