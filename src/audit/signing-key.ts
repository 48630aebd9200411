import { chmodSync, closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { ed25519PrivateJwk, newEd25519Key } from '../util/new-ed25519-key.js';

/** A JSON Web Key (jose's JWK; the DOM's JsonWebKey is not in this project's lib). */
export type JsonWebKey = JWK;
import { AuditError } from './errors.js';

export const SIGNING_KEY_FILE = 'audit-signing-key.json';

export interface AuditSigningKey {
  readonly kid: string;
  /** The private JWK, for the checkpoint signer inside the writer's transactions (and its thread). Never logged. */
  readonly privateJwk: Ed25519PrivateJwk;
  readonly publicJwk: JsonWebKey;
}

export interface Ed25519PrivateJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  d: string;
}

type Logger = { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };

/**
 * Load the Ed25519 audit key from `<dataDir>/audit-signing-key.json` (a private JWK, mode
 * 0600), creating it on first start. Creation writes a temporary file and hard-links it into
 * place, so two processes starting together never clobber each other or see half a key.
 */
export async function loadOrCreateSigningKey(dataDir: string, logger?: Logger): Promise<AuditSigningKey> {
  const file = path.join(dataDir, SIGNING_KEY_FILE);
  let jwk: JsonWebKey & { kid?: string };
  try {
    jwk = readKeyFile(file);
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) {
      chmodSync(file, 0o600);
      logger?.warn({ file, mode: mode.toString(8) }, 'audit signing key was readable by others; mode set to 0600');
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    jwk = await createKeyFile(file);
    logger?.info({ file, kid: jwk.kid }, 'created audit signing key');
  }
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.d !== 'string' || typeof jwk.x !== 'string') {
    throw new AuditError(`${file}: not an Ed25519 private JWK`);
  }
  const publicJwk = publicPart(jwk);
  const kid = (publicJwk as { kid: string }).kid;
  return { kid, privateJwk: { kty: 'OKP', crv: 'Ed25519', x: jwk.x, d: jwk.d }, publicJwk };
}

/** The checkpoint public key (no private part), as `shellgate audit pubkey` prints it. */
export async function loadAuditPublicKey(dataDir: string): Promise<JsonWebKey> {
  const file = path.join(dataDir, SIGNING_KEY_FILE);
  let jwk: JsonWebKey;
  try {
    jwk = readKeyFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new AuditError(`no audit signing key at ${file}`);
    throw err;
  }
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') {
    throw new AuditError(`${file}: not an Ed25519 JWK`);
  }
  return publicPart(jwk);
}

function readKeyFile(file: string): JsonWebKey & { kid?: string } {
  const text = readFileSync(file, 'utf8');
  try {
    return JSON.parse(text) as JsonWebKey;
  } catch {
    throw new AuditError(`${file}: not valid JSON`); // never echo the content: it is a private key
  }
}

function publicPart(jwk: JsonWebKey & { kid?: string }): JsonWebKey {
  return { kty: 'OKP', crv: 'Ed25519', x: jwk.x!, alg: 'EdDSA', use: 'sig', kid: jwk.kid ?? '' } as JsonWebKey;
}

async function createKeyFile(file: string): Promise<JsonWebKey & { kid?: string }> {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const exported = ed25519PrivateJwk(newEd25519Key());
  const kid = await calculateJwkThumbprint({ kty: exported.kty!, crv: exported.crv!, x: exported.x! });
  const jwk = { kty: exported.kty, crv: exported.crv, x: exported.x, d: exported.d, alg: 'EdDSA', use: 'sig', kid };
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  // fsync before the link, and the folder after: a key lost to a power cut would orphan every
  // checkpoint signed with it.
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, JSON.stringify(jwk) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file);
    syncDir(path.dirname(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return readKeyFile(file); // another process won the race: use its key
  } finally {
    unlinkSync(tmp);
  }
  return jwk as JsonWebKey & { kid?: string };
}

function syncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the file itself is already synced.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
