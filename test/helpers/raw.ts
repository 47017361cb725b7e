/**
 * A raw TCP connection for wire-level tests: sends frames or arbitrary bytes, and collects every frame the server
 * sends back, both as raw payloads and decoded with the codec that the payload's first byte names (`{` is JSON).
 */
import { connect, type Socket } from 'node:net';
import { binaryCodec } from '../../protocol/binary.js';
import type { Codec, PendingInfo, Protocol } from '../../protocol/codec.js';
import { frame } from '../../protocol/codec.js';
import { FrameReader } from '../../protocol/framing.js';
import { jsonCodec } from '../../protocol/json.js';
import { MIN_ITERATIONS } from '../../protocol/limits.js';
import { authMessage, clientProof, deriveKeys, newKeys, newNonce, type ScramKeys } from '../../protocol/scram.js';
import type { Args, ErrorResponse, Event, EventData, EventName, OkResponse, OpName, Request, Result, ServerMessage } from '../../protocol/ops.js';

export type Response = OkResponse | ErrorResponse;

export interface RawFrame {
  /** The payload bytes as received (no length prefix). */
  payload: Buffer;
  /** The decoded message, or why it could not be decoded. */
  message: ServerMessage | undefined;
  decodeError: string | undefined;
}

const codecOf = (p: Protocol): Codec => (p === 'json' ? jsonCodec : binaryCodec);
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

export class RawConnection {
  readonly frames: RawFrame[] = [];
  /** The username this connection logged in as (binary `send` results are unpacked with it). */
  self = '';
  private readonly sent = new Map<number, PendingInfo>();
  /** Ids handed out start high, so hand-made frames in tests can use small ids without colliding. */
  private nextId = 1000;
  private waiters: { check: () => boolean }[] = [];
  private closedFlag = false;
  private readonly closedPromise: Promise<void>;
  /** Set when the server refused a frame as too large from the client's point of view (never expected). */
  oversized: number | undefined;
  readonly codec: Codec;

