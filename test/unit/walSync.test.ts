/**
 * WalSync: nothing is answered before an fsync that started after it has finished; a commit made while one fsync runs
 * starts a second, commits made while two run share the next, and callbacks run in commit order whichever ends first.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { fstatSync, mkdtempSync, openSync } from 'node:fs';
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
  /** Ends the oldest fsync still running, or the `i`-th. */
  const finish = (e: NodeJS.ErrnoException | null = null, i = 0) => pending.splice(i, 1)[0]!(e);
  return { sync, pending, finish, errors, fd };
}

describe('WalSync', () => {
  test('a callback runs only once an fsync started after it has finished', () => {
    const { sync, pending, finish } = manual();
    const got: string[] = [];
    sync.afterSync(() => got.push('a'));
    assert.equal(pending.length, 1);
    assert.deepEqual(got, []);
    finish();
    assert.deepEqual(got, ['a']);
    assert.equal(pending.length, 0);
  });

  test('a commit made while one fsync runs starts a second at once; that one answers it', () => {
    const { sync, pending, finish } = manual();
    const got: string[] = [];
    sync.afterSync(() => got.push('a'));
    assert.equal(sync.busy, false, 'one running: another may start');
    sync.afterSync(() => got.push('b'));
    assert.equal(pending.length, 2);
    assert.equal(sync.busy, true);
    finish();
    assert.deepEqual(got, ['a'], 'b was committed after the first fsync began');
    assert.equal(pending.length, 1);
    finish();
    assert.deepEqual(got, ['a', 'b']);
    assert.equal(pending.length, 0);
  });

  test('when the second fsync ends first, it answers the first one’s callbacks too, before its own', () => {
    const { sync, pending, finish } = manual();
    const got: string[] = [];
    sync.afterSync(() => got.push('a'));
    sync.afterSync(() => got.push('b'));
    finish(null, 1);
    assert.deepEqual(got, ['a', 'b'], 'a was committed before the second fsync started: it is on disk too');
    assert.equal(pending.length, 1, 'the first still runs');
    assert.equal(sync.busy, false);
    finish();
    assert.deepEqual(got, ['a', 'b'], 'nothing is answered twice');
    assert.equal(pending.length, 0);
  });

  test('commits made while two fsyncs run wait for one to end, then share the next', () => {
    const { sync, pending, finish } = manual();
    const got: string[] = [];
    for (const c of 'abcd') sync.afterSync(() => got.push(c));
    assert.equal(pending.length, 2, 'a and b started one each; c and d wait');
    finish();
    assert.deepEqual(got, ['a']);
    assert.equal(pending.length, 2, 'the next fsync started at once, for c and d');
    finish(null, 1);
    assert.deepEqual(got, ['a', 'b', 'c', 'd'], 'the newest covered b too');
    assert.equal(pending.length, 1);
    finish();
    assert.deepEqual(got, ['a', 'b', 'c', 'd']);
    assert.equal(pending.length, 0);
  });

  test('over a series of fsyncs ending out of order, every callback runs once, in commit order', () => {
    const { sync, pending, finish } = manual();
    const got: string[] = [];
    for (const c of 'abc') sync.afterSync(() => got.push(c));
    finish(); // a; the fsync for c starts
    assert.deepEqual(got, ['a']);
    sync.afterSync(() => got.push('d')); // two run (b, c): d waits
    finish(null, 1); // c's ends first: b's callbacks, then c's
    assert.deepEqual(got, ['a', 'b', 'c']);
    assert.equal(pending.length, 2, 'b’s fsync still runs, and d’s started');
    finish(null, 1);
    assert.deepEqual(got, ['a', 'b', 'c', 'd']);
    finish(); // b's, long outdated
    assert.deepEqual(got, ['a', 'b', 'c', 'd']);
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

  test('an older fsync failing after a newer one answered its callbacks is still reported', () => {
    const { sync, finish, errors } = manual();
    const got: string[] = [];
    sync.afterSync(() => got.push('a'));
    sync.afterSync(() => got.push('b'));
    finish(null, 1);
    finish(Object.assign(new Error('EIO'), { code: 'EIO' }));
    assert.deepEqual(got, ['a', 'b']);
    assert.equal(errors.length, 1);
  });

  test('close fsyncs on the spot and answers everything waiting, in order; afterwards callbacks run at once', () => {
    const { sync, pending, finish } = manual();
    const got: string[] = [];
    for (const c of 'abc') sync.afterSync(() => got.push(c));
    sync.close();
    assert.deepEqual(got, ['a', 'b', 'c']);
    // The fsyncs that were running end later: nothing is answered twice, none starts again.
    finish();
    finish();
    assert.deepEqual(got, ['a', 'b', 'c']);
    sync.afterSync(() => got.push('d'));
    assert.deepEqual(got, ['a', 'b', 'c', 'd']);
    assert.equal(pending.length, 0);
  });

  test('close leaves the descriptor open until the last fsync running on the thread pool has ended', () => {
    const { sync, finish, fd } = manual();
    sync.afterSync(() => {});
    sync.afterSync(() => {});
    sync.close();
    finish();
    assert.doesNotThrow(() => fstatSync(fd), 'one fsync still runs');
    finish();
    assert.throws(() => fstatSync(fd), { code: 'EBADF' });
  });

  test('without a WAL file (synchronous normal, or in memory) callbacks run at once', () => {
    const sync = WalSync.open(undefined, () => {});
    let ran = false;
    sync.afterSync(() => (ran = true));
    assert.equal(ran, true);
    assert.equal(sync.busy, false);
  });
});
