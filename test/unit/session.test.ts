/** Session: the token hash it holds, and its unread counts by peer (kept without a map while there are none). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Session } from '../../server/session.js';
import type { Store } from '../../server/storage/store.js';

/** A store that answers only what reload asks. */
function storeWith(pending: number, rows: { peerId: number; peer: string; unread: number }[]): Store {
  return { pendingCount: () => pending, unreadByPeer: () => rows } as unknown as Store;
}

describe('Session', () => {
  test('the token hash comes back byte for byte, whatever the bytes', () => {
    for (let first = 0; first < 256; first += 32) {
      const hash = Buffer.from(Array.from({ length: 32 }, (_, i) => first + i));
      const s = new Session(1, 'ann', hash);
      assert.deepEqual(s.tokenHash, hash);
      assert.notEqual(s.tokenHash, hash, 'a copy: changing it cannot change the session');
    }
  });

  test('a token hash can be replaced and removed', () => {
    const s = new Session(1, 'ann', undefined);
    assert.equal(s.tokenHash, undefined);
    s.tokenHash = Buffer.alloc(32, 0xff);
    assert.deepEqual(s.tokenHash, Buffer.alloc(32, 0xff));
    s.tokenHash = undefined;
    assert.equal(s.tokenHash, undefined);
  });

  test('no unread messages: zero counts and an empty byPeer', () => {
    const s = new Session(1, 'ann', undefined).reload(storeWith(3, []));
    assert.equal(s.unread(), 0);
    assert.equal(s.byPeer.size, 0);
    assert.deepEqual(s.counts(), { pending: 3, unread: 0, byPeer: [] });
  });

  test('pushed messages count by sender, from none and on top of what reload found', () => {
    const s = new Session(1, 'ann', undefined).reload(storeWith(0, []));
    s.received(2, 'bob');
    s.received(2, 'bob');
    s.received(3, 'cy');
    assert.equal(s.unread(), 3);
    assert.equal(s.byPeer.get(2)?.unread, 2);
    assert.deepEqual(s.counts().byPeer, [
      { peer: 'bob', unread: 2 },
      { peer: 'cy', unread: 1 },
    ]);
    s.reload(storeWith(0, [{ peerId: 3, peer: 'cy', unread: 5 }]));
    s.received(3, 'cy');
    assert.deepEqual(s.counts(), { pending: 0, unread: 6, byPeer: [{ peer: 'cy', unread: 6 }] });
    s.reload(storeWith(0, []));
    assert.deepEqual(s.counts(), { pending: 0, unread: 0, byPeer: [] });
  });

  test('counts are a copy: changing them changes nothing in the session', () => {
    const s = new Session(1, 'ann', undefined);
    s.received(2, 'bob');
    s.counts().byPeer[0]!.unread = 99;
    assert.equal(s.unread(), 1);
  });
});
