import { type DetectFn, type Seg, type Span, codePoints, isAlnum, isWS } from './segment.js';

/** A key containing one of these may hold a secret (checked on the lower-cased key). */
const KEYWORD = /pass|pwd|secret|token|api[_-]?key|private[_-]?key|credential/gi;
/** Keys that hold a secret whatever the value looks like: password, db_password, mysql.pass, --password… */
const STRONG_KEY = /^(?:.*[_.-])?(?:password|passwd|pwd|pass)$|^pgpassword$/;
/** Keys that hold a secret when the value looks like one (8+ chars, not all digits, not a word like true). */
const WEAK_KEY = /password|passwd|secret|token|api[_-]?key|private[_-]?key|credential/;
const NOT_SECRET = new Set(['true', 'false', 'null', 'none', 'yes', 'no']);
/** Options that take the password as the next argument. */
const ARG_KEYS = new Set(['--password', '--passwd']);

function isKeyChar(c: number): boolean {
  return isAlnum(c) || c === 0x5f || c === 0x2e || c === 0x2d; // _ . -
}

function qualifies(strong: boolean, value: string): boolean {
  if (value.length === 0) return false;
  if (strong) return true;
  if (codePoints(value) < 8) return false;
  if (/^[0-9]+$/.test(value)) return false;
  return !NOT_SECRET.has(value.toLowerCase());
}

/**
 * `password=…`, `KEY: value`, `"KEY": "value"`, `--password X` (spec "Boundaries of a match").
 * Only the value is masked, never the key.
 */
export const passwordAssignment: DetectFn = (seg: Seg, out: Span[]) => {
  const t = seg.text;
  const n = t.length;
  const bounds = seg.bounds;
  let hold = n;
  let doneUpTo = 0;
  KEYWORD.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = KEYWORD.exec(t)) !== null) {
    let i = m.index;
    let j = i + m[0].length;
    if (i < doneUpTo) continue;
    while (i > 0 && isKeyChar(t.charCodeAt(i - 1)) && !(bounds && bounds.has(i))) i--;
    while (j < n && isKeyChar(t.charCodeAt(j)) && !(bounds && bounds.has(j))) j++;
    KEYWORD.lastIndex = j;
    doneUpTo = j;
    let keyEnd = j;
    while (keyEnd > i && t.charCodeAt(keyEnd - 1) === 0x2e) keyEnd--; // "the token." is not a key
    const key = t.slice(i, keyEnd).toLowerCase();
    const strong = STRONG_KEY.test(key);
    if (!strong && !WEAK_KEY.test(key)) continue;
    let p = keyEnd;
    // a quoted key: "password": … / 'password'=…
    const open = i > 0 ? t.charCodeAt(i - 1) : 0;
    if ((open === 0x22 || open === 0x27) && t.charCodeAt(p) === open) p++;
    let q = p;
    while (q < n && (t.charCodeAt(q) === 0x20 || t.charCodeAt(q) === 0x09)) q++;
    let form: 'eq' | 'colon' | 'arg';
    const c = t.charCodeAt(q);
    if (c === 0x3d /* = */) {
      const d = t.charCodeAt(q + 1);
      if (d === 0x3d || d === 0x3e || d === 0x7e) continue; // ==, =>, =~ are code, not assignments
      if (q > 0 && t.charCodeAt(q - 1) === 0x21) continue;
      form = 'eq';
      q++;
    } else if (c === 0x3a /* : */) {
      if (t.charCodeAt(q + 1) === 0x3a) continue;
      form = 'colon';
      q++;
    } else if (ARG_KEYS.has(key) && q > p) {
      form = 'arg';
    } else if (strong && q > p && (c === 0x22 || c === 0x27)) {
      form = 'arg'; // SQL-like `PASSWORD 'value'`: a quoted value after a password key
    } else {
      continue; // no separator (yet): nothing of a value has arrived, so nothing to hold
    }
    while (q < n && (t.charCodeAt(q) === 0x20 || t.charCodeAt(q) === 0x09)) q++;
    if (q >= n) continue; // no value (yet): nothing to mask, nothing to hold
    const qc = t.charCodeAt(q);
    if (qc === 0x22 || qc === 0x27) {
      // quoted: what stands between the quotes (a backslash escapes a quote)
      let k = q + 1;
      while (k < n) {
        const d = t.charCodeAt(k);
        if (d === 0x5c) { k += 2; continue; }
        if (d === qc) break;
        k++;
      }
      if (k >= n) {
        if (seg.partial) { hold = Math.min(hold, q + 1); break; }
        // unterminated: mask the rest of the line (the safer reading)
        let e = n;
        while (e > q + 1 && isWS(t.charCodeAt(e - 1))) e--;
        if (qualifies(strong, t.slice(q + 1, e))) out.push({ s: q + 1, e, id: 'password-assignment' });
        doneUpTo = n;
        break;
      }
      if (qualifies(strong, t.slice(q + 1, k))) out.push({ s: q + 1, e: k, id: 'password-assignment' });
      KEYWORD.lastIndex = doneUpTo = k + 1;
      continue;
    }
    let e = q;
    while (e < n && !isWS(t.charCodeAt(e))) e++;
    const rawEnd = e;
    while (e > q && (t.charCodeAt(e - 1) === 0x2c || t.charCodeAt(e - 1) === 0x3b)) e--; // trailing , ;
    if (form === 'colon') {
      // YAML-like: only when the value is the last token on the line
      let r = rawEnd;
      while (r < n && isWS(t.charCodeAt(r))) r++;
      if (r < n) {
        KEYWORD.lastIndex = doneUpTo = q; // the value may itself be a key (`passwd: password updated`)
        continue;
      }
      if (seg.partial) { hold = Math.min(hold, q); continue; }
    } else if (rawEnd >= n && seg.partial) {
      hold = Math.min(hold, q);
      continue;
    }
    if (qualifies(strong, t.slice(q, e))) out.push({ s: q, e, id: 'password-assignment' });
    KEYWORD.lastIndex = doneUpTo = rawEnd;
  }
  return hold;
};
