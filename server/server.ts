/** Starts the JoChat server: database, hub, TCP (or TLS) listener, idle sweeps, and graceful shutdown. */
import { readFileSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Config } from './config.js';
import { Connection } from './connection.js';
import { Hub } from './hub.js';
import type { Logger } from './log.js';
import { startCheckpointer } from './storage/checkpointer.js';
import { openDatabase } from './storage/db.js';
import { Store } from './storage/store.js';
import { WalSync } from './storage/walSync.js';

export interface RunningServer {
  readonly hub: Hub;
  readonly address: AddressInfo;
  /** Stops accepting, tells clients, commits what is queued, closes the database. */
  close(): Promise<void>;
}

/** `script` is the server's bundle, which also runs as the checkpoint worker. */
export async function startServer(config: Config, log: Logger, script: string): Promise<RunningServer> {
  const db = openDatabase(config.db);
  const store = new Store(db);
  store.deleteExpiredTokens(Date.now());
  const onDisk = config.db !== ':memory:';
  const sync = WalSync.open(onDisk && config.synchronous === 'full' ? `${config.db}-wal` : undefined, (e) =>
    log.error('fsync_failed', { error: e.message }),
  );
  const checkpointer = onDisk
    ? startCheckpointer(script, config.db, db, (e) => log.error('checkpointer_failed', { error: e.message }))
    : undefined;
  const hub = new Hub(store, sync, config, log);

  const onSocket = (socket: Socket): void => {
    if (hub.connections.size >= config.maxConnections) {
      // Refused before anything is read: a flood of connections costs the server almost nothing.
      log.warn('too_many_connections', { remote: `${socket.remoteAddress}:${socket.remotePort}`, limit: config.maxConnections });
      socket.destroy();
      return;
    }
    hub.connected(new Connection(socket, hub));
  };
  const server: Server =
    config.tlsCert && config.tlsKey
      ? createTlsServer({ cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) }, onSocket)
      : createTcpServer(onSocket);
  server.on('tlsClientError', (e: Error) => log.debug('tls_error', { error: e.message }));

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    await checkpointer?.stop();
    sync.close();
    db.close();
    throw e;
  }
  server.on('error', (e) => log.error('server_error', { error: e.message }));

  const sweepEvery = Math.max(250, Math.min(5000, (config.idleTimeout * 1000) / 4));
  const sweeper = setInterval(() => hub.sweep(Date.now()), sweepEvery);
  sweeper.unref();

  let closing: Promise<void> | undefined;
  return {
    hub,
    address: server.address() as AddressInfo,
    close() {
      closing ??= new Promise<void>((resolve) => {
        clearInterval(sweeper);
        server.close();
        hub.shutdown();
        const done = (): void => {
          // The worker's connection closes first: the last one to close checkpoints the WAL into the database.
          void checkpointer?.stop().then(() => {
            db.close();
            resolve();
          });
        };
        // Let the goodbye frames leave; a client that doesn't read them doesn't hold the shutdown up.
        const deadline = setTimeout(() => {
          for (const c of hub.connections) c.destroy();
        }, 2000);
        const wait = (): void => {
          if (hub.connections.size === 0) {
            clearTimeout(deadline);
            done();
          } else setTimeout(wait, 20);
        };
        wait();
      });
      return closing;
    },
  };
}
