/**
 * The JoChat connection client, used by the VS Code extension, the tests and the benchmarks. One connection,
 * either protocol, typed requests and events, SCRAM sign-up and login (the server's signature is verified), resume
 * by token, and reconnection with backoff that resumes the session and re-sends every unacknowledged message with
 * its clientMsgId, so nothing is lost and nothing is duplicated.
 */
import { randomBytes } from 'node:crypto';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { binaryCodec } from './binary.js';
import type { Codec, PendingInfo, Protocol } from './codec.js';
import { Emitter } from './emitter.js';
import { FrameSpanReader } from './framing.js';
import { jsonCodec } from './json.js';
import { DEFAULT_ITERATIONS } from './limits.js';
import type { Args, ErrorCode, Event, OpName, Request, Result, SessionEndReason, WireError } from './ops.js';
import { authMessage, clientProof, deriveKeys, newKeys, newNonce, sameBytes, serverSignature } from './scram.js';

/** Error codes a client can see: the server's, plus the two that only a client can observe. */
export type ClientErrorCode = ErrorCode | 'OFFLINE' | 'TIMEOUT';

export class JoChatError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    /** With RATE_LIMITED: how long the server asks to wait. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'JoChatError';
  }
}

/** True for a JoChatError, also one made by another bundle's copy of this module (e.g. a test suite's). */
export const isJoChatError = (e: unknown): e is JoChatError =>
  e instanceof JoChatError || (e instanceof Error && e.name === 'JoChatError' && typeof (e as JoChatError).code === 'string');

/** 'online': connected, and the saved session (if any) resumed, so requests that need it can go. */
export type ConnectionState = 'offline' | 'connecting' | 'online';

export interface ClientOptions {
  host: string;
  port: number;
  protocol: Protocol;
  /** true for TLS with the system's CAs, or Node TLS options (e.g. `ca` for a self-signed certificate). */
  tls?: boolean | ConnectionOptions;
  /** Reconnect after a lost connection (default true). */
  reconnect?: boolean;
  /** Backoff between reconnection attempts: doubles from `min` up to `max` ms, with jitter. */
  backoff?: { min: number; max: number };
  /** A request without a response after this long fails with TIMEOUT and the connection is reset. */
  requestTimeoutMs?: number;
  /** How often to ping an idle connection (the server closes silent ones). */
  pingIntervalMs?: number;
  /** PBKDF2 iterations for new keys (sign-up, password change). */
  iterations?: number;
  /** Largest frame accepted from the server. */
  maxFrame?: number;
  clientName?: string;
}

export interface ClientEvents {
  state: [ConnectionState];
  /** A server push. */
  event: [Event];
  /** Logged in (username) or out (undefined, with the reason when the server ended it). */
  session: [string | undefined, SessionEndReason | undefined];
  /** The resume token changed (undefined: forget it). Persist it to survive a restart. */
  token: [string | undefined];
  /** Diagnostics; never contains passwords, proofs or tokens. */
  log: ['debug' | 'info' | 'warn', string];
}

/** A request waiting for its response; it is also what the codec needs to decode the result (`self` as sent). */
interface InFlight extends PendingInfo {
  resolve: (r: unknown) => void;
  reject: (e: JoChatError) => void;
  sentAt: number;
}

type SendArgs = Args<'send'> & { clientMsgId: string };

/**
 * A send in the outbox. While it is on the wire it is also its own InFlight record: one object per send, which
 * settle() keeps in the outbox or removes, rather than an outbox entry plus a record per transmission.
 */
class Outgoing implements InFlight {
  readonly op = 'send';
  self = '';
  sentAt = 0;
  resolve!: (r: unknown) => void;
  reject!: (e: JoChatError) => void;
  /** In the outbox (not yet acknowledged, refused or abandoned). */
  queued = true;
  /** Its neighbours in the outbox, in the order sends were made. */
  prev: Outgoing | undefined = undefined;
  next: Outgoing | undefined = undefined;

