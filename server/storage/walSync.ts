/**
 * Durable commits without blocking the event loop. SQLite runs with synchronous=NORMAL, so a commit only writes the
 * WAL file; this class then fsyncs that file on libuv's thread pool, and whatever must not be answered before the
 * commit is on disk (a send's acknowledgement and push, a new account, …) waits for it in `afterSync`. One fsync
 * runs at a time and covers every commit made before it started, so commits made while one runs share the next
 * (group commit): at high load one fsync serves hundreds of messages, at low load a message waits for one fsync.
 */
import { closeSync, fdatasync, fdatasyncSync, openSync } from 'node:fs';

/** fs.fdatasync's shape; tests pass one they complete by hand. */
export type Fsync = (fd: number, done: (e: NodeJS.ErrnoException | null) => void) => void;

export class WalSync {
  private waiting: (() => void)[] = [];
  /** The callbacks the running fsync will answer. */
  private inFlight: (() => void)[] = [];
  private running = false;
  /** Run each time an fsync has finished and its waiters have been answered (the delivery's next commit). */
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

  /** True while an fsync is running: a commit now would have to wait for the next one anyway. */
  get busy(): boolean {
    return this.running;
  }

  /** Runs `fn` once every commit made so far is on disk. */
  afterSync(fn: () => void): void {
    if (this.fd === undefined) return fn();
    this.waiting.push(fn);
    if (!this.running) this.start(this.fd);
  }

  private start(fd: number): void {
    this.running = true;
    this.inFlight = this.waiting;
    this.waiting = [];
    this.fsync(fd, (e) => {
      // A failed fsync leaves the commit's fate unknown; the server cannot take it back, so it logs it and answers
      // (the data is in the WAL, as with synchronous=NORMAL).
      if (e) this.onError(e);
      this.running = false;
      this.answer();
      this.onIdle?.();
      if (this.waiting.length > 0 && this.fd !== undefined) this.start(this.fd);
    });
  }

  private answer(): void {
    const done = this.inFlight;
    this.inFlight = [];
    for (const f of done) f();
  }

  /** Shutdown: one last fsync, on this thread, then everything waiting is answered; later commits need none. */
  close(): void {
    const fd = this.fd;
    if (fd === undefined) return;
    this.fd = undefined;
    fdatasyncSync(fd);
    this.inFlight.push(...this.waiting);
    this.waiting = [];
    this.answer();
    // An fsync still running on the thread pool must not find its descriptor reused by another file.
    if (this.running) this.onIdle = () => closeSync(fd);
    else closeSync(fd);
  }
}
