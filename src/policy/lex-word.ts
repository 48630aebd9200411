import { ansiCEnd, decodeAnsiC, decodeDoubleQuoted } from './words.js';

/** How an independent reading of one word's source text came out. */
export type LexedWord =
  | { readonly ok: true; readonly value: string; readonly sig: string; readonly expansion: boolean }
  | { readonly ok: false; readonly why: string };

/** Characters that end a word when unquoted: bash would split or end the command there. */
const BREAKS = new Set([' ', '\t', '\n', ';', '&', '|', '<', '>', '(', ')']);

/**
 * Reads `raw` (the source text the grammar took for ONE word) with bash's quoting rules, as a
 * check on tree-sitter-bash: its external scanner has its own idea of quotes in some places (the
 * `regex` token after `==` in a simple command ran past a line break and hid a command). The word
 * must be exactly one bash word: every quote closed inside it and no unquoted blank, line break or
 * operator. `skips` maps the start of each $(…), `…`, ${…}, $((…)), <(…), >(…) the grammar found to
 * its end: their insides are checked where the grammar walks them; a start with no entry fails.
 * `value` and `sig` (quoted characters as \x01) are meaningful when `expansion` is false.
 */
export function lexWord(raw: string, skips: ReadonlyMap<number, number>): LexedWord {
  let value = '';
  let sig = '';
  let expansion = false;
  let i = 0;
  const n = raw.length;
  /** $… at `i` (unquoted or in "…"): returns the index after it, or -1 when it cannot be read. */
  const dollar = (at: number): number => {
    const next = raw[at + 1];
    if (next === '(' || next === '{' || next === '[') {
      const end = skips.get(at);
      if (end === undefined) return -1;
      expansion = true;
      return end;
    }
    if (next !== undefined && /[A-Za-z_]/.test(next)) {
      let j = at + 2;
      while (j < n && /[A-Za-z0-9_]/.test(raw[j]!)) j++;
      expansion = true;
      return j;
    }
    if (next !== undefined && /[0-9@*#?$!-]/.test(next)) {
      expansion = true;
      return at + 2;
    }
    return at; // a literal `$`
  };
  while (i < n) {
    const c = raw[i]!;
    if (c === '\\') {
      // A word the grammar ends right after a backslash: bash's word goes on with the escaped
      // character (`$' x'\ )` is one word ending in a blank for bash).
      if (i + 1 >= n) return { ok: false, why: 'a word ending in a backslash' };
      const e = raw[i + 1]!;
      if (e !== '\n') {
        value += e;
        sig += '\x01';
      }
      i += 2;
      continue;
    }
    if (c === "'") {
      const end = raw.indexOf("'", i + 1);
      if (end < 0) return { ok: false, why: 'unterminated single quote' };
      value += raw.slice(i + 1, end);
      sig += '\x01';
      i = end + 1;
      continue;
    }
    if (c === '$' && raw[i + 1] === "'") {
      const len = ansiCEnd(raw.slice(i));
      if (len < 0) return { ok: false, why: "unterminated $'…'" };
      value += decodeAnsiC(raw.slice(i, i + len));
      sig += '\x01';
      i += len;
      continue;
    }
    if (c === '"' || (c === '$' && raw[i + 1] === '"')) {
      // "…" (and $"…", which bash reads the same way in the C locale).
      let j = c === '"' ? i + 1 : i + 2;
      let seg = '';
      let closed = false;
      while (j < n) {
        const d = raw[j]!;
        if (d === '\\' && j + 1 < n) {
          seg += d + raw[j + 1]!;
          j += 2;
        } else if (d === '"') {
          closed = true;
          j++;
          break;
        } else if (d === '`') {
          const end = skips.get(j);
          if (end === undefined) return { ok: false, why: 'a backquote the grammar did not read' };
          expansion = true;
          j = end;
        } else if (d === '$') {
          const end = dollar(j);
          if (end < 0) return { ok: false, why: 'an expansion the grammar did not read' };
          if (end === j) {
            seg += d;
            j++;
          } else j = end;
        } else {
          seg += d;
          j++;
        }
      }
      if (!closed) return { ok: false, why: 'unterminated double quote' };
      value += decodeDoubleQuoted(seg);
      sig += '\x01';
      i = j;
      continue;
    }
    if (c === '`' || ((c === '<' || c === '>') && raw[i + 1] === '(')) {
      const end = skips.get(i);
      if (end === undefined) return { ok: false, why: 'a substitution the grammar did not read' };
      expansion = true;
      i = end;
      continue;
    }
    if (c === '$') {
      const end = dollar(i);
      if (end < 0) return { ok: false, why: 'an expansion the grammar did not read' };
      if (end > i) {
        i = end;
        continue;
      }
    }
    if (BREAKS.has(c)) return { ok: false, why: `an unquoted ${JSON.stringify(c)} inside one word` };
    value += c;
    sig += c;
    i++;
  }
  return { ok: true, value, sig, expansion };
}