  constructor(readonly args: SendArgs) {}
}

/**
 * Sends not yet acknowledged, in the order they were made: a list linked through its entries. Adding and removing
 * an entry allocates nothing, where a Map keyed by clientMsgId hashed a new string and grew or rebuilt its table
 * every few dozen sends.
 */
class Outbox {
  first: Outgoing | undefined;
  private last: Outgoing | undefined;
  size = 0;

  add(o: Outgoing): void {
    o.prev = this.last;
    if (this.last) this.last.next = o;
    else this.first = o;
    this.last = o;
    this.size++;
  }

  remove(o: Outgoing): void {
    if (!o.queued) return; // a send that went twice (see settle) is answered twice
    o.queued = false;
    if (o.prev) o.prev.next = o.next;
    else this.first = o.next;
    if (o.next) o.next.prev = o.prev;
    else this.last = o.prev;
    o.prev = o.next = undefined;
    this.size--;
  }

  /** Empties the outbox; returns what was in it, in order. */
  takeAll(): Outgoing[] {
    const all: Outgoing[] = [];
    for (let o = this.first; o; o = o.next) all.push(o);
    for (const o of all) this.remove(o);
    return all;
  }
}

/**
 * The requests waiting for their responses, by id. Ids are consecutive and responses mostly come back in order, so
 * a request takes slot `id & mask` of a ring. A request that finds its slot taken doubles the ring when it is over
 * half full; otherwise the slot's request, which has waited a whole turn of the ring, moves to a Map. (One Map for
 * all of them rebuilt its table every few dozen sends: with hundreds of sends in flight, a tenth of the client's CPU.)
 */
class Requests {
  /** The id in each slot; 0 for a free slot (ids start at 1). */
  private ids = new Array<number>(16).fill(0);
  private records = new Array<InFlight | undefined>(16).fill(undefined);
  private mask = 15;
  private inRing = 0;
  /** Requests that waited longer than a turn of the ring. */
  private stragglers: Map<number, InFlight> | undefined;

  get size(): number {
    return this.inRing + (this.stragglers?.size ?? 0);
  }

  set(id: number, f: InFlight): void {
    for (;;) {
      const i = id & this.mask;
      const old = this.ids[i]!;
      if (old === 0) {
        this.ids[i] = id;
        this.records[i] = f;
        this.inRing++;
        return;
      }
      if (this.inRing * 2 > this.mask) this.grow();
      else {
        (this.stragglers ??= new Map()).set(old, this.records[i]!);
        this.free(i);
      }
    }
  }

  get(id: number): InFlight | undefined {
    const i = id & this.mask;
    return this.ids[i] === id ? this.records[i] : this.stragglers?.get(id);
  }

  delete(id: number): void {
    const i = id & this.mask;
    if (this.ids[i] === id) this.free(i);
    else this.stragglers?.delete(id);
  }

  /** Every request, in the order they were made. */
  all(): InFlight[] {
    const byId: [number, InFlight][] = [...(this.stragglers ?? [])];
    for (let i = 0; i <= this.mask; i++) if (this.ids[i] !== 0) byId.push([this.ids[i]!, this.records[i]!]);
    return byId.sort((a, b) => a[0] - b[0]).map(([, f]) => f);
  }

  clear(): void {
    this.ids.fill(0);
    this.records.fill(undefined);
    this.inRing = 0;
    this.stragglers = undefined;
  }

  private free(i: number): void {
    this.ids[i] = 0;
    this.records[i] = undefined;
    this.inRing--;
  }

  /** Doubles the ring. Requests in distinct slots stay in distinct slots (ids equal mod 2n are equal mod n). */
  private grow(): void {
    const { ids, records } = this;
    this.mask = this.mask * 2 + 1;
    this.ids = new Array<number>(this.mask + 1).fill(0);
    this.records = new Array<InFlight | undefined>(this.mask + 1).fill(undefined);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id === 0) continue;
      this.ids[id & this.mask] = id;
      this.records[id & this.mask] = records[i];
    }
  }
}

