import { type DetectFn, type Seg, type Span, isAlnum, leftEdge, rightEdge } from './segment.js';

export function luhn(digits: string): boolean {
  let sum = 0;
  let dbl = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}

const ANCHOR = /[0-9]{4}[ -]?[0-9]{4}/;

/** Runs of digit groups joined by single spaces or dashes. */
const RUN = /[0-9]+(?:[ -][0-9]+)*/g;

/**
 * 13–19 digits, alone or grouped by single spaces or dashes, not touching a
 * letter or digit, passing Luhn. Any consecutive groups of a longer run may
 * form the number (`4111 1111 1111 1111 exp 12` still masks the card).
 */
export const creditCard: DetectFn = (seg: Seg, out: Span[]) => {
  const t = seg.text;
  RUN.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = RUN.exec(t)) !== null) {
    const run = m[0];
    if (run.length < 13) continue;
    const groups: { s: number; e: number }[] = [];
    const re = /[0-9]+/g;
    let g: RegExpExecArray | null;
    while ((g = re.exec(run)) !== null) groups.push({ s: m.index + g.index, e: m.index + g.index + g[0].length });
    let first = 0;
    let last = groups.length - 1;
    if (!leftEdge(seg, groups[0]!.s)) first = 1; // touches a letter on the left
    if (!rightEdge(seg, groups[last]!.e)) last--; // … or on the right
    const marked: boolean[] = [];
    for (let a = first; a <= last; a++) {
      let digits = '';
      for (let b = a; b <= last; b++) {
        digits += t.slice(groups[b]!.s, groups[b]!.e);
        if (digits.length > 19) break;
        // the prefilter's anchor (4+4 digits, at most one separator between) must lie inside the number
        if (digits.length >= 13 && luhn(digits) && ANCHOR.test(t.slice(groups[a]!.s, groups[b]!.e))) for (let k = a; k <= b; k++) marked[k] = true;
      }
    }
    // contiguous marked groups form one finding (separators inside are masked too)
    let k = first;
    while (k <= last) {
      if (!marked[k]) { k++; continue; }
      let z = k;
      while (z + 1 <= last && marked[z + 1]) z++;
      out.push({ s: groups[k]!.s, e: groups[z]!.e, id: 'credit-card' });
      k = z + 1;
    }
  }
  return t.length;
};

const SSN = /([0-9]{3})-([0-9]{2})-([0-9]{4})/g;

/** AAA-GG-SSSS, excluding areas 000, 666, 9xx and zero groups or serials. */
export const usSsn: DetectFn = (seg: Seg, out: Span[]) => {
  const t = seg.text;
  SSN.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = SSN.exec(t)) !== null) {
    const s = m.index;
    const e = s + 11;
    const area = m[1]!;
    const ok =
      leftEdge(seg, s) &&
      rightEdge(seg, e) &&
      // part of a longer dash-joined number (123-45-6789-0) is not an SSN
      !(s >= 2 && t.charCodeAt(s - 1) === 0x2d && isAlnum(t.charCodeAt(s - 2))) &&
      !(e + 1 < t.length && t.charCodeAt(e) === 0x2d && isAlnum(t.charCodeAt(e + 1))) &&
      area !== '000' && area !== '666' && area[0] !== '9' && m[2] !== '00' && m[3] !== '0000';
    if (ok) out.push({ s, e, id: 'us-ssn' });
    else SSN.lastIndex = s + 1;
  }
  return t.length;
};
