/**
 * The wire contract (SPEC §2) seen through raw sockets against the real server process: protocol choice per
 * connection, framing under any TCP chunking, malformed input, oversized frames, protocol-restricted servers, and
 * the exact JSON shapes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { JoChatClient } from '../../protocol/client.js';
import type { Protocol } from '../../protocol/codec.js';
import { DEFAULT_MAX_FRAME } from '../../protocol/limits.js';
import { OPS, type ServerMessage } from '../../protocol/ops.js';
import { EventLog, PROTOCOLS, signedUp, uniqueName } from '../helpers/clients.js';
import { RawConnection, binFrame, jsonFrame, lengthPrefix, rawSignup, type Response } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';

let auto: TestServer;
let jsonOnly: TestServer;
let binaryOnly: TestServer;
let small: TestServer;
const raws: RawConnection[] = [];
const clients: JoChatClient[] = [];

async function raw(server: TestServer, protocol: Protocol): Promise<RawConnection> {
  const c = await RawConnection.open(server.port, protocol);
  raws.push(c);
  return c;
}

async function client(server: TestServer, protocol: Protocol): Promise<JoChatClient> {
  const c = await signedUp(server, protocol, uniqueName('wire'));
  clients.push(c);
  return c;
}

/** A raw connection whose protocol is fixed by a first hello. */
async function pinned(server: TestServer, protocol: Protocol): Promise<RawConnection> {
  const c = await raw(server, protocol);
  await c.call('hello', { client: 'wire-test' });
  return c;
}

const isResponse = (m: ServerMessage): m is Response => m.kind === 'result' || m.kind === 'error';

/**
 * Sends bad bytes followed by a ping, and checks that exactly one error came back for the bad bytes (with the given
 * code and id), then the ping's result: the connection stays usable.
 */
async function expectRefusal(
  c: RawConnection,
  bad: Buffer,
  code: string,
  id: number,
  messageIncludes?: string,
): Promise<void> {
  const from = c.frames.length;
  const ping = c.encode('ping', {});
  c.write(Buffer.concat([bad, ping.bytes]));
  await c.response(ping.id);
  const got = c.frames.slice(from).map((f) => f.message);
  assert.equal(got.length, 2, `expected one error and the ping's result, got: ${c.describe()}`);
  const err = got[0];
  assert.ok(err && err.kind === 'error', `expected an error first, got ${JSON.stringify(err)}`);
  assert.equal(err.error.code, code, `error for ${bad.subarray(4, 60).toString('hex')}: ${err.error.message}`);
  assert.equal(err.id, id);
  assert.ok(err.error.message.length > 0, 'every error carries a human-readable message');
  if (messageIncludes) assert.ok(err.error.message.includes(messageIncludes), `"${err.error.message}" should name ${messageIncludes}`);
  const pong = got[1];
  assert.ok(pong && pong.kind === 'result' && pong.id === ping.id, 'the connection still answers a ping');
  assert.equal(c.closed, false);
}

before(async () => {
  [auto, jsonOnly, binaryOnly, small] = await Promise.all([
    startServer(),
    startServer({ args: ['--protocol', 'json'] }),
    startServer({ args: ['--protocol', 'binary'] }),
    startServer({ args: ['--max-frame', '4096'] }),
  ]);
});

after(async () => {
  for (const c of raws) c.close();
  for (const c of clients) c.close();
  for (const s of [auto, jsonOnly, binaryOnly, small]) {
    if (!s) continue;
    await s.stop();
    s.cleanup();
  }
});

