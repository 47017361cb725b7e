/** Rate limits and the connection limit, each configured small so they are reached quickly. */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, describe, test } from 'node:test';
import { JoChatError, type JoChatClient } from '../../protocol/client.js';
import { connectClient, isCode, PROTOCOLS, signedUp, uniqueName } from '../helpers/clients.js';
import { startServer, type TestServer } from '../helpers/server.js';

const servers: TestServer[] = [];
const clients: JoChatClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) {
    await s.stop();
    s.cleanup();
  }
});

async function server(...args: string[]): Promise<TestServer> {
  const s = await startServer({ args });
  servers.push(s);
  return s;
}

const rateLimited = (e: unknown): boolean => {
  assert.ok(isCode('RATE_LIMITED')(e));
  const { retryAfterMs } = e as JoChatError;
  assert.ok(retryAfterMs !== undefined && retryAfterMs > 0 && retryAfterMs <= 60_000, `retryAfterMs ${retryAfterMs}`);
  assert.match((e as JoChatError).message, /try again in \d+ second/);
  return true;
};

for (const protocol of PROTOCOLS) {
  describe(`rate limits (${protocol})`, () => {
    test('failed logins: free ones, then a growing wait per account and per address, even for the right password', async () => {
      const s = await server('--login-free-failures', '2');
      const name = uniqueName('victim');
      const owner = await signedUp(s, protocol, name, 'right password');
      clients.push(owner);
      // Another existing account (4,096 iterations): an unknown name would cost the client a 600,000-iteration
      // derivation, long enough on a busy machine for the first wait (1 s) to run out before the proof arrives.
      const other = uniqueName('other');
      clients.push(await signedUp(s, protocol, other, 'pw'));
      const attacker = await connectClient(s, protocol);
      clients.push(attacker);
      for (let i = 0; i < 3; i++) await assert.rejects(attacker.login(name, 'guess'), isCode('AUTH_FAILED'));
      await assert.rejects(attacker.login(name, 'right password'), rateLimited);
      // The address is slowed down too: guessing another account from it waits as well.
      await assert.rejects(attacker.login(other, 'guess'), rateLimited);
      // Resuming with a guessed token counts as a failure from that address.
      await assert.rejects(attacker.resume('not-a-token'), rateLimited);
    });

    test('sign-ups per address per minute', async () => {
      const s = await server('--signup-rate', '2');
      const c = await connectClient(s, protocol);
      clients.push(c);
      for (let i = 0; i < 2; i++) {
        const one = await signedUp(s, protocol);
        one.close();
      }
      await assert.rejects(c.signup(uniqueName(), 'pw'), rateLimited);
    });

    test('sends per session: over the rate the server refuses, and the client sends again when it says', async () => {
      const s = await server('--send-rate', '2'); // bursts of 4
      const a = await signedUp(s, protocol);
      const b = await signedUp(s, protocol);
      clients.push(a, b);
      const raw = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => a.request('send', { to: b.username!, text: `raw ${i}` })),
      );
      const refused = raw.filter((r) => r.status === 'rejected');
      assert.ok(refused.length >= 1, 'some raw sends are refused');
      for (const r of refused) assert.ok(rateLimited((r as PromiseRejectedResult).reason));
      // Through the outbox nothing is lost: refused sends go again after the wait the server gave.
      const sent = await Promise.all(Array.from({ length: 6 }, (_, i) => a.send(b.username!, `queued ${i}`)));
      assert.deepEqual(sent.map((r) => r.message.text), Array.from({ length: 6 }, (_, i) => `queued ${i}`));
    });
  });
}

describe('connection limit', () => {
  test('connections beyond --max-connections are closed at once; the others carry on', async () => {
    const s = await server('--max-connections', '3');
    const ok = await Promise.all([0, 1, 2].map(() => connectClient(s, 'binary', { reconnect: false })));
    clients.push(...ok);
    const closed = await new Promise<boolean>((resolve) => {
      const sock = connect({ host: s.host, port: s.port });
      sock.on('close', () => resolve(true));
      sock.on('error', () => undefined);
      setTimeout(() => resolve(false), 3000);
    });
    assert.ok(closed, 'the fourth connection is closed');
    await ok[0]!.request('ping', {});
    await s.waitForOutput(/too_many_connections/);
  });
});
