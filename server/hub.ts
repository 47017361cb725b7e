/**
 * The server's shared state: who is online, sessions starting and ending, presence, and dispatch of requests to
 * the operation handlers.
 */
import type { Codec } from '../protocol/codec.js';
import type { Event, OpName, Request, SessionEndReason } from '../protocol/ops.js';
import { OPS } from '../protocol/ops.js';
import { USERNAME_RE } from '../protocol/limits.js';
import type { Config } from './config.js';
import type { Connection } from './connection.js';
import { Delivery } from './delivery.js';
import { OpError } from './errors.js';
import { Backoff, Buckets } from './limits.js';
import type { Logger } from './log.js';
import { DEFERRED, HANDLERS, type Ctx } from './ops/index.js';
import { Session } from './session.js';
import type { Store } from './storage/store.js';
import type { WalSync } from './storage/walSync.js';

const ACCOUNT_CACHE_SIZE = 200_000;
/**
 * Operations whose reply (and the events they cause) must wait until their change is on disk: a person told that
 * an account exists, a password changed or a message was deleted must not see it undone by a power cut. (`send`
 * waits in the delivery; `fetch_pending` and `logout` need not: redelivering a message or reviving a token after a
 * crash does no harm.)
 */
const WRITES: ReadonlySet<OpName> = new Set<OpName>([
  'signup',
  'login_finish',
  'mark_read',
  'delete_messages',
  'delete_account',
  'change_password',
]);

export class Hub {
  /** The one logged-in connection of each online account. */
  readonly online = new Map<number, Connection>();
  readonly connections = new Set<Connection>();
  readonly delivery: Delivery;
  private readonly accounts = new Map<string, { id: number; username: string }>();
  readonly limits: { logins: Backoff; signups: Buckets; sends: Buckets };
  /** When sweep() last ran (0: not yet). */
  private lastSweep = 0;
  /** Secret behind the fake salts of unknown usernames: stable across restarts, so they look like real ones. */
  readonly fakeSaltKey: Buffer;

  constructor(
    readonly store: Store,
    /** Replies that report a change wait for it to be on disk (with --synchronous full). */
    readonly sync: WalSync,
    readonly config: Config,
    readonly log: Logger,
  ) {
    this.delivery = new Delivery(this);
    this.fakeSaltKey = store.secret('fake_salt_key');
    this.limits = {
      logins: new Backoff(config.loginFreeFailures),
      signups: new Buckets(config.signupRate / 60, config.signupRate),
      sends: new Buckets(config.sendRate, config.sendRate * 2),
    };
  }

  /** Looks an account up by name (any case), through a cache of known names: every send needs this. */
  findAccount(name: string): { id: number; username: string } | undefined {
    const lc = name.toLowerCase();
    let a = this.accounts.get(lc);
    if (!a && USERNAME_RE.test(name)) {
      const row = this.store.accountByName(lc);
      if (!row) return undefined;
      a = { id: row.id, username: row.username };
      if (this.accounts.size >= ACCOUNT_CACHE_SIZE) this.accounts.clear();
      this.accounts.set(lc, a);
    }
    return a;
  }

  forgetAccount(username: string): void {
    this.accounts.delete(username.toLowerCase());
  }

  dispatch(conn: Connection, req: Request): void {
    const ctx: Ctx = { hub: this, conn, id: req.id, after: [] };
    try {
      if (!('anonymous' in OPS[req.op]) && !conn.session)
        throw new OpError('NOT_LOGGED_IN', 'log in first');
      // The handler table is keyed by op, so this pairing is right; TypeScript cannot see through the union.
      const handler = HANDLERS[req.op] as (ctx: Ctx, args: typeof req.args) => unknown;
      const result = handler(ctx, req.args);
      if (WRITES.has(req.op)) this.sync.afterSync(() => this.replyAfterSync(conn, req, result, ctx));
      else this.reply(conn, req, result, ctx);
    } catch (e) {
      this.failed(conn, req, e);
    }
  }

  private reply(conn: Connection, req: Request, result: unknown, ctx: Ctx): void {
    if (result !== DEFERRED) conn.result(req.id, req.op, result as never, req.args as never);
    for (const f of ctx.after) f();
  }

  /** The same, from the fsync's callback, where a throw would end the process instead of becoming a reply. */
  private replyAfterSync(conn: Connection, req: Request, result: unknown, ctx: Ctx): void {
    try {
      this.reply(conn, req, result, ctx);
    } catch (e) {
      this.failed(conn, req, e);
    }
  }

  private failed(conn: Connection, req: Request, e: unknown): void {
    if (e instanceof OpError) return conn.error(req.id, e.toWire());
    this.log.error('internal_error', { conn: conn.id, op: req.op, error: (e as Error).stack ?? String(e) });
    conn.error(req.id, { code: 'INTERNAL', message: 'the server failed to do this; it has been logged' });
  }

