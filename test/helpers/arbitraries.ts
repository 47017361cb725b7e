/** fast-check arbitraries derived from the protocol's schemas, so a new op or field is generated automatically. */
import fc from 'fast-check';
import type { Schema } from '../../protocol/schema.js';

/** The leaves each caller chooses (unit tests favour variety, the fuzzer favours edge values). */
export interface Leaves {
  uint: fc.Arbitrary<number>;
  str: fc.Arbitrary<string>;
  bytes: fc.Arbitrary<Buffer>;
  maxArray: number;
}

export function schemaArb(s: Schema, leaves: Leaves): fc.Arbitrary<unknown> {
  switch (s.kind) {
    case 'uint':
      return leaves.uint;
    case 'str':
      return leaves.str;
    case 'bytes':
      return leaves.bytes;
    case 'bool':
      return fc.boolean();
    case 'opt':
      return fc.option(schemaArb(s.of, leaves), { nil: undefined });
    case 'nullable':
      return fc.option(schemaArb(s.of, leaves), { nil: null });
    case 'arr':
      return fc.array(schemaArb(s.of, leaves), { maxLength: leaves.maxArray });
    case 'obj': {
      // An opt field is an optional key: absent, not present-and-undefined (decoders leave absent keys out).
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      const requiredKeys: string[] = [];
      for (const [k, f] of Object.entries(s.fields)) {
        model[k] = schemaArb(f.kind === 'opt' ? f.of : f, leaves);
        if (f.kind !== 'opt') requiredKeys.push(k);
      }
      return fc.record(model, { requiredKeys, noNullPrototype: true });
    }
  }
}
