import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, fchmodSync, fstatSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';

/** The per-gateway key that signs one-time approve/deny links, kept in the data dir (0600). */
export const LINK_KEY_FILE = 'approval-links.key';

export function loadOrCreateLinkKey(dataDir: string): Buffer {
  const file = path.join(dataDir, LINK_KEY_FILE);
  try {
    const fd = openSync(file, 'wx', 0o600); // exclusive: two processes never both write a key
    try {
      const key = randomBytes(32);
      writeSync(fd, key.toString('base64url') + '\n');
      fchmodSync(fd, 0o600);
      return key;
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const fd = openSync(file, 'r');
  try {
    if ((fstatSync(fd).mode & 0o077) !== 0) fchmodSync(fd, 0o600);
  } finally {
    closeSync(fd);
  }
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
  if (key.length !== 32) throw new TypeError(`${file}: approval link key must be 32 bytes (base64url); delete it to create a new one`);
  return key;
}

export interface LinkClaims {
  id: string;
  decision: 'approve' | 'deny';
  /** Expiry, unix seconds. */
  exp: number;
  nonce: string;
}

const PREFIX = 'v1';

function mac(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', key).update('shellgate approval link\n' + payload).digest();
}

/** `v1.<id>.<a|d>.<exp>.<nonce>.<mac>`: URL-safe, no padding, nothing secret besides the mac. */
export function signLinkToken(key: Buffer, claims: Omit<LinkClaims, 'nonce'>): { token: string; nonce: string } {
  const nonce = randomBytes(12).toString('base64url');
  const payload = [PREFIX, claims.id, claims.decision === 'approve' ? 'a' : 'd', String(claims.exp), nonce].join('.');
  return { token: payload + '.' + mac(key, payload).toString('base64url'), nonce };
}

/** The claims of a genuine token (expired or not: the caller decides 410), or null for anything forged or malformed. */
export function verifyLinkToken(key: Buffer, token: string): LinkClaims | null {
  if (token.length > 200) return null;
  const parts = token.split('.');
  if (parts.length !== 6 || parts[0] !== PREFIX) return null;
  const [, id, d, exp, nonce, sig] = parts as [string, string, string, string, string, string];
  if (!/^[0-9a-z]{8}$/.test(id) || (d !== 'a' && d !== 'd') || !/^\d{1,12}$/.test(exp) || !/^[\w-]{16}$/.test(nonce)) return null;
  if (!/^[\w-]{43}$/.test(sig)) return null;
  const expected = mac(key, parts.slice(0, 5).join('.'));
  const got = Buffer.from(sig, 'base64url');
  if (got.length !== expected.length || !timingSafeEqual(got, expected)) return null;
  return { id, decision: d === 'a' ? 'approve' : 'deny', exp: Number(exp), nonce };
}