  private constructor(
    readonly socket: Socket,
    readonly protocol: Protocol,
  ) {
    this.codec = codecOf(protocol);
    const reader = new FrameReader(64 * 1024 * 1024, (p) => this.onFrame(p));
    socket.on('data', (chunk: Buffer) => {
      this.oversized = reader.push(chunk);
    });
    socket.on('error', () => undefined);
    this.closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedFlag = true;
        resolve();
        this.notify();
      }),
    );
  }

  static open(port: number, protocol: Protocol, host = '127.0.0.1'): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port }, () => {
        s.off('error', reject);
        s.setNoDelay(true);
        resolve(new RawConnection(s, protocol));
      });
      s.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** A fresh request id (also usable for hand-built frames). */
  id(): number {
    return this.nextId++;
  }

  /** Encodes a request with this connection's codec; remembers it so its result can be decoded. */
  encode<O extends OpName>(op: O, args: Args<O>, id = this.id()): { id: number; bytes: Buffer } {
    this.sent.set(id, { op, args: args as Args<OpName>, self: this.self });
    return { id, bytes: this.codec.encodeRequest({ kind: 'request', id, op, args } as Request) };
  }

  /** Sends one request; resolves with its response (result or error). */
  async request<O extends OpName>(op: O, args: Args<O>, timeoutMs = 5000): Promise<Response> {
    const { id, bytes } = this.encode(op, args);
    this.write(bytes);
    return this.response(id, timeoutMs);
  }

  /** Sends one request and expects a result. */
  async call<O extends OpName>(op: O, args: Args<O>, timeoutMs = 5000): Promise<Result<O>> {
    const r: Response = await this.request(op, args, timeoutMs);
    if (r.kind === 'error') throw new RawError(r.error.code, `${op} failed: ${r.error.code} ${r.error.message}`);
    const result: unknown = r.result;
    return result as Result<O>;
  }

  /** Writes raw bytes. */
  write(bytes: Buffer | Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Writes a payload with its length prefix. */
  writeFrame(payload: Buffer | string): void {
    this.write(frame(typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload));
  }

  /** Writes bytes one at a time, yielding to the event loop between them (so each goes out on its own). */
  async writeSlowly(bytes: Buffer): Promise<void> {
    for (let i = 0; i < bytes.length; i++) {
      this.socket.write(bytes.subarray(i, i + 1));
      await tick();
      await tick();
    }
  }

  /** Resolves with the response carrying `id` (already received or coming). */
  response(id: number, timeoutMs = 5000): Promise<Response> {
    return this.waitFrame(
      (m): m is Response => (m.kind === 'result' || m.kind === 'error') && m.id === id,
      timeoutMs,
      `a response to request ${id}`,
    );
  }

  /** Resolves with the first error response with this id (0 = errors about no request). */
  error(id: number, timeoutMs = 5000): Promise<ErrorResponse> {
    return this.waitFrame((m): m is ErrorResponse => m.kind === 'error' && m.id === id, timeoutMs, `an error with id ${id}`);
  }

  event<E extends EventName>(name: E, pred: (d: EventData<E>) => boolean = () => true, timeoutMs = 5000): Promise<EventData<E>> {
    const dataOf = (e: Event): EventData<E> => e.data as unknown as EventData<E>;
    return this.waitFrame(
      (m): m is Event => m.kind === 'event' && m.event === name && pred(dataOf(m)),
      timeoutMs,
      `a "${name}" event`,
    ).then(dataOf);
  }

  /** The first decoded message satisfying `match` (already received or coming). */
  waitFrame<T extends ServerMessage>(match: (m: ServerMessage) => m is T, timeoutMs: number, what: string): Promise<T> {
    const find = (): T | undefined => {
      for (const f of this.frames) if (f.message && match(f.message)) return f.message;
      return undefined;
    };
    return this.until(find, timeoutMs, what);
  }

  /** Waits until `probe` returns something other than undefined, re-checking on every frame and on close. */
  until<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const first = probe();
      if (first !== undefined) return resolve(first);
      const w = {
        check: (): boolean => {
          const v = probe();
          if (v === undefined) return false;
          clearTimeout(t);
          resolve(v);
          return true;
        },
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received: ${this.describe()}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Resolves when the server has closed the connection; rejects after the timeout. */
  waitClosed(timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`the connection was not closed within ${timeoutMs} ms`)), timeoutMs);
      void this.closedPromise.then(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Every decoded message so far. */
  messages(): ServerMessage[] {
    return this.frames.flatMap((f) => (f.message ? [f.message] : []));
  }

  describe(): string {
    return (
      this.frames
        .slice(-10)
        .map((f) => (f.payload[0] === 0x7b ? f.payload.toString('utf8').slice(0, 200) : `<${f.payload.subarray(0, 40).toString('hex')}>`))
        .join(' | ') || '(nothing)'
    );
  }

  close(): void {
    this.socket.destroy();
  }

  private onFrame(payload: Buffer): void {
    const codec = payload[0] === 0x7b ? jsonCodec : binaryCodec;
    const d = codec.decodeServerMessage(Buffer.from(payload), (id) => this.sent.get(id));
    this.frames.push({
      payload: Buffer.from(payload),
      message: d.ok ? d.value : undefined,
      decodeError: d.ok ? undefined : `${d.error.code}: ${d.error.message}`,
    });
    this.notify();
  }

  private notify(): void {
    this.waiters = this.waiters.filter((w) => !w.check());
  }
}

/** A request refused by the server, seen through RawConnection.call. */
export class RawError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A JSON frame from any value (for hand-made, possibly malformed, requests). */
export const jsonFrame = (value: unknown): Buffer => frame(Buffer.from(JSON.stringify(value), 'utf8'));

/** A binary frame from payload bytes. */
export const binFrame = (...bytes: number[]): Buffer => frame(Buffer.from(bytes));

/** A 4-byte big-endian length prefix alone. */
export const lengthPrefix = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
};

/** Signs a raw connection up with SCRAM keys made here; returns the keys and the result (token included). */
export async function rawSignup(
  conn: RawConnection,
  username: string,
  password: string,
): Promise<{ keys: ScramKeys; result: Result<'signup'> }> {
  const keys = await newKeys(password, MIN_ITERATIONS);
  const { salt, iterations, storedKey, serverKey } = keys;
  const result = await conn.call('signup', { username, salt, iterations, storedKey, serverKey });
  conn.self = result.username;
  return { keys, result };
}

/** A SCRAM login over a raw connection; returns every value that crossed the wire, for secrecy checks. */
export async function rawLogin(
  conn: RawConnection,
  username: string,
  password: string,
): Promise<{ clientNonce: string; nonce: string; proof: Buffer; keys: ScramKeys; result: Result<'login_finish'> }> {
  const clientNonce = newNonce();
  const start = await conn.call('login_start', { username, clientNonce });
  const keys = await deriveKeys(password, start.salt, start.iterations);
  const am = authMessage(username, clientNonce, start.nonce, start.salt, start.iterations);
  const proof = clientProof(keys, am);
  const result = await conn.call('login_finish', { nonce: start.nonce, proof });
  conn.self = result.username;
  return { clientNonce, nonce: start.nonce, proof, keys, result };
}