describe('protocol choice and framing', () => {
  test('a JSON and a binary connection are served on one port at once (auto)', async () => {
    const [j, b] = await Promise.all([raw(auto, 'json'), raw(auto, 'binary')]);
    const jh = j.encode('hello', { client: 'json-raw' });
    const bh = b.encode('hello', { client: 'binary-raw' });
    j.write(jh.bytes);
    b.write(bh.bytes);
    const [jr, br] = await Promise.all([j.response(jh.id), b.response(bh.id)]);
    for (const r of [jr, br]) {
      assert.equal(r.kind, 'result');
      if (r.kind === 'result' && r.op === 'hello') {
        assert.equal(r.result.server, 'jochat');
        assert.equal(r.result.protocol, 1);
        assert.equal(r.result.maxFrame, DEFAULT_MAX_FRAME);
      }
    }
    assert.equal(j.frames[0]!.payload[0], 0x7b, 'the JSON connection is answered in JSON');
    assert.equal(b.frames[0]!.payload[0], 0x40 | OPS.hello.code, 'the binary connection is answered in binary');
    // Each keeps its protocol afterwards.
    assert.equal((await j.request('ping', {})).kind, 'result');
    assert.equal((await b.request('ping', {})).kind, 'result');
  });

  test('an empty first frame chooses binary, whatever bytes follow it in the same chunk', async () => {
    const c = await raw(auto, 'binary');
    // After the empty frame, `{"id` read as a length prefix: far too large, so refused and the connection closed.
    c.write(Buffer.concat([lengthPrefix(0), Buffer.from('{"id":1}')]));
    await c.until(() => (c.frames.length >= 2 ? true : undefined), 5000, 'two errors');
    // Both binary errors: the empty request is truncated, then the frame too large.
    assert.deepEqual(
      c.frames.map((f) => f.payload[0]),
      [0x3f, 0x3f],
    );
  });

  for (const protocol of PROTOCOLS) {
    test(`${protocol}: frames written one byte at a time still work`, async () => {
      const c = await raw(auto, protocol);
      const hello = c.encode('hello', { client: 'byte-by-byte', version: 'ü€😀' });
      const ping = c.encode('ping', {});
      const list = c.encode('list_accounts', { pattern: '' });
      await c.writeSlowly(Buffer.concat([hello.bytes, ping.bytes, list.bytes]));
      const r1 = await c.response(hello.id);
      const r2 = await c.response(ping.id);
      const r3 = await c.response(list.id);
      assert.equal(r1.kind, 'result');
      assert.equal(r2.kind, 'result');
      assert.equal(r3.kind, 'error');
      if (r3.kind === 'error') assert.equal(r3.error.code, 'NOT_LOGGED_IN');
      assert.equal(c.frames.length, 3);
    });

    test(`${protocol}: many requests batched in one TCP write all get their responses`, async () => {
      const c = await raw(auto, protocol);
      const ids = new Map<number, 'result' | 'error'>();
      const parts: Buffer[] = [];
      for (let i = 0; i < 300; i++) {
        const r =
          i % 3 === 0
            ? c.encode('hello', { client: `batch${i}` })
            : i % 3 === 1
              ? c.encode('ping', {})
              : c.encode('counts', {}); // not logged in: an error, with its id
        ids.set(r.id, i % 3 === 2 ? 'error' : 'result');
        parts.push(r.bytes);
      }
      c.write(Buffer.concat(parts));
      await c.until(() => (c.messages().filter(isResponse).length >= ids.size ? true : undefined), 10_000, '300 responses');
      const seen = new Map<number, string>();
      for (const m of c.messages()) {
        assert.ok(isResponse(m), 'no events before logging in');
        assert.equal(seen.has(m.id), false, `a second response to ${m.id}`);
        seen.set(m.id, m.kind);
      }
      assert.deepEqual(seen, ids);
    });
  }
});

