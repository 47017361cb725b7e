/**
 * The latency probe of the hostile-client and network-fuzz tests: a well-behaved, logged-in client that keeps
 * doing round trips (ping, and sends to a peer that must receive each one, in order) while an attack runs, and
 * reports what it saw. Issue 6 asks that an attacker affects only itself; this is how "only itself" is measured.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { JoChatClient } from '../../protocol/client.js';
import { EventLog, signedUp, uniqueName } from '../helpers/clients.js';
import type { TestServer } from '../helpers/server.js';

export interface LatencyStats {
  /** Round trips completed. */
  count: number;
  p50: number;
  p99: number;
  max: number;
  /** Requests that failed (each with its reason): a well-behaved client must see none. */
  failures: string[];
  /** Sends acknowledged, and those the peer received (in order, each once). */
  sent: number;
  received: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const fmt = (ms: number): string => (Number.isNaN(ms) ? '-' : ms < 10 ? ms.toFixed(2) : ms.toFixed(0));

export const describeStats = (s: LatencyStats): string =>
  `${s.count} round trips, p50 ${fmt(s.p50)} ms, p99 ${fmt(s.p99)} ms, max ${fmt(s.max)} ms, ` +
  `${s.sent} sends acknowledged, ${s.received} received, ${s.failures.length} failures`;

export class LatencyProbe {
  private rtts: number[] = [];
  private failures: string[] = [];
  private sent: string[] = [];
  private running: Promise<void> | undefined;
  private stopping = false;
  private n = 0;

  private constructor(
    readonly client: JoChatClient,
    readonly peer: JoChatClient,
    private readonly peerLog: EventLog,
  ) {}

  /** Two fresh accounts on the server: the probe and the peer it sends to. */
  static async create(server: Pick<TestServer, 'host' | 'port'>): Promise<LatencyProbe> {
    // Frequent client pings: some attacks run against a server with a short idle timeout.
    const opts = { reconnect: false, pingIntervalMs: 500 };
    const client = await signedUp(server, 'binary', uniqueName('probe'), 'probe pw', opts);
    const peer = await signedUp(server, 'json', uniqueName('peer'), 'peer pw', opts);
    return new LatencyProbe(client, peer, new EventLog(peer));
  }

  /** Starts round trips (a ping, then a send, ...) until stop(); a fresh measurement each time. */
  start(): void {
    this.rtts = [];
    this.failures = [];
    this.sent = [];
    this.stopping = false;
    const phase = this.n;
    this.running = (async () => {
      for (let i = 0; !this.stopping; i++) {
        const t0 = performance.now();
        try {
          if (i % 2 === 0) await this.client.request('ping', {});
          else {
            const text = `probe ${phase} ${i}`;
            await this.client.send(this.peer.username!, text);
            this.sent.push(text);
          }
          this.rtts.push(performance.now() - t0);
        } catch (e) {
          this.failures.push(`${(e as Error).message} after ${Math.round(performance.now() - t0)} ms`);
        }
        // A short pause: the probe measures, it must not be a load of its own.
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    this.n++;
  }

  /** Runs the probe for `ms` with nothing else going on (the baseline). */
  async baseline(ms: number): Promise<LatencyStats> {
    this.start();
    await new Promise((r) => setTimeout(r, ms));
    return this.stop();
  }

  /** Stops and reports; waits (bounded) for the peer to have received every acknowledged send. */
  async stop(): Promise<LatencyStats> {
    this.stopping = true;
    await this.running;
    const last = this.sent.at(-1);
    if (last !== undefined)
      await this.peerLog.wait('message', (d) => d.message.text === last, 5000).catch(() => undefined);
    const mine = new Set(this.sent);
    const received = this.peerLog
      .of('message')
      .map((d) => d.message.text)
      .filter((t) => mine.has(t));
    const inOrder = received.length === this.sent.length && received.every((t, i) => t === this.sent[i]);
    if (!inOrder) this.failures.push(`the peer received ${received.length} of ${this.sent.length} sends, or out of order`);
    const sorted = [...this.rtts].sort((a, b) => a - b);
    return {
      count: sorted.length,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted.at(-1) ?? NaN,
      failures: [...this.failures],
      sent: this.sent.length,
      received: received.length,
    };
  }

  close(): void {
    this.stopping = true; // a probe left running (a failed test) must not keep the test process alive
    this.client.close();
    this.peer.close();
  }
}

/** Resident memory of a process in KiB, from /proc (Linux). */
export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!m) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]);
}
