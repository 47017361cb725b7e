/**
 * The connection client's outbox against a scripted server (no real server): a send the server refuses as too fast
 * goes again after the wait it names, one refused for another reason fails, one lost with the connection goes
 * again, with the same clientMsgId, once the session is resumed, and responses that come out of order reach their
 * requests; frames written in one tick reach the server intact. Both protocols.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { binaryCodec } from '../../protocol/binary.js';
import { JoChatClient, isJoChatError } from '../../protocol/client.js';
import type { Codec, Protocol } from '../../protocol/codec.js';
import { FrameReader } from '../../protocol/framing.js';
import { jsonCodec } from '../../protocol/json.js';
import { MIN_ITERATIONS } from '../../protocol/limits.js';
import type { Args, Request, WireError } from '../../protocol/ops.js';

/**
 * What the scripted server answers to a send: a result, an error, nothing (the connection is cut instead), or a
 * result held back until `after` later sends have been answered.
 */
type Answer = 'ok' | WireError | 'cut' | { holdFor: number };

/** Answers hello, signup and resume; answers sends as `script` says, in order (then 'ok'); logs every send. */
class ScriptedServer {
  readonly sends: Args<'send'>[] = [];
  private readonly server: Server;
  private nextMessageId = 1;
  /** Held answers, each with the number of sends still to be answered before it. */
  private held: { write: () => void; after: number }[] = [];

  constructor(
    private readonly codec: Codec,
    private readonly script: Answer[],
  ) {
    this.server = createServer((socket) => {
      const reader = new FrameReader(1 << 20, (p) => this.onRequest(socket, p));
      socket.on('data', (chunk: Buffer) => reader.push(chunk));
      socket.on('error', () => undefined);
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve) =>
      this.server.listen(0, '127.0.0.1', () => resolve((this.server.address() as { port: number }).port)),
    );
  }

  close(): void {
    this.server.close();
  }

  private onRequest(socket: Socket, payload: Buffer): void {
    const d = this.codec.decodeRequest(payload);
    assert.ok(d.ok, d.ok ? '' : d.error.message);
    const r: Request = d.value;
    const c = this.codec;
    if (r.op === 'hello') {
      const hello = { server: 's', version: '1', protocol: 1, maxFrame: 1 << 20, maxText: 4096 };
      socket.write(c.encodeResult(r.id, r.op, hello, r.args));
    } else if (r.op === 'signup') {
      socket.write(c.encodeResult(r.id, r.op, { username: 'Alice', token: 't', pending: 0, unread: 0 }, r.args));
    } else if (r.op === 'resume') {
      socket.write(c.encodeResult(r.id, r.op, { username: 'Alice', pending: 0, unread: 0 }, r.args));
    } else if (r.op === 'send') {
      this.sends.push(r.args);
      const answer = this.script.shift() ?? 'ok';
      const write = (): void => {
        const { to, text } = r.args;
        const message = { id: this.nextMessageId++, from: 'Alice', to, text, sentAt: 5, unread: true };
        socket.write(c.encodeResult(r.id, r.op, { message, delivered: false }, r.args));
      };
      if (answer === 'cut') socket.destroy();
      else if (answer === 'ok') {
        write();
        for (const h of this.held) if (--h.after === 0) h.write();
        this.held = this.held.filter((h) => h.after > 0);
      } else if ('holdFor' in answer) this.held.push({ write, after: answer.holdFor });
      else socket.write(c.encodeError(r.id, answer));
    } else assert.fail(`unexpected ${r.op}`);
  }
}

type Check = (c: JoChatClient, s: ScriptedServer, others: JoChatClient[]) => Promise<void>;

/** Runs `fn` with a client (and `others` more) signed up to a scripted server. */
async function withClient(protocol: Protocol, script: Answer[], fn: Check, others = 0): Promise<void> {
  const server = new ScriptedServer(protocol === 'json' ? jsonCodec : binaryCodec, script);
  const port = await server.listen();
  const backoff = { min: 10, max: 20 };
  const clients = Array.from(
    { length: 1 + others },
    () => new JoChatClient({ host: '127.0.0.1', port, protocol, iterations: MIN_ITERATIONS, backoff }),
  );
  try {
    for (const c of clients) {
      await c.connect();
      await c.signup('alice', 'a password');
    }
    await fn(clients[0]!, server, clients.slice(1));
  } finally {
    for (const c of clients) c.close();
    server.close();
  }
}

const ids = (s: ScriptedServer): (string | undefined)[] => s.sends.map((a) => a.clientMsgId);

