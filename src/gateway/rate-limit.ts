/**
 * Failed-login limiter per source address: a sliding one-minute window. A source over
 * the limit is refused before its token is even parsed, so one noisy client cannot
 * make the gateway spend CPU on signatures or fill the logs, while others log in normally.
 */
export class FailureLimiter {
  private failures = new Map<string, number[]>();

  constructor(
    private readonly perMinute: number,
    private readonly maxSources = 100_000,
  ) {}

  blocked(source: string, now = Date.now()): boolean {
    const list = this.failures.get(source);
    if (!list) return false;
    while (list.length && list[0]! <= now - 60_000) list.shift();
    if (!list.length) this.failures.delete(source);
    return list.length >= this.perMinute;
  }

  fail(source: string, now = Date.now()): void {
    let list = this.failures.get(source);
    if (!list) {
      if (this.failures.size >= this.maxSources) this.failures.delete(this.failures.keys().next().value!);
      list = [];
      this.failures.set(source, list);
    }
    list.push(now);
    if (list.length > this.perMinute * 2) list.splice(0, list.length - this.perMinute * 2);
  }
}
