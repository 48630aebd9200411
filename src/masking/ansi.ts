/**
 * Separates ANSI escape sequences from text so detectors see the text as if
 * the sequences were absent. Works on "binary" strings (one char per byte).
 */

/** A removed sequence: `at` is the clean-text index it sits before. */
export interface AnsiSeq {
  at: number;
  s: string;
}

export interface Stripped {
  clean: string;
  seqs: AnsiSeq[];
  /** An incomplete sequence at the very end, kept for the next chunk ('' when none). */
  rest: string;
}

const ESC = 0x1b;
const MAX_CSI = 64;
const MAX_STRING_SEQ = 4096;

/**
 * Length of the sequence starting at `i` (text[i] is ESC), or -1 if the text
 * ends before we can tell. Decisions depend only on the bytes, never on where
 * a chunk ended, so every split gives the same result.
 */
function seqLength(text: string, i: number): number {
  const n = text.length;
  if (i + 1 >= n) return -1;
  const c = text.charCodeAt(i + 1);
  if (c === 0x5b /* [ CSI */) {
    let j = i + 2;
    while (j < n && j - i < MAX_CSI) {
      const d = text.charCodeAt(j);
      if (d >= 0x40 && d <= 0x7e) return j + 1 - i; // final byte
      if (d < 0x20 || d > 0x3f) {
        if (d >= 0x20 && d <= 0x2f) { j++; continue; } // intermediate bytes
        return j - i; // malformed: the sequence ends before the odd byte
      }
      j++;
    }
    return j - i >= MAX_CSI ? MAX_CSI : -1;
  }
  if (c === 0x5d /* ] OSC */ || c === 0x50 /* P DCS */ || c === 0x5f /* _ APC */ || c === 0x5e /* ^ PM */) {
    let j = i + 2;
    while (j < n && j - i < MAX_STRING_SEQ) {
      const d = text.charCodeAt(j);
      if (d === 0x07 && c === 0x5d) return j + 1 - i; // BEL ends an OSC
      if (d === ESC) {
        if (j + 1 >= n) return -1;
        if (text.charCodeAt(j + 1) === 0x5c) return j + 2 - i; // ST
        return j - i; // another ESC: this string ended unterminated
      }
      j++;
    }
    return j - i >= MAX_STRING_SEQ ? 2 : -1;
  }
  if (c === 0x28 || c === 0x29 || c === 0x2a || c === 0x2b || c === 0x23 || c === 0x25 || c === 0x20) {
    // charset designation and friends: ESC ( B; never swallow a non-ASCII byte
    if (i + 2 >= n) return -1;
    const d = text.charCodeAt(i + 2);
    return d >= 0x20 && d <= 0x7e ? 3 : 2;
  }
  if (c >= 0x30 && c <= 0x7e) return 2; // ESC 7, ESC =, ESC M …
  return 1; // lone ESC
}

/** Strip sequences from `text`. With `final`, an incomplete trailing sequence is kept as an opaque sequence. */
export function stripAnsi(text: string, final: boolean): Stripped {
  let i = text.indexOf('\x1b');
  if (i < 0) return { clean: text, seqs: [], rest: '' };
  const parts: string[] = [];
  const seqs: AnsiSeq[] = [];
  let last = 0;
  let cleanLen = 0;
  while (i >= 0) {
    let len = seqLength(text, i);
    if (len < 0) {
      if (!final) {
        parts.push(text.slice(last, i));
        return { clean: parts.join(''), seqs, rest: text.slice(i) };
      }
      len = text.length - i;
    }
    parts.push(text.slice(last, i));
    cleanLen += i - last;
    seqs.push({ at: cleanLen, s: text.slice(i, i + len) });
    last = i + len;
    i = text.indexOf('\x1b', last);
  }
  parts.push(text.slice(last));
  return { clean: parts.join(''), seqs, rest: '' };
}
