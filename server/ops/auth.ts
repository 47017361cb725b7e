/** Accounts and sessions: hello, sign-up, SCRAM login, resume, logout, password change and account deletion. */
import { createHmac } from 'node:crypto';
import {
  DEFAULT_ITERATIONS,
  LOGIN_NONCE_TTL_MS,
  MAX_ITERATIONS,
  MAX_KEY_BYTES,
  MAX_NONCE,
  MAX_TEXT_BYTES,
  MIN_ITERATIONS,
  PROTOCOL_VERSION,
  TOKEN_TTL_MS,
  USERNAME_RE,
} from '../../protocol/limits.js';
import { authMessage, newNonce, serverSignature, verifyProof } from '../../protocol/scram.js';
import { fail, limit } from '../errors.js';
import type { Account, NewKeys } from '../storage/store.js';
import { hashToken } from '../storage/store.js';
import { me, type Ctx, type Handlers } from './context.js';
import { SERVER_VERSION } from '../version.js';

// RFC 5802 nonces are printable ASCII without ','.
const NONCE_RE = /^[\x21-\x2b\x2d-\x7e]+$/;

function checkKeys(k: NewKeys): void {
  if (k.iterations < MIN_ITERATIONS) fail('BAD_REQUEST', `iterations must be at least ${MIN_ITERATIONS}`);
  if (k.iterations > MAX_ITERATIONS) fail('BAD_REQUEST', `iterations must be at most ${MAX_ITERATIONS}`);
  if (k.salt.length < 8 || k.salt.length > MAX_KEY_BYTES) fail('BAD_REQUEST', 'salt must be 8 to 64 bytes');
  if (k.storedKey.length !== 32 || k.serverKey.length !== 32)
    fail('BAD_REQUEST', 'storedKey and serverKey must be 32 bytes (SHA-256)');
}

/** A fresh token for this connection, and the connection logged in to the account. */
function startSession(ctx: Ctx, account: { id: number; username: string }) {
  const { hub, conn } = ctx;
  if (conn.session) fail('ALREADY_LOGGED_IN', `already logged in as ${conn.session.username}; log out first`);
  const { token, hash } = hub.store.createToken(account.id, Date.now(), TOKEN_TTL_MS);
  const s = hub.attach(conn, account, hash);
  return { username: account.username, token, pending: s.pending, unread: s.unread() };
}

/**
 * Checks a SCRAM proof over a login_start of this connection. Unknown names and wrong passwords fail alike, after
 * the same work. `own` restricts it to the connection's own account (password re-confirmation).
 */
function checkProof(ctx: Ctx, nonce: string, proof: Uint8Array, own?: number): { account: Account; am: string } {
  const { hub, conn } = ctx;
  const now = Date.now();
  const a = conn.takeLogin(nonce, now);
  if (!a) return fail('AUTH_FAILED', 'this login attempt is unknown or expired; start again');
  // Password guessing is slowed per account and per address; the check comes before any work on the proof.
  const byAccount = `account:${a.username.toLowerCase()}`;
  const byAddress = `address:${conn.address}`;
  const { logins } = hub.limits;
  limit(Math.max(logins.wait(byAccount, now), logins.wait(byAddress, now)), 'too many failed logins');
  const account = a.accountId === undefined ? undefined : hub.store.accountById(a.accountId);
  const am = authMessage(a.username, a.clientNonce, nonce, a.salt, a.iterations);
  const ok = verifyProof(account?.storedKey ?? hub.fakeSaltKey, am, proof);
  if (!account || !ok || !account.salt.equals(a.salt) || (own !== undefined && account.id !== own)) {
    hub.log.info('auth_failed', { conn: conn.id, remote: conn.remote, user: a.username });
    logins.fail(byAccount, now);
    logins.fail(byAddress, now);
    return fail('AUTH_FAILED', 'wrong username or password');
  }
  logins.succeed(byAccount);
  return { account, am };
}

export const authHandlers: Handlers<
  'hello' | 'signup' | 'login_start' | 'login_finish' | 'resume' | 'logout' | 'delete_account' | 'change_password' | 'ping'
