/**
 * Finds lines holding long vaulted strings (a private key's base64 lines…)
 * without a regex alternation of hundreds of literals, which V8 scans slowly.
 * Any occurrence of a string of length >= MIN_LONG covers a whole K-byte
 * window starting at a multiple of STRIDE (from any origin), so looking up one
 * window every STRIDE bytes and verifying the candidates finds every occurrence.
 */
const K = 4;
export const MIN_LONG = 16;
const STRIDE = MIN_LONG - K + 1;
const BITS = 20;

/** The K bytes at j as one 32-bit key (exact: the text holds one byte per char). */
function windowKey(t: string, j: number): number {
  return (t.charCodeAt(j) | (t.charCodeAt(j + 1) << 8) | (t.charCodeAt(j + 2) << 16) | (t.charCodeAt(j + 3) << 24)) | 0;
}

function bit(key: number): number {
  return Math.imul(key, 0x9e3779b1) >>> (32 - BITS);
}

export class NeedleIndex {
  /** One bit per hashed window: a quick "certainly not" before the Map. */
  private readonly seen = new Uint32Array(1 << (BITS - 5));
  private readonly windows = new Map<number, { n: number; o: number }[]>();

  constructor(private readonly needles: readonly string[]) {
    needles.forEach((nd, n) => {
      if (nd.length < MIN_LONG) throw new RangeError('needle too short for the index');
      for (let o = 0; o + K <= nd.length; o++) {
        const key = windowKey(nd, o);
        const b = bit(key);
        this.seen[b >>> 5]! |= 1 << (b & 31);
        let list = this.windows.get(key);
        if (!list) this.windows.set(key, (list = []));
        list.push({ n, o });
      }
    });
  }

  /** True when the text holds any of the strings (stops at the first). */
  any(t: string): boolean {
    let found = false;
    this.scan(t, t.length, () => {
      found = true;
    });
    return found;
  }

  /** Every occurrence, once each: start and length, in no particular order. */
  findAll(t: string): { s: number; len: number }[] {
    const out: { s: number; len: number }[] = [];
    const seen = new Set<number>();
    this.scan(t, t.length, (s, n) => {
      // a long occurrence covers several sampled windows: report it once
      const key = s * 4096 + n;
      if (seen.has(key)) return;
      seen.add(key);
      out.push({ s, len: this.needles[n]!.length });
    });
    return out;
  }

  /** Calls `hit` with the start (and needle number) of every occurrence starting before `end`, in no particular order. */
  scan(t: string, end: number, hit: (start: number, needle: number) => void): void {
    const seen = this.seen;
    const last = Math.min(end + MIN_LONG, t.length) - K;
    for (let j = 0; j <= last; j += STRIDE) {
      const key = windowKey(t, j);
      const b = bit(key);
      if ((seen[b >>> 5]! & (1 << (b & 31))) === 0) continue;
      const list = this.windows.get(key);
      if (!list) continue;
      for (const { n, o } of list) {
        const s = j - o;
        if (s >= 0 && s < end && t.startsWith(this.needles[n]!, s)) hit(s, n);
      }
    }
  }
}
