/**
 * Bulk loader: writes accounts, resume tokens and messages straight into a database file created with the server's
 * own schema (server/storage/db.ts → migrations.ts), before the server is started on it. Far faster than the
 * network, and it gives the benchmarks data at a scale (100,000 accounts, 1,000,000 messages) no test could build
 * through sends.
 */
import { randomBytes } from 'node:crypto';
import { openDatabase } from '../server/storage/db.js';
import { hashToken } from '../server/storage/store.js';
import { TOKEN_TTL_MS } from '../protocol/limits.js';
import { deriveKeys } from '../protocol/scram.js';

export interface BenchKeys {
  password: string;
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** One key derivation shared by every bench account (same password and salt): the server's work is the same. */
export async function benchKeys(password: string, iterations: number): Promise<BenchKeys> {
  const k = await deriveKeys(password, Buffer.from('jochat-bench-salt'), iterations);
  return { password, salt: k.salt, iterations, storedKey: k.storedKey, serverKey: k.serverKey };
}

type DB = ReturnType<typeof openDatabase>;

function open(file: string): DB {
  const db = openDatabase(file);
  // Loading only: nothing here needs to survive a crash, and a big cache keeps the index inserts in memory.
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -1000000');
  db.pragma('journal_mode = OFF');
  return db;
}

/**
 * Records who has talked with whom and the unread counts per conversation (the server keeps both as it stores each
 * message), then back to WAL mode.
 */
function close(db: DB): void {
  db.exec(`INSERT INTO pairs (lo, hi) SELECT DISTINCT min(sender_id, recipient_id), max(sender_id, recipient_id)
           FROM messages WHERE true ON CONFLICT DO NOTHING`);
  db.exec(`DELETE FROM unread_counts;
           INSERT INTO unread_counts (recipient_id, sender_id, n, since)
           SELECT recipient_id, sender_id, count(*), min(id) FROM messages WHERE unread = 1 GROUP BY recipient_id, sender_id`);
  db.pragma('journal_mode = WAL');
  db.close();
}

function insertAccounts(db: DB, names: readonly string[], k: BenchKeys, now: number): number[] {
  const ins = db.prepare(
    `INSERT INTO accounts (username, username_lc, salt, iterations, stored_key, server_key, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  return db.transaction(() =>
    names.map((n) => Number(ins.run(n, n.toLowerCase(), k.salt, k.iterations, k.storedKey, k.serverKey, now).lastInsertRowid)),
  )();
}

function insertTokens(db: DB, ids: readonly number[], now: number): string[] {
  const ins = db.prepare('INSERT INTO sessions (token_hash, account_id, created_at, expires_at) VALUES (?, ?, ?, ?)');
  return db.transaction(() =>
    ids.map((id) => {
      const token = randomBytes(32).toString('base64url');
      ins.run(hashToken(token), id, now, now + TOKEN_TTL_MS);
      return token;
    }),
  )();
}

export interface History {
  /** Conversation partners per account (other accounts of the same batch). */
  peers: number;
  /** Messages each account has sent; the newest `unread` of those it received are unread. */
  messagesEach: number;
  unread: number;
}

/**
 * Accounts (and, when asked, one resume token each) in a new database file; with `history`, each account has
 * conversations with a few others of the batch, so a login has real work to do (presence to peers, unread counts).
 */
export function createAccounts(file: string, names: readonly string[], k: BenchKeys, withTokens: boolean, history?: History): string[] {
  const db = open(file);
  try {
    const now = Date.now();
    const ids = insertAccounts(db, names, k, now);
    if (history) {
      const ins = db.prepare(
        `INSERT INTO messages (sender_id, recipient_id, text, sent_at, unread, client_msg_id) VALUES (?, ?, ?, ?, ?, ?)`,
      );
      const n = ids.length;
      const total = n * history.messagesEach;
      db.transaction(() => {
        for (let m = 0; m < total; m++) {
          // Round by round, so each account's last messages are the newest: those received in the last rounds are unread.
          const round = Math.floor(m / n);
          const i = m % n;
          const j = (i + 1 + ((round % history.peers) * 7919) % (n - 1)) % n;
          const unread = round >= history.messagesEach - history.unread ? 1 : 0;
          ins.run(ids[i], ids[j], `history message ${m} between two bench accounts`, now - (total - m) * 1000, unread, `h${m}`);
        }
      })();
    }
    return withTokens ? insertTokens(db, ids, now) : [];
  } finally {
    close(db);
  }
}

// ---- workload 6: data at scale ----

const FIRST = `anna hannah joanne marie maria mark martin lee leon lena ali alice kalina bob robert sam samuel sara
  john jon jonas karl carla chen wei yuki kenji ola olaf nina tina tom thomas eva evan ivan igor omar amir lucas luca
  mia emma noah liam zoe chloe david dave paul pablo pedro rosa rose ruth sofia sven hugo inez julia julian`.split(/\s+/);
const LAST = `smith jones lee park kim nguyen garcia martin bernard muller schmidt rossi ricci silva santos costa
  ivanov novak kowalski horvat jensen hansen olsen berg lind dahl moreau petit roux fontaine weber wagner becker
  hoffmann tanaka suzuki sato ito kato wong chan ng tan lim ali khan shah patel singh kumar das sen`.split(/\s+/);
const SEP = ['', '.', '_', '-'];

/** A deterministic pseudo-random generator (mulberry32), so every run loads the same data. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = `hello thanks see you tomorrow meeting review merge branch build failed fixed the test lunch coffee
  deploy tonight ticket done please check pull request looks good approved question about the spec can we talk
  later today sure ok great nice release notes ready`.split(/\s+/);

export interface ScaleInfo {
  accounts: number;
  messages: number;
  seconds: number;
  fileMiB: number;
  /** Logged-in probes: tokens for resume. */
  probe: { token: string; peer: string; conversation: number; firstId: number; lastId: number };
  pendingUsers: { token: string; pending: number }[];
  /** Users with a deep pending queue (one per measured server setting). */
  deep: { token: string; pending: number }[];
  /** Substring and glob patterns with how many accounts each matches. */
  patterns: { substring: { pattern: string; matches: number }[]; glob: { pattern: string; matches: number }[] };
}

export interface ScaleOptions {
  accounts: number;
  messages: number;
  /** Messages in the probe's one long conversation (history pages). */
  conversation: number;
  pendingUsers: number;
  pendingEach: number;
  deepUsers: number;
  deepPending: number;
}

/**
 * 100,000 accounts with realistic names and 1,000,000 messages: each account talks with a small circle of peers
 * (some far more active than others), about 3% of messages are pending and the newest ~10% unread; plus probe
 * accounts with known shapes: one long conversation, users with a known number of pending messages, and one with a
 * deep pending queue.
 */
export function loadScale(file: string, k: BenchKeys, o: ScaleOptions): ScaleInfo {
  const t0 = performance.now();
  const rand = rng(0x10c4a7);
  const names: string[] = [];
  const seen = new Set<string>();
  const add = (n: string): void => {
    if (!seen.has(n.toLowerCase())) {
      seen.add(n.toLowerCase());
      names.push(n);
    }
  };
  add('probe');
  add('probe_peer');
  for (let i = 0; i < o.deepUsers; i++) add(`deep${i}`);
  for (let i = 0; i < o.pendingUsers; i++) add(`pend${String(i).padStart(3, '0')}`);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
  while (names.length < o.accounts) {
    const first = pick(FIRST);
    const cap = rand() < 0.3 ? first[0]!.toUpperCase() + first.slice(1) : first;
    const r = rand();
    const n = r < 0.5 ? cap + pick(SEP) + pick(LAST) : r < 0.8 ? cap + Math.floor(rand() * 10000) : cap + pick(SEP) + pick(LAST) + Math.floor(rand() * 100);
    if (n.length <= 32) add(n);
  }

  const db = open(file);
  try {
    const now = Date.now();
    const ids = insertAccounts(db, names, k, now);
    const [probe, peer] = [ids[0]!, ids[1]!];
    const deepIds = ids.slice(2, 2 + o.deepUsers);
    const pendIds = ids.slice(2 + o.deepUsers, 2 + o.deepUsers + o.pendingUsers);
    const crowd = ids.slice(2 + o.deepUsers + o.pendingUsers);

    const ins = db.prepare(
      `INSERT INTO messages (sender_id, recipient_id, text, sent_at, unread, client_msg_id) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    const pend = db.prepare('INSERT INTO pending (recipient_id, message_id) VALUES (?, ?)');
    // Texts of 20–160 bytes from a small vocabulary.
    const texts = Array.from({ length: 4096 }, () => {
      let s = '';
      const len = 20 + Math.floor(rand() * 140);
      while (s.length < len) s += pick(WORDS) + ' ';
      return s.trim();
    });
    const special = o.conversation + o.pendingUsers * o.pendingEach + o.deepUsers * o.deepPending;
    const total = Math.max(o.messages, special);
    // Special messages are spread through the whole id range, like real traffic interleaved with everyone else's.
    const plan: number[] = new Array(total).fill(0);
    const mark = (count: number, code: number): void => {
      for (let i = 0; i < count; i++) {
        let j = Math.floor(rand() * total);
        while (plan[j] !== 0) j = (j + 1) % total;
        plan[j] = code;
      }
    };
    mark(o.conversation, 1);
    mark(o.pendingUsers * o.pendingEach, 2);
    mark(o.deepUsers * o.deepPending, 3);
    const t1 = now - 365 * 24 * 3600 * 1000;
    const step = (now - t1) / total;
    let firstConv = 0;
    let lastConv = 0;
    let pendTurn = 0;
    let deepTurn = 0;
    const pendCount = new Array(o.pendingUsers).fill(0);
    db.transaction(() => {
      for (let i = 0; i < total; i++) {
        const sentAt = Math.floor(t1 + i * step);
        const text = texts[i & 4095]!;
        const cmid = 'bulk' + i.toString(36);
        const recent = i > total * 0.9;
        let s: number;
        let r: number;
        let pending = 0;
        let unread = recent && rand() < 0.5 ? 1 : 0;
        switch (plan[i]) {
          case 1:
            [s, r] = rand() < 0.5 ? [probe, peer] : [peer, probe];
            break;
          case 2: {
            const u = pendTurn++ % o.pendingUsers;
            pendCount[u]++;
            s = pick(crowd);
            r = pendIds[u]!;
            pending = 1;
            unread = 1;
            break;
          }
          case 3:
            s = pick(crowd);
            r = deepIds[deepTurn++ % o.deepUsers]!;
            pending = 1;
            unread = 1;
            break;
          default: {
            // Activity is skewed: low indexes send far more. Each account writes to one of ~10 friends.
            const si = Math.floor(crowd.length * rand() ** 2);
            s = crowd[si]!;
            const f = Math.floor(rand() * 10);
            r = crowd[(si * 7919 + f * 104_729 + 1) % crowd.length]!;
            if (rand() < 0.03) pending = unread = 1;
          }
        }
        const id = Number(ins.run(s, r, text, sentAt, unread, cmid).lastInsertRowid);
        if (pending) pend.run(r, id);
        if (plan[i] === 1) {
          firstConv ||= id;
          lastConv = id;
        }
      }
    })();
    const [probeToken, ...more] = insertTokens(db, [probe, ...deepIds, ...pendIds], now);
    const deepTokens = more.slice(0, o.deepUsers);
    const pendTokens = more.slice(o.deepUsers);
    const count = (like: string): number =>
      (db.prepare(`SELECT count(*) AS n FROM accounts WHERE username_lc LIKE ? ESCAPE '\\'`).get(like) as { n: number }).n;
    const substring = ['ann', 'lee', 'ma', 'berg', 'x7'].map((p) => ({ pattern: p, matches: count(`%${p}%`) }));
    const glob = ['ann*', 'mar?n*', '*smith', 'j*n*e*'].map((p) => ({
      pattern: p,
      matches: count(p.replace(/\*/g, '%').replace(/\?/g, '_')),
    }));
    const pages = db.pragma('page_count', { simple: true }) as number;
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    return {
      accounts: names.length,
      messages: total,
      seconds: (performance.now() - t0) / 1000,
      fileMiB: (pages * pageSize) / 1048576,
      probe: { token: probeToken!, peer: 'probe_peer', conversation: o.conversation, firstId: firstConv, lastId: lastConv },
      pendingUsers: pendTokens.map((token, i) => ({ token, pending: pendCount[i] as number })),
      deep: deepTokens.map((token) => ({ token, pending: o.deepPending })),
      patterns: { substring, glob },
    };
  } finally {
    close(db);
  }
}
