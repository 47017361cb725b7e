/** Messages: send, pending fetch, read state, conversations, history, deletion, counts. */
import { Buffer } from 'node:buffer';
import {
  FETCH_MAX,
  FETCH_MIN,
  HISTORY_DEFAULT,
  HISTORY_MAX,
  MAX_CLIENT_MSG_ID,
  MAX_IDS,
  MAX_TEXT_BYTES,
} from '../../protocol/limits.js';
import { fail, limit } from '../errors.js';
import { DEFERRED, inRange, me, messageCost, pageBudget, type Ctx, type Handlers } from './context.js';

function peerAccount(ctx: Ctx, name: string): { id: number; username: string } {
  const a = ctx.hub.findAccount(name);
  if (!a) return fail('NO_SUCH_USER', `there is no account named "${name.slice(0, 40)}"`);
  return a;
}

function checkIds(ids: readonly number[]): void {
  if (ids.length === 0) fail('BAD_REQUEST', 'ids must not be empty');
  if (ids.length > MAX_IDS) fail('TOO_MANY', `at most ${MAX_IDS} ids at a time`);
}

export const messageHandlers: Handlers<
  'send' | 'fetch_pending' | 'mark_read' | 'conversations' | 'history' | 'delete_messages' | 'counts'
> = {
  send(ctx, args) {
    const sender = me(ctx);
    // SQLite stores UTF-8: a lone surrogate would become U+FFFD in storage but not in the echo and the push.
    if (!args.text.isWellFormed()) args.text = args.text.toWellFormed(); // the check allocates nothing
    if (args.text.length === 0) fail('BAD_REQUEST', 'a message needs some text');
    // length * 3 bounds the UTF-8 size, so only long texts are measured.
    if (args.text.length * 3 > MAX_TEXT_BYTES && Buffer.byteLength(args.text) > MAX_TEXT_BYTES)
      fail('TEXT_TOO_LONG', `a message is at most ${MAX_TEXT_BYTES} bytes of UTF-8`);
    if (args.clientMsgId !== undefined && (args.clientMsgId.length === 0 || args.clientMsgId.length > MAX_CLIENT_MSG_ID))
      fail('BAD_REQUEST', `clientMsgId must be 1 to ${MAX_CLIENT_MSG_ID} characters`);
    const recipient = peerAccount(ctx, args.to);
    // When the request arrived (read once per chunk of requests) is the time to count it at.
    limit(ctx.hub.limits.sends.take(sender.accountId, ctx.conn.lastSeen), 'too many messages at once');
    ctx.hub.delivery.enqueue({ conn: ctx.conn, reqId: ctx.id, args, sender, recipient });
    return DEFERRED;
  },

  fetch_pending(ctx, args) {
    const s = me(ctx);
    const limit = inRange('limit', args.limit, FETCH_MIN, FETCH_MAX);
    const { messages, drained } = ctx.hub.store.takePending(s.accountId, limit, pageBudget(ctx), messageCost);
    // The count from login less what was taken, not a new count (that walks the whole queue); exact again when the
    // queue runs out, and counted anew if it looks empty but is not (deleted pending messages can skew it).
    const left = s.pending - messages.length;
    s.pending = drained ? 0 : left > 0 ? left : ctx.hub.store.pendingCount(s.accountId);
    // No counts event: `remaining` is the new pending count, and unread did not change (C9 pushes unread changes).
    // For someone with unread messages from thousands of people that event is a large frame to encode.
    return { messages, remaining: s.pending };
  },

  mark_read(ctx, args) {
    const s = me(ctx);
    const { store } = ctx.hub;
    let changed: number;
    if (args.ids !== undefined) {
      if (args.peer !== undefined || args.upTo !== undefined) fail('BAD_REQUEST', 'give either ids, or peer and upTo');
      checkIds(args.ids);
      changed = store.markRead(s.accountId, args.ids);
    } else {
      if (args.peer === undefined || args.upTo === undefined) fail('BAD_REQUEST', 'give either ids, or peer and upTo');
      changed = store.markReadUpTo(s.accountId, peerAccount(ctx, args.peer!).id, args.upTo!);
    }
    if (changed > 0) {
      s.reload(store);
      ctx.after.push(() => ctx.hub.pushCounts(ctx.conn, s));
    }
    return { unread: s.unread() };
  },

  counts: (ctx) => me(ctx).counts(),

  conversations(ctx) {
    const s = me(ctx);
    const { hub } = ctx;
    const conversations = [];
    let budget = pageBudget(ctx);
    for (const c of hub.store.conversations(s.accountId)) {
      const lastMessage = hub.store.message(c.last);
      if (!lastMessage) continue;
      budget -= messageCost(lastMessage);
      if (budget < 0) break; // the most recent ones fit; a person with more needs history, not this list
      const peer = lastMessage.from === s.username ? lastMessage.to : lastMessage.from;
      conversations.push({
        peer,
        lastMessage,
        unread: s.byPeer.get(c.peer)?.unread ?? 0,
        online: hub.online.has(c.peer),
      });
    }
    return { conversations };
  },

  history(ctx, args) {
    const s = me(ctx);
    const peer = peerAccount(ctx, args.peer);
    const limit = inRange('limit', args.limit ?? HISTORY_DEFAULT, 1, HISTORY_MAX);
    const page = ctx.hub.store.history(s.accountId, peer.id, args.before ?? Number.MAX_SAFE_INTEGER, limit);
    let budget = pageBudget(ctx);
    const fit = page.messages.findIndex((m, i) => (budget -= messageCost(m)) < 0 && i > 0);
    return fit < 0 ? page : { messages: page.messages.slice(0, fit), more: true };
  },

  delete_messages(ctx, args) {
    const s = me(ctx);
    checkIds(args.ids);
    const { hub } = ctx;
    const { deleted, refused } = hub.store.deleteMessages(s.accountId, args.ids);
    // Tell each other party which of its messages went, and refresh counts that an unread deletion changed.
    const byParty = new Map<number, { ids: number[]; unread: boolean }>();
    for (const d of deleted) {
      const party = d.senderId === s.accountId ? d.recipientId : d.senderId;
      const e = byParty.get(party) ?? { ids: [], unread: false };
      e.ids.push(d.id);
      if (d.unread && d.recipientId === party) e.unread = true;
      byParty.set(party, e);
    }
    const mineUnread = deleted.some((d) => d.unread && d.recipientId === s.accountId);
    ctx.after.push(() => {
      for (const [party, e] of byParty) {
        const c = party === s.accountId ? undefined : hub.online.get(party);
        if (!c) continue;
        c.event({ kind: 'event', event: 'messages_deleted', data: { ids: e.ids } });
        if (e.unread) hub.refreshCounts(party);
      }
      if (mineUnread) hub.refreshCounts(s.accountId);
    });
    return { deleted: deleted.map((d) => d.id), refused };
  },
};
