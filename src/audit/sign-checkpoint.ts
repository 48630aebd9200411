import { createPrivateKey, sign } from 'node:crypto';
import { compactVerify, importJWK } from 'jose';
import type { Ed25519PrivateJwk, JsonWebKey } from './signing-key.js';

/** What a checkpoint signs: the head it covers (the last event before the checkpoint event). */
export interface CheckpointPayload {
  seq: number;
  hash: string;
  ts: string;
}

/** Signs a checkpoint synchronously: inside a SQLite transaction, which cannot wait for a promise. */
export type CheckpointSigner = (head: CheckpointPayload) => string;

/**
 * A compact JWS (RFC 7515 §7.1) over `{seq, hash, ts}` with EdDSA (RFC 8037, Ed25519) and the
 * key's `kid` in the protected header, made with node:crypto directly so that it can run inside
 * a transaction, on the writer thread too. jose's compactVerify checks it (checkpointVerifier).
 */
export function checkpointSigner(kid: string, jwk: Ed25519PrivateJwk): CheckpointSigner {
  const key = createPrivateKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d }, format: 'jwk' });
  const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', kid })).toString('base64url');
  return (head) => {
    const payload = Buffer.from(JSON.stringify({ seq: head.seq, hash: head.hash, ts: head.ts })).toString('base64url');
    const input = `${header}.${payload}`;
    return `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`;
  };
}

export type CheckpointVerifier = (jws: string) => Promise<CheckpointPayload | null>;

/** A verifier bound to one public key: the payload when the signature holds, else null. */
export async function checkpointVerifier(publicKey: JsonWebKey): Promise<CheckpointVerifier> {
  const key = await importJWK({ kty: publicKey.kty!, crv: publicKey.crv!, x: publicKey.x! }, 'EdDSA');
  return async (jws) => {
    try {
      const { payload } = await compactVerify(jws, key, { algorithms: ['EdDSA'] });
      const p = JSON.parse(new TextDecoder().decode(payload)) as Partial<CheckpointPayload>;
      if (typeof p.seq !== 'number' || typeof p.hash !== 'string' || typeof p.ts !== 'string') return null;
      return { seq: p.seq, hash: p.hash, ts: p.ts };
    } catch {
      return null;
    }
  };
}
