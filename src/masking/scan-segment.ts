import type { CompiledDetectors } from './compiled.js';
import { segmentHit } from './prefilter.js';
import { BEGIN_MARKER, endMarkerFor } from './private-key.js';
import { type Seg, type Span, isDigit, NWS, WS } from './segment.js';

export interface SegResult {
  /** Index in the segment from which nothing may be emitted yet (segment length when all is decided). */
  hold: number;
  /** A BEGIN marker ended the segment here: private-key masking starts at `at`, until `end`. */
  pem: { at: number; end: string } | null;
}

/** Words a secret token can start with: a trailing word that is a prefix of one (or starts with one) is held. */
const TOKEN_STARTS = ['AKIA', 'ASIA', 'ghp', 'gho', 'ghu', 'ghs', 'ghr', 'github', 'glpat', 'xoxb', 'xoxp', 'xoxa', 'xoxr', 'xoxs', 'sk', 'rk', 'AIza', 'eyJ'];
/** A line mentioning one of these may make its last word a value. */
const CONTEXT = /pass|pwd|secret|token|key|credential|auth|bearer/i;
const PLAIN_WORD = /^([A-Za-z]+)[.,:;!?'")\]]*$/;
/** The last whitespace (see isWS): a regex, not a loop back, as the last word of an overlong line may be 8 KB of base64. */
const LAST_WS = new RegExp(`${WS}(?=${NWS}*$)`);

/** True when the trailing word cannot become (part of) a secret whatever follows. */
function harmlessWord(word: string, segText: string): boolean {
  const m = PLAIN_WORD.exec(word);
  if (!m) return false;
  const letters = m[1]!;
  for (const a of TOKEN_STARTS) if (a.startsWith(letters) || letters.startsWith(a)) return false;
  return !CONTEXT.test(segText);
}

/**
 * The part of a partial line that could still be (part of) a secret: the last
 * word unless it is plain prose, a trailing run of digit groups (a card number
 * being typed), the whole line when a policy regex may match spaces.
 */
function genericHold(d: CompiledDetectors, seg: Seg): number {
  const t = seg.text;
  const n = t.length;
  if (d.custom.some((c) => c.mayMatchSpace)) return 0;
  const ws = LAST_WS.exec(t);
  const w = ws ? ws.index + 1 : 0;
  let hold = n;
  // a sequence inside the word is a word boundary: a token may start right after it
  let seqInside = false;
  if (seg.bounds) for (const b of seg.bounds) if (b > w) seqInside = true;
  if (w < n && (d.custom.length > 0 || seqInside || !harmlessWord(t.slice(w), t))) hold = w;
  // digit groups joined by single spaces/dashes, possibly ending in a separator
  let k = n;
  if (k > 0 && (t.charCodeAt(k - 1) === 0x20 || t.charCodeAt(k - 1) === 0x2d) && k > 1 && isDigit(t.charCodeAt(k - 2))) k--;
  let run = k;
  while (run > 0 && isDigit(t.charCodeAt(run - 1))) {
    while (run > 0 && isDigit(t.charCodeAt(run - 1))) run--;
    if (run > 1 && (t.charCodeAt(run - 1) === 0x20 || t.charCodeAt(run - 1) === 0x2d) && isDigit(t.charCodeAt(run - 2))) run--;
    else break;
  }
  if (run < k) hold = Math.min(hold, run);
  return hold;
}

function isCont(c: number): boolean {
  return c >= 0x80 && c <= 0xbf;
}

/**
 * Run every enabled detector on one segment (a line, or an L-sized piece of
 * an overlong one). Spans are pushed with `offset` added.
 */
export function scanSegment(d: CompiledDetectors, seg: Seg, offset: number, out: Span[]): SegResult {
  let pem: SegResult['pem'] = null;
  if (d.privateKey) {
    let idx = seg.text.indexOf('-----BEGIN');
    while (idx >= 0) {
      BEGIN_MARKER.lastIndex = idx;
      const m = BEGIN_MARKER.exec(seg.text);
      if (m) {
        const at = idx + m[0].length;
        pem = { at: offset + at, end: endMarkerFor(m[1]!) };
        seg = { text: seg.text.slice(0, at), bounds: seg.bounds, partial: false };
        break;
      }
      idx = seg.text.indexOf('-----BEGIN', idx + 1);
    }
  }
  const t = seg.text;
  const local: Span[] = [];
  let hold = t.length;
  let hit = d.custom.length > 0 || segmentHit(d.prefilter, t);
  if (!hit && d.longNeedles) hit = d.longNeedles.any(t);
  if (hit) {
    for (const f of d.fns) hold = Math.min(hold, f(seg, local));
    for (const c of d.custom) {
      c.re.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = c.re.exec(t)) !== null) {
        if (m[0].length === 0) { c.re.lastIndex++; continue; }
        local.push({ s: m.index, e: m.index + m[0].length, id: c.id });
      }
    }
  } else if (seg.partial && d.vaultedFn) {
    // no anchor, so no match; but the line may end with the first bytes of a vaulted value
    hold = Math.min(hold, d.vaultedFn(seg, []));
  }
  if (seg.partial) {
    hold = Math.min(hold, genericHold(d, seg));
    // a match reaching into the undecided tail may still change
    let changed = true;
    while (changed) {
      changed = false;
      for (const sp of local) if (sp.e > hold && sp.s < hold) { hold = sp.s; changed = true; }
    }
  }
  for (const sp of local) {
    let s = sp.s;
    let e = sp.e;
    while (s > 0 && isCont(t.charCodeAt(s))) s--;
    while (e < t.length && isCont(t.charCodeAt(e))) e++;
    out.push({ s: s + offset, e: e + offset, id: sp.id });
  }
  return { hold, pem };
}
