/** SCRAM-SHA-256 helpers against RFC 7677's test vector, plus the server-side proof check and NFKC. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import {
  authMessage,
  clientProof,
  deriveKeys,
  newKeys,
  newNonce,
  sameBytes,
  saltedPassword,
  serverSignature,
  verifyProof,
} from '../../protocol/scram.js';

// RFC 7677 §3: user "user", password "pencil".
const RFC = {
  user: 'user',
  password: 'pencil',
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  nonce: 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
  iterations: 4096,
  proof: 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverSignature: '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};
// RFC 5802: client-first-message-bare "," server-first-message "," client-final-message-without-proof.
const RFC_AUTH_MESSAGE =
  'n=user,r=rOprNGfwEbeRWgbNEkqO' +
  ',r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096' +
  ',c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';

const rfcKeys = () => deriveKeys(RFC.password, RFC.salt, RFC.iterations);
const rfcAm = () => authMessage(RFC.user, RFC.clientNonce, RFC.nonce, RFC.salt, RFC.iterations);

describe('SCRAM-SHA-256 (RFC 7677 test vector)', () => {
  test('AuthMessage is exactly RFC 5802 / RFC 7677 string', () => {
    assert.equal(rfcAm(), RFC_AUTH_MESSAGE);
  });

  test('the client proof and server signature match the RFC', async () => {
    const keys = await rfcKeys();
    assert.equal(clientProof(keys, rfcAm()).toString('base64'), RFC.proof);
    assert.equal(serverSignature(keys.serverKey, rfcAm()).toString('base64'), RFC.serverSignature);
  });

  test('the derived keys follow RFC 5802 from SaltedPassword', async () => {
    // Recomputed here with node:crypto directly, so a mix-up of the HMAC labels or of StoredKey fails.
    const keys = await rfcKeys();
    const sp = await saltedPassword(RFC.password, RFC.salt, RFC.iterations);
    assert.equal(sp.length, 32);
    const hmac = (k: Buffer, s: string) => createHmac('sha256', k).update(s).digest();
    assert.deepEqual(keys.clientKey, hmac(sp, 'Client Key'));
    assert.deepEqual(keys.serverKey, hmac(sp, 'Server Key'));
    assert.deepEqual(keys.storedKey, createHash('sha256').update(keys.clientKey).digest());
    assert.deepEqual(keys.salt, RFC.salt);
    assert.equal(keys.iterations, RFC.iterations);
  });
});

describe('verifyProof (the server check)', () => {
  test('accepts the RFC proof', async () => {
    const keys = await rfcKeys();
    assert.equal(verifyProof(keys.storedKey, rfcAm(), Buffer.from(RFC.proof, 'base64')), true);
  });

  test('rejects a proof with one bit flipped, or over another AuthMessage', async () => {
    const keys = await rfcKeys();
    const proof = Buffer.from(RFC.proof, 'base64');
    for (let i = 0; i < proof.length; i++) {
      const bad = Buffer.from(proof);
      bad[i] = bad[i]! ^ 0x01;
      assert.equal(verifyProof(keys.storedKey, rfcAm(), bad), false, `byte ${i}`);
    }
    const otherAm = authMessage(RFC.user, RFC.clientNonce, RFC.nonce + 'x', RFC.salt, RFC.iterations);
    assert.equal(verifyProof(keys.storedKey, otherAm, proof), false);
  });

  test('rejects proofs of the wrong length without throwing', async () => {
    const keys = await rfcKeys();
    const proof = Buffer.from(RFC.proof, 'base64');
    for (const bad of [Buffer.alloc(0), proof.subarray(0, 31), Buffer.concat([proof, Buffer.from([0])])])
      assert.equal(verifyProof(keys.storedKey, rfcAm(), bad), false);
  });

  test('a fresh sign-up and login: the right password verifies, a wrong one does not', async () => {
    const keys = await newKeys('correct horse', 4096);
    assert.equal(keys.salt.length, 16);
    const am = authMessage('alice', 'cn', 'cn' + newNonce(), keys.salt, keys.iterations);
    assert.equal(verifyProof(keys.storedKey, am, clientProof(keys, am)), true);
    const wrong = await deriveKeys('correct horse!', keys.salt, keys.iterations);
    assert.equal(verifyProof(keys.storedKey, am, clientProof(wrong, am)), false);
  });
});

describe('password normalization and helpers', () => {
  test('NFKC: compatibility forms derive the same keys', async () => {
    const salt = Buffer.from('0001020304050607', 'hex');
    const same = async (a: string, b: string) =>
      (await deriveKeys(a, salt, 4096)).storedKey.equals((await deriveKeys(b, salt, 4096)).storedKey);
    assert.equal(await same('\u2168', 'IX'), true); // ROMAN NUMERAL NINE
    assert.equal(await same('caf\u00e9', 'cafe\u0301'), true); // precomposed vs combining accent
    assert.equal(await same('\uff21\uff22', 'AB'), true); // fullwidth letters
    assert.equal(await same('IX', 'ix'), false); // case is not folded
  });

  test('sameBytes compares content and length', () => {
    assert.equal(sameBytes(Buffer.from('abc'), Buffer.from('abc')), true);
    assert.equal(sameBytes(Buffer.from('abc'), Buffer.from('abd')), false);
    assert.equal(sameBytes(Buffer.from('abc'), Buffer.from('ab')), false);
  });

  test('nonces are fresh base64url, so they never contain the "," AuthMessage separates with', () => {
    const a = newNonce();
    assert.match(a, /^[A-Za-z0-9_-]{24}$/);
    assert.notEqual(a, newNonce());
  });
});
