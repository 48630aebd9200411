import { randomBytes } from 'node:crypto';

// Crockford base32, lower case: no i, l, o, u, so an id read aloud or retyped is unambiguous.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * An 8-character request id (40 random bits). It is for display and typing, not a secret:
 * deciding a request always needs authentication (or a signed one-time link).
 */
export function newApprovalId(): string {
  const bytes = randomBytes(5);
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let out = '';
  for (let i = 0; i < 8; i++) {
    out = ALPHABET[Number(n & 31n)]! + out;
    n >>= 5n;
  }
  return out;
}

/** Accept `#ID`, upper case and surrounding blanks from people typing an id. */
export function normalizeApprovalId(input: string): string {
  return input.trim().replace(/^#/, '').toLowerCase();
}