describe('malformed frames', () => {
  test('JSON: malformed requests get BAD_REQUEST/UNKNOWN_OP with the id when readable; the connection stays usable', async () => {
    const c = await pinned(auto, 'json');
    const text = (s: string): Buffer => jsonFrameText(s);
    await expectRefusal(c, text('{"id": 3, "op": '), 'BAD_REQUEST', 0);
    await expectRefusal(c, text('{not json at all'), 'BAD_REQUEST', 0);
    for (const v of [[1, 2], 'ping', 42, null, true])
      await expectRefusal(c, jsonFrame(v), 'BAD_REQUEST', 0, 'object');
    await expectRefusal(c, jsonFrame({ op: 'ping' }), 'BAD_REQUEST', 0, 'id');
    await expectRefusal(c, jsonFrame({ id: 0, op: 'ping' }), 'BAD_REQUEST', 0, 'id');
    await expectRefusal(c, jsonFrame({ id: -5, op: 'ping' }), 'BAD_REQUEST', 0, 'id');
    await expectRefusal(c, jsonFrame({ id: 1.5, op: 'ping' }), 'BAD_REQUEST', 0, 'id');
    await expectRefusal(c, jsonFrame({ id: '7', op: 'ping' }), 'BAD_REQUEST', 0, 'id');
    await expectRefusal(c, jsonFrame({ id: 41, op: 'fly' }), 'UNKNOWN_OP', 41, 'fly');
    await expectRefusal(c, jsonFrame({ id: 42, op: 'toString' }), 'UNKNOWN_OP', 42);
    await expectRefusal(c, jsonFrame({ id: 43, op: '__proto__' }), 'UNKNOWN_OP', 43);
    await expectRefusal(c, jsonFrame({ id: 44 }), 'BAD_REQUEST', 44, 'op');
    await expectRefusal(c, jsonFrame({ id: 45, op: 'hello', args: { client: 5 } }), 'BAD_REQUEST', 45, 'args.client');
    await expectRefusal(c, jsonFrame({ id: 46, op: 'send', args: { to: 'bob', text: 7 } }), 'BAD_REQUEST', 46, 'args.text');
    await expectRefusal(c, jsonFrame({ id: 47, op: 'send', args: { text: 'hi' } }), 'BAD_REQUEST', 47, 'args.to');
    await expectRefusal(c, jsonFrame({ id: 48, op: 'history', args: { peer: 'x', limit: -1 } }), 'BAD_REQUEST', 48, 'args.limit');
    await expectRefusal(c, jsonFrame({ id: 49, op: 'mark_read', args: { ids: [1, '2'] } }), 'BAD_REQUEST', 49, 'args.ids[1]');
    await expectRefusal(
      c,
      jsonFrame({ id: 50, op: 'signup', args: { username: 'x', salt: 'not base64!', iterations: 4096, storedKey: '', serverKey: '' } }),
      'BAD_REQUEST',
      50,
      'args.salt',
    );
    await expectRefusal(c, jsonFrame({ id: 51, op: 'hello', args: 5 }), 'BAD_REQUEST', 51, 'args');
    await expectRefusal(c, jsonFrame({ id: 52, op: 'list_accounts', args: { pattern: '', limit: 1e300 } }), 'BAD_REQUEST', 52, 'args.limit');
    // Deep nesting must not blow the server's stack.
    const deep = '{"id":53,"op":"ping","args":{},"x":' + '['.repeat(200_000) + ']'.repeat(200_000) + '}';
    const from = c.frames.length;
    c.write(text(deep));
    await c.until(() => (c.frames.length > from ? true : undefined), 5000, 'an answer to a deeply nested frame');
    const ping = await c.request('ping', {});
    assert.equal(ping.kind, 'result');
    assert.equal(c.closed, false);
  });

  test('binary: unknown opcode, truncated body and trailing bytes are refused; the connection stays usable', async () => {
    const c = await pinned(auto, 'binary');
    await expectRefusal(c, binFrame(0x30, 0x05), 'UNKNOWN_OP', 5);
    await expectRefusal(c, binFrame(0x3a, 0x06), 'UNKNOWN_OP', 6);
    await expectRefusal(c, binFrame(0x41, 0x07), 'UNKNOWN_OP', 7); // a result type is no request
    // hello with a 10-byte client name of which only 2 bytes are there.
    await expectRefusal(c, binFrame(OPS.hello.code, 0x08, 0x01, 0x0a, 0x61, 0x62), 'BAD_REQUEST', 8, 'truncated');
    await expectRefusal(c, binFrame(OPS.ping.code, 0x09, 0x00), 'BAD_REQUEST', 9, 'after');
    await expectRefusal(c, binFrame(OPS.ping.code, 0x0a, 0x01, 0x02, 0x03), 'BAD_REQUEST', 10);
    await expectRefusal(c, binFrame(OPS.ping.code, 0x00), 'BAD_REQUEST', 0, 'id');
    await expectRefusal(c, binFrame(OPS.ping.code), 'BAD_REQUEST', 0);
    await expectRefusal(c, binFrame(), 'BAD_REQUEST', 0);
    await expectRefusal(c, binFrame(OPS.hello.code, 0x0b, 0x02), 'BAD_REQUEST', 11); // presence byte 2
    await expectRefusal(c, binFrame(OPS.ping.code, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), 'BAD_REQUEST', 0);
    // mark_read with an array count far larger than the frame.
    await expectRefusal(c, binFrame(OPS.mark_read.code, 0x0c, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f), 'BAD_REQUEST', 12);
    // send with a string length of 2^32: refused, not allocated.
    await expectRefusal(c, binFrame(OPS.send.code, 0x0d, 0x80, 0x80, 0x80, 0x80, 0x10, 0x61), 'BAD_REQUEST', 13);
  });
});

