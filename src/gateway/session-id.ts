import { randomBytes } from 'node:crypto';

/** A sortable, file-name-safe session id: UTC time + 48 random bits (`20261122T051200Z-3f9a1c2b7d4e`). */
export function newSessionId(now = new Date()): string {
  const t = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${t}-${randomBytes(6).toString('hex')}`;
}
