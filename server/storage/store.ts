/**
 * Every SQL statement the server runs, prepared once. Methods are synchronous (better-sqlite3) and each one that
 * changes several rows runs in one transaction.
 */
import type Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import type { Message } from '../../protocol/ops.js';
import { AccountIndex, type SearchPage } from './accountIndex.js';

export interface Account {
  id: number;
  username: string;
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

export interface NewKeys {
  salt: Uint8Array;
  iterations: number;
  storedKey: Uint8Array;
  serverKey: Uint8Array;
}

export interface NewMessage {
  senderId: number;
  recipientId: number;
  text: string;
  sentAt: number;
  pending: boolean;
  clientMsgId: string | undefined;
}

/**
 * A stored send: its id, or the earlier message when the clientMsgId was seen before, with whether that one has
 * reached its recipient (pushed or fetched: no longer pending).
 */
export type Inserted =
  | { id: number; duplicate: undefined }
  | { id: number; duplicate: Message; delivered: boolean };

interface MessageRow {
  id: number;
  from: string;
  to: string;
  text: string;
  sentAt: number;
  unread: number;
}

const toMessage = (r: MessageRow): Message => ({
  id: r.id,
  from: r.from,
  to: r.to,
  text: r.text,
  sentAt: r.sentAt,
  unread: r.unread === 1,
});

const MESSAGE_COLUMNS = `m.id, s.username AS "from", r.username AS "to", m.text, m.sent_at AS sentAt, m.unread
  FROM messages m JOIN accounts s ON s.id = m.sender_id JOIN accounts r ON r.id = m.recipient_id`;

/** A conversation's messages, given its lower and higher account id: the expressions of messages_by_pair. */
const pairIs = (lo: string, hi: string): string =>
  `min(m.sender_id, m.recipient_id) = ${lo} AND max(m.sender_id, m.recipient_id) = ${hi}`;
/** The same for a bound pair (lower id, higher id). */
const PAIR = pairIs('?', '?');
/** How many conversations insertMessages remembers as recorded. */
const KNOWN_PAIRS = 100_000;
const pair = (a: number, b: number): [number, number] => (a < b ? [a, b] : [b, a]);

export const hashToken = (token: string): Buffer => createHash('sha256').update(token).digest();

export class Store {
  /** The prepared statements, by name (tests check their query plans). */
  readonly s;
  /**
   * Conversations known to be in the pairs table, as lower id → higher ids (numbers, so that the check for each
   * message allocates nothing); cleared when an account, and so its pairs, is deleted.
   */
  private readonly knownPairs = new Map<number, Set<number>>();
  private knownCount = 0;
  /** Every account's name, for search; changed only with the accounts table, below. */
  private readonly names: AccountIndex;

  /**
   * Runs `f` in a transaction, through one wrapper made once: better-sqlite3's db.transaction() builds four functions
   * and their properties on every call, which cost 9.5 µs per transaction against 2.9 µs (in-memory micro-benchmark),
   * at 2,000 messages/s most of them a transaction of one message.
   */
  private readonly atomic: <T>(f: () => T) => T;

