/**
 * The bounded fuzz pass that `npm test` runs: the frame reader and both protocols' decoders (server side and client
 * side) on mutated frames, a few thousand inputs each, plus every input that ever broke something (regressions.ts).
 * `npm run fuzz` runs the same properties a million times per protocol (scripts/fuzz.mjs).
 *
 * A failure prints fast-check's seed and path; `FUZZ_SEED=<seed> npm test -- test/fuzz/decoders.test.ts` replays it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { Protocol } from '../../protocol/codec.js';
import { checkFrameStream, checkRequest, checkServerMessage, frameStreamArb, requestInputArb, serverInputArb } from './harness.js';
import { DECODER_REGRESSIONS } from './regressions.js';

const PROTOCOLS: readonly Protocol[] = ['json', 'binary'];
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 3000);
const seed = process.env['FUZZ_SEED'] === undefined ? undefined : Number(process.env['FUZZ_SEED']);
const params = (numRuns: number): fc.Parameters<unknown> => ({ numRuns, ...(seed === undefined ? {} : { seed }) });

for (const protocol of PROTOCOLS) {
  describe(`${protocol} decoders under mutation`, () => {
    test(`decodeRequest: ${RUNS} mutated requests; refusals blame the request, acceptances conform to the schema`, () => {
      let accepted = 0;
      fc.assert(
        fc.property(requestInputArb(protocol), (input) => {
          if (checkRequest(protocol, input.payload).ok) accepted++;
        }),
        params(RUNS),
      );
      // The mutator must keep some inputs decodable, or the acceptance oracles would never run.
      assert.ok(accepted > RUNS / 20, `only ${accepted} of ${RUNS} inputs decoded`);
    });

    test(`decodeServerMessage (the client facing a hostile server): ${RUNS} mutated results, errors and events`, () => {
      let quick = 0;
      fc.assert(
        fc.property(serverInputArb(protocol), (input) => {
          if (checkServerMessage(protocol, input.payload, input.pending)) quick++;
        }),
        params(RUNS),
      );
      // JSON: the in-place reader must see enough inputs for its agreement with the general path to mean something.
      if (protocol === 'json') assert.ok(quick > RUNS / 20, `only ${quick} of ${RUNS} inputs read in place`);
    });
  });
}

describe('frame reader', () => {
  test(`${RUNS} random streams with lying length prefixes, cut anywhere, match the reference reader`, () => {
    fc.assert(fc.property(frameStreamArb, checkFrameStream), params(RUNS));
  });
});

describe('regressions: inputs that once broke a decoder or the server', () => {
  for (const r of DECODER_REGRESSIONS)
    test(`${r.protocol}: ${r.what}`, () => {
      const d = checkRequest(r.protocol, Buffer.from(r.hex, 'hex'));
      assert.equal(d.ok ? 'ok' : d.error.code, r.expect);
    });
});
