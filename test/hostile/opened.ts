/**
 * What a hostile test file opens (servers, their probes, sockets, clients), closed once after all its tests, whether
 * they passed or not. The newest is closed first, so connections end before the servers they talk to stop.
 */
import { after } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { LatencyProbe } from './probe.js';

export class Opened {
  private readonly closers: (() => unknown)[] = [];

  /** Made once per file, at its top level: registers the file's `after` hook. */
  constructor() {
    after(async () => {
      for (const close of this.closers.splice(0).reverse()) await close();
    });
  }

  /** Keeps `x` to be closed by `close` after the file's tests; returns it. */
  add<T>(x: T, close: (x: T) => unknown): T {
    this.closers.push(() => close(x));
    return x;
  }

  server(s: TestServer): TestServer {
    return this.add(s, async (t) => {
      await t.stop();
      t.cleanup();
    });
  }

  /** A server started with `args`, and the probe that measures what an attack does to a well-behaved client. */
  async probed(...args: string[]): Promise<{ s: TestServer; probe: LatencyProbe }> {
    const s = this.server(await startServer({ args }));
    const probe = this.add(await LatencyProbe.create(s), (p) => p.close());
    return { s, probe };
  }
}
