/**
 * One client connection: framing, protocol choice, writes (corked per turn), and the per-connection state
 * (session, login attempts in progress, last activity).
 */
import type { Socket } from 'node:net';
import { binaryCodec } from '../protocol/binary.js';
import type { Codec } from '../protocol/codec.js';
import { FrameReader } from '../protocol/framing.js';
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

let nextConnId = 1;

export class Connection {
  readonly id = nextConnId++;
  readonly remote: string;
  /** The peer's IP address, the key of per-address rate limits. */
  readonly address: string;
  codec: Codec | undefined;
  session: Session | undefined;
  lastSeen = Date.now();
  closed = false;
  private readonly logins = new Map<string, LoginAttempt>();
  private readonly reader: FrameReader;
  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  constructor(
    readonly socket: Socket,
    private readonly hub: Hub,
  ) {
    this.address = socket.remoteAddress ?? 'unknown';
    this.remote = `${this.address}:${socket.remotePort}`;
    socket.setNoDelay(true);
    this.reader = new FrameReader(hub.config.maxFrame, (p) => this.onFrame(p));
    socket.on('data', (chunk: Buffer) => {
      const refused = this.reader.push(chunk);
      if (refused !== undefined) this.refuseFrame(refused);
    });
    socket.on('error', (e) => hub.log.debug('socket_error', { conn: this.id, error: e.message }));
    socket.on('close', () => {
      this.closed = true;
      this.reader.stop();
      hub.disconnected(this);
    });
  }

  private onFrame(payload: Buffer): void {
    this.lastSeen = Date.now();
    if (!this.codec && !this.choose(payload)) return;
    const d = this.codec!.decodeRequest(payload);
    if (!d.ok) return this.error(d.id, d.error);
    this.hub.dispatch(this, d.value);
  }

  /** Picks the protocol from the first byte; false (and the connection closed) when the server refuses it. */
  private choose(payload: Buffer): boolean {
    const json = payload[0] === JSON_FIRST_BYTE;
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

  /** Queues bytes; all writes in one event-loop turn leave in one system call. */
  write(frame: Buffer): void {
    if (this.closed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    this.socket.write(frame);
    if (this.socket.writableLength > this.hub.config.maxOutput) {
      // A client that does not read must not make the server hold its output without bound.
      this.hub.log.warn('output_overflow', { conn: this.id, remote: this.remote, bytes: this.socket.writableLength });
      this.destroy();
    }
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
    if (this.logins.size >= MAX_LOGIN_ATTEMPTS) this.logins.delete(this.logins.keys().next().value!);
    this.logins.set(nonce, a);
  }

  /** Takes a login attempt: single use, and only before it expires. */
  takeLogin(nonce: string, now: number): LoginAttempt | undefined {
    const a = this.logins.get(nonce);
    this.logins.delete(nonce);
    return a && a.expires > now ? a : undefined;
  }

  /** Ends the connection after what was written is flushed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.stop();
    this.socket.end();
    // A peer that never closes its side (half-open) would otherwise hold the socket and a connection slot forever.
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  destroy(): void {
    this.closed = true;
    this.reader.stop();
    this.socket.destroy();
  }
}
