/**
 * Inputs that broke something, kept forever (issue 6: every crash, hang or desync found becomes a regression test),
 * and the edge inputs the mutator is meant to reach, pinned so a weaker mutator cannot lose them silently.
 * Payloads are hex, without the 4-byte length prefix. `expect` is 'ok' or the refusal's code.
 */
import type { Protocol } from '../../protocol/codec.js';

export interface DecoderRegression {
  protocol: Protocol;
  what: string;
  hex: string;
  expect: 'ok' | 'BAD_REQUEST' | 'UNKNOWN_OP';
}

const hexOf = (s: string): string => Buffer.from(s, 'utf8').toString('hex');

export const DECODER_REGRESSIONS: readonly DecoderRegression[] = [
  // Pinned edges (not bugs): the oracles must hold on each.
  { protocol: 'json', what: 'a "__proto__" member in args is ignored, not merged', hex: hexOf('{"id":1,"op":"hello","args":{"__proto__":{"client":"x"}}}'), expect: 'ok' },
  { protocol: 'json', what: 'a duplicate id: the last one counts (JSON.parse)', hex: hexOf('{"id":1,"op":"ping","id":2}'), expect: 'ok' },
  { protocol: 'json', what: 'an id of 2^53 is refused', hex: hexOf('{"id":9007199254740992,"op":"ping"}'), expect: 'BAD_REQUEST' },
  { protocol: 'json', what: 'a negative zero count decodes (as 0)', hex: hexOf('{"id":1,"op":"fetch_pending","args":{"limit":-0}}'), expect: 'ok' },
  { protocol: 'json', what: 'unpadded base64 in a bytes field is refused', hex: hexOf('{"id":1,"op":"login_finish","args":{"nonce":"n","proof":"AAA"}}'), expect: 'BAD_REQUEST' },
  { protocol: 'json', what: 'padding-only base64 is refused', hex: hexOf('{"id":1,"op":"login_finish","args":{"nonce":"n","proof":"===="}}'), expect: 'BAD_REQUEST' },
  { protocol: 'json', what: 'a lone surrogate escape in a string', hex: hexOf('{"id":1,"op":"send","args":{"to":"a","text":"\\ud800"}}'), expect: 'ok' },
  { protocol: 'binary', what: 'a 9-byte varint id is refused with id 0', hex: '11808080808080808001', expect: 'BAD_REQUEST' },
  { protocol: 'binary', what: 'a non-shortest varint id (81 00 = 1) is accepted', hex: '118100', expect: 'ok' },
  { protocol: 'binary', what: 'an array count of 2^32 with no bytes behind it', hex: '0e018080808010', expect: 'BAD_REQUEST' },
  { protocol: 'binary', what: 'a JSON payload on a binary connection (type byte 0x7b)', hex: hexOf('{"id":1,"op":"ping"}'), expect: 'UNKNOWN_OP' },
  { protocol: 'binary', what: 'invalid UTF-8 in a string becomes U+FFFD', hex: '01010102c3280100', expect: 'ok' },
];
