import type { LineDecision } from './types.js';

/** A bounded LRU map (Map keeps insertion order: the first key is the least recently used). */
export class LruCache<V> {
  private readonly map = new Map<string, V>();
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new TypeError('LruCache capacity must be a positive integer');
  }
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, value: V): void {
    if (this.map.has(key)) this.map.delete(key);
    else if (this.map.size >= this.capacity) this.map.delete(this.map.keys().next().value as string);
    this.map.set(key, value);
  }
  get size(): number {
    return this.map.size;
  }
  clear(): void {
    this.map.clear();
  }
}

/** Decisions are cached per (policy version, line, subject, groups, target); lines longer than this are not cached. */
export const CACHE_MAX_LINE = 4096;
export const decisionCache = new LruCache<LineDecision>(20_000);

export function cacheKey(version: string, line: string, subject: string, groups: readonly string[], target: string): string {
  // Length prefixes make the key unambiguous whatever the names hold (a crafted subject must
  // never collide with another identity's entry).
  let k = `${version}|${subject.length}:${subject}|${target.length}:${target}|${groups.length}`;
  for (const g of groups) k += `|${g.length}:${g}`;
  return `${k}|${line}`;
}