const DEFAULTS = {
  reconnect: true,
  backoff: { min: 250, max: 10_000 },
  requestTimeoutMs: 30_000,
  pingIntervalMs: 30_000,
  iterations: DEFAULT_ITERATIONS,
  maxFrame: 64 * 1024 * 1024,
  clientName: 'jochat-client',
};

export class JoChatClient extends Emitter<ClientEvents> {
  private readonly opts: Required<Omit<ClientOptions, 'tls'>> & Pick<ClientOptions, 'tls'>;
  private readonly codec: Codec;
  private socket: Socket | undefined;
  private nextId = 1;
  private readonly inFlight = new Requests();
  /** For the codec: the request a result answers. One function for all frames, not a closure per frame. */
  private readonly pendingOf = (id: number): InFlight | undefined => this.inFlight.get(id);
  /** Sends not yet acknowledged; re-sent after a reconnect. */
  private readonly outbox = new Outbox();
  private readonly msgIdPrefix = randomBytes(6).toString('base64url');
  private msgCounter = 0;
  private token: string | undefined;
  private _username: string | undefined;
  private _state: ConnectionState = 'offline';
  private loggedIn = false;
  private closedByUser = true;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  /**
   * Frames written in this tick and not yet given to the socket: they lie one after another in the codec's chunk
   * (`start` to `end` of `buf`), and go to the socket as one Buffer at the end of the tick (see write).
   */
  private out: { socket: Socket; buf: ArrayBufferLike; start: number; end: number } | undefined;

  private connecting: Promise<void> | undefined;

  constructor(options: ClientOptions) {
    super();
    this.opts = { ...DEFAULTS, ...options };
    this.codec = options.protocol === 'json' ? jsonCodec : binaryCodec;
  }

  get state(): ConnectionState {
    return this._state;
  }
  /** The logged-in (or resumable) account's name as the server shows it. */
  get username(): string | undefined {
    return this._username;
  }
  get isLoggedIn(): boolean {
    return this.loggedIn;
  }
  /** Sends not yet acknowledged by the server. */
  get unacknowledged(): number {
    return this.outbox.size;
  }

  /** Sets a token saved earlier: the session resumes with it on (re)connect. */
  setToken(token: string | undefined): void {
    this.token = token;
  }

  /** Connects (and resumes when a token is set). Resolves when online; later drops reconnect by themselves. */
  connect(): Promise<void> {
    this.closedByUser = false;
    if (this._state === 'online') return Promise.resolve();
    return (this.connecting ??= this.open().finally(() => (this.connecting = undefined)));
  }

  /** Closes for good: no reconnection; unacknowledged sends fail with OFFLINE. */
  close(): void {
    this.closedByUser = true;
    clearTimeout(this.retryTimer);
    this.socket?.destroy();
    this.dropConnection();
    for (const o of this.outbox.takeAll())
      o.reject(new JoChatError('OFFLINE', 'the connection was closed before the message was sent'));
  }

  /** One typed request. Rejects with a JoChatError. */
  request<O extends OpName>(op: O, args: Args<O>): Promise<Result<O>> {
    return new Promise((resolve, reject) => {
      if (!this.socket) return reject(new JoChatError('OFFLINE', 'not connected to the JoChat server'));
      const self = this._username ?? '';
      this.transmit({ op, args, self, resolve: resolve as InFlight['resolve'], reject, sentAt: Date.now() });
    });
  }

  async signup(username: string, password: string): Promise<Result<'signup'>> {
    const k = await newKeys(password, this.opts.iterations);
    const r = await this.request('signup', { username, ...k });
    this.loggedInAs(r.username, r.token);
    return r;
  }

