import type { Word } from './words.js';

type LongKind = 'none' | 'req' | 'opt';

/** getopt-style option syntax of one wrapper program. */
export interface OptionSpec {
  /** Short options without a value. */
  readonly flags?: string;
  /** Short options that take a value (attached `-uroot` or the next word). */
  readonly withValue?: string;
  /** Short options whose value can only be attached (`-hhost`, `xargs -i{}`). */
  readonly optionalValue?: string;
  readonly long?: Readonly<Record<string, LongKind>>;
  /** Options may follow operands (GNU permutation), as in su. */
  readonly permute?: boolean;
  /** `nice -5`: a dash and digits is an option. */
  readonly numeric?: boolean;
  /** `env -`, `su -`: a lone dash is an option. */
  readonly loneDash?: boolean;
}

export interface ParsedOption {
  /** Short letter or long name (canonical, without dashes). */
  readonly name: string;
  readonly value: Word | null;
}

export interface ParsedOptions {
  readonly options: ParsedOption[];
  /** The words that were options or option values (the wrapper's own words). */
  readonly own: Word[];
  /** Operands (non-options), in order; without permutation: everything after the options. */
  readonly operands: Word[];
  /** Set when the options cannot be told apart statically. */
  readonly problem: string | null;
}

/**
 * Splits `words` (the words after the wrapper's name) into options and operands as getopt_long
 * would. An unknown word, or an option the wrapper does not have, makes the split unknowable:
 * a value-taking option would move where the wrapped command starts.
 */
export function parseOptions(program: string, words: readonly Word[], spec: OptionSpec): ParsedOptions {
  const options: ParsedOption[] = [];
  const own: Word[] = [];
  const operands: Word[] = [];
  const fail = (problem: string): ParsedOptions => ({ options, own, operands, problem });
  let i = 0;
  for (; i < words.length; i++) {
    const w = words[i]!;
    if (w.unknown) {
      // A phrase the caller completes ("… cannot be analysed statically"); the word once.
      const what = w.why && w.why.includes(w.text) ? w.why : `${w.why ?? 'unknown word'} ${w.text}`;
      if (!spec.permute && operands.length === 0) return fail(`${program} followed by ${what} (cannot tell ${program}'s options from its command)`);
      if (!spec.permute) break;
      return fail(`${program} followed by ${what} (cannot tell ${program}'s options from its operands)`);
    }
    const t = w.text;
    if (t === '--') {
      own.push(w);
      i++;
      break;
    }
    if (t === '-' && spec.loneDash) {
      own.push(w);
      options.push({ name: '-', value: null });
      continue;
    }
    if (t.length < 2 || t[0] !== '-') {
      if (!spec.permute) break;
      operands.push(w);
      continue;
    }
    if (spec.numeric && /^-[+-]?\d+$/.test(t)) {
      own.push(w);
      options.push({ name: 'numeric', value: w });
      continue;
    }
    own.push(w);
    if (t.startsWith('--')) {
      const eq = t.indexOf('=');
      const given = eq < 0 ? t.slice(2) : t.slice(2, eq);
      const long = spec.long ?? {};
      let name: string | undefined = Object.prototype.hasOwnProperty.call(long, given) ? given : undefined;
      if (!name) {
        const cands = Object.keys(long).filter((k) => k.startsWith(given));
        if (cands.length !== 1) return fail(`${program}: ${cands.length ? 'ambiguous' : 'unknown'} option ${t.slice(0, 40)}`);
        name = cands[0]!;
      }
      const kind = long[name]!;
      if (eq >= 0) {
        if (kind === 'none') return fail(`${program}: option --${name} takes no value`);
        options.push({ name, value: { ...w, text: t.slice(eq + 1), match: t.slice(eq + 1) } });
      } else if (kind === 'req') {
        const v = words[i + 1];
        if (!v) return fail(`${program}: option --${name} needs a value`);
        own.push(v);
        options.push({ name, value: v });
        i++;
      } else {
        options.push({ name, value: null });
      }
      continue;
    }
    // A short-option cluster: -abc, -uroot, -n5.
    for (let j = 1; j < t.length; j++) {
      const c = t[j]!;
      if (spec.withValue?.includes(c)) {
        if (j + 1 < t.length) {
          const rest = t.slice(j + 1);
          options.push({ name: c, value: { ...w, text: rest, match: rest } });
        } else {
          const v = words[i + 1];
          if (!v) return fail(`${program}: option -${c} needs a value`);
          own.push(v);
          options.push({ name: c, value: v });
          i++;
        }
        break;
      }
      if (spec.optionalValue?.includes(c)) {
        const rest = t.slice(j + 1);
        options.push({ name: c, value: rest ? { ...w, text: rest, match: rest } : null });
        break;
      }
      if (spec.flags?.includes(c)) {
        options.push({ name: c, value: null });
        continue;
      }
      return fail(`${program}: unknown option -${c}`);
    }
  }
  for (; i < words.length; i++) operands.push(words[i]!);
  return { options, own, operands, problem: null };
}

export function has(p: ParsedOptions, ...names: string[]): boolean {
  return p.options.some((o) => names.includes(o.name));
}

export function valueOf(p: ParsedOptions, ...names: string[]): Word | null {
  for (let k = p.options.length - 1; k >= 0; k--) {
    const o = p.options[k]!;
    if (names.includes(o.name)) return o.value;
  }
  return null;
}