  constructor(readonly db: Database.Database) {
    const tx = db.transaction((f: () => unknown) => f());
    this.atomic = <T>(f: () => T): T => tx(f) as T;
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      metaGet: p('SELECT value FROM meta WHERE key = ?'),
      metaSet: p('INSERT INTO meta (key, value) VALUES (?, ?)'),
      accountByName: p(
        `SELECT id, username, salt, iterations, stored_key AS storedKey, server_key AS serverKey
         FROM accounts WHERE username_lc = ?`,
      ),
      accountById: p(
        `SELECT id, username, salt, iterations, stored_key AS storedKey, server_key AS serverKey
         FROM accounts WHERE id = ?`,
      ),
      accountInsert: p(
        `INSERT INTO accounts (username, username_lc, salt, iterations, stored_key, server_key, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (username_lc) DO NOTHING`,
      ),
      accountKeys: p('UPDATE accounts SET salt = ?, iterations = ?, stored_key = ?, server_key = ? WHERE id = ?'),
      accountDelete: p('DELETE FROM accounts WHERE id = ?'),
      sessionInsert: p('INSERT INTO sessions (token_hash, account_id, created_at, expires_at) VALUES (?, ?, ?, ?)'),
      sessionGet: p('SELECT account_id AS accountId FROM sessions WHERE token_hash = ? AND expires_at > ?'),
      sessionDelete: p('DELETE FROM sessions WHERE token_hash = ?'),
      sessionDeleteAll: p('DELETE FROM sessions WHERE account_id = ?'),
      sessionDeleteExpired: p('DELETE FROM sessions WHERE expires_at <= ?'),
      msgInsert: p(
        `INSERT INTO messages (sender_id, recipient_id, text, sent_at, unread, client_msg_id)
         VALUES (?, ?, ?, ?, 1, ?)
         ON CONFLICT (sender_id, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING`,
      ),
      msgByClientId: p(
        `SELECT EXISTS (SELECT 1 FROM pending p WHERE p.recipient_id = m.recipient_id AND p.message_id = m.id) AS pending,
         ${MESSAGE_COLUMNS} WHERE m.sender_id = ? AND m.client_msg_id = ?`,
      ),
      msgById: p(`SELECT ${MESSAGE_COLUMNS} WHERE m.id = ?`),
      msgOwners: p('SELECT sender_id AS senderId, recipient_id AS recipientId, unread FROM messages WHERE id = ?'),
      msgDelete: p('DELETE FROM messages WHERE id = ?'),
      pendingList: p(
        `SELECT ${MESSAGE_COLUMNS.replace('FROM messages m', 'FROM pending p JOIN messages m ON m.id = p.message_id')}
         WHERE p.recipient_id = ? ORDER BY p.message_id LIMIT ?`,
      ),
      // The rows just listed: in one transaction, the pending ones up to the last listed are exactly those.
      pendingClear: p('DELETE FROM pending WHERE recipient_id = ? AND message_id <= ?'),
      pendingAdd: p('INSERT INTO pending (recipient_id, message_id) VALUES (?, ?) ON CONFLICT DO NOTHING'),
      pendingDelete: p('DELETE FROM pending WHERE recipient_id = ? AND message_id = ?'),
      pendingDeleteAll: p('DELETE FROM pending WHERE recipient_id = ?'),
      // A recipient's pending messages of one conversation (going with it when an account is deleted).
      pendingDeletePair: p(`DELETE FROM pending WHERE recipient_id = ? AND message_id IN (SELECT m.id FROM messages m WHERE ${PAIR})`),
      pendingCount: p('SELECT count(*) AS n FROM pending WHERE recipient_id = ?'),
      unreadByPeer: p(
        `SELECT u.sender_id AS peerId, a.username AS peer, u.n AS unread
         FROM unread_counts u JOIN accounts a ON a.id = u.sender_id WHERE u.recipient_id = ?`,
      ),
      unreadGet: p('SELECT n, since FROM unread_counts WHERE recipient_id = ? AND sender_id = ?'),
      unreadAdd: p(
        `INSERT INTO unread_counts (recipient_id, sender_id, n, since) VALUES (?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET n = n + excluded.n`,
      ),
      // A conversation's count goes down; a row whose count reaches 0 is deleted (unreadDrop), so that a row always
      // means "some unread" and its `since` restarts at the next unread message.
      unreadSub: p('UPDATE unread_counts SET n = n - ?, since = max(since, ?) WHERE recipient_id = ? AND sender_id = ? RETURNING n'),
      unreadDrop: p('DELETE FROM unread_counts WHERE recipient_id = ? AND sender_id = ?'),
      unreadDropAll: p('DELETE FROM unread_counts WHERE recipient_id = ?'),
      readId: p('UPDATE messages SET unread = 0 WHERE id = ? AND recipient_id = ? AND unread = 1 RETURNING sender_id AS senderId'),
      // Only the unread stretch of the conversation (from unread_counts.since) is scanned, through messages_by_pair.
      readUpTo: p(`UPDATE messages AS m SET unread = 0 WHERE ${PAIR} AND m.id BETWEEN ? AND ? AND m.sender_id = ? AND m.unread = 1`),
      // A conversation is (lower id, higher id): messages_by_pair serves both directions, newest first.
      history: p(
        `SELECT ${MESSAGE_COLUMNS} WHERE ${PAIR} AND m.id < ? ORDER BY m.id DESC LIMIT ?`,
      ),
      pairInsert: p('INSERT INTO pairs (lo, hi) VALUES (?, ?) ON CONFLICT DO NOTHING'),
      // Each conversation partner, with the id of the last message exchanged (none left: no conversation).
      conversations: p(
        `SELECT peer, last FROM (
           SELECT peer, (SELECT max(m.id) FROM messages m WHERE ${pairIs('min(@me, peer)', 'max(@me, peer)')}) AS last
           FROM (SELECT hi AS peer FROM pairs WHERE lo = @me UNION SELECT lo FROM pairs WHERE hi = @me)
         ) WHERE last IS NOT NULL ORDER BY last DESC`,
      ),
      // A pair is stored once, as (lower id, higher id): the two halves never overlap but in the pair with oneself,
      // which peersOf drops, so UNION ALL (no temporary table to remove duplicates).
      peers: p('SELECT hi AS id FROM pairs WHERE lo = ? UNION ALL SELECT lo FROM pairs WHERE hi = ?'),
      deletePair: p(`DELETE FROM messages AS m WHERE ${PAIR}`),
      pairsDeleteLo: p('DELETE FROM pairs WHERE lo = ?'),
      pairsDeleteHi: p('DELETE FROM pairs WHERE hi = ?'),
      accountNames: p('SELECT id, username FROM accounts'),
    };
    this.names = new AccountIndex(this.s.accountNames.all() as { id: number; username: string }[]);
  }