describe('oversized frames', () => {
  test('a 0xFFFFFFFF length prefix gets FRAME_TOO_LARGE and the connection is closed, without the body being sent', async () => {
    const a = await client(auto, 'json');
    const b = await client(auto, 'binary');
    const bLog = new EventLog(b);
    for (const protocol of PROTOCOLS) {
      for (const fresh of [true, false]) {
        const c = fresh ? await raw(auto, protocol) : await pinned(auto, protocol);
        c.write(lengthPrefix(0xffffffff)); // and nothing else: the server must not wait for 4 GiB
        const err = await c.error(0);
        assert.equal(err.error.code, 'FRAME_TOO_LARGE');
        assert.ok(err.error.message.length > 0);
        if (!fresh) assert.equal(c.frames.at(-1)!.payload[0] === 0x7b, protocol === 'json', 'answered in the pinned protocol');
        await c.waitClosed(3000);
      }
    }
    // max + 1 on a pinned binary connection.
    const c = await pinned(auto, 'binary');
    c.write(lengthPrefix(DEFAULT_MAX_FRAME + 1));
    assert.equal((await c.error(0)).error.code, 'FRAME_TOO_LARGE');
    await c.waitClosed(3000);
    // Other connections did not notice.
    const sent = await a.send(b.username!, 'still here');
    assert.equal(sent.delivered, true);
    await bLog.wait('message', (d) => d.message.text === 'still here');
    assert.equal(a.state, 'online');
    assert.equal(b.state, 'online');
    assert.equal(auto.proc.exitCode, null);
  });

  for (const protocol of PROTOCOLS) {
    test(`${protocol}: with --max-frame 4096 a frame of exactly 4096 bytes is read and 4097 is refused`, async () => {
      const c = await raw(small, protocol);
      const hello = await c.call('hello', { client: 'small' });
      assert.equal(hello.maxFrame, 4096);
      // A frame of exactly the limit: a hello whose client name pads it to 4096 bytes.
      const probe = c.encode('hello', { client: '' }, 50);
      const pad = 4096 - (probe.bytes.length - 4);
      const exact = c.encode('hello', { client: 'x'.repeat(pad - (protocol === 'binary' ? 1 : 0)) }, 51);
      assert.equal(exact.bytes.length - 4, 4096, 'test setup: the frame is exactly 4096 bytes');
      c.write(exact.bytes);
      assert.equal((await c.response(exact.id)).kind, 'result');
      c.write(lengthPrefix(4097));
      assert.equal((await c.error(0)).error.code, 'FRAME_TOO_LARGE');
      await c.waitClosed(3000);
    });
  }
});

