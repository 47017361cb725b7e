/**
 * Schema migrations, applied in order; PRAGMA user_version records how many have run. Never edit a released
 * migration: add a new one.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;

  CREATE TABLE accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL,
    -- Usernames are ASCII, so lower() is exact; uniqueness and search are case-insensitive through it.
    username_lc TEXT NOT NULL UNIQUE,
    salt BLOB NOT NULL,
    iterations INTEGER NOT NULL,
    stored_key BLOB NOT NULL,
    server_key BLOB NOT NULL,
    created_at INTEGER NOT NULL
  );

  -- Resume tokens, only as SHA-256 hashes.
  CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX sessions_by_account ON sessions(account_id);
  CREATE INDEX sessions_by_expiry ON sessions(expires_at);

  -- AUTOINCREMENT: a deleted message's id is never handed out again.
  CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sender_id INTEGER NOT NULL,
    recipient_id INTEGER NOT NULL,
    text TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    pending INTEGER NOT NULL,
    unread INTEGER NOT NULL,
    client_msg_id TEXT
  );
  -- History in each direction, conversations, and deleting an account's messages.
  CREATE INDEX messages_by_sender ON messages(sender_id, recipient_id, id);
  CREATE INDEX messages_by_recipient ON messages(recipient_id, sender_id, id);
  -- Partial indexes stay small: most messages are neither pending nor unread for long.
  CREATE INDEX messages_pending ON messages(recipient_id, id) WHERE pending = 1;
  CREATE INDEX messages_unread ON messages(recipient_id, sender_id) WHERE unread = 1;
  CREATE UNIQUE INDEX messages_client_id ON messages(sender_id, client_msg_id) WHERE client_msg_id IS NOT NULL;
  `,
  // 2: one index per conversation instead of one per direction, and who has talked with whom in a small table.
  // Every index a message enters costs its commit a page write per conversation in the batch: the two direction
  // indexes were the largest part of a send's cost.
  `
  CREATE INDEX messages_by_pair ON messages(min(sender_id, recipient_id), max(sender_id, recipient_id), id);
  CREATE TABLE pairs (lo INTEGER NOT NULL, hi INTEGER NOT NULL, PRIMARY KEY (lo, hi)) WITHOUT ROWID;
  CREATE INDEX pairs_by_hi ON pairs(hi, lo);
  INSERT INTO pairs (lo, hi)
    SELECT DISTINCT min(sender_id, recipient_id), max(sender_id, recipient_id) FROM messages;
  DROP INDEX messages_by_sender;
  DROP INDEX messages_by_recipient;
  `,
  // 3: the messages waiting for their recipient, in a small table of their own. A fetch deletes a range of it
  // instead of rewriting ~100 message rows scattered over the file, every page of which its commit writes again.
  `
  CREATE TABLE pending (
    recipient_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    PRIMARY KEY (recipient_id, message_id)
  ) WITHOUT ROWID;
  INSERT INTO pending (recipient_id, message_id) SELECT recipient_id, id FROM messages WHERE pending = 1;
  DROP INDEX messages_pending;
  ALTER TABLE messages DROP COLUMN pending;
  `,
  // 4: unread counts per conversation instead of a partial index over the messages. Every message entered that index
  // (1.7 µs of CPU each, and a page write per conversation per commit); a batch of sends now updates one counter row
  // per conversation. `since` bounds where a conversation's unread messages start: every message from sender_id to
  // recipient_id with a lower id is read, so marking "up to N" scans only the unread stretch.
  `
  CREATE TABLE unread_counts (
    recipient_id INTEGER NOT NULL,
    sender_id INTEGER NOT NULL,
    n INTEGER NOT NULL,
    since INTEGER NOT NULL,
    PRIMARY KEY (recipient_id, sender_id)
  ) WITHOUT ROWID;
  INSERT INTO unread_counts (recipient_id, sender_id, n, since)
    SELECT recipient_id, sender_id, count(*), min(id) FROM messages WHERE unread = 1 GROUP BY recipient_id, sender_id;
  DROP INDEX messages_unread;
  `,
];
