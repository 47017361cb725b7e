/** The idle sweep: silent connections are closed, but not by a sweep that comes late because the server stalled. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../server/config.js';
import type { Connection } from '../../server/connection.js';
import { Hub } from '../../server/hub.js';
import { Logger } from '../../server/log.js';
import { openDatabase } from '../../server/storage/db.js';
import { Store } from '../../server/storage/store.js';
import { WalSync } from '../../server/storage/walSync.js';

function hubWithIdleTimeout(seconds: number): Hub {
  const parsed = parseConfig(['--idle-timeout', String(seconds)], {});
  assert.ok(!parsed.help);
  return new Hub(new Store(openDatabase(':memory:')), new WalSync(undefined, assert.fail), parsed.config, new Logger('error', () => {}));
}

/** A logged-out connection last heard from at `lastSeen`, which records whether it was closed. */
function silent(hub: Hub, lastSeen: number): { closed: boolean } {
  const c = { closed: false, lastSeen, session: undefined, id: 1, remote: 'test', close: () => (c.closed = true) };
  hub.connections.add(c as unknown as Connection);
  return c;
}

test('a connection silent past the idle timeout is closed by the next sweep, an active one is not', () => {
  const hub = hubWithIdleTimeout(10);
  const old = silent(hub, 0);
  const recent = silent(hub, 9_000);
  hub.sweep(8_000);
  assert.equal(old.closed, false);
  hub.sweep(10_500);
  assert.deepEqual([old.closed, recent.closed], [true, false]);
});

test('a sweep that runs long after the previous one (the server stalled) closes nothing; the next one judges', () => {
  const hub = hubWithIdleTimeout(10);
  hub.sweep(1_000);
  const c = silent(hub, 0);
  hub.sweep(30_000); // 29 s since the last sweep: what the client sent meanwhile has not been read yet
  assert.equal(c.closed, false);
  hub.sweep(32_500);
  assert.equal(c.closed, true);
});