describe('protocol-restricted servers', () => {
  test('--protocol json refuses a binary first frame (error, then close) and serves JSON', async () => {
    const b = await raw(jsonOnly, 'binary');
    b.write(b.encode('hello', { client: 'bin' }).bytes);
    const err = await b.error(0);
    assert.equal(err.error.code, 'BAD_REQUEST');
    assert.match(err.error.message, /json/);
    await b.waitClosed(3000);
    const j = await raw(jsonOnly, 'json');
    assert.equal((await j.call('hello', {})).server, 'jochat');
  });

  test('--protocol binary refuses a JSON first frame (error, then close) and serves binary', async () => {
    const j = await raw(binaryOnly, 'json');
    j.write(j.encode('hello', { client: 'json' }).bytes);
    const err = await j.error(0);
    assert.equal(err.error.code, 'BAD_REQUEST');
    assert.match(err.error.message, /binary/);
    await j.waitClosed(3000);
    const b = await raw(binaryOnly, 'binary');
    assert.equal((await b.call('hello', {})).server, 'jochat');
  });
});

describe('isolation', () => {
  test('garbage thrown at the server on other connections does not affect a pair of clients exchanging messages', async () => {
    const seed = Date.now() >>> 0;
    let state = seed || 1;
    const rand = (): number => {
      // xorshift32
      state ^= state << 13;
      state >>>= 0;
      state ^= state >>> 17;
      state ^= state << 5;
      state >>>= 0;
      return state / 0x100000000;
    };
    const randBytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
    const garbageFrame = (): Buffer => {
      const kind = rand();
      if (kind < 0.2) return randBytes(1 + Math.floor(rand() * 300)); // no framing at all
      const body = randBytes(Math.floor(rand() * 200));
      if (kind < 0.5 && body.length > 0) body[0] = 0x7b; // JSON-ish
      else if (kind < 0.9 && body.length > 0) body[0] = 1 + Math.floor(rand() * 17); // a real opcode, random body
      return Buffer.concat([lengthPrefix(body.length), body]);
    };

    const a = await client(auto, 'json');
    const b = await client(auto, 'binary');
    const aLog = new EventLog(a);
    const bLog = new EventLog(b);
    let stop = false;
    const garbageConns: RawConnection[] = [];
    const thrower = async (): Promise<void> => {
      while (!stop) {
        const g = await raw(auto, rand() < 0.5 ? 'json' : 'binary');
        garbageConns.push(g);
        for (let i = 0; i < 40 && !stop && !g.closed; i++) {
          g.write(garbageFrame());
          await new Promise((r) => setImmediate(r));
        }
        g.close();
      }
    };
    const throwers = Array.from({ length: 6 }, () => thrower());
    const n = 100;
    const aTexts = Array.from({ length: n }, (_, i) => `a→b ${i}`);
    const bTexts = Array.from({ length: n }, (_, i) => `b→a ${i}`);
    try {
      await Promise.all([
        (async () => {
          for (const t of aTexts) await a.send(b.username!, t);
        })(),
        (async () => {
          for (const t of bTexts) await b.send(a.username!, t);
        })(),
      ]);
      await bLog.wait('message', (d) => d.message.text === aTexts.at(-1));
      await aLog.wait('message', (d) => d.message.text === bTexts.at(-1));
    } finally {
      stop = true;
      await Promise.all(throwers);
    }
    const got = (log: EventLog, from: string): string[] =>
      log.of('message').filter((d) => d.message.from === from).map((d) => d.message.text);
    assert.deepEqual(got(bLog, a.username!), aTexts, `seed ${seed}`);
    assert.deepEqual(got(aLog, b.username!), bTexts, `seed ${seed}`);
    assert.equal(a.state, 'online');
    assert.equal(b.state, 'online');
    assert.equal(auto.proc.exitCode, null, 'the server is still running');
    const internal = garbageConns.flatMap((g) => g.messages()).filter((m) => m.kind === 'error' && m.error.code === 'INTERNAL');
    assert.deepEqual(internal, [], `malformed input is the client's fault, not INTERNAL (seed ${seed})`);
    assert.doesNotMatch(auto.output(), /internal_error/, `seed ${seed}`);
    assert.ok(garbageConns.length >= 6);
    const answered = garbageConns.flatMap((g) => g.messages()).filter((m) => m.kind === 'error').length;
    assert.ok(answered > 10, `the garbage reached the server and was answered with errors (${answered})`);
  });
});