  /** A random secret kept in the database (for the fake salts of unknown usernames), created on first use. */
  secret(name: string): Buffer {
    const row = this.s.metaGet.get(name) as { value: Buffer } | undefined;
    if (row) return row.value;
    const value = randomBytes(32);
    this.s.metaSet.run(name, value);
    return value;
  }

  accountByName(username: string): Account | undefined {
    return this.s.accountByName.get(username.toLowerCase()) as Account | undefined;
  }

  accountById(id: number): Account | undefined {
    return this.s.accountById.get(id) as Account | undefined;
  }

  /** Creates an account; undefined when the name is taken (case-insensitively). */
  createAccount(username: string, k: NewKeys, now: number): number | undefined {
    const r = this.s.accountInsert.run(
      username,
      username.toLowerCase(),
      k.salt,
      k.iterations,
      k.storedKey,
      k.serverKey,
      now,
    );
    if (r.changes !== 1) return undefined;
    const id = Number(r.lastInsertRowid);
    this.names.add(id, username);
    return id;
  }

  /** New keys, and every token of the account revoked. */
  changeKeys(accountId: number, k: NewKeys): void {
    this.atomic(() => {
      this.s.accountKeys.run(k.salt, k.iterations, k.storedKey, k.serverKey, accountId);
      this.s.sessionDeleteAll.run(accountId);
    });
  }

  /** Deletes an account with all it sent and received and its tokens; returns the ids it had conversations with. */
  deleteAccount(accountId: number): number[] {
    const account = this.accountById(accountId);
    const peers = this.atomic(() => {
      const peers = this.peersOf(accountId);
      for (const p of peers) this.s.pendingDeletePair.run(p, ...pair(accountId, p));
      this.s.pendingDeleteAll.run(accountId);
      for (const p of [...peers, accountId]) this.s.deletePair.run(...pair(accountId, p));
      for (const p of peers) this.s.unreadDrop.run(p, accountId);
      this.s.unreadDropAll.run(accountId);
      this.s.pairsDeleteLo.run(accountId);
      this.s.pairsDeleteHi.run(accountId);
      this.forgetPairs();
      this.s.sessionDeleteAll.run(accountId);
      this.s.accountDelete.run(accountId);
      return peers;
    });
    if (account) this.names.remove(account.username);
    return peers;
  }

  peersOf(accountId: number): number[] {
    return (this.s.peers.all(accountId, accountId) as { id: number }[]).map((r) => r.id).filter((id) => id !== accountId);
  }

