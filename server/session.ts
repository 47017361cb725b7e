/** A logged-in connection's account, token and unread/pending counts (kept in memory while online). */
import type { Counts } from '../protocol/ops.js';
import type { Store } from './storage/store.js';

export class Session {
  pending = 0;
  /** Unread messages by sender id. */
  byPeer = new Map<number, { peer: string; unread: number }>();

  constructor(
    readonly accountId: number,
    readonly username: string,
    /** Hash of the resume token this connection holds; revoked on logout or takeover. */
    public tokenHash: Buffer | undefined,
  ) {}

  /** Reloads the counts from the database (after anything but a plain new message changed them). */
  reload(store: Store): this {
    this.pending = store.pendingCount(this.accountId);
    this.byPeer = new Map(store.unreadByPeer(this.accountId).map((r) => [r.peerId, { peer: r.peer, unread: r.unread }]));
    return this;
  }

  /** A message was just pushed to this session: one more unread from its sender. */
  received(senderId: number, sender: string): void {
    const e = this.byPeer.get(senderId);
    if (e) e.unread++;
    else this.byPeer.set(senderId, { peer: sender, unread: 1 });
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
