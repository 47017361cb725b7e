/**
 * One client connection: framing, protocol choice, writes (gathered per turn), and the per-connection state
 * (session, login attempts in progress, last activity).
 *
 * The server holds thousands of these while they idle, so each keeps little: the socket's listeners are shared
 * functions rather than closures, the connection is its own frame splitter, and the `remote` text and the map of
 * login attempts exist only while needed.
 */
import type { Socket } from 'node:net';
import { binaryCodec } from '../protocol/binary.js';
import type { Codec } from '../protocol/codec.js';
import { FrameSplitter } from '../protocol/framing.js';
import { jsonCodec } from '../protocol/json.js';
import type { Args, Event, OpName, Result, WireError } from '../protocol/ops.js';
import type { Hub } from './hub.js';
import type { Session } from './session.js';

/** A login_start in progress, waiting for its login_finish (or delete_account / change_password). */
export interface LoginAttempt {
  username: string;
  accountId: number | undefined;
  clientNonce: string;
  salt: Buffer;
  iterations: number;
  expires: number;
}

const JSON_FIRST_BYTE = 0x7b; // '{'
/** A client gets a few login attempts in flight at once; older ones are dropped. */
const MAX_LOGIN_ATTEMPTS = 4;
/** How long a connection the server closed waits for the peer to close its side before it is destroyed. */
const CLOSE_GRACE_MS = 2000;

/** Where a socket's shared listeners find its connection. */
const CONN = Symbol('connection');
type ConnSocket = Socket & { [CONN]: Connection };

let nextConnId = 1;

export class Connection extends FrameSplitter {
  readonly id = nextConnId++;
  /** The peer's IP address, the key of per-address rate limits. */
  readonly address: string;
  codec: Codec | undefined;
  session: Session | undefined;
  lastSeen = Date.now();
  closed = false;
  /** Login attempts in progress by server nonce; no map while there are none (a logged-in connection has none). */
  private logins: Map<string, LoginAttempt> | undefined;
  /** The frames written in this event-loop turn, not yet given to the socket (the first alone); none between turns. */
  private out: Buffer | Buffer[] | undefined;
  private outBytes = 0;

  /** When the chunk being read arrived: the clock is read once for all the requests in it. */
  private static chunkAt = 0;
  /** Connections with frames gathered in this event-loop turn: one nextTick flushes them all. */
  private static readonly gathering: Connection[] = [];

  constructor(
    readonly socket: Socket,
    private readonly hub: Hub,
  ) {
    super(hub.config.maxFrame);
    this.address = socket.remoteAddress ?? 'unknown';
    socket.setNoDelay(true);
    (socket as ConnSocket)[CONN] = this;
    socket.on('data', Connection.onData);
    socket.on('error', Connection.onError);
    socket.on('close', Connection.onClose);
  }

  /** The peer's address and port, for the logs (made when a line needs it; the socket keeps them after closing). */
  get remote(): string {
    return `${this.address}:${this.socket.remotePort}`;
  }

  private static onData(this: ConnSocket, chunk: Buffer): void {
    const c = this[CONN];
    Connection.chunkAt = Date.now();
    const refused = c.push(chunk);
    if (refused !== undefined) c.refuseFrame(refused);
  }

  private static onError(this: ConnSocket, e: Error): void {
    const c = this[CONN];
    c.hub.log.debug('socket_error', { conn: c.id, error: e.message });
  }

  private static onClose(this: ConnSocket): void {
    const c = this[CONN];
    c.closed = true;
    c.stop();
    c.hub.disconnected(c);
  }

  protected override onFrame(data: Buffer, start: number, end: number): void {
    this.lastSeen = Connection.chunkAt; // a whole frame is activity; bytes that complete none are not (slowloris)
    if (!this.codec && !this.choose(start < end && data[start] === JSON_FIRST_BYTE)) return;
    const d = this.codec!.decodeRequest(data, start, end);
    if (!d.ok) return this.error(d.id, d.error);
    this.hub.dispatch(this, d.value);
  }