  createToken(accountId: number, now: number, ttlMs: number): { token: string; hash: Buffer } {
    const token = randomBytes(32).toString('base64url');
    const hash = hashToken(token);
    this.s.sessionInsert.run(hash, accountId, now, now + ttlMs);
    return { token, hash };
  }

  tokenAccount(hash: Buffer, now: number): number | undefined {
    return (this.s.sessionGet.get(hash, now) as { accountId: number } | undefined)?.accountId;
  }

  revokeToken(hash: Buffer): void {
    this.s.sessionDelete.run(hash);
  }

  deleteExpiredTokens(now: number): number {
    return this.s.sessionDeleteExpired.run(now).changes;
  }

  /** Stores a batch of sends in one transaction (one commit, one fsync for all of them). */
  insertMessages(batch: readonly NewMessage[]): Inserted[] {
    try {
      return this.insertBatch(batch);
    } catch (e) {
      this.forgetPairs(); // the pairs noted in the batch were rolled back with it
      throw e;
    }
  }

  private insertBatch(batch: readonly NewMessage[]): Inserted[] {
    return this.atomic(() => {
      // New unread messages per recipient and sender: one counter update per conversation, not per message.
      const unread = new Map<number, Map<number, { n: number; first: number }>>();
      const inserted = batch.map((m): Inserted => {
        const r = this.s.msgInsert.run(m.senderId, m.recipientId, m.text, m.sentAt, m.clientMsgId);
        if (r.changes === 1) {
          const id = Number(r.lastInsertRowid);
          this.notePair(m.senderId, m.recipientId);
          if (m.pending) this.s.pendingAdd.run(m.recipientId, id);
          let bySender = unread.get(m.recipientId);
          if (!bySender) unread.set(m.recipientId, (bySender = new Map()));
          const c = bySender.get(m.senderId);
          if (c) c.n++;
          else bySender.set(m.senderId, { n: 1, first: id });
          return { id, duplicate: undefined };
        }
        const row = this.s.msgByClientId.get(m.senderId, m.clientMsgId) as MessageRow & { pending: number };
        return { id: row.id, duplicate: toMessage(row), delivered: row.pending === 0 };
      });
      for (const [recipientId, bySender] of unread)
        for (const [senderId, c] of bySender) this.s.unreadAdd.run(recipientId, senderId, c.n, c.first);
      return inserted;
    });
  }

  /** Lowers a conversation's unread count by `n` (messages from senderId to recipientId read or deleted). */
  private unreadLess(recipientId: number, senderId: number, n: number, since = 0): void {
    const row = this.s.unreadSub.get(n, since, recipientId, senderId) as { n: number } | undefined;
    if (row && row.n <= 0) this.s.unreadDrop.run(recipientId, senderId);
  }

  /** Records that two accounts have talked; the pairs known to be recorded are remembered, to skip the lookup. */
  private notePair(a: number, b: number): void {
    const lo = a < b ? a : b;
    const hi = a < b ? b : a;
    let his = this.knownPairs.get(lo);
    if (his?.has(hi)) return;
    if (this.knownCount >= KNOWN_PAIRS) {
      this.forgetPairs();
      his = undefined;
    }
    this.s.pairInsert.run(lo, hi);
    if (his === undefined) this.knownPairs.set(lo, (his = new Set()));
    his.add(hi);
    this.knownCount++;
  }

  private forgetPairs(): void {
    this.knownPairs.clear();
    this.knownCount = 0;
  }

  /** Makes messages pending again: they were stored as delivered, but their recipient left before the push. */
  markPending(messages: readonly { id: number; recipientId: number }[]): void {
    this.atomic(() => {
      for (const m of messages) this.s.pendingAdd.run(m.recipientId, m.id);
    });
  }

  message(id: number): Message | undefined {
    const r = this.s.msgById.get(id) as MessageRow | undefined;
    return r && toMessage(r);
  }

