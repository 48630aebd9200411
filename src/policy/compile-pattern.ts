import { parse as shellParse } from 'shell-quote';
import { globToRegExp, hasGlob } from './glob.js';
import type { Part } from './unwrap.js';
import { basename, normalisePath, type Word } from './words.js';

type WordMatcher = { text: string; re: RegExp | null };

type OptionConstraint =
  | { kind: 'short'; letter: string }
  | { kind: 'exact'; word: string }
  | { kind: 'long'; name: string; value: RegExp | null }
  | { kind: 'glob'; re: RegExp };

type Positional =
  | { kind: 'one' }
  | { kind: 'any' }
  | { kind: 'lit'; m: WordMatcher; absolute: boolean };

export interface CompiledPattern {
  readonly source: string;
  readonly program: { redirect: true } | { redirect: false; m: WordMatcher; slash: boolean; absolute: boolean; base: WordMatcher };
  readonly options: readonly OptionConstraint[];
  /** null: the pattern puts no constraint on non-option arguments. */
  readonly positional: readonly Positional[] | null;
}

/** A pattern word as shell-quote returned it: globbing only if it was unquoted. */
interface PWord {
  text: string;
  glob: boolean;
}

function matcher(w: PWord, slashes = false): WordMatcher {
  return w.glob && hasGlob(w.text) ? { text: w.text, re: globToRegExp(w.text, { slashes }) } : { text: w.text, re: null };
}

function test(m: WordMatcher, s: string): boolean {
  return m.re ? m.re.test(s) : m.text === s;
}

/** Compiles one `match` entry. Throws an Error whose message is the problem (the loader adds file/line/rule). */
export function compilePattern(source: string): CompiledPattern {
  if (typeof source !== 'string') throw new Error('a pattern must be a string');
  const words: PWord[] = [];
  let redirect = false;
  const tokens = shellParse(source, (key: string) => '$' + key);
  // shell-quote does not report `[…]` classes as globs: a word holding one counts as a glob when
  // it appears outside quotes in the source.
  const unquoted = source.replace(/'[^']*'|"(?:[^"\\]|\\.)*"|\\./g, '\0');
  for (const tok of tokens) {
    if (typeof tok === 'string') words.push({ text: tok, glob: /\[[^\]]+\]/.test(tok) && unquoted.includes(tok) });
    else if ('op' in tok && tok.op === 'glob') words.push({ text: (tok as { pattern: string }).pattern, glob: true });
    else if ('op' in tok && (tok.op === '>' || tok.op === '>>' || tok.op === '>|') && words.length === 0 && !redirect) redirect = true;
    else if ('comment' in tok) throw new Error(`pattern ${JSON.stringify(source)} holds a comment`);
    else throw new Error(`pattern ${JSON.stringify(source)} holds the shell operator ${JSON.stringify((tok as { op: string }).op)}`);
  }
  let program: CompiledPattern['program'];
  let rest: PWord[];
  if (redirect) {
    program = { redirect: true };
    rest = words;
    if (rest.length === 0) throw new Error(`pattern ${JSON.stringify(source)}: '>' needs a path`);
  } else {
    const first = words[0];
    if (!first || first.text === '') throw new Error('empty pattern');
    if (first.text.startsWith('-')) throw new Error(`pattern ${JSON.stringify(source)} starts with an option, not a program`);
    const slash = first.text.includes('/');
    const text = slash ? normalisePath(first.text) : first.text;
    program = {
      redirect: false,
      m: matcher({ text, glob: first.glob }),
      slash,
      absolute: text.startsWith('/'),
      base: matcher({ text: basename(text), glob: first.glob }),
    };
    rest = words.slice(1);
  }
  const options: OptionConstraint[] = [];
  const positional: Positional[] = [];
  let endOfOptions = redirect;
  for (const w of rest) {
    const t = w.text;
    if (!endOfOptions && t === '--') {
      endOfOptions = true;
      continue;
    }
    if (!endOfOptions && t.length > 1 && t[0] === '-') {
      options.push(optionConstraint(w, source));
      continue;
    }
    if (w.glob && t === '**') positional.push({ kind: 'any' });
    else if (w.glob && t === '*') positional.push({ kind: 'one' });
    else {
      const text = normalisePath(t);
      positional.push({ kind: 'lit', m: matcher({ text, glob: w.glob }), absolute: text.startsWith('/') });
    }
  }
  return { source, program, options, positional: positional.length ? positional : null };
}

function optionConstraint(w: PWord, source: string): OptionConstraint {
  const t = w.text;
  if (t.startsWith('--')) {
    const eq = t.indexOf('=');
    const name = eq < 0 ? t.slice(2) : t.slice(2, eq);
    if (!name || (w.glob && hasGlob(name))) {
      if (w.glob && hasGlob(t)) return { kind: 'glob', re: globToRegExp(t) };
      throw new Error(`pattern ${JSON.stringify(source)}: bad option word ${JSON.stringify(t)}`);
    }
    return { kind: 'long', name, value: eq < 0 ? null : globToRegExp(w.glob ? t.slice(eq + 1) : escapeGlob(t.slice(eq + 1)), { slashes: true }) };
  }
  if (w.glob && hasGlob(t)) return { kind: 'glob', re: globToRegExp(t) };
  if (t.length === 2) return { kind: 'short', letter: t[1]! };
  return { kind: 'exact', word: t };
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]]/g, (m) => `[${m}]`);
}

