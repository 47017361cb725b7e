/**
 * The database under hostile conditions (issue 6, crash safety): a file of garbage, another program's SQLite file,
 * a file from a newer server, a read-only file or folder, and a full disk. At start-up each is a plain sentence and
 * a non-zero exit; at run time a failed write is INTERNAL with a plain message, the server stays up, nothing that was
 * acknowledged is lost, and writing works again once the disk does. (kill -9 rounds: durability.test.ts.)
 *
 * Tests run as root, where chmod does not stop writes: read-only is made with `chattr +i` (immutable, which also
 * stops writes through descriptors already open) and with a read-only bind mount; a full disk is a small tmpfs.
 * Where this machine does not allow one of them (not root, no chattr, mount refused) that test is skipped and says so.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import type { JoChatClient } from '../../protocol/client.js';
import { connectClient, isCode, uniqueName } from '../helpers/clients.js';
import { SERVER_BUNDLE, startServer, type TestServer } from '../helpers/server.js';

const temps: string[] = [];
const mounts: string[] = [];
const immutable: string[] = [];
const clients: JoChatClient[] = [];
const servers: TestServer[] = [];

after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) if (s.proc.exitCode === null && s.proc.signalCode === null) await s.stop();
  for (const p of immutable) sh('chattr', '-i', p);
  for (const m of mounts.reverse()) sh('umount', m);
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/** Runs a command; true when it succeeded (failures are expected where the machine forbids it). */
function sh(...cmd: string[]): boolean {
  try {
    execFileSync(cmd[0]!, cmd.slice(1), { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const temp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'jochat-storage-'));
  temps.push(d);
  return d;
};

function chattrI(path: string): boolean {
  if (!sh('chattr', '+i', path)) return false;
  immutable.push(path);
  return true;
}
function chattrUndo(path: string): void {
  sh('chattr', '-i', path);
  immutable.splice(immutable.indexOf(path), 1);
}

/** A tmpfs of the given size at a fresh folder; undefined when mounting is not allowed here. */
function tmpfs(size: string): string | undefined {
  const d = temp();
  if (!sh('mount', '-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', d)) return undefined;
  mounts.push(d);
  return d;
}

const NO_STACK = /\n\s+at .+:\d+:\d+/;

/** Starts the server on `db` expecting it to refuse: its exit code and output. */
function startExpectingFailure(db: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [SERVER_BUNDLE, '--port', '0', '--db', db], { encoding: 'utf8', timeout: 15_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

function assertRefused(r: { status: number | null; out: string }, says: RegExp): void {
  assert.notEqual(r.status, null, `the server must exit, not hang:\n${r.out}`);
  assert.notEqual(r.status, 0, `the server must not start:\n${r.out}`);
  assert.match(r.out, says);
  assert.doesNotMatch(r.out, / listening /);
  assert.doesNotMatch(r.out, NO_STACK, 'a plain sentence, not a stack trace');
}

/** A database file the server made (and stopped cleanly, so no -wal or -shm is left). */
async function freshDatabase(dir: string): Promise<string> {
  const s = await startServer({ dir });
  assert.equal(await s.stop(), 0);
  return s.db;
}

describe('at start-up', () => {
  test('a file of garbage bytes: "not a JoChat database or is damaged", exit non-zero', () => {
    const db = join(temp(), 'garbage.db');
    writeFileSync(db, Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919 + 13) & 0xff)));
    assertRefused(startExpectingFailure(db), /is not a JoChat database or is damaged/);
  });

  test('a database from a newer server: says so', () => {
    const db = join(temp(), 'newer.db');
    const d = new Database(db);
    d.pragma('user_version = 99');
    d.close();
    assertRefused(startExpectingFailure(db), /newer than this server/);
  });

  // Found by this test: it used to fail with SQLite's "table meta already exists".
  test('another program\'s SQLite file: refused in plain words', () => {
    const db = join(temp(), 'other.db');
    const d = new Database(db);
    d.exec('CREATE TABLE meta (x); CREATE TABLE notes (body TEXT)');
    d.close();
    assertRefused(startExpectingFailure(db), /not a JoChat database/);
  });

  test('a read-only file (chattr +i): "is read-only"', async (t) => {
    const db = await freshDatabase(temp());
    if (!chattrI(db)) return t.skip('chattr +i is not available here (needs root and a filesystem that supports it)');
    try {
      assertRefused(startExpectingFailure(db), /is read-only/);
    } finally {
      chattrUndo(db);
    }
  });

  // A WAL-mode file whose -shm cannot be created opens as SQLITE_CANTOPEN rather than READONLY: plain, if unspecific.
  test('a read-only bind mount: "is read-only" or "cannot open the database file"', async (t) => {
    const dir = temp();
    const db = await freshDatabase(dir);
    if (!sh('mount', '--bind', dir, dir)) return t.skip('mount --bind is not allowed here');
    mounts.push(dir);
    if (!sh('mount', '-o', 'remount,bind,ro', dir)) return t.skip('a read-only remount is not allowed here');
    assertRefused(startExpectingFailure(db), /is read-only|cannot open the database file/);
  });

  test('a folder where the WAL cannot be created (chattr +i on the folder): "cannot open the database file"', async (t) => {
    const dir = temp();
    const db = await freshDatabase(dir);
    if (!chattrI(dir)) return t.skip('chattr +i is not available here');
    try {
      assertRefused(startExpectingFailure(db), /cannot open the database file/);
    } finally {
      chattrUndo(dir);
    }
  });

  test('a full disk (a tmpfs filled up): a plain message, exit non-zero', (t) => {
    const disk = tmpfs('256k');
    if (!disk) return t.skip('mount -t tmpfs is not allowed here');
    // Fill it: a filler file as large as the disk takes (the write fails when it is full).
    try {
      writeFileSync(join(disk, 'filler'), Buffer.alloc(1024 * 1024));
    } catch {
      // ENOSPC: the disk is full now, which is the point
    }
    const r = startExpectingFailure(join(disk, 'data', 'jochat.db'));
    t.diagnostic(r.out.split('\n').find((l) => l.includes('start_failed')) ?? r.out);
    assertRefused(r, /the disk holding .* is full/);
  });
});

