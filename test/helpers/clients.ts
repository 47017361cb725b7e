/** Client-side helpers for integration tests: connected clients, quick sign-ups, waiting for events. */
import assert from 'node:assert/strict';
import { JoChatClient, JoChatError, type ClientErrorCode, type ClientOptions } from '../../protocol/client.js';
import type { Protocol } from '../../protocol/codec.js';
import type { Event, EventData, EventName, Message } from '../../protocol/ops.js';
import { MIN_ITERATIONS } from '../../protocol/limits.js';
import type { TestServer } from './server.js';

export const PROTOCOLS: readonly Protocol[] = ['json', 'binary'];

let counter = 0;
/** A fresh valid username (tests share one server, so names must not collide). */
export const uniqueName = (base = 'user'): string => `${base}${process.pid % 1000}_${++counter}`;

/** A connected client; the fewest PBKDF2 iterations the server accepts keep tests fast. */
export async function connectClient(
  server: Pick<TestServer, 'host' | 'port'>,
  protocol: Protocol,
  opts: Partial<ClientOptions> = {},
): Promise<JoChatClient> {
  const c = new JoChatClient({
    host: server.host,
    port: server.port,
    protocol,
    iterations: MIN_ITERATIONS,
    backoff: { min: 50, max: 500 },
    ...opts,
  });
  await c.connect();
  return c;
}

/** A connected client logged in to a new account. */
export async function signedUp(
  server: Pick<TestServer, 'host' | 'port'>,
  protocol: Protocol,
  name = uniqueName(),
  password = 'correct horse',
  opts: Partial<ClientOptions> = {},
): Promise<JoChatClient> {
  const c = await connectClient(server, protocol, opts);
  await c.signup(name, password);
  return c;
}

/** Collects a client's events so a test can wait for one that matches. */
export class EventLog {
  readonly events: Event[] = [];
  private waiters: { match: (e: Event) => boolean; resolve: (e: Event) => void }[] = [];

  constructor(client: JoChatClient) {
    client.on('event', (e) => {
      this.events.push(e);
      this.waiters = this.waiters.filter((w) => (w.match(e) ? (w.resolve(e), false) : true));
    });
  }

  of<E extends EventName>(name: E): EventData<E>[] {
    const data: unknown[] = this.events.filter((e) => e.event === name).map((e) => e.data);
    return data as EventData<E>[];
  }

  /** Resolves with the first event (already seen or coming) named `name` that satisfies `pred`. */
  wait<E extends EventName>(
    name: E,
    pred: (d: EventData<E>) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<EventData<E>> {
    const dataOf = (e: Event): EventData<E> => e.data as unknown as EventData<E>;
    const match = (e: Event): boolean => e.event === name && pred(dataOf(e));
    const seen = this.events.find(match);
    return new Promise<EventData<E>>((resolve, reject) => {
      if (seen) return resolve(dataOf(seen));
      const t = setTimeout(() => reject(new Error(`no "${name}" event within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(t);
          resolve(dataOf(e));
        },
      });
    });
  }
}

/** For assert.rejects: the error is a JoChatError with this code and a human-readable message. */
export const isCode =
  (code: ClientErrorCode) =>
  (e: unknown): boolean => {
    assert.ok(e instanceof JoChatError, `expected a JoChatError, got ${String(e)}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    assert.ok(e.message.length > 0, 'every error carries a human-readable message');
    return true;
  };

/** The whole conversation with `peer`, oldest first. */
export async function allHistory(c: JoChatClient, peer: string): Promise<Message[]> {
  const out: Message[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await c.request('history', { peer, limit: 500, ...(before === undefined ? {} : { before }) });
    out.push(...page.messages);
    if (!page.more || page.messages.length === 0) break;
    before = page.messages.at(-1)!.id;
  }
  return out.reverse();
}