/** A part's words sorted for matching, computed once per part. */
export interface PreparedCommand {
  readonly redirect: boolean;
  /** Basename of the program, and its (normalised) full text. */
  readonly name: string;
  readonly full: string;
  /** Known option words (before `--`). */
  readonly options: readonly string[];
  /** Some unknown word before `--` may be an option. */
  readonly unknownOption: boolean;
  readonly positional: readonly Word[];
}

export function prepare(part: Part): PreparedCommand {
  const prog = part.words[0]!;
  if (part.redirect) {
    return { redirect: true, name: '>', full: '>', options: [], unknownOption: false, positional: part.words.slice(1) };
  }
  const options: string[] = [];
  const positional: Word[] = [];
  let unknownOption = false;
  let end = false;
  for (let i = 1; i < part.words.length; i++) {
    const w = part.words[i]!;
    if (w.unknown) {
      positional.push(w);
      if (!end && w.optionable) unknownOption = true;
    } else if (!end && w.text === '--') end = true;
    else if (!end && w.text.length > 1 && w.text.charCodeAt(0) === 45 /* - */) options.push(w.text);
    else positional.push(w);
  }
  return { redirect: false, name: basename(prog.text), full: prog.match, options, unknownOption, positional };
}

/**
 * Does `p` match command `c`? `strict` for deny/approve rules (unknown words match any word,
 * GNU abbreviations of long options count); `deny` lets one unknown word stand for several words.
 */
export function matchPattern(p: CompiledPattern, c: PreparedCommand, strict: boolean, deny: boolean): boolean {
  const prog = p.program;
  if (prog.redirect !== c.redirect) return false;
  if (!prog.redirect) {
    if (!prog.slash) {
      if (!test(prog.m, c.name)) return false;
    } else if (c.full.startsWith('/')) {
      if (!test(prog.m, c.full)) return false;
    } else if (prog.absolute) {
      // `rm` against `/bin/rm`: where rm is found is not known statically.
      if (!strict || !test(prog.base, c.name)) return false;
    } else if (!test(prog.m, c.full)) return false;
  }
  for (const o of p.options) {
    if (!optionPresent(o, c.options, strict)) {
      if (!(strict && c.unknownOption)) return false;
    }
  }
  if (!p.positional) return true;
  return matchPositional(p.positional, c.positional, strict, deny);
}

function optionPresent(o: OptionConstraint, options: readonly string[], strict: boolean): boolean {
  for (const w of options) {
    switch (o.kind) {
      case 'short':
        if (w.charCodeAt(1) !== 45 && w.includes(o.letter, 1)) return true;
        break;
      case 'exact':
        if (w === o.word) return true;
        break;
      case 'glob':
        if (o.re.test(w)) return true;
        break;
      case 'long': {
        if (w.charCodeAt(1) !== 45) break;
        const eq = w.indexOf('=');
        const n = eq < 0 ? w.slice(2) : w.slice(2, eq);
        if (n === o.name || (strict && n.length > 0 && o.name.startsWith(n))) {
          if (!o.value) return true;
          if (eq >= 0 && o.value.test(w.slice(eq + 1))) return true;
        }
      }
    }
  }
  return false;
}

function matchOne(a: Word, p: Positional, strict: boolean): boolean {
  if (p.kind === 'one') return true;
  if (p.kind === 'any') return true;
  if (a.unknown) return strict;
  // A relative path cannot be compared with an absolute pattern word: it is unknown.
  if (p.absolute && !a.match.startsWith('/')) return strict;
  return test(p.m, a.match);
}

function matchPositional(pats: readonly Positional[], args: readonly Word[], strict: boolean, deny: boolean): boolean {
  const n = args.length;
  const m = pats.length;
  const W = m + 1;
  const dp = new Uint8Array((n + 1) * W);
  dp[n * W + m] = 1;
  for (let j = m - 1; j >= 0; j--) dp[n * W + j] = pats[j]!.kind === 'any' && dp[n * W + j + 1] ? 1 : 0;
  for (let i = n - 1; i >= 0; i--) {
    const a = args[i]!;
    // An unknown word may be an option or expand to nothing (strict rules only).
    const mayVanish = strict && a.unknown && a.optionable;
    dp[i * W + m] = mayVanish ? dp[(i + 1) * W + m]! : 0;
    for (let j = m - 1; j >= 0; j--) {
      const p = pats[j]!;
      let v: number;
      if (p.kind === 'any') v = dp[i * W + j + 1]! || dp[(i + 1) * W + j]!;
      else {
        v = matchOne(a, p, strict) ? dp[(i + 1) * W + j + 1]! : 0;
        if (!v && mayVanish) v = dp[(i + 1) * W + j]!;
        // In deny rules an unquoted variable may split into several words.
        if (!v && mayVanish && deny) v = dp[i * W + j + 1]!;
      }
      dp[i * W + j] = v ? 1 : 0;
    }
  }
  return dp[0] === 1;
}
