/**
 * Sign-in attempts per client address in a sliding minute. Bounded: at most `maxClients`
 * addresses are tracked; when full, stale entries go first, then the oldest.
 */
export class LoginLimiter {
  private hits = new Map<string, number[]>();

  constructor(
    private readonly perMinute: number,
    private readonly maxClients = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Count an attempt; false when this address is over the limit. */
  allow(address: string): boolean {
    const t = this.now();
    const recent = (this.hits.get(address) ?? []).filter((x) => t - x < 60_000);
    if (recent.length >= this.perMinute) {
      this.hits.set(address, recent);
      return false;
    }
    recent.push(t);
    this.hits.delete(address);
    if (this.hits.size >= this.maxClients) {
      for (const [k, v] of this.hits) if (v.every((x) => t - x >= 60_000)) this.hits.delete(k);
      while (this.hits.size >= this.maxClients) this.hits.delete(this.hits.keys().next().value!);
    }
    this.hits.set(address, recent);
    return true;
  }
}
