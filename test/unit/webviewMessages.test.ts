/**
 * The host ↔ webview contract (webview/messages.ts): every member of each union is accepted, and malformed ones
 * (missing, extra or mistyped fields, unknown kinds, out-of-range values) are refused, on both sides.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as limits from '../../protocol/limits.js';
import {
  FETCH_MAX,
  HISTORY_MAX,
  isFromWebview,
  isToWebview,
  isViewState,
  MAX_IDS,
  MAX_PATTERN,
  MAX_TEXT_BYTES,
  PAGE_MAX,
  USERNAME_RE,
  VIEW_COMMANDS,
  VIEW_OPS,
  type ChatMessage,
  type FromWebview,
  type ReplyOk,
  type ToWebview,
  type ViewArgs,
  type ViewEvent,
  type ViewOp,
  type ViewResult,
  type ViewState,
} from '../../webview/messages.js';

const msg: ChatMessage = { id: 7, from: 'bob', to: 'alice', text: '<img src=x onerror=alert(1)>', sentAt: 1_700_000_000_000, unread: true };

const state: ViewState = {
  server: '127.0.0.1:5000',
  connection: 'online',
  username: 'alice',
  pending: 3,
  unread: 2,
  byPeer: [{ peer: 'bob', unread: 2 }],
  outbox: [{ localId: 'a1', to: 'bob', text: 'hi', createdAt: 1, status: 'failed', error: 'There is no such account.' }],
};

/** One valid example of every operation: its arguments and its result. */
const OPS: { [K in ViewOp]: { args: ViewArgs<K>; result: ViewResult<K> } } = {
  connect: { args: {}, result: {} },
  start_server: { args: {}, result: {} },
  signup: { args: { username: 'alice', password: 'a long passphrase' }, result: { username: 'alice' } },
  login: { args: { username: 'alice', password: 'pw' }, result: { username: 'Alice', pending: 3, unread: 0 } },
  logout: { args: {}, result: {} },
  conversations: { args: {}, result: { conversations: [{ peer: 'bob', lastMessage: msg, unread: 1, online: true }] } },
  history: { args: { peer: 'bob', before: null, limit: 50 }, result: { messages: [msg], more: false } },
  mark_read: { args: { peer: 'bob', upTo: 7 }, result: { unread: 0 } },
  fetch_pending: { args: { limit: 2 }, result: { messages: [msg, { ...msg, id: 8 }], remaining: 1 } },
  list_accounts: {
    args: { pattern: 'b*', cursor: null, limit: 20 },
    result: { accounts: [{ username: 'bob', online: false }], total: 1, cursor: null },
  },
  delete_messages: { args: { ids: [7, 8] }, result: { deleted: [7], refused: [8] } },
  delete_account: { args: { password: 'pw' }, result: {} },
};
const opNames = Object.keys(OPS) as ViewOp[];

/** One valid example of every FromWebview type (every request op too). */
const FROM: Record<Exclude<FromWebview['type'], 'request'>, FromWebview> = {
  ready: { type: 'ready' },
  command: { type: 'command', command: 'jochat.showLog' },
  viewing: { type: 'viewing', peer: 'bob' },
  open_settings: { type: 'open_settings' },
  send: { type: 'send', localId: 'c0ffee', to: 'bob', text: 'hello\nworld' },
  retry: { type: 'retry', localId: 'c0ffee' },
  discard: { type: 'discard', localId: 'c0ffee' },
};
const requests = opNames.map((op, i) => ({ type: 'request', reqId: i + 1, op, args: OPS[op].args }) as FromWebview);
const fromExamples: FromWebview[] = [...Object.values(FROM), { type: 'viewing', peer: null }, ...requests];

const EVENTS: Record<ViewEvent['kind'], ViewEvent> = {
  message: { kind: 'message', message: msg },
  sent: { kind: 'sent', localId: 'c0ffee', message: { ...msg, from: 'alice', to: 'bob' } },
  messages_deleted: { kind: 'messages_deleted', ids: [7] },
  presence: { kind: 'presence', username: 'bob', online: false },
  account_deleted: { kind: 'account_deleted', username: 'bob' },
  session_ended: { kind: 'session_ended', reason: 'signed_in_elsewhere' },
};
const replies = opNames.map((op, i) => ({ type: 'reply', reqId: i + 1, ok: true, op, result: OPS[op].result }) as ReplyOk);
const TO: Record<Exclude<ToWebview['type'], 'reply' | 'event'>, ToWebview> = {
  state: { type: 'state', state },
  open: { type: 'open', peer: 'bob' },
};
const toExamples: ToWebview[] = [
  ...Object.values(TO),
  { type: 'state', state: { ...state, username: null, connection: 'offline', outbox: [] } },
  ...Object.values(EVENTS).map((event): ToWebview => ({ type: 'event', event })),
  ...replies,
  { type: 'reply', reqId: 3, ok: false, error: { message: 'Wrong username or password.', field: 'password' } },
  { type: 'reply', reqId: 4, ok: false, error: { message: 'That username is taken.', field: 'username' } },
  { type: 'reply', reqId: 5, ok: false, error: { message: 'JoChat is not connected to its server.', field: null } },
];