describe('JSON shapes', () => {
  test('responses are exactly {id, ok:true, result} / {id, ok:false, error:{code,message}}, events {event, data}', async () => {
    const c = await raw(auto, 'json');
    const parsed = (i: number): Record<string, unknown> => JSON.parse(c.frames[i]!.payload.toString('utf8')) as Record<string, unknown>;
    const keys = (v: unknown): string[] => Object.keys(v as object).sort();

    const hello = c.encode('hello', {});
    c.write(hello.bytes);
    await c.response(hello.id);
    const h = parsed(0);
    assert.deepEqual(keys(h), ['id', 'ok', 'result']);
    assert.equal(h['id'], hello.id);
    assert.equal(h['ok'], true);
    assert.deepEqual(keys(h['result']), ['maxFrame', 'maxText', 'protocol', 'server', 'version']);

    c.writeFrame('{"id": 77, "op": "nope"}');
    await c.response(77);
    const e = parsed(1);
    assert.deepEqual(keys(e), ['error', 'id', 'ok']);
    assert.equal(e['id'], 77);
    assert.equal(e['ok'], false);
    assert.deepEqual(keys(e['error']), ['code', 'message']);
    const err = e['error'] as Record<string, unknown>;
    assert.equal(err['code'], 'UNKNOWN_OP');
    assert.equal(typeof err['message'], 'string');

    // Byte fields are base64 strings.
    const ls0 = c.encode('login_start', { username: 'nobody_here', clientNonce: 'abc' });
    c.write(ls0.bytes);
    await c.response(ls0.id);
    const ls = parsed(2)['result'] as Record<string, unknown>;
    assert.equal(typeof ls['salt'], 'string');
    assert.match(ls['salt'] as string, /^[A-Za-z0-9+/]+=*$/);
    assert.equal(typeof ls['nonce'], 'string');
    assert.ok((ls['nonce'] as string).startsWith('abc'));

    // An event: another client sends to this raw connection's account.
    const me = uniqueName('shape');
    await rawSignup(c, me, 'pw pw pw');
    const other = await client(auto, 'binary');
    const before = c.frames.length;
    await other.send(me, 'shape check');
    await c.event('message');
    const events = c.frames.slice(before).map((f) => JSON.parse(f.payload.toString('utf8')) as Record<string, unknown>);
    const msgEvent = events.find((v) => v['event'] === 'message');
    assert.ok(msgEvent, 'a message event arrived');
    assert.deepEqual(keys(msgEvent), ['data', 'event']);
    const message = (msgEvent['data'] as Record<string, unknown>)['message'] as Record<string, unknown>;
    for (const k of ['id', 'from', 'to', 'text', 'sentAt']) assert.ok(k in message, `Message has ${k}`);
    assert.equal(message['text'], 'shape check');
    assert.equal(message['from'], other.username);
    assert.equal(message['to'], me);
    assert.equal(typeof message['id'], 'number');
    assert.equal(typeof message['sentAt'], 'number');
    await c.event('counts');
    for (const v of c.frames.slice(before).map((f) => JSON.parse(f.payload.toString('utf8')) as Record<string, unknown>))
      assert.deepEqual(keys(v), ['data', 'event'], 'events carry no id and no ok');
  });
});

function jsonFrameText(s: string): Buffer {
  const body = Buffer.from(s, 'utf8');
  return Buffer.concat([lengthPrefix(body.length), body]);
}