describe('at run time', () => {
  /** Sends until `n` failures; returns what was acknowledged and the first refusal. */
  async function sendUntilRefused(c: JoChatClient, to: string, text: string, max: number) {
    const acked: { id: number; text: string }[] = [];
    let refusal: unknown;
    for (let i = 0; i < max && refusal === undefined; i++) {
      const t = `${text} ${i}`;
      try {
        const r = await c.request('send', { to, text: t });
        acked.push({ id: r.message.id, text: t });
      } catch (e) {
        refusal = e;
      }
    }
    return { acked, refusal };
  }

  function storedTexts(db: string): Map<number, string> {
    const d = new Database(db, { readonly: true });
    try {
      return new Map((d.prepare('SELECT id, text FROM messages').all() as { id: number; text: string }[]).map((r) => [r.id, r.text]));
    } finally {
      d.close();
    }
  }

  test('the disk fills up: sends get INTERNAL in plain words, reads go on, nothing acknowledged is lost, writes resume', async (t) => {
    const disk = tmpfs('2m');
    if (!disk) return t.skip('mount -t tmpfs is not allowed here');
    const dir = join(disk, 'data');
    mkdirSync(dir);
    const filler = join(disk, 'filler');
    // Freed later, to show that writing resumes: room for the next commit even after the checkpoint has grown the
    // database file meanwhile.
    writeFileSync(filler, Buffer.alloc(512 * 1024));
    const s = await startServer({ dir });
    servers.push(s);
    const c = await connectClient(s, 'binary', { reconnect: false });
    clients.push(c);
    const me = uniqueName('full');
    await c.signup(me, 'pw');
    const { acked, refusal } = await sendUntilRefused(c, me, 'y'.repeat(16_000), 400);
    t.diagnostic(`${acked.length} sends of 16 kB acknowledged before the disk was full`);
    assert.ok(refusal !== undefined, 'the disk filled up');
    assert.ok(isCode('INTERNAL')(refusal));
    assert.match((refusal as Error).message, /could not store the message/);
    await s.waitForOutput(/store_failed .*full/);
    // Still up: reads and pings work, the connection stays.
    assert.deepEqual(await c.request('ping', {}), {});
    assert.equal((await c.request('history', { peer: me, limit: 1 })).messages[0]?.id, acked.at(-1)?.id);
    // Space again: sending works again.
    rmSync(filler);
    const again = await c.request('send', { to: me, text: 'after the disk had room again' });
    acked.push({ id: again.message.id, text: 'after the disk had room again' });
    c.close();
    assert.equal(await s.stop(), 0);
    const stored = storedTexts(s.db);
    for (const a of acked) assert.equal(stored.get(a.id), a.text, `acknowledged message ${a.id} is stored`);
  });

  test('the files become read-only under the running server: INTERNAL, then writes resume; nothing acknowledged lost', async (t) => {
    const dir = temp();
    const s = await startServer({ dir });
    servers.push(s);
    const c = await connectClient(s, 'json', { reconnect: false });
    clients.push(c);
    const me = uniqueName('ro');
    await c.signup(me, 'pw');
    const before = await c.request('send', { to: me, text: 'before' });
    const files = [s.db, `${s.db}-wal`];
    if (!files.every(chattrI)) {
      for (const f of [...immutable]) if (files.includes(f)) chattrUndo(f);
      return t.skip('chattr +i is not available here');
    }
    try {
      await assert.rejects(c.request('send', { to: me, text: 'while read-only' }), (e: Error) => {
        assert.ok(isCode('INTERNAL')(e));
        assert.match(e.message, /could not store the message/);
        return true;
      });
      assert.deepEqual(await c.request('ping', {}), {});
    } finally {
      for (const f of files) chattrUndo(f);
    }
    const afterwards = await c.request('send', { to: me, text: 'writable again' });
    c.close();
    assert.equal(await s.stop(), 0);
    const stored = storedTexts(s.db);
    assert.equal(stored.get(before.message.id), 'before');
    assert.equal(stored.get(afterwards.message.id), 'writable again');
    assert.ok(![...stored.values()].includes('while read-only'), 'the refused send was not stored');
  });
});
