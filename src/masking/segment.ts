/** What every detector sees: one line (or a piece of an overlong line) of clean text, one char per byte. */
export interface Seg {
  text: string;
  /** Clean indices where an ANSI sequence was removed: a word boundary at a match edge. */
  bounds: Set<number> | null;
  /** True when more text of this line may still arrive. */
  partial: boolean;
}

/** A masked range [s, e) in the segment, and who found it. */
export interface Span {
  s: number;
  e: number;
  id: string;
}

/**
 * A detector appends spans and returns the index from which it needs more
 * text before it can decide (the segment length when it needs nothing).
 */
export type DetectFn = (seg: Seg, out: Span[]) => number;

export function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

export function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** ASCII whitespace only: `\s` would also match bytes 0x85 and 0xA0, which occur inside UTF-8 characters. */
export function isWS(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** Regex source for ASCII whitespace (see isWS). */
export const WS = '[ \\t\\n\\v\\f\\r]';
export const NWS = '[^ \\t\\n\\v\\f\\r]';

/** No letter or digit on the left of `i` (start, non-alnum, or an ANSI sequence). */
export function leftEdge(seg: Seg, i: number, word: (c: number) => boolean = isAlnum): boolean {
  return i === 0 || !word(seg.text.charCodeAt(i - 1)) || (seg.bounds !== null && seg.bounds.has(i));
}

/** No letter or digit at `e` (end, non-alnum, or an ANSI sequence). */
export function rightEdge(seg: Seg, e: number, word: (c: number) => boolean = isAlnum): boolean {
  return e >= seg.text.length || !word(seg.text.charCodeAt(e)) || (seg.bounds !== null && seg.bounds.has(e));
}

/** Number of code points in a UTF-8 byte string (continuation bytes 0x80–0xBF do not count). */
export function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80 || c > 0xbf) n++;
  }
  return n;
}