  /**
   * Takes up to `limit` pending messages, oldest first, whose encoded size fits `budget` bytes (at least one), and
   * marks them no longer pending; `drained` when no pending message is left.
   */
  takePending(
    recipientId: number,
    limit: number,
    budget: number,
    cost: (m: Message) => number,
  ): { messages: Message[]; drained: boolean } {
    return this.atomic(() => {
      const rows = (this.s.pendingList.all(recipientId, limit) as MessageRow[]).map(toMessage);
      const messages: Message[] = [];
      let used = 0;
      for (const m of rows) {
        used += cost(m);
        if (messages.length > 0 && used > budget) break;
        messages.push(m);
      }
      if (messages.length > 0) this.s.pendingClear.run(recipientId, messages[messages.length - 1]!.id);
      return { messages, drained: rows.length < limit && messages.length === rows.length };
    });
  }

  pendingCount(recipientId: number): number {
    return (this.s.pendingCount.get(recipientId) as { n: number }).n;
  }

  unreadByPeer(recipientId: number): { peerId: number; peer: string; unread: number }[] {
    return this.s.unreadByPeer.all(recipientId) as { peerId: number; peer: string; unread: number }[];
  }

  /** Marks messages read; returns how many changed. */
  markRead(recipientId: number, ids: readonly number[]): number {
    return this.atomic(() => {
      const bySender = new Map<number, number>();
      for (const id of ids) {
        const r = this.s.readId.get(id, recipientId) as { senderId: number } | undefined;
        if (r) bySender.set(r.senderId, (bySender.get(r.senderId) ?? 0) + 1);
      }
      let changed = 0;
      for (const [senderId, n] of bySender) {
        this.unreadLess(recipientId, senderId, n);
        changed += n;
      }
      return changed;
    });
  }

  /** Marks read every message from senderId to recipientId up to id `upTo`; returns how many changed. */
  markReadUpTo(recipientId: number, senderId: number, upTo: number): number {
    return this.atomic(() => {
      const c = this.s.unreadGet.get(recipientId, senderId) as { n: number; since: number } | undefined;
      if (!c || upTo < c.since) return 0;
      const changed = this.s.readUpTo.run(...pair(recipientId, senderId), c.since, upTo, senderId).changes;
      // Whatever is still unread from this sender now lies above upTo.
      this.unreadLess(recipientId, senderId, changed, upTo + 1);
      return changed;
    });
  }

  /** One page of a conversation, newest first, merged from the two directions. */
  history(me: number, peer: number, before: number, limit: number): { messages: Message[]; more: boolean } {
    const rows = this.s.history.all(...pair(me, peer), before, limit + 1) as MessageRow[];
    return { messages: rows.slice(0, limit).map(toMessage), more: rows.length > limit };
  }

  /** Each peer with the id of the last message exchanged, most recent first. */
  conversations(me: number): { peer: number; last: number }[] {
    return this.s.conversations.all({ me }) as { peer: number; last: number }[];
  }

  /**
   * Deletes the messages among `ids` that `me` sent or received. Returns what was deleted, with the other party and
   * whether it was unread, and the ids refused.
   */
  deleteMessages(
    me: number,
    ids: readonly number[],
  ): { deleted: { id: number; senderId: number; recipientId: number; unread: boolean }[]; refused: number[] } {
    return this.atomic(() => {
      const deleted: { id: number; senderId: number; recipientId: number; unread: boolean }[] = [];
      const refused: number[] = [];
      for (const id of new Set(ids)) {
        const o = this.s.msgOwners.get(id) as { senderId: number; recipientId: number; unread: number } | undefined;
        if (!o || (o.senderId !== me && o.recipientId !== me)) {
          refused.push(id);
          continue;
        }
        this.s.msgDelete.run(id);
        this.s.pendingDelete.run(o.recipientId, id);
        if (o.unread === 1) this.unreadLess(o.recipientId, o.senderId, 1);
        deleted.push({ id, senderId: o.senderId, recipientId: o.recipientId, unread: o.unread === 1 });
      }
      return { deleted, refused };
    });
  }

  /** One page of accounts matching a pattern, ordered by lower-case name, after `cursor`; and the total. */
  searchAccounts(pattern: string, cursor: string, limit: number): SearchPage {
    return this.names.search(pattern, cursor, limit);
  }
}
