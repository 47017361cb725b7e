/** FrameReader: how a TCP byte stream, cut anywhere, becomes frames; and how an oversized frame is refused. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameReader } from '../../protocol/framing.js';
import { frame } from '../../protocol/codec.js';

/** A reader that records copies of its payloads (they are views into the pushed chunks). */
function reader(maxFrame: number) {
  const got: string[] = [];
  const r = new FrameReader(maxFrame, (p) => got.push(Buffer.from(p).toString('hex')));
  return { r, got };
}

const hexes = (payloads: Buffer[]) => payloads.map((p) => p.toString('hex'));
const payloads = [Buffer.from('hello'), Buffer.alloc(0), Buffer.from([0x7b, 0, 1, 2]), Buffer.from('x'.repeat(300))];
const stream = Buffer.concat(payloads.map(frame));

/** Pushes `buf` cut at the given offsets; returns what push returned, in order. */
function pushCut(r: FrameReader, buf: Buffer, cuts: number[]): (number | undefined)[] {
  const at = [0, ...[...cuts].sort((a, b) => a - b), buf.length];
  return at.slice(1).map((end, i) => r.push(buf.subarray(at[i], end)));
}

describe('FrameReader', () => {
  test('the length prefix is 4 bytes, big-endian', () => {
    assert.equal(frame(Buffer.from([9, 8, 7])).toString('hex'), '00000003090807');
    assert.equal(frame(Buffer.alloc(0x010203)).subarray(0, 4).toString('hex'), '00010203');
  });

  test('all frames in one chunk', () => {
    const { r, got } = reader(1024);
    assert.equal(r.push(stream), undefined);
    assert.deepEqual(got, hexes(payloads));
  });

  test('one byte at a time', () => {
    const { r, got } = reader(1024);
    for (let i = 0; i < stream.length; i++) assert.equal(r.push(stream.subarray(i, i + 1)), undefined);
    assert.deepEqual(got, hexes(payloads));
  });

  test('split at every byte boundary, and at every pair of boundaries', () => {
    for (let i = 0; i <= stream.length; i++) {
      const { r, got } = reader(1024);
      pushCut(r, stream, [i]);
      assert.deepEqual(got, hexes(payloads), `cut at ${i}`);
    }
    // Pairs inside the first 40 bytes cover every way the small frames and their prefixes can be split.
    for (let i = 0; i <= 40; i++)
      for (let j = i; j <= 40; j++) {
        const { r, got } = reader(1024);
        pushCut(r, stream, [i, j]);
        assert.deepEqual(got, hexes(payloads), `cuts at ${i} and ${j}`);
      }
  });

  test('empty chunks change nothing', () => {
    const { r, got } = reader(1024);
    r.push(Buffer.alloc(0));
    r.push(stream.subarray(0, 2));
    r.push(Buffer.alloc(0));
    r.push(stream.subarray(2));
    r.push(Buffer.alloc(0));
    assert.deepEqual(got, hexes(payloads));
  });

  test('a frame of exactly the maximum is accepted; one byte more is refused', () => {
    const max = 64;
    const ok = reader(max);
    assert.equal(ok.r.push(frame(Buffer.alloc(max, 1))), undefined);
    assert.deepEqual(ok.got, [Buffer.alloc(max, 1).toString('hex')]);
    const big = reader(max);
    assert.equal(big.r.push(frame(Buffer.alloc(max + 1, 1))), max + 1);
    assert.deepEqual(big.got, []);
  });

  test('an oversized length is refused as soon as its 4 bytes arrive, however they are split', () => {
    const max = 16;
    const good = frame(Buffer.from('ok'));
    const huge = Buffer.from([0xff, 0xff, 0xff, 0xff]); // 4 GiB: must not wait for (or allocate) the body
    const after = frame(Buffer.from('never'));
    const all = Buffer.concat([good, huge, after]);
    const prefixEnd = good.length + 4;
    for (let cut = 0; cut <= all.length; cut++) {
      const { r, got } = reader(max);
      const first = r.push(all.subarray(0, cut));
      const second = r.push(all.subarray(cut));
      const third = r.push(after); // anything later is ignored
      // The refusal comes from whichever push completed the 4 length bytes.
      const expected = cut >= prefixEnd ? [0xffffffff, undefined, undefined] : [undefined, 0xffffffff, undefined];
      assert.deepEqual([first, second, third], expected, `cut at ${cut}`);
      assert.deepEqual(got, [Buffer.from('ok').toString('hex')], `cut at ${cut}`);
    }
  });

  test('a refused frame with only its prefix sent: push returns the length with no body', () => {
    const { r, got } = reader(100);
    assert.equal(r.push(Buffer.from([0, 0, 0, 101])), 101);
    assert.deepEqual(got, []);
  });

  test('stop() from the handler ends reading, even mid-chunk', () => {
    const got: string[] = [];
    const r = new FrameReader(1024, (p) => {
      got.push(p.toString());
      if (got.length === 1) r.stop();
    });
    assert.equal(r.push(stream), undefined);
    assert.equal(r.push(stream), undefined);
    assert.deepEqual(got, ['hello']);
  });

  test('random frames, randomly chunked, come out whole and in order', () =>
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 70 }), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (frames, cutSeeds) => {
          const buf = Buffer.concat(frames.map((f) => frame(Buffer.from(f))));
          const { r, got } = reader(70);
          for (const res of pushCut(r, buf, cutSeeds.map((c) => c % (buf.length + 1)))) assert.equal(res, undefined);
          assert.deepEqual(got, frames.map((f) => Buffer.from(f).toString('hex')));
        },
      ),
    ));

  test('random streams with one oversized frame: the frames before it, then nothing', () =>
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }),
        fc.integer({ min: 41, max: 0xffffffff }),
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (before, tooBig, afterwards, cutSeeds) => {
          const prefix = Buffer.alloc(4);
          prefix.writeUInt32BE(tooBig);
          const frames = (fs: Uint8Array[]) => fs.map((f) => frame(Buffer.from(f)));
          const buf = Buffer.concat([...frames(before), prefix, ...frames(afterwards)]);
          const { r, got } = reader(40);
          const results = pushCut(r, buf, cutSeeds.map((c) => c % (buf.length + 1)));
          assert.deepEqual(results.filter((x) => x !== undefined), [tooBig], 'refused once, with its length');
          assert.deepEqual(got, before.map((f) => Buffer.from(f).toString('hex')));
        },
      ),
    ));
});
