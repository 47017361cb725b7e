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

  constructor(private readonly hub: Hub) {
    // While no fsync can start (two run), sends gather for the commit after one ends: one commit of many rows costs
    // far less per row than many small ones (each commit rewrites every index page it touches), and those sends
    // would have waited for that fsync anyway. Under load a batch is what one event-loop turn read (a median of about
    // 3,000 messages in the throughput benchmark), whether one fsync runs or none; at low load a send arriving during
    // an fsync is committed at once and gets its own, which usually ends with the running one.
    hub.sync.onIdle = () => this.flush();
  }

  enqueue(q: QueuedSend): void {
    if (this.queue.push(q) === 1) setImmediate(() => this.hub.sync.busy || this.flush());
  }

  /** Commits what is queued; acknowledges and pushes it once it is on disk. */
  flush(): void {
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    const { hub } = this;
    // Never backwards, so sentAt follows id order even if the clock steps back.
    const sentAt = (this.lastSentAt = Math.max(this.lastSentAt, Date.now()));
    // Who is online as each recipient now, when the row is written as pending or not.
    const online = batch.map((q) => hub.online.get(q.recipient.id));
    const rows: NewMessage[] = batch.map((q, i) => ({
      senderId: q.sender.accountId,
      recipientId: q.recipient.id,
      text: q.args.text,
      sentAt,
      pending: online[i] === undefined,
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
    hub.sync.afterSync(() => {
      // From the fsync's callback a throw would end the process; the senders re-send what was not acknowledged.
      try {
        this.deliver(batch, stored, online, sentAt);
      } catch (e) {
        hub.log.error('delivery_failed', { count: batch.length, error: (e as Error).stack ?? String(e) });
      }
    });
  }

  private deliver(batch: QueuedSend[], stored: Inserted[], online: (Connection | undefined)[], sentAt: number): void {
    const { hub } = this;
    const touched = new Set<Connection>();
    const missed: { id: number; recipientId: number }[] = [];
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
      // Stored as pending: the recipient fetches it (a login since then has counted it as pending).
      let rc = online[i];
      if (rc !== undefined) {
        rc = hub.online.get(q.recipient.id);
        if (rc?.session) {
          rc.event({ kind: 'event', event: 'message', data: { message } });
          // A session that logged in since the commit has counted this message already.
          if (rc === online[i]) {
            rc.session.received(q.sender.accountId, q.sender.username);
            touched.add(rc);
          }
        } else {
          // The recipient went offline during the fsync: the message waits for it as pending after all.
          rc = undefined;
          missed.push({ id: s.id, recipientId: q.recipient.id });
        }
      }
      q.conn.result(q.reqId, 'send', { message, delivered: rc !== undefined }, q.args);
    }
    if (missed.length > 0) this.markPending(missed);
    for (const c of touched) if (c.session) hub.pushCounts(c, c.session);
  }

  private markPending(messages: { id: number; recipientId: number }[]): void {
    try {
      this.hub.store.markPending(messages);
    } catch (e) {
      this.hub.log.error('store_failed', { count: messages.length, error: (e as Error).message });
    }
  }
}