for (const protocol of ['binary', 'json'] as const) {
  describe(`${protocol} client outbox`, () => {
    test('a send refused as too fast goes again after the wait, with the same clientMsgId', () =>
      withClient(protocol, [{ code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 30 }], async (c, s) => {
        const started = Date.now();
        const r = await c.send('bob', 'hi');
        assert.ok(Date.now() - started >= 25, 'waited for the server to allow it');
        // `from` is the sender's own name (binary results leave it out; the client fills it in).
        const message = { id: 1, from: 'Alice', to: 'bob', text: 'hi', sentAt: 5, unread: true };
        assert.deepEqual(r, { message, delivered: false });
        assert.equal(s.sends.length, 2);
        assert.equal(ids(s)[0], ids(s)[1]);
        assert.equal(c.unacknowledged, 0);
      }));

    test('a send refused for another reason fails with the server error and leaves the outbox', () =>
      withClient(protocol, [{ code: 'NO_SUCH_USER', message: 'no bob' }], async (c, s) => {
        await assert.rejects(c.send('bob', 'hi'), (e) => isJoChatError(e) && e.code === 'NO_SUCH_USER');
        assert.equal(c.unacknowledged, 0);
        const r = await c.send('bob', 'again');
        assert.equal(r.message.text, 'again');
        assert.equal(s.sends.length, 2);
      }));

    test('a send lost with the connection goes again after the reconnect, with the same clientMsgId', () =>
      withClient(protocol, ['cut'], async (c, s) => {
        const sending = c.send('bob', 'hi');
        const other = await c.send('bob', 'second'); // queued behind the first; goes out after the reconnect too
        const r = await sending;
        assert.equal(r.message.text, 'hi');
        assert.equal(other.message.text, 'second');
        assert.equal(ids(s).filter((id) => id === ids(s)[0]).length, 2, 'the first send went twice');
        assert.equal(c.unacknowledged, 0);
      }));

    const outOfOrder: Answer[] = [{ holdFor: 100 }, { holdFor: 5 }, ...Array<Answer>(100).fill('ok')];
    for (let i = 0; i < 300; i++) outOfOrder.push(i % 2 === 0 && i < 290 ? { holdFor: 3 } : 'ok');
    const heldTest = 'responses out of order reach their requests, also one held while many others are answered';
    test(heldTest, { timeout: 10_000 }, () =>
      withClient(protocol, outOfOrder, async (c) => {
        // One at a time after the first two: few in flight, while the held ones wait for many ids to go by.
        const held = [c.send('bob', 'held 0'), c.send('bob', 'held 1')];
        for (let i = 0; i < 100; i++) assert.equal((await c.send('bob', `one ${i}`)).message.text, `one ${i}`);
        assert.deepEqual((await Promise.all(held)).map((r) => r.message.text), ['held 0', 'held 1']);
        // Many at once, every other one (but the last few) answered after the next 3 that are not held.
        const texts = Array.from({ length: 300 }, (_, i) => `many ${i}`);
        const many = texts.map((t) => c.send('bob', t));
        assert.deepEqual((await Promise.all(many)).map((r) => r.message.text), texts);
        assert.equal(c.unacknowledged, 0);
      }));

    test('frames written in one tick reach the server intact and in order, across chunks and large frames', { timeout: 10_000 }, () =>
      withClient(
        protocol,
        [],
        async (c, s, [other]) => {
          // Sizes around the codecs' 8 KiB chunks, so that runs of frames break where a frame starts a new chunk,
          // and two clients writing in turn into the same chunks (the codecs' writer is one per process).
          const texts = Array.from({ length: 400 }, (_, i) => `${i} ${'é'.repeat((i * 397) % (i % 50 === 0 ? 9000 : 300))}`);
          const sent = await Promise.all(texts.map((t, i) => (i % 3 === 2 ? other! : c).send('bob', t)));
          assert.deepEqual(sent.map((r) => r.message.text), texts);
          const byClient = (mine: boolean) => texts.filter((_, i) => (i % 3 !== 2) === mine);
          const received = s.sends.map((a) => a.text);
          assert.deepEqual(received.filter((t) => byClient(true).includes(t)), byClient(true));
          assert.deepEqual(received.filter((t) => byClient(false).includes(t)), byClient(false));
          // And again, each after the previous one's answer: a tick with a single frame.
          for (const t of texts.slice(0, 5)) assert.equal((await c.send('bob', t)).message.text, t);
        },
        1,
      ));
  });
}