  async login(username: string, password: string): Promise<Result<'login_finish'>> {
    const { nonce, proof, verify } = await this.prove(username, password);
    const r = await this.request('login_finish', { nonce, proof });
    if (!verify(r.serverSignature)) {
      this.socket?.destroy();
      throw new JoChatError('AUTH_FAILED', 'the server could not prove it knows your password; it may be an impostor');
    }
    this.loggedInAs(r.username, r.token);
    return r;
  }

  async resume(token: string): Promise<Result<'resume'>> {
    try {
      const r = await this.request('resume', { token });
      this.loggedInAs(r.username, token);
      return r;
    } catch (e) {
      if (e instanceof JoChatError && e.code === 'AUTH_FAILED') this.forgetSession(undefined);
      throw e;
    }
  }

  async logout(): Promise<void> {
    try {
      if (this.loggedIn) await this.request('logout', {});
    } finally {
      this.forgetSession(undefined);
    }
  }

  /**
   * Sends a message. It is kept until the server acknowledges it, through reconnects; it fails only when the
   * server refuses it (e.g. NO_SUCH_USER) or the session ends.
   */
  send(to: string, text: string): Promise<Result<'send'>> {
    if (!this._username) return Promise.reject(new JoChatError('NOT_LOGGED_IN', 'log in first'));
    const o = new Outgoing({ to, text, clientMsgId: this.msgIdPrefix + (this.msgCounter++).toString(36) });
    const sent = new Promise<Result<'send'>>((resolve, reject) => {
      o.resolve = resolve as InFlight['resolve'];
      o.reject = reject;
    });
    this.outbox.add(o);
    if (this.loggedIn) this.transmitSend(o);
    return sent;
  }

  /** Deletes the account; the password is asked again (a session token alone is not enough). */
  async deleteAccount(password: string): Promise<void> {
    const { nonce, proof } = await this.prove(this.requireUser(), password);
    await this.request('delete_account', { nonce, proof });
    this.forgetSession('account_deleted');
  }

  async changePassword(oldPassword: string, newPassword: string): Promise<void> {
    const { nonce, proof } = await this.prove(this.requireUser(), oldPassword);
    const k = await newKeys(newPassword, this.opts.iterations);
    const r = await this.request('change_password', { nonce, proof, ...k });
    this.token = r.token;
    this.emit('token', r.token);
  }

  // ---- internals ----

  private requireUser(): string {
    if (!this._username || !this.loggedIn) throw new JoChatError('NOT_LOGGED_IN', 'log in first');
    return this._username;
  }

  /** login_start, then the proof for it (PBKDF2 runs off the event loop). */
  private async prove(username: string, password: string) {
    const clientNonce = newNonce();
    const start = await this.request('login_start', { username, clientNonce });
    if (!start.nonce.startsWith(clientNonce)) throw new JoChatError('AUTH_FAILED', 'the server answered with a wrong nonce');
    const keys = await deriveKeys(password, start.salt, start.iterations);
    const am = authMessage(username, clientNonce, start.nonce, start.salt, start.iterations);
    return {
      nonce: start.nonce,
      proof: clientProof(keys, am),
      verify: (sig: Uint8Array) => sameBytes(serverSignature(keys.serverKey, am), sig),
    };
  }

  private loggedInAs(username: string, token: string): void {
    const changed = this._username !== username || !this.loggedIn;
    this._username = username;
    this.loggedIn = true;
    if (token !== this.token) {
      this.token = token;
      this.emit('token', token);
    }
    if (changed) this.emit('session', username, undefined);
    this.flushOutbox();
  }

  private forgetSession(reason: SessionEndReason | undefined): void {
    const had = this._username !== undefined;
    this._username = undefined;
    this.loggedIn = false;
    if (this.token !== undefined) {
      this.token = undefined;
      this.emit('token', undefined);
    }
    for (const o of this.outbox.takeAll())
      o.reject(new JoChatError('NOT_LOGGED_IN', 'the session ended before the message was sent'));
    if (had) this.emit('session', undefined, reason);
  }