  connected(conn: Connection): void {
    this.connections.add(conn);
    this.log.debug('connected', { conn: conn.id, remote: conn.remote });
  }

  disconnected(conn: Connection): void {
    this.connections.delete(conn);
    if (conn.session) this.detach(conn, false);
    this.log.debug('disconnected', { conn: conn.id });
  }

  /** Logs a connection in; an older connection of the same account is signed out (takeover). */
  attach(conn: Connection, account: { id: number; username: string }, tokenHash: Buffer): Session {
    const prev = this.online.get(account.id);
    if (prev && prev !== conn) {
      // The same token resuming on a new connection is that client back (the server has not yet seen its old
      // connection die): the token moves with the session instead of being revoked under it.
      if (prev.session?.tokenHash?.equals(tokenHash)) prev.session.tokenHash = undefined;
      this.endSession(prev, 'signed_in_elsewhere');
    }
    const session = new Session(account.id, account.username, tokenHash).reload(this.store);
    conn.session = session;
    this.online.set(account.id, conn);
    this.log.info('login', { conn: conn.id, user: account.username, takeover: prev ? true : undefined });
    // A takeover leaves the account online: no presence change to announce.
    if (!prev) this.presence(account.id, account.username, true);
    return session;
  }

  /** Logs a connection out; `revoke` also kills its resume token. */
  detach(conn: Connection, revoke: boolean, announce = true): void {
    const s = conn.session;
    if (!s) return;
    conn.session = undefined;
    if (revoke && s.tokenHash) this.store.revokeToken(s.tokenHash);
    if (this.online.get(s.accountId) === conn) {
      this.online.delete(s.accountId);
      if (announce) this.presence(s.accountId, s.username, false);
    }
    this.log.info('logout', { conn: conn.id, user: s.username });
  }

  /** Tells a connection its session is over, and why, then logs it out. */
  endSession(conn: Connection, reason: SessionEndReason): void {
    conn.event({ kind: 'event', event: 'session_ended', data: { reason } });
    // Taken over: the old token dies, or that client would resume and take the account back. Only an idle session
    // means the person went away; the others are announced otherwise (or the account stays online).
    this.detach(conn, reason === 'signed_in_elsewhere', reason === 'idle');
  }

  /** Sends an event to every online account that has exchanged messages with `accountId`. */
  toPeers(accountId: number, ev: Event, peers = this.store.peersOf(accountId)): Connection[] {
    const reached: Connection[] = [];
    // The same bytes for every peer of one protocol: encoded once per protocol, not once per peer.
    const frames = new Map<Codec, Buffer>();
    for (const id of peers) {
      const c = this.online.get(id);
      if (!c) continue;
      const codec = c.codec!; // logged in, so it has spoken
      let frame = frames.get(codec);
      if (!frame) frames.set(codec, (frame = codec.encodeEvent(ev)));
      c.write(frame);
      reached.push(c);
    }
    return reached;
  }

  private presence(accountId: number, username: string, online: boolean): void {
    this.toPeers(accountId, { kind: 'event', event: 'presence', data: { username, online } });
  }

  /** Recomputes an online account's counts and pushes them. */
  refreshCounts(accountId: number): void {
    const c = this.online.get(accountId);
    if (c?.session) this.pushCounts(c, c.session.reload(this.store));
  }

  pushCounts(conn: Connection, s: Session): void {
    conn.event({ kind: 'event', event: 'counts', data: s.counts() });
  }

  /** Closes connections silent for longer than the idle timeout, and forgets rate-limit state that ran out. */
  sweep(now: number): void {
    this.limits.logins.sweep(now);
    this.limits.signups.sweep(now);
    this.limits.sends.sweep(now);
    const limit = this.config.idleTimeout * 1000;
    // A sweep long after the last one means this thread could not run meanwhile (a write stalled by the disk, say):
    // what clients sent in that time still waits unread in their sockets, so this sweep judges nobody idle.
    const stalled = this.lastSweep !== 0 && now - this.lastSweep > limit / 2;
    this.lastSweep = now;
    if (limit === 0 || stalled) return;
    for (const c of this.connections) {
      if (c.closed || now - c.lastSeen <= limit) continue; // closed: already on its way out
      this.log.info('idle_timeout', { conn: c.id, remote: c.remote });
      if (c.session) this.endSession(c, 'idle');
      c.close();
    }
  }

  /** Graceful shutdown: commit what is queued, tell every client, close the connections. */
  shutdown(): void {
    this.delivery.flush();
    this.sync.close();
    for (const c of this.connections) {
      if (c.session) this.endSession(c, 'server_shutdown');
      c.close();
    }
  }
}