> = {
  hello: (ctx) => ({
    server: 'jochat',
    version: SERVER_VERSION,
    protocol: PROTOCOL_VERSION,
    maxFrame: ctx.hub.config.maxFrame,
    maxText: MAX_TEXT_BYTES,
  }),

  ping: () => ({}),

  signup(ctx, args) {
    if (ctx.conn.session) fail('ALREADY_LOGGED_IN', `already logged in as ${ctx.conn.session.username}; log out first`);
    if (!USERNAME_RE.test(args.username))
      fail('INVALID_USERNAME', 'a username is 1 to 32 letters, digits, "_", "." or "-"');
    checkKeys(args);
    limit(ctx.hub.limits.signups.take(ctx.conn.address, Date.now()), 'too many sign-ups from this address');
    const id = ctx.hub.store.createAccount(args.username, args, Date.now());
    if (id === undefined) fail('USERNAME_TAKEN', `the name "${args.username}" is taken`);
    ctx.hub.log.info('signup', { conn: ctx.conn.id, user: args.username });
    return startSession(ctx, { id: id!, username: args.username });
  },

  login_start(ctx, args) {
    if (args.clientNonce.length > MAX_NONCE || !NONCE_RE.test(args.clientNonce))
      fail('BAD_REQUEST', 'clientNonce must be 1 to 128 printable characters without ","');
    if (args.username.length > 64) fail('INVALID_USERNAME', 'that is not a valid username');
    const account = USERNAME_RE.test(args.username) ? ctx.hub.store.accountByName(args.username) : undefined;
    // Unknown names get a salt derived from a server secret: the same each time, like a real account's.
    const salt =
      account?.salt ??
      createHmac('sha256', ctx.hub.fakeSaltKey).update(args.username.toLowerCase()).digest().subarray(0, 16);
    const iterations = account?.iterations ?? DEFAULT_ITERATIONS;
    const nonce = args.clientNonce + newNonce();
    ctx.conn.addLogin(nonce, {
      username: args.username,
      accountId: account?.id,
      clientNonce: args.clientNonce,
      salt,
      iterations,
      expires: Date.now() + LOGIN_NONCE_TTL_MS,
    });
    return { salt, iterations, nonce };
  },

  login_finish(ctx, args) {
    if (ctx.conn.session) fail('ALREADY_LOGGED_IN', `already logged in as ${ctx.conn.session.username}; log out first`);
    const { account, am } = checkProof(ctx, args.nonce, args.proof);
    return { ...startSession(ctx, account), serverSignature: serverSignature(account.serverKey, am) };
  },

  resume(ctx, args) {
    if (ctx.conn.session) fail('ALREADY_LOGGED_IN', `already logged in as ${ctx.conn.session.username}; log out first`);
    const { hub, conn } = ctx;
    const now = Date.now();
    const byAddress = `address:${conn.address}`;
    limit(hub.limits.logins.wait(byAddress, now), 'too many failed attempts');
    const hash = hashToken(args.token);
    const accountId = hub.store.tokenAccount(hash, now);
    const account = accountId === undefined ? undefined : hub.store.accountById(accountId);
    if (!account) {
      hub.limits.logins.fail(byAddress, now); // guessing tokens is as slow as guessing passwords
      return fail('AUTH_FAILED', 'this session has ended; log in again');
    }
    const s = hub.attach(conn, account, hash);
    return { username: account.username, pending: s.pending, unread: s.unread() };
  },

  logout(ctx) {
    me(ctx);
    ctx.hub.detach(ctx.conn, true);
    return {};
  },

  delete_account(ctx, args) {
    const s = me(ctx);
    checkProof(ctx, args.nonce, args.proof, s.accountId);
    const { hub, conn } = ctx;
    const peers = hub.store.deleteAccount(s.accountId);
    hub.forgetAccount(s.username);
    hub.log.info('account_deleted', { conn: conn.id, user: s.username });
    ctx.after.push(() => {
      hub.endSession(conn, 'account_deleted');
      const ev = { kind: 'event', event: 'account_deleted', data: { username: s.username } } as const;
      for (const c of hub.toPeers(s.accountId, ev, peers)) hub.refreshCounts(c.session!.accountId);
    });
    return {};
  },

  change_password(ctx, args) {
    const s = me(ctx);
    checkProof(ctx, args.nonce, args.proof, s.accountId);
    checkKeys(args);
    const { hub } = ctx;
    hub.store.changeKeys(s.accountId, args);
    const { token, hash } = hub.store.createToken(s.accountId, Date.now(), TOKEN_TTL_MS);
    s.tokenHash = hash;
    hub.log.info('password_changed', { conn: ctx.conn.id, user: s.username });
    return { token };
  },
};