  private transmit(f: InFlight): void {
    const id = this.nextId++;
    this.inFlight.set(id, f);
    this.write(this.codec.encodeRequest({ kind: 'request', id, op: f.op, args: f.args } as Request));
  }

  private transmitSend(o: Outgoing): void {
    if (!this.socket) return; // goes out after the reconnect
    o.self = this._username ?? '';
    o.sentAt = Date.now();
    this.transmit(o);
  }

  /** Settles a request with its result or error. A send that can go again stays in the outbox instead. */
  private settle(f: InFlight, result: unknown, e: JoChatError | undefined): void {
    if (f instanceof Outgoing) {
      // Lost with the connection: it stays in the outbox and goes again. Too fast: again when the server says.
      // Refused by the server for any other reason: it failed.
      if (e?.code === 'OFFLINE' || e?.code === 'TIMEOUT') return;
      if (e?.code === 'RATE_LIMITED') {
        setTimeout(() => f.queued && this.transmitSend(f), e.retryAfterMs ?? 1000);
        return;
      }
      this.outbox.remove(f);
    }
    if (e === undefined) f.resolve(result);
    else f.reject(e);
  }

  private flushOutbox(): void {
    const waiting = new Set(this.inFlight.all());
    for (let o = this.outbox.first; o; o = o.next) if (!waiting.has(o)) this.transmitSend(o);
  }

  /**
   * Writes a frame at the end of the tick, with the others of this tick. The codecs write frames one after another
   * into a chunk of memory, so those of one tick mostly form one run of bytes: given to the socket as one Buffer,
   * not one per frame, each of which costs the stream's bookkeeping and a slot in the writev (3% of a load
   * generator's CPU, at a few dozen frames per tick). The socket is corked meanwhile for the other runs (a frame
   * that starts a new chunk).
   */
  private write(frame: Buffer): void {
    const s = this.socket!;
    const o = this.out;
    if (o === undefined) {
      s.cork();
      this.out = { socket: s, buf: frame.buffer, start: frame.byteOffset, end: frame.byteOffset + frame.length };
      process.nextTick(() => this.flush());
    } else if (o.socket === s && o.buf === frame.buffer && o.end === frame.byteOffset) o.end += frame.length;
    else {
      o.socket.write(Buffer.from(o.buf, o.start, o.end - o.start));
      if (o.socket !== s) {
        // A new connection within the tick (after a reconnect).
        o.socket.uncork();
        s.cork();
        o.socket = s;
      }
      o.buf = frame.buffer;
      o.start = frame.byteOffset;
      o.end = frame.byteOffset + frame.length;
    }
  }

  private flush(): void {
    const o = this.out!;
    this.out = undefined;
    o.socket.write(Buffer.from(o.buf, o.start, o.end - o.start));
    o.socket.uncork();
  }

  private async open(): Promise<void> {
    this.setState('connecting');
    const socket = await this.dial();
    this.socket = socket;
    socket.setNoDelay(true);
    // Each frame from the server is decoded where it lies in the chunk it came in.
    const reader = new FrameSpanReader(this.opts.maxFrame, (data, start, end) => this.onFrame(data, start, end));
    socket.on('data', (chunk: Buffer) => {
      if (reader.push(chunk) !== undefined) {
        this.emit('log', 'warn', 'the server sent a frame larger than this client accepts; reconnecting');
        socket.destroy();
      }
    });
    socket.on('close', () => this.onClose(socket));
    socket.on('error', (e) => this.emit('log', 'debug', `socket error: ${e.message}`));
    this.attempt = 0;
    this.startPings();
    await this.request('hello', { client: this.opts.clientName });
    if (this.token) {
      try {
        await this.resume(this.token);
      } catch (e) {
        this.emit('log', 'info', `could not resume the session: ${(e as Error).message}`);
      }
    }
    // Online only once the session (if any) is back, so whoever sees 'online' can make requests that need it.
    if (this.socket === socket) this.setState('online');
  }

