import type { DetectFn, Seg, Span } from './segment.js';
import { MIN_LONG, type NeedleIndex } from './needle-index.js';

/** Shortest plaintext value we mask anywhere (shorter ones would mask ordinary words). */
export const MIN_VAULTED_LENGTH = 4;
const MIN_ENCODED_LENGTH = 8;
const PEM_LINE = /^-----(?:BEGIN|END) [^-]*-----$/;

/**
 * The strings to look for, as UTF-8 byte strings (one char per byte): each
 * value, each line of a multi-line value, its base64 (with and without
 * padding, base64url too) and its base64 wrapped as in PEM bodies (64, 70 or
 * 76 columns).
 */
export function vaultedNeedles(values: readonly string[]): string[] {
  const set = new Set<string>();
  const add = (s: string, min: number) => {
    if (s.length >= min && !s.includes('\n')) set.add(s);
  };
  for (const v of values) {
    const bytes = Buffer.from(v, 'utf8');
    const plain = bytes.toString('latin1');
    if (plain.includes('\n')) {
      for (const line of plain.split('\n')) {
        const l = line.replace(/\r$/, '').trim();
        if (!PEM_LINE.test(l)) add(l, MIN_VAULTED_LENGTH);
      }
    } else add(plain, MIN_VAULTED_LENGTH);
    const b64 = bytes.toString('base64');
    add(b64, MIN_ENCODED_LENGTH);
    add(b64.replace(/=+$/, ''), MIN_ENCODED_LENGTH);
    add(bytes.toString('base64url'), MIN_ENCODED_LENGTH);
    for (const width of [64, 70, 76]) {
      if (b64.length <= width) continue;
      for (let i = 0; i < b64.length; i += width) add(b64.slice(i, i + width), 16);
    }
  }
  // longest first, so a value wins over the pieces it contains
  return [...set].sort((a, b) => b.length - a.length);
}

export function vaultedDetector(needles: readonly string[], index: NeedleIndex | null = null): DetectFn {
  // Long strings (a key's base64 lines) are found through the index: one indexOf per needle
  // over every segment made throughput fall with the number of needles.
  const short = index ? needles.filter((nd) => nd.length < MIN_LONG) : needles;
  return (seg: Seg, out: Span[]) => {
    const t = seg.text;
    let hold = t.length;
    if (index) for (const { s, len } of index.findAll(t)) out.push({ s, e: s + len, id: 'vaulted-secret' });
    for (const nd of short) {
      let i = t.indexOf(nd);
      while (i >= 0) {
        out.push({ s: i, e: i + nd.length, id: 'vaulted-secret' });
        i = t.indexOf(nd, i + 1);
      }
    }
    if (seg.partial) {
      for (const nd of needles) {
        // the end of the text may be the start of this value
        const first = nd.charCodeAt(0);
        for (let k = Math.max(0, t.length - nd.length + 1); k < t.length; k++) {
          if (t.charCodeAt(k) === first && nd.startsWith(t.slice(k))) {
            hold = Math.min(hold, k);
            break;
          }
        }
      }
    }
    return hold;
  };
}
