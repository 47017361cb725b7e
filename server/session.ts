/** A logged-in connection's account, token and unread/pending counts (kept in memory while online). */
import type { Counts } from '../protocol/ops.js';
import type { Store } from './storage/store.js';

interface PeerUnread {
  peer: string;
  unread: number;
}

/** The unread counts of a session with none (most idle ones): shared, so that such a session holds no map. */
const NO_UNREAD: ReadonlyMap<number, PeerUnread> = new Map();

export class Session {
  pending = 0;
  private unreadBy: Map<number, PeerUnread> | undefined;
  /** The token hash as a latin1 string: a Buffer would add an ArrayBuffer and its backing store to every session. */
  private token: string | undefined;

  constructor(
    readonly accountId: number,
    readonly username: string,
    tokenHash: Buffer | undefined,
  ) {
    this.tokenHash = tokenHash;
  }

  /** Hash of the resume token this connection holds; revoked on logout or takeover. */
  get tokenHash(): Buffer | undefined {
    return this.token === undefined ? undefined : Buffer.from(this.token, 'latin1');
  }

  set tokenHash(hash: Buffer | undefined) {
    this.token = hash?.toString('latin1');
  }

  /** Unread messages by sender id. */
  get byPeer(): ReadonlyMap<number, PeerUnread> {
    return this.unreadBy ?? NO_UNREAD;
  }

  /** Reloads the counts from the database (after anything but a plain new message changed them). */
  reload(store: Store): this {
    this.pending = store.pendingCount(this.accountId);
    const rows = store.unreadByPeer(this.accountId);
    this.unreadBy = rows.length === 0 ? undefined : new Map(rows.map((r) => [r.peerId, { peer: r.peer, unread: r.unread }]));
    return this;
  }

  /** A message was just pushed to this session: one more unread from its sender. */
  received(senderId: number, sender: string): void {
    const e = this.unreadBy?.get(senderId);
    if (e) e.unread++;
    else (this.unreadBy ??= new Map()).set(senderId, { peer: sender, unread: 1 });
  }

  unread(): number {
    let n = 0;
    for (const e of this.byPeer.values()) n += e.unread;
    return n;
  }

  counts(): Counts {
    return { pending: this.pending, unread: this.unread(), byPeer: [...this.byPeer.values()].map((e) => ({ ...e })) };
  }
}
