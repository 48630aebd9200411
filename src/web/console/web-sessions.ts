import { createHash, randomBytes } from 'node:crypto';

export interface WebSession {
  subject: string;
  groups: readonly string[];
  /** The synchronizer CSRF token bound to this session. */
  csrf: string;
  expiresAt: number;
}

/**
 * Console sign-ins, server side, in memory (a restart signs everyone out). The cookie holds a
 * random 256-bit id; the map is keyed by its SHA-256, so the store never holds a usable cookie.
 * Bounded: beyond `max` sessions the oldest is dropped.
 */
export class WebSessions {
  private byHash = new Map<string, WebSession>();

  constructor(
    private readonly ttlMs: number,
    private readonly max = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  create(identity: { subject: string; groups: readonly string[] }): { id: string; session: WebSession } {
    this.sweep();
    while (this.byHash.size >= this.max) this.byHash.delete(this.byHash.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    const session: WebSession = {
      subject: identity.subject,
      groups: [...identity.groups],
      csrf: randomBytes(32).toString('base64url'),
      expiresAt: this.now() + this.ttlMs,
    };
    this.byHash.set(hashId(id), session);
    return { id, session };
  }

  get(id: string | undefined): WebSession | null {
    if (!id || id.length > 100) return null;
    const key = hashId(id);
    const s = this.byHash.get(key);
    if (!s) return null;
    if (s.expiresAt <= this.now()) {
      this.byHash.delete(key);
      return null;
    }
    return s;
  }

  destroy(id: string | undefined): void {
    if (id) this.byHash.delete(hashId(id));
  }

  get size(): number {
    return this.byHash.size;
  }

  private sweep(): void {
    const t = this.now();
    for (const [k, s] of this.byHash) if (s.expiresAt <= t) this.byHash.delete(k);
  }
}

function hashId(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}
