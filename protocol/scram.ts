/**
 * SCRAM-SHA-256 (RFC 5802 / RFC 7677) as SPEC §2.1 carries it: the client runs PBKDF2; the server stores only
 * StoredKey and ServerKey and checks a proof with a few HMACs.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';

export interface ScramKeys {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
  clientKey: Buffer;
}

const hmac = (key: Uint8Array, data: string): Buffer => createHmac('sha256', key).update(data).digest();
const sha256 = (data: Uint8Array): Buffer => createHash('sha256').update(data).digest();

/** PBKDF2 on the libuv thread pool, so it never blocks the event loop. */
export function saltedPassword(password: string, salt: Uint8Array, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    pbkdf2(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, 32, 'sha256', (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

export async function deriveKeys(password: string, salt: Uint8Array, iterations: number): Promise<ScramKeys> {
  const sp = await saltedPassword(password, salt, iterations);
  const clientKey = hmac(sp, 'Client Key');
  return {
    salt: Buffer.from(salt),
    iterations,
    clientKey,
    storedKey: sha256(clientKey),
    serverKey: hmac(sp, 'Server Key'),
  };
}

/** Fresh keys for sign-up or a password change: a random 16-byte salt. */
export const newKeys = (password: string, iterations: number): Promise<ScramKeys> =>
  deriveKeys(password, randomBytes(16), iterations);

/** RFC 5802's AuthMessage without channel binding (c=biws is base64 of "n,,"). */
export function authMessage(
  username: string,
  clientNonce: string,
  nonce: string,
  salt: Uint8Array,
  iterations: number,
): string {
  const s = Buffer.from(salt).toString('base64');
  return `n=${username},r=${clientNonce},r=${nonce},s=${s},i=${iterations},c=biws,r=${nonce}`;
}

const xor = (a: Uint8Array, b: Uint8Array): Buffer => {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
};

/** ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage). */
export const clientProof = (keys: Pick<ScramKeys, 'clientKey' | 'storedKey'>, am: string): Buffer =>
  xor(keys.clientKey, hmac(keys.storedKey, am));

export const serverSignature = (serverKey: Uint8Array, am: string): Buffer => hmac(serverKey, am);

/** The server's check: recover ClientKey from the proof and compare its hash with StoredKey in constant time. */
export function verifyProof(storedKey: Uint8Array, am: string, proof: Uint8Array): boolean {
  if (proof.length !== storedKey.length) return false;
  const clientKey = xor(proof, hmac(storedKey, am));
  return timingSafeEqual(sha256(clientKey), storedKey);
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A printable nonce (base64url has no ',' which AuthMessage uses as a separator). */
export const newNonce = (bytes = 18): string => randomBytes(bytes).toString('base64url');
