import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SignJWT, calculateJwkThumbprint, importJWK, type JWK } from 'jose';
import { ed25519PrivateJwk, newEd25519Key } from '../util/new-ed25519-key.js';
import { randomUUID } from 'node:crypto';

export const DEV_AUDIENCE = 'shellgate';
const KEY_FILE = 'dev-issuer-key.json';

export interface DevIssuer {
  readonly issuer: string;
  readonly audience: string;
  readonly publicJwk: JWK;
  mint(opts: { sub: string; groups?: readonly string[]; ttlSeconds?: number; extra?: Record<string, unknown> }): Promise<string>;
}

/**
 * shellgate's own token issuer for demos and tests. Its Ed25519 key is created on first
 * use in the store's folder (0600), so two gateways with different stores have different
 * issuers: the issuer string embeds the key's thumbprint. EdDSA keeps tokens short
 * (OpenSSH sends at most 1023 characters per prompt answer).
 */
export async function loadDevIssuer(dataDir: string, opts: { create: boolean } = { create: true }): Promise<DevIssuer> {
  const file = path.join(dataDir, KEY_FILE);
  let privateJwk: JWK;
  if (existsSync(file)) {
    privateJwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
  } else {
    if (!opts.create) throw new Error(`the dev issuer has no key yet (${file}): start the gateway once with identity.devIssuer: true`);
    privateJwk = ed25519PrivateJwk(newEd25519Key());
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify(privateJwk) + '\n', { mode: 0o600, flag: 'wx' });
  }
  const { d: _d, ...publicJwk } = privateJwk;
  const kid = await calculateJwkThumbprint(publicJwk);
  const pub: JWK = { ...publicJwk, kid, alg: 'EdDSA', use: 'sig' };
  const key = await importJWK(privateJwk, 'EdDSA');
  const issuer = `urn:shellgate:dev:${kid.slice(0, 16)}`;
  return {
    issuer,
    audience: DEV_AUDIENCE,
    publicJwk: pub,
    async mint({ sub, groups = [], ttlSeconds = 900, extra = {} }) {
      return new SignJWT({ ...extra, groups: [...groups] })
        .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(DEV_AUDIENCE)
        .setSubject(sub)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
        .setJti(randomUUID())
        .sign(key);
    },
  };
}
