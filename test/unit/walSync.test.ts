/** WalSync: nothing is answered before the fsync that covers it, and commits made during an fsync share the next. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WalSync, type Fsync } from '../../server/storage/walSync.js';

/** A WalSync over a real file whose fsyncs the test completes by hand. */
function manual() {
  const pending: ((e: NodeJS.ErrnoException | null) => void)[] = [];
  const fsync: Fsync = (_fd, done) => pending.push(done);
  const errors: Error[] = [];
  const fd = openSync(join(mkdtempSync(join(tmpdir(), 'walsync-')), 'wal'), 'w');
  const sync = new WalSync(fd, (e) => errors.push(e), fsync);
  const finish = (e: NodeJS.ErrnoException | null = null) => pending.shift()!(e);
  return { sync, pending, finish, errors };
}

describe('WalSync', () => {
  test('a callback runs only once an fsync started after it has finished', () => {
    const { sync, pending, finish } = manual();
    const got: string[] = [];
    sync.afterSync(() => got.push('a'));
    assert.equal(pending.length, 1);
    assert.equal(sync.busy, true);
    assert.deepEqual(got, []);
    finish();
    assert.deepEqual(got, ['a']);
    assert.equal(sync.busy, false);
  });

  test('commits made while an fsync runs wait for the next one, and all of them share it', () => {
    const { sync, pending, finish } = manual();
    const got: string[] = [];
    sync.afterSync(() => got.push('a'));
    sync.afterSync(() => got.push('b'));
    sync.afterSync(() => got.push('c'));
    assert.equal(pending.length, 1, 'one fsync for the first; the others wait for it to end');
    finish();
    assert.deepEqual(got, ['a'], 'b and c were committed after the first fsync began');
    assert.equal(pending.length, 1, 'the next fsync started at once');
    finish();
    assert.deepEqual(got, ['a', 'b', 'c']);
    assert.equal(pending.length, 0);
  });

  test('onIdle runs after each fsync, once its callbacks are answered, and may start the next', () => {
    const { sync, pending, finish } = manual();
    const got: string[] = [];
    sync.onIdle = () => {
      got.push('idle');
      if (got.length < 4) sync.afterSync(() => got.push('next'));
    };
    sync.afterSync(() => got.push('a'));
    finish();
    assert.deepEqual(got, ['a', 'idle']);
    assert.equal(pending.length, 1);
    finish();
    assert.deepEqual(got, ['a', 'idle', 'next', 'idle']);
  });

  test('a failed fsync is reported, and its callbacks still answered', () => {
    const { sync, finish, errors } = manual();
    let ran = false;
    sync.afterSync(() => (ran = true));
    finish(Object.assign(new Error('EIO'), { code: 'EIO' }));
    assert.equal(ran, true);
    assert.equal(errors.length, 1);
  });

  test('close fsyncs on the spot and answers everything waiting; afterwards callbacks run at once', () => {
    const { sync, pending, finish } = manual();
    const got: string[] = [];
    sync.afterSync(() => got.push('a'));
    sync.afterSync(() => got.push('b'));
    sync.close();
    assert.deepEqual(got, ['a', 'b']);
    finish(); // the fsync that was running ends later: nothing is answered twice
    assert.deepEqual(got, ['a', 'b']);
    sync.afterSync(() => got.push('c'));
    assert.deepEqual(got, ['a', 'b', 'c']);
    assert.equal(pending.length, 0);
  });

  test('without a WAL file (synchronous normal, or in memory) callbacks run at once', () => {
    const sync = WalSync.open(undefined, () => {});
    let ran = false;
    sync.afterSync(() => (ran = true));
    assert.equal(ran, true);
    assert.equal(sync.busy, false);
  });
});
