import { createHash, timingSafeEqual } from 'node:crypto';

/** OpenSSH's fingerprint of a public key blob: "SHA256:" + unpadded base64 of its SHA-256 (ssh-keygen -lf). */
export function fingerprint(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

export function fingerprintMatches(keyBlob: Buffer, pinned: string): boolean {
  const a = Buffer.from(fingerprint(keyBlob));
  const b = Buffer.from(pinned.replace(/=+$/, ''));
  return a.length === b.length && timingSafeEqual(a, b);
}
