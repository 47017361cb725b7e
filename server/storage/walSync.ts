/**
 * Durable commits without blocking the event loop. SQLite runs with synchronous=NORMAL, so a commit only writes the
 * WAL file; this class then fsyncs that file on libuv's thread pool, and whatever must not be answered before the
 * commit is on disk (a send's acknowledgement and push, a new account, …) waits for it in `afterSync`. An fsync
 * covers every commit made before it started, so commits share fsyncs (group commit): at high load one fsync serves
 * hundreds of messages. Up to two run at once: a commit made while one runs starts its own at once instead of waiting
 * for the running one and then the next, and the kernel joins the two into one flush of the disk's cache when the
 * second comes early enough (measured here: it then mostly ends with the first), so such a commit waits for about
 * one fsync, not two. Commits made while two run share the next.
 */
import { closeSync, fdatasync, fdatasyncSync, openSync } from 'node:fs';

/** fs.fdatasync's shape; tests pass one they complete by hand. */
export type Fsync = (fd: number, done: (e: NodeJS.ErrnoException | null) => void) => void;

const MAX_RUNNING = 2;

export class WalSync {
  /** The callbacks of commits made since the newest fsync started. */
  private waiting: (() => void)[] = [];
  /** Per fsync running whose callbacks are not answered yet, oldest first: those callbacks. */
  private unanswered: (() => void)[][] = [];
  private fsyncs = 0;
  /**
   * Run each time an fsync has finished and the callbacks it covers have been answered (the delivery's next commit);
   * the other may still run.
   */
  onIdle: (() => void) | undefined;

  /**
   * `fd` is the database's WAL file, or undefined when commits need no fsync (`--synchronous normal`, or an
   * in-memory database): then `afterSync` runs its callback at once.
   */
  constructor(
    private fd: number | undefined,
    private readonly onError: (e: Error) => void,
    private readonly fsync: Fsync = fdatasync,
  ) {}

  static open(wal: string | undefined, onError: (e: Error) => void): WalSync {
    // Read-only is enough: fdatasync flushes the file, whichever descriptor asks.
    return new WalSync(wal === undefined ? undefined : openSync(wal, 'r'), onError);
  }

  /** True while no fsync can start: a commit now would have to wait for one to end anyway. */
  get busy(): boolean {
    return this.fsyncs >= MAX_RUNNING;
  }

  /** Runs `fn` once every commit made so far is on disk. */
  afterSync(fn: () => void): void {
    if (this.fd === undefined) return fn();
    this.waiting.push(fn);
    if (!this.busy) this.start(this.fd);
  }

  private start(fd: number): void {
    const covered = this.waiting;
    this.waiting = [];
    this.unanswered.push(covered);
    this.fsyncs++;
    this.fsync(fd, (e) => {
      // A failed fsync leaves the commit's fate unknown; the server cannot take it back, so it logs it and answers
      // (the data is in the WAL, as with synchronous=NORMAL).
      if (e) this.onError(e);
      this.fsyncs--;
      // Everything an older fsync still running covers was committed before this one started: answer it too, first,
      // so that callbacks run in commit order. Not found: a newer fsync ended first and answered these already.
      const i = this.unanswered.indexOf(covered);
      if (i >= 0) this.answer(this.unanswered.splice(0, i + 1));
      this.onIdle?.();
      if (this.waiting.length > 0 && this.fd !== undefined && !this.busy) this.start(this.fd);
    });
  }

  private answer(lists: (() => void)[][]): void {
    for (const list of lists) for (const f of list) f();
  }

  /** Shutdown: one last fsync, on this thread, then everything waiting is answered; later commits need none. */
  close(): void {
    const fd = this.fd;
    if (fd === undefined) return;
    this.fd = undefined;
    fdatasyncSync(fd);
    const lists = [...this.unanswered.splice(0), this.waiting];
    this.waiting = [];
    this.answer(lists);
    // An fsync still running on the thread pool must not find its descriptor reused by another file.
    if (this.fsyncs === 0) return closeSync(fd);
    this.onIdle = () => {
      if (this.fsyncs === 0) closeSync(fd);
    };
  }
}