const clone = <T>(v: T): T => structuredClone(v);
type Json = Record<string, unknown>;

/** Values no field of this kind can take: every field's schema refuses each of them. */
function wrongFor(v: unknown): unknown[] {
  if (typeof v === 'string') return [42, [], {}];
  if (typeof v === 'number') return ['x', -1, 1.5];
  if (typeof v === 'boolean') return ['x', 1];
  if (Array.isArray(v)) return ['x', {}];
  if (v === null) return [[], {}];
  return ['x', []];
}

/** Every way to break an object by one field: each field removed, each set to a wrong kind, one extra field. */
function* mutations(v: Json, path = ''): Generator<[string, Json]> {
  for (const k of Object.keys(v)) {
    const without = clone(v);
    delete without[k];
    yield [`${path}${k} removed`, without];
    for (const bad of wrongFor(v[k])) {
      const changed = clone(v);
      changed[k] = bad;
      yield [`${path}${k} = ${JSON.stringify(bad)}`, changed];
    }
  }
  yield [`${path}extra field`, { ...clone(v), extra: 1 }];
}

describe('webview messages: host → webview', () => {
  test('every member of ToWebview is accepted', () => {
    for (const m of toExamples) assert.ok(isToWebview(m), JSON.stringify(m));
    assert.deepEqual(new Set(replies.map((r) => r.op)), new Set(Object.keys(VIEW_OPS)), 'a reply for every op');
  });

  test('a message broken in any one field is refused', () => {
    for (const m of toExamples)
      for (const [how, bad] of mutations(m as unknown as Json))
        assert.equal(isToWebview(bad), false, `${m.type}: ${how}: ${JSON.stringify(bad)}`);
  });

  test('the state snapshot is checked field by field, nested ones too', () => {
    assert.ok(isViewState(state));
    for (const [how, bad] of mutations(state as unknown as Json)) assert.equal(isViewState(bad), false, how);
    const outbox = state.outbox[0] as unknown as Json;
    for (const [how, bad] of mutations(outbox, 'outbox[0].')) assert.equal(isViewState({ ...state, outbox: [bad] }), false, how);
    for (const [how, bad] of mutations(state.byPeer[0] as unknown as Json, 'byPeer[0].'))
      assert.equal(isViewState({ ...state, byPeer: [bad] }), false, how);
    assert.equal(isViewState({ ...state, connection: 'sleeping' }), false);
    assert.equal(isViewState({ ...state, unread: -1 }), false);
    assert.equal(isViewState({ ...state, pending: 2 ** 60 }), false);
    assert.equal(isViewState({ ...state, outbox: [{ ...state.outbox[0], status: 'lost' }] }), false);
  });

  test('events: every kind, and messages inside them, are checked', () => {
    for (const e of Object.values(EVENTS)) assert.ok(isToWebview({ type: 'event', event: e }));
    assert.equal(isToWebview({ type: 'event', event: { kind: 'counts', pending: 0 } }), false);
    assert.equal(isToWebview({ type: 'event', event: { kind: 'message', message: { ...msg, id: 0 } } }), false);
    assert.equal(isToWebview({ type: 'event', event: { kind: 'message', message: { ...msg, text: 42 } } }), false);
    assert.equal(isToWebview({ type: 'event', event: { kind: 'messages_deleted', ids: ['7'] } }), false);
    assert.equal(isToWebview({ type: 'event', event: { kind: 'sent', localId: '', message: msg } }), false);
    for (const [how, bad] of mutations(msg as unknown as Json, 'message.'))
      assert.equal(isToWebview({ type: 'event', event: { kind: 'message', message: bad } }), false, how);
  });

  test("a reply's result must fit its op", () => {
    assert.equal(isToWebview({ type: 'reply', reqId: 1, ok: true, op: 'history', result: OPS.conversations.result }), false);
    assert.equal(isToWebview({ type: 'reply', reqId: 1, ok: true, op: 'login', result: {} }), false);
    assert.equal(isToWebview({ type: 'reply', reqId: 1, ok: true, op: 'nope', result: {} }), false);
    assert.equal(isToWebview({ type: 'reply', reqId: 0, ok: true, op: 'logout', result: {} }), false);
    assert.equal(isToWebview({ type: 'reply', reqId: 1, ok: 'yes', op: 'logout', result: {} }), false);
    assert.equal(isToWebview({ type: 'reply', reqId: 1, ok: false, error: { message: 'x', field: 'email' } }), false);
    assert.equal(isToWebview({ type: 'reply', reqId: 1, ok: false, error: 'x' }), false);
  });

  test('non-objects and unknown types are refused', () => {
    for (const v of [null, undefined, 0, 'state', [], [TO.state], { type: 'bogus' }, { type: 'open', peer: 5 }])
      assert.equal(isToWebview(v), false, JSON.stringify(v));
  });
});

