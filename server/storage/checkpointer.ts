/**
 * WAL checkpoints on a worker thread. A checkpoint copies the WAL back into the database file and fsyncs both:
 * milliseconds of disk waiting that, run by SQLite's automatic checkpoint inside a commit, would stall every
 * connection on the event loop. The worker has its own connection and checkpoints PASSIVE (never blocking the
 * server's writes) a few times a second. The server's own automatic checkpoint stays as a backstop at a larger size:
 * under sustained writes the worker never catches up with the end of the WAL, and only a checkpoint by the writer
 * lets the WAL start over from its beginning; the worker has done most of that one's copying by then.
 */
import Database from 'better-sqlite3';
import { Worker, parentPort } from 'node:worker_threads';

/** What the server's bundle is started with when it runs as the checkpoint worker. */
export interface CheckpointJob {
  role: 'checkpointer';
  db: string;
  intervalMs: number;
}

export const isCheckpointJob = (data: unknown): data is CheckpointJob =>
  typeof data === 'object' && data !== null && (data as { role?: unknown }).role === 'checkpointer';

const INTERVAL_MS = 100;
/** The writer's backstop, in pages (SQLite's default is 1,000: a checkpoint in a commit ten times a second). */
export const BACKSTOP_PAGES = 10_000;

/** Worker side: checkpoints until told to stop. */
export function runCheckpointer(job: CheckpointJob): void {
  const db = new Database(job.db);
  // NORMAL: the checkpoint fsyncs the WAL before copying and the database after, which is all it needs.
  db.pragma('synchronous = NORMAL');
  const timer = setInterval(() => db.pragma('wal_checkpoint(PASSIVE)'), job.intervalMs);
  parentPort!.on('message', () => {
    clearInterval(timer);
    db.close();
    parentPort!.close();
  });
}

/**
 * Server side: starts the worker from `script` (the server's own bundle, which runs `runCheckpointer` when it sees a
 * CheckpointJob). If the worker fails, the server's automatic checkpoint goes back to SQLite's default.
 */
export function startCheckpointer(
  script: string,
  file: string,
  db: Database.Database,
  onError: (e: Error) => void,
): { stop(): Promise<void> } {
  db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
  const job: CheckpointJob = { role: 'checkpointer', db: file, intervalMs: INTERVAL_MS };
  const worker = new Worker(script, { workerData: job });
  worker.unref();
  let exited = false;
  worker.on('exit', () => (exited = true));
  worker.on('error', (e) => {
    onError(e);
    if (db.open) db.pragma('wal_autocheckpoint = 1000');
  });
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        worker.ref(); // the server's socket no longer keeps the process alive until the worker is done
        worker.once('exit', () => resolve());
        worker.postMessage('stop');
      }),
  };
}
