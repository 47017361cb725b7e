/** The server's command line: `node dist/server.js [options]` (see --help). */
import { isMainThread, workerData } from 'node:worker_threads';
import { helpText, parseConfig } from './config.js';
import { Logger } from './log.js';
import { startServer } from './server.js';
import { isCheckpointJob, runCheckpointer } from './storage/checkpointer.js';
import { SERVER_VERSION } from './version.js';

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseConfig(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`jochat-server: ${(e as Error).message}\n`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(helpText() + '\n');
    return;
  }
  const { config } = parsed;
  const log = new Logger(config.logLevel);
  // The VS Code task's problem matcher starts watching at this line and is done at "listening".
  log.info('starting', { version: SERVER_VERSION, db: config.db });
  let server;
  try {
    server = await startServer(config, log, __filename);
  } catch (e) {
    log.error('start_failed', { error: explain(e as NodeJS.ErrnoException, config.db) });
    process.exit(1);
  }
  const { address, port } = server.address;
  const host = address.includes(':') ? `[${address}]` : address;
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('shutting_down', { signal });
    void server.close().then(() => {
      log.info('stopped');
      process.exit(0);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Only now: whoever waits for this line may send a signal at once, and it must find the handlers in place.
  log.info('listening', {
    address: `${host}:${port}`,
    protocol: config.protocol,
    tls: Boolean(config.tlsCert),
    db: config.db,
    version: SERVER_VERSION,
  });
}

/** Start-up failures in plain words. */
function explain(e: NodeJS.ErrnoException, db: string): string {
  switch (e.code) {
    case 'EADDRINUSE':
      return `the port is already in use (${e.message}); pick another with --port`;
    case 'EACCES':
      return `permission denied: ${e.message}`;
    case 'SQLITE_CANTOPEN':
      return `cannot open the database file ${db}: ${e.message}`;
    case 'SQLITE_NOTADB':
    case 'SQLITE_CORRUPT':
      return `the database file ${db} is not a JoChat database or is damaged: ${e.message}`;
    case 'SQLITE_READONLY':
      return `the database file ${db} is read-only: ${e.message}`;
    case 'SQLITE_FULL':
      return `the disk holding ${db} is full: ${e.message}`;
    default:
      return e.message;
  }
}

// The same bundle is the checkpoint worker's script (server/storage/checkpointer.ts).
if (!isMainThread && isCheckpointJob(workerData)) runCheckpointer(workerData);
else void main();