describe('webview messages: webview → host', () => {
  test('every member of FromWebview is accepted, a request for every op', () => {
    for (const m of fromExamples) assert.ok(isFromWebview(m), JSON.stringify(m));
    for (const c of VIEW_COMMANDS) assert.ok(isFromWebview({ type: 'command', command: c }));
  });

  test('a message broken in any one field is refused', () => {
    for (const m of fromExamples)
      for (const [how, bad] of mutations(m as unknown as Json))
        assert.equal(isFromWebview(bad), false, `${m.type}: ${how}: ${JSON.stringify(bad)}`);
  });

  test("a request's arguments are checked against its op", () => {
    for (const op of opNames) {
      const args = OPS[op].args as Json;
      for (const [how, bad] of mutations(args, `${op}.`)) {
        assert.equal(isFromWebview({ type: 'request', reqId: 1, op, args: bad }), false, how);
      }
    }
    const req = (op: string, args: unknown) => isFromWebview({ type: 'request', reqId: 1, op, args });
    assert.equal(req('drop_tables', {}), false);
    assert.equal(req('login', { username: 'no spaces allowed', password: 'pw' }), false);
    assert.equal(req('login', { username: 'x'.repeat(33), password: 'pw' }), false);
    assert.equal(req('signup', { username: 'alice', password: '' }), false);
    assert.equal(req('signup', { username: 'alice', password: 'p'.repeat(1025) }), false);
    assert.equal(req('history', { peer: 'bob', before: 0, limit: 10 }), false);
    assert.equal(req('history', { peer: 'bob', before: null, limit: HISTORY_MAX + 1 }), false);
    assert.equal(req('history', { peer: 'bob', before: null, limit: 0 }), false);
    assert.equal(req('fetch_pending', { limit: FETCH_MAX + 1 }), false);
    assert.equal(req('fetch_pending', { limit: 1.5 }), false);
    assert.equal(req('list_accounts', { pattern: 'x'.repeat(MAX_PATTERN + 1), cursor: null, limit: 20 }), false);
    assert.equal(req('list_accounts', { pattern: '', cursor: null, limit: PAGE_MAX + 1 }), false);
    assert.equal(req('delete_messages', { ids: [] }), false);
    assert.equal(req('delete_messages', { ids: Array.from({ length: MAX_IDS + 1 }, (_, i) => i + 1) }), false);
    assert.equal(req('delete_messages', { ids: [-3] }), false);
    assert.equal(req('mark_read', { peer: 'bob', upTo: 0 }), false);
    assert.equal(isFromWebview({ type: 'request', reqId: -1, op: 'logout', args: {} }), false);
    assert.equal(isFromWebview({ type: 'request', reqId: 1.5, op: 'logout', args: {} }), false);
  });

  test('sends: a real recipient and text the server would take', () => {
    const send = (to: unknown, text: unknown, localId: unknown = 'x1') => isFromWebview({ type: 'send', localId, to, text });
    assert.ok(send('bob', 'x'));
    assert.ok(send('bob', 'é'.repeat(MAX_TEXT_BYTES / 2)));
    assert.equal(send('bob', 'é'.repeat(MAX_TEXT_BYTES / 2 + 1)), false, 'over the limit in UTF-8 bytes');
    assert.equal(send('bob', ''), false);
    assert.equal(send('bob', ' \n\t '), false, 'blank');
    assert.equal(send('bob smith', 'x'), false);
    assert.equal(send('bob', 'x', ''), false);
    assert.equal(send('bob', 'x', 'y'.repeat(65)), false);
  });

  test('commands: only the whitelisted ones', () => {
    for (const command of ['workbench.action.terminal.new', 'jochat.stopServer', '', 42])
      assert.equal(isFromWebview({ type: 'command', command }), false, String(command));
  });

  test('non-objects and unknown types are refused', () => {
    for (const v of [null, undefined, 1, 'ready', [], [{ type: 'ready' }], { type: 'READY' }, { type: 'viewing', peer: 'a b' }])
      assert.equal(isFromWebview(v), false, JSON.stringify(v));
  });
});

test("the view's limits are the protocol's", () => {
  assert.equal(MAX_TEXT_BYTES, limits.MAX_TEXT_BYTES);
  assert.equal(FETCH_MAX, limits.FETCH_MAX);
  assert.equal(PAGE_MAX, limits.PAGE_MAX);
  assert.equal(HISTORY_MAX, limits.HISTORY_MAX);
  assert.equal(MAX_IDS, limits.MAX_IDS);
  assert.equal(MAX_PATTERN, limits.MAX_PATTERN);
  assert.equal(USERNAME_RE.source, limits.USERNAME_RE.source);
});
