/**
 * Group commit of sends: every send that arrives in one event-loop turn is stored in one transaction, and only
 * after that commit is each acknowledged and pushed, in commit (= id) order.
 */
import type { Args } from '../protocol/ops.js';
import type { Connection } from './connection.js';
import type { Hub } from './hub.js';
import type { Session } from './session.js';
import type { Inserted, NewMessage } from './storage/store.js';

interface QueuedSend {
  conn: Connection;
  reqId: number;
  args: Args<'send'>;
  sender: Session;
  recipient: { id: number; username: string };
}

export class Delivery {
  private queue: QueuedSend[] = [];
  private lastSentAt = 0;

  constructor(private readonly hub: Hub) {}

  enqueue(q: QueuedSend): void {
    if (this.queue.push(q) === 1) setImmediate(() => this.flush());
  }

  flush(): void {
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    const { hub } = this;
    // Never backwards, so sentAt follows id order even if the clock steps back.
    const sentAt = (this.lastSentAt = Math.max(this.lastSentAt, Date.now()));
    const rows: NewMessage[] = batch.map((q) => ({
      senderId: q.sender.accountId,
      recipientId: q.recipient.id,
      text: q.args.text,
      sentAt,
      pending: !hub.online.has(q.recipient.id),
      clientMsgId: q.args.clientMsgId,
    }));
    let stored: Inserted[];
    try {
      stored = hub.store.insertMessages(rows);
    } catch (e) {
      hub.log.error('store_failed', { count: batch.length, error: (e as Error).message });
      for (const q of batch)
        q.conn.error(q.reqId, { code: 'INTERNAL', message: 'the server could not store the message; try again' });
      return;
    }
    const touched = new Set<Connection>();
    for (let i = 0; i < batch.length; i++) {
      const q = batch[i]!;
      const s = stored[i]!;
      if (s.duplicate) {
        // A retry of a send that was already stored: answer as before, push nothing again.
        q.conn.result(q.reqId, 'send', { message: s.duplicate, delivered: s.delivered }, q.args);
        continue;
      }
      const message = {
        id: s.id,
        from: q.sender.username,
        to: q.recipient.username,
        text: q.args.text,
        sentAt,
        unread: true,
      };
      const rc = rows[i]!.pending ? undefined : hub.online.get(q.recipient.id);
      if (rc?.session) {
        rc.event({ kind: 'event', event: 'message', data: { message } });
        rc.session.received(q.sender.accountId, q.sender.username);
        touched.add(rc);
      }
      q.conn.result(q.reqId, 'send', { message, delivered: rc !== undefined }, q.args);
    }
    for (const c of touched) if (c.session) hub.pushCounts(c, c.session);
  }
}