  private dial(): Promise<Socket> {
    const { host, port, tls } = this.opts;
    return new Promise((resolve, reject) => {
      const s: Socket = tls
        ? // SNI carries host names only (RFC 6066): an IP address is no servername.
          tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...(tls === true ? {} : tls) }, () => done())
        : netConnect({ host, port }, () => done());
      const done = (): void => {
        s.off('error', fail);
        resolve(s);
      };
      const fail = (e: Error): void => {
        s.destroy();
        reject(new JoChatError('OFFLINE', `cannot reach the JoChat server at ${host}:${port}: ${e.message}`));
      };
      s.once('error', fail);
    }).catch((e: JoChatError) => {
      this.setState('offline');
      this.scheduleReconnect();
      throw e;
    }) as Promise<Socket>;
  }

  private onFrame(data: Buffer, start: number, end: number): void {
    const d = this.codec.decodeServerMessage(data, this.pendingOf, start, end);
    if (!d.ok) {
      this.emit('log', 'warn', `could not read a message from the server: ${d.error.message}`);
      return;
    }
    const m = d.value;
    if (m.kind === 'event') return this.onEvent(m);
    const f = this.inFlight.get(m.id);
    if (!f) {
      // An error about no request in particular (e.g. FRAME_TOO_LARGE) comes with id 0.
      if (m.kind === 'error') this.emit('log', 'warn', `server error ${m.error.code}: ${m.error.message}`);
      return;
    }
    this.inFlight.delete(m.id);
    if (m.kind === 'result') this.settle(f, m.result, undefined);
    else this.settle(f, undefined, toError(m.error));
  }

  private onEvent(ev: Event): void {
    if (ev.event === 'session_ended') {
      const reason = ev.data.reason as SessionEndReason;
      // Shutdown and idle leave the token valid: the session resumes on the next connection.
      if (reason === 'server_shutdown' || reason === 'idle') this.loggedIn = false;
      else this.forgetSession(reason);
    }
    this.emit('event', ev);
  }

  private onClose(socket: Socket): void {
    if (this.socket !== socket) return;
    this.dropConnection();
    if (!this.closedByUser && this.opts.reconnect) this.scheduleReconnect();
  }

  private dropConnection(): void {
    this.socket = undefined;
    clearInterval(this.pingTimer);
    this.loggedIn = false;
    const lost = this.inFlight.all();
    this.inFlight.clear();
    for (const f of lost)
      this.settle(f, undefined, new JoChatError('OFFLINE', 'the connection to the server was lost'));
    this.setState('offline');
  }

  private scheduleReconnect(): void {
    if (this.closedByUser || !this.opts.reconnect || this.retryTimer) return;
    const { min, max } = this.opts.backoff;
    const delay = Math.min(max, min * 2 ** this.attempt++) * (0.75 + Math.random() * 0.5);
    this.emit('log', 'info', `reconnecting in ${Math.round(delay)} ms`);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect().catch(() => undefined); // a failure schedules the next attempt
    }, delay);
  }

  private startPings(): void {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      const now = Date.now();
      for (const f of this.inFlight.all())
        if (now - f.sentAt > this.opts.requestTimeoutMs) {
          this.emit('log', 'warn', 'the server stopped answering; reconnecting');
          this.socket?.destroy();
          return;
        }
      if (this.inFlight.size === 0) this.request('ping', {}).catch(() => undefined);
    }, Math.min(this.opts.pingIntervalMs, this.opts.requestTimeoutMs));
    this.pingTimer.unref();
  }

  private setState(s: ConnectionState): void {
    if (s === this._state) return;
    this._state = s;
    this.emit('state', s);
  }
}

const toError = (e: WireError): JoChatError => new JoChatError(e.code, e.message, e.retryAfterMs);
