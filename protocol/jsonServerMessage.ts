/**
 * A quick path for what a JSON client receives most: results `{"id":N,"ok":true,"result":{…}}` and events
 * `{"event":"NAME","data":{…}}`, as the server writes them (no spaces, members in table order). They are read from
 * the frame's bytes in place (jsonRead.ts): JSON.parse of the whole text, then validating and copying the value,
 * took 45% of a JSON load generator's CPU time in the throughput benchmark. Anything else (errors, results with
 * bytes, any other form, valid or not) is left to the general path (json.ts), which gives the same message for what
 * this reads and the exact error for what is wrong.
 */
import type { PendingInfo } from './codec.js';
import { CLOSE, Scan, ascii, readerOf, type Read } from './jsonRead.js';
import { EVENTS, OPS, type EventName, type OpName, type ServerMessage } from './ops.js';

const RESULT_HEAD = ascii('{"id":');
const OK_RESULT = ascii(',"ok":true,"result":');
const EVENT_HEAD = ascii('{"event":"');
/** After the event's name and its closing quote. */
const DATA = ascii(',"data":');

const EVENT_NAMES = Object.keys(EVENTS) as EventName[];
const EVENT_BYTES = EVENT_NAMES.map(ascii);
/** Each event's reader, in EVENT_NAMES' order, and each op's result reader (undefined: none, bytes). */
const EVENT_DATA = EVENT_NAMES.map((e) => readerOf(EVENTS[e].data));
const RESULT = Object.fromEntries((Object.keys(OPS) as OpName[]).map((op) => [op, readerOf(OPS[op].result)])) as Record<
  OpName,
  Read | undefined
>;

/** The message in `payload` from `start` to `end` when it is of the form read here, else undefined. */
export function quickServerMessage(
  payload: Buffer,
  pendingOf: (id: number) => PendingInfo | undefined,
  start: number,
  end: number,
): ServerMessage | undefined {
  const s = new Scan(payload, start, end);
  let value: ServerMessage;
  if (s.skip(EVENT_HEAD)) {
    const e = s.name(EVENT_BYTES);
    if (e < 0 || !s.skip(DATA)) return undefined;
    const data = EVENT_DATA[e]?.(s);
    if (data === undefined) return undefined;
    value = { kind: 'event', event: EVENT_NAMES[e]!, data } as ServerMessage;
  } else {
    if (!s.skip(RESULT_HEAD)) return undefined;
    const id = s.uint();
    if (id === undefined || id < 1 || !s.skip(OK_RESULT)) return undefined;
    const op = pendingOf(id)?.op;
    if (op === undefined) return undefined;
    const result = RESULT[op]?.(s);
    if (result === undefined) return undefined;
    value = { kind: 'result', id, op, result } as ServerMessage;
  }
  return s.next() === CLOSE && s.pos === s.end ? value : undefined;
}
