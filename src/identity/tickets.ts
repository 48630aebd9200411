import { createHash, randomBytes } from 'node:crypto';
import type { Identity } from './types.js';

export const TICKET_TTL_MS = 60_000;
const PREFIX = 'sgt_';
const MAX_LIVE = 100_000;

/**
 * One-time login tickets (cli.md): OpenSSH sends at most 1023 characters per prompt
 * answer, so an agent trades its long JWT for a short ticket over HTTPS first.
 * Single use, valid 60 s and never beyond the token's own expiry, bound to its identity.
 * Only the SHA-256 of a ticket is kept, so a memory dump does not reveal live tickets
 * and lookup by hash does not leak the ticket through timing.
 */
export class TicketStore {
  private live = new Map<string, { identity: Identity; expiresAt: number }>();

  issue(identity: Identity, now = Date.now()): { ticket: string; expiresAt: number } {
    this.sweep(now);
    if (this.live.size >= MAX_LIVE) throw new Error('too many live tickets');
    const ticket = PREFIX + randomBytes(24).toString('base64url');
    let expiresAt = now + TICKET_TTL_MS;
    if (identity.expiresAt !== null) expiresAt = Math.min(expiresAt, identity.expiresAt * 1000);
    this.live.set(hash(ticket), { identity: { ...identity, via: 'ticket' }, expiresAt });
    return { ticket, expiresAt };
  }

  static looksLikeTicket(answer: string): boolean {
    return answer.startsWith(PREFIX) && answer.length < 64;
  }

  /** Redeem (and burn) a ticket. Returns null when unknown, used or expired. */
  redeem(ticket: string, now = Date.now()): Identity | null {
    const key = hash(ticket.trim());
    const entry = this.live.get(key);
    if (!entry) return null;
    this.live.delete(key);
    return entry.expiresAt > now ? entry.identity : null;
  }

  private sweep(now: number): void {
    for (const [k, v] of this.live) if (v.expiresAt <= now) this.live.delete(k);
  }
}

function hash(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
