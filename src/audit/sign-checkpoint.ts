import { CompactSign, compactVerify, importJWK } from 'jose';
import type { AuditSigningKey, JsonWebKey } from './signing-key.js';

/** What a checkpoint signs: the head it covers (the last event before the checkpoint event). */
export interface CheckpointPayload {
  seq: number;
  hash: string;
  ts: string;
}

export async function signCheckpoint(key: AuditSigningKey, head: CheckpointPayload): Promise<string> {
  const payload = new TextEncoder().encode(JSON.stringify({ seq: head.seq, hash: head.hash, ts: head.ts }));
  return new CompactSign(payload).setProtectedHeader({ alg: 'EdDSA', kid: key.kid }).sign(key.privateKey);
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
