import path from 'node:path';

/**
 * One shell word after quote removal. `unknown` words hold an expansion whose value is not
 * known statically ($VAR, ${…}, an unquoted glob, ~user, brace expansion, a substitution);
 * `text` is then the source text, for display only.
 */
export interface Word {
  readonly text: string;
  /** The text compared with patterns: absolute paths normalised lexically. */
  readonly match: string;
  readonly unknown: boolean;
  /** An unknown word that may expand to an option (or to nothing). `{}` of find -exec cannot. */
  readonly optionable: boolean;
  /** Why the word is unknown (for reasons), e.g. "variable $HOME". */
  readonly why?: string;
}

export function knownWord(text: string): Word {
  return { text, match: normalisePath(text), unknown: false, optionable: false };
}

export function unknownWord(text: string, why: string, optionable = true): Word {
  return { text, match: text, unknown: true, optionable, why };
}

/** `/tmp/../etc//x/` → `/etc/x`. Only absolute paths: a relative path depends on the working directory. */
export function normalisePath(text: string): string {
  if (text.length < 2 || text.charCodeAt(0) !== 47 /* / */) return text;
  if (!/\/\/|\/\.|\/$/.test(text)) return text;
  let n = path.posix.normalize(text);
  if (n.length > 1 && n.endsWith('/')) n = n.slice(0, -1);
  return n;
}

export function basename(text: string): string {
  let t = text;
  while (t.length > 1 && t.endsWith('/')) t = t.slice(0, -1);
  const i = t.lastIndexOf('/');
  return i < 0 ? t : t.slice(i + 1);
}

/** Quote removal inside "…": a backslash only escapes $ ` " \ and a newline. */
export function decodeDoubleQuoted(raw: string): string {
  if (!raw.includes('\\')) return raw;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\' && i + 1 < raw.length) {
      const n = raw[i + 1]!;
      if (n === '\n') { i++; continue; }
      if (n === '$' || n === '`' || n === '"' || n === '\\') { out += n; i++; continue; }
    }
    out += c;
  }
  return out;
}

/**
 * Quote removal for an unquoted word. Returns the value and a signature where every quoted
 * (escaped) character is \x01, so that globs, braces and tildes can be detected on what is unquoted.
 */
export function decodeUnquoted(raw: string): { value: string; sig: string } {
  if (!raw.includes('\\')) return { value: raw, sig: raw };
  let value = '';
  let sig = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\' && i + 1 < raw.length) {
      const n = raw[i + 1]!;
      i++;
      if (n === '\n') continue;
      value += n;
      sig += '\x01';
      continue;
    }
    value += c;
    sig += c;
  }
  return { value, sig };
}

/** `$'…'` as bash decodes it (a NUL ends the string, as in bash). `raw` is the whole token. */
export function decodeAnsiC(raw: string): string {
  const body = raw.startsWith("$'") ? raw.slice(2, raw.endsWith("'") ? -1 : undefined) : raw;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\' || i + 1 >= body.length) { out += c; continue; }
    const n = body[++i]!;
    let code: number | null = null;
    switch (n) {
      case 'a': code = 7; break;
      case 'b': code = 8; break;
      case 'e': case 'E': code = 27; break;
      case 'f': code = 12; break;
      case 'n': code = 10; break;
      case 'r': code = 13; break;
      case 't': code = 9; break;
      case 'v': code = 11; break;
      case '\\': case "'": case '"': case '?': code = n.charCodeAt(0); break;
      case 'c': {
        if (i + 1 < body.length) {
          const x = body[++i]!;
          code = x === '?' ? 127 : x.toUpperCase().charCodeAt(0) & 0x1f;
        } else {
          out += '\\c';
        }
        break;
      }
      case 'x': case 'u': case 'U': {
        const max = n === 'x' ? 2 : n === 'u' ? 4 : 8;
        let j = i + 1;
        while (j < body.length && j - (i + 1) < max && /[0-9a-fA-F]/.test(body[j]!)) j++;
        if (j === i + 1) { out += '\\' + n; break; }
        code = parseInt(body.slice(i + 1, j), 16);
        i = j - 1;
        if (code > 0x10ffff) code = 0xfffd;
        break;
      }
      default:
        if (n >= '0' && n <= '7') {
          let j = i;
          while (j < body.length && j - i < 3 && body[j]! >= '0' && body[j]! <= '7') j++;
          code = parseInt(body.slice(i, j), 8) & 0xff;
          i = j - 1;
        } else {
          out += '\\' + n;
        }
    }
    if (code !== null) {
      if (code === 0) return out; // bash stops at a NUL
      out += String.fromCodePoint(code);
    }
  }
  return out;
}

/** What makes an (unquoted part of a) word unknown: a glob, brace expansion or a leading tilde. */
export function unquotedExpansion(sig: string): string | null {
  if (sig.charCodeAt(0) === 126 /* ~ */) return 'tilde expansion';
  if (/[*?]/.test(sig) || /\[[^\]]*\]/.test(sig)) return 'unquoted glob';
  if (/\{[^{}]*(,|\.\.)[^{}]*\}/.test(sig)) return 'brace expansion';
  return null;
}

/** Where bash ends the $'…' token that starts `raw` (a backslash escapes any next character). */
export function ansiCEnd(raw: string): number {
  for (let i = 2; i < raw.length; i++) {
    const c = raw[i];
    if (c === '\\') i++;
    else if (c === "'") return i + 1;
  }
  return -1;
}