  /** Picks the protocol from the first frame; false (and the connection closed) when the server refuses it. */
  private choose(json: boolean): boolean {
    const want = this.hub.config.protocol;
    this.codec = json ? jsonCodec : binaryCodec;
    if (want === 'auto' || (want === 'json') === json) return true;
    this.error(0, { code: 'BAD_REQUEST', message: `this server speaks only the ${want} protocol` });
    this.close();
    return false;
  }

  private refuseFrame(length: number): void {
    this.codec ??= this.hub.config.protocol === 'binary' ? binaryCodec : jsonCodec;
    this.hub.log.warn('frame_too_large', { conn: this.id, remote: this.remote, length });
    this.error(0, {
      code: 'FRAME_TOO_LARGE',
      message: `a frame of ${length} bytes is larger than the limit of ${this.hub.config.maxFrame}`,
    });
    this.close();
  }

  /**
   * Queues a frame; the frames of one event-loop turn go to the socket as one buffer. Copying them together costs
   * less than a socket write per frame (a delivery writes dozens to each connection in a turn): each write adds a
   * request to the stream's queue and a buffer to the writev.
   */
  write(frame: Buffer): void {
    if (this.closed) return;
    const out = this.out;
    if (out === undefined) {
      this.out = frame;
      this.outBytes = frame.length;
      if (Connection.gathering.push(this) === 1) process.nextTick(Connection.flushAll);
    } else {
      if (Array.isArray(out)) out.push(frame);
      else this.out = [out, frame];
      this.outBytes += frame.length;
    }
    if (this.socket.writableLength + this.outBytes > this.hub.config.maxOutput) {
      // A client that does not read must not make the server hold its output without bound.
      const bytes = this.socket.writableLength + this.outBytes;
      this.hub.log.warn('output_overflow', { conn: this.id, remote: this.remote, bytes });
      this.destroy();
    }
  }

  private static flushAll(): void {
    const list = Connection.gathering;
    // By index: a connection that gathers frames while these flush is still in the list and is flushed too.
    for (let i = 0; i < list.length; i++) list[i]!.flush();
    list.length = 0;
  }

  /** Gives the gathered frames to the socket. */
  private flush(): void {
    const out = this.out;
    if (out === undefined) return;
    this.out = undefined;
    if (!this.socket.destroyed) this.socket.write(Array.isArray(out) ? Buffer.concat(out, this.outBytes) : out);
  }

  result<O extends OpName>(id: number, op: O, result: Result<O>, args: Args<O>): void {
    if (!this.closed) this.write(this.codec!.encodeResult(id, op, result, args));
  }

  error(id: number, error: WireError): void {
    if (!this.closed) this.write(this.codec!.encodeError(id, error));
  }

  event(ev: Event): void {
    if (!this.closed) this.write(this.codec!.encodeEvent(ev));
  }

  addLogin(nonce: string, a: LoginAttempt): void {
    const logins = (this.logins ??= new Map());
    if (logins.size >= MAX_LOGIN_ATTEMPTS) logins.delete(logins.keys().next().value!);
    logins.set(nonce, a);
  }

  /** Takes a login attempt: single use, and only before it expires. */
  takeLogin(nonce: string, now: number): LoginAttempt | undefined {
    const logins = this.logins;
    const a = logins?.get(nonce);
    if (!logins || !a) return undefined;
    logins.delete(nonce);
    if (logins.size === 0) this.logins = undefined;
    return a.expires > now ? a : undefined;
  }

  /** Ends the connection after what was written is flushed. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.stop();
    this.socket.end();
    // A peer that never closes its side (half-open) would otherwise hold the socket and a connection slot forever.
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  destroy(): void {
    this.out = undefined;
    this.closed = true;
    this.stop();
    this.socket.destroy();
  }
}
