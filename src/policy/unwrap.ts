import { parseLine, isDangerousName, type Assignment, type Item } from './parse-line.js';
import { has, parseOptions, valueOf, type OptionSpec, type ParsedOptions } from './wrapper-options.js';
import { basename, knownWord, unknownWord, type Word } from './words.js';

/** One thing a command line runs, ready to be matched against rules. */
export interface Part {
  /** words[0] is the program (or `>` for an output redirection). */
  readonly words: Word[];
  /** The pseudo-command `> PATH`. */
  readonly redirect?: boolean;
  /** Set when this part cannot be analysed: the policy's `unanalyzable` decides. */
  readonly unanalyzable?: string;
  /** Set when this part is always denied (invalid nested shell, nesting limits). */
  readonly deny?: string;
  /** Leading assignments, for the audit record. */
  readonly assigns?: readonly Assignment[];
  /** The unanalyzable construct this part runs inside ($(…), eval): no rule match → `unanalyzable`. */
  readonly inside?: string;
}

export interface AnalysedLine {
  readonly invalid: string | null;
  readonly parts: Part[];
}

/** `sh -c "sh -c '…'"` nested deeper than this is denied. */
export const MAX_SHELL_DEPTH = 8;
/** `sudo sudo sudo …` chains longer than this are denied. */
export const MAX_WRAPPER_CHAIN = 32;

const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash', 'rbash', 'mksh', 'lksh', 'pdksh', 'yash', 'posh']);

/** Parses a command line and expands wrappers, shell strings and find -exec into parts. */
export function analyseLine(line: string, depth = 0): AnalysedLine {
  const parsed = parseLine(line);
  if (parsed.invalid) return { invalid: parsed.invalid, parts: [] };
  const parts: Part[] = [];
  for (const item of parsed.items) expandItem(item, parts, depth);
  return { invalid: null, parts };
}

function expandItem(item: Item, out: Part[], depth: number): void {
  switch (item.kind) {
    case 'cmd': {
      if (!item.inside) return expandCommand(item.words, item.assigns, out, depth, 0);
      const inner: Part[] = [];
      expandCommand(item.words, item.assigns, inner, depth, 0);
      out.push(...markInside(inner, item.inside));
      return;
    }
    case 'redirect':
      out.push({ words: [knownWord('>'), item.path], redirect: true, ...(item.inside ? { inside: item.inside } : {}) });
      return;
    case 'unanalyzable':
      out.push({ words: item.text ? [knownWord(item.text)] : [], unanalyzable: item.reason });
      return;
    case 'deny':
      out.push({ words: item.text ? [knownWord(item.text)] : [], deny: item.reason });
  }
}

/** A string passed to a shell (`sh -c S`, `su -c S`, `watch S`…) is decided recursively. */
function shellString(s: Word, via: string, out: Part[], depth: number): void {
  if (s.unknown) {
    out.push({ words: [s], unanalyzable: `${via} runs a string that is not known statically (${s.why ?? 'unknown'})` });
    return;
  }
  if (depth + 1 > MAX_SHELL_DEPTH) {
    out.push({ words: [s], deny: `shell strings nested deeper than ${MAX_SHELL_DEPTH} levels` });
    return;
  }
  const inner = analyseLine(s.text, depth + 1);
  if (inner.invalid) {
    out.push({ words: [s], deny: `the string given to ${via} is ${inner.invalid}` });
    return;
  }
  out.push(...inner.parts);
}

function markInside(parts: Part[], construct: string): Part[] {
  return parts.map((p) => (p.inside || p.unanalyzable || p.deny ? p : { ...p, inside: construct }));
}

function unanalyzable(words: Word[], reason: string, out: Part[]): void {
  out.push({ words, unanalyzable: reason });
}

/**
 * Splits leading NAME=value words (after env/sudo); dangerous names are unanalyzable. env accepts
 * any name (`BASH_FUNC_x%%=…` included), so any word with `=` counts.
 */
function takeAssignments(words: Word[], own: Word[], out: Part[]): Word[] {
  let i = 0;
  while (i < words.length) {
    const w = words[i]!;
    const m = /^([^=]+)=/.exec(w.text);
    if (!m || w.unknown) break;
    own.push(w);
    if (isDangerousName(m[1]!)) unanalyzable([w], `assignment to ${m[1]}`, out);
    i++;
  }
  return words.slice(i);
}

export function expandCommand(words: Word[], assigns: readonly Assignment[], out: Part[], depth: number, chain: number): void {
  for (const a of assigns) {
    if (isDangerousName(a.name)) unanalyzable([knownWord(a.text)], `assignment to ${a.name}`, out);
  }
  if (words.length === 0) return;
  if (chain > MAX_WRAPPER_CHAIN) {
    out.push({ words, deny: `wrappers nested deeper than ${MAX_WRAPPER_CHAIN} levels` });
    return;
  }
  const prog = words[0]!;
  if (prog.unknown) {
    unanalyzable(words, `${prog.why ?? 'unknown word'} in command position`, out);
    return;
  }
  const name = basename(prog.text);
  const args = words.slice(1);
  const wrapped = (rest: Word[]): void => expandCommand(rest, [], out, depth, chain + 1);
  const own = (ws: Word[], extra: Partial<Part> = {}): void => {
    out.push({ words: [prog, ...ws], ...extra, ...(assigns.length ? { assigns } : {}) });
  };

  const wrapper = WRAPPERS[name];
  if (wrapper) {
    const r = wrapper(name, args);
    own(r.own);
    for (const p of r.parts ?? []) out.push(p);
    if (r.problem) {
      unanalyzable(words, r.problem, out);
      return;
    }
    if (r.string) shellString(r.string, name, out, depth);
    if (r.wrapped && r.wrapped.length) wrapped(r.wrapped);
    return;
  }

  switch (name) {
    case 'eval': {
      unanalyzable(words, 'eval', out);
      // The joined words are what eval runs: decide them too, so a denied command stays denied.
      if (args.length && args.every((a) => !a.unknown)) {
        const inner: Part[] = [];
        shellString(knownWord(args.map((a) => a.text).join(' ')), 'eval', inner, depth);
        out.push(...markInside(inner, 'eval'));
      }
      return;
    }
    case 'source':
    case '.':
      unanalyzable(words, `${name} (runs a file)`, out);
      return;
    case 'coproc':
      unanalyzable(words, 'coproc', out);
      return;
    case 'trap': {
      own(args);
      const ops = args.filter((a) => a.text !== '--');
      const action = ops[0];
      if (action && !action.text.startsWith('-') && ops.length > 1) shellString(action, 'trap', out, depth);
      return;
    }
    case 'find':
      own(args);
      return expandFind(args, out, depth, chain);
  }
  if (SHELLS.has(name)) {
    own(args);
    return expandShell(name, args, out, depth);
  }
  own(args);
}

function expandShell(name: string, args: Word[], out: Part[], depth: number): void {
  let cflag = false;
  let i = 0;
  for (; i < args.length; i++) {
    const w = args[i]!;
    if (w.unknown) {
      unanalyzable(args, `cannot tell ${name}'s options from its operands (${w.why ?? 'unknown word'})`, out);
      return;
    }
    const t = w.text;
    if (t === '--' || t === '-') { i++; break; }
    if (t === '-o' || t === '+o' || t === '-O' || t === '+O' || t === '--rcfile' || t === '--init-file') { i++; continue; }
    if (t.startsWith('--')) continue;
    if ((t[0] === '-' || t[0] === '+') && t.length > 1) {
      if (t[0] === '-' && t.includes('c')) cflag = true;
      continue;
    }
    break;
  }
  if (cflag && i < args.length) shellString(args[i]!, `${name} -c`, out, depth);
}

const FIND_EXEC = new Set(['-exec', '-execdir', '-ok', '-okdir']);
const FIND_WRITES = new Set(['-fprint', '-fprint0', '-fls']);

function expandFind(args: Word[], out: Part[], depth: number, chain: number): void {
  for (let i = 0; i < args.length; i++) {
    const t = args[i]!.text;
    if (FIND_WRITES.has(t) || t === '-fprintf') {
      const f = args[i + 1];
      if (f) out.push({ words: [knownWord('>'), f], redirect: true });
      i += t === '-fprintf' ? 2 : 1;
      continue;
    }
    if (!FIND_EXEC.has(t) || args[i]!.unknown) continue;
    const cmd: Word[] = [];
    let j = i + 1;
    for (; j < args.length; j++) {
      const w = args[j]!;
      if (!w.unknown && w.text === ';') break;
      if (!w.unknown && w.text === '+' && cmd.length > 0 && cmd[cmd.length - 1]!.text === '{}') break;
      // `{}` is a path found by find: unknown, but never an option.
      cmd.push(!w.unknown && w.text.includes('{}') ? unknownWord(w.text, 'a path found by find', false) : w);
    }
    expandCommand(cmd, [], out, depth, chain + 1);
    i = j;
  }
}

interface WrapResult {
  own: Word[];
  wrapped?: Word[];
  /** A string the wrapper passes to a shell. */
  string?: Word;
  /** Extra parts (files the wrapper writes, unanalyzable assignments). */
  parts?: Part[];
  problem?: string;
}

const SH: Word[] = [knownWord('sh')];

function opts(name: string, args: Word[], spec: OptionSpec): ParsedOptions {
  return parseOptions(name, args, spec);
}

function simple(spec: OptionSpec, after?: (p: ParsedOptions, name: string) => WrapResult) {
  return (name: string, args: Word[]): WrapResult => {
    const p = opts(name, args, spec);
    if (p.problem) return { own: p.own, problem: p.problem };
    if (after) return after(p, name);
    return { own: p.own, wrapped: p.operands };
  };
}

const H = { help: 'none', version: 'none' } as const;

const WRAPPERS: Record<string, (name: string, args: Word[]) => WrapResult> = {
  sudo: simple(
    {
      flags: 'AbBEeHiKklNnPSsVv',
      withValue: 'aCcDgpRrTtUu',
      optionalValue: 'h',
      long: {
        askpass: 'none', background: 'none', bell: 'none', 'close-from': 'req', chdir: 'req', 'preserve-env': 'opt',
        edit: 'none', group: 'req', 'set-home': 'none', help: 'none', host: 'req', login: 'none',
        'remove-timestamp': 'none', 'reset-timestamp': 'none', list: 'none', 'no-update': 'none',
        'non-interactive': 'none', 'preserve-groups': 'none', prompt: 'req', chroot: 'req', role: 'req',
        stdin: 'none', shell: 'none', type: 'req', 'command-timeout': 'req', 'other-user': 'req', user: 'req',
        version: 'none', validate: 'none', 'auth-type': 'req', 'login-class': 'req',
      },
    },
    (p) => {
      const parts: Part[] = [];
      const own = [...p.own];
      const rest = takeAssignments(p.operands, own, parts);
      if (has(p, 'e', 'edit')) return { own, parts, wrapped: [knownWord('sudoedit'), ...rest] };
      if (rest.length === 0 && has(p, 's', 'i', 'shell', 'login')) return { own, parts, wrapped: SH };
      return { own, parts, wrapped: rest };
    },
  ),
  doas: simple({ flags: 'Lns', withValue: 'Cu' }, (p) =>
    p.operands.length === 0 && has(p, 's') ? { own: p.own, wrapped: SH } : { own: p.own, wrapped: p.operands },
  ),
  env: envWrapper,
  nice: simple({ withValue: 'n', numeric: true, long: { adjustment: 'req', ...H } }),
  ionice: simple(
    { flags: 't', withValue: 'cnpPu', long: { class: 'req', classdata: 'req', pid: 'req', pgid: 'req', uid: 'req', ignore: 'none', ...H } },
    (p) => (has(p, 'p', 'P', 'u', 'pid', 'pgid', 'uid') ? { own: [...p.own, ...p.operands] } : { own: p.own, wrapped: p.operands }),
  ),
  nohup: simple({ long: H }),
  timeout: simple(
    { flags: 'v', withValue: 'ks', long: { 'kill-after': 'req', signal: 'req', foreground: 'none', 'preserve-status': 'none', verbose: 'none', ...H } },
    (p) => ({ own: [...p.own, ...p.operands.slice(0, 1)], wrapped: p.operands.slice(1) }),
  ),
  time: simple(
    { flags: 'apqvV', withValue: 'fo', long: { format: 'req', output: 'req', append: 'none', verbose: 'none', portability: 'none', quiet: 'none', ...H } },
    (p) => {
      const file = valueOf(p, 'o', 'output');
      return { own: p.own, wrapped: p.operands, parts: file ? [{ words: [knownWord('>'), file], redirect: true }] : [] };
    },
  ),
  stdbuf: simple({ withValue: 'ioe', long: { input: 'req', output: 'req', error: 'req', ...H } }),
  setsid: simple({ flags: 'cfw', long: { ctty: 'none', fork: 'none', wait: 'none', ...H } }),
  chrt: simple(
    {
      flags: 'abdefimoRrpv',
      withValue: 'TPD',
      long: {
        'all-tasks': 'none', batch: 'none', deadline: 'none', ext: 'none', fifo: 'none', idle: 'none', max: 'none',
        other: 'none', rr: 'none', 'reset-on-fork': 'none', pid: 'none', verbose: 'none',
        'sched-runtime': 'req', 'sched-period': 'req', 'sched-deadline': 'req', ...H,
      },
    },
    (p) => {
      if (has(p, 'p', 'm', 'pid', 'max')) return { own: [...p.own, ...p.operands] };
      const first = p.operands[0];
      const prio = first && !first.unknown && /^\d+$/.test(first.text) ? 1 : 0;
      return { own: [...p.own, ...p.operands.slice(0, prio)], wrapped: p.operands.slice(prio) };
    },
  ),
  taskset: simple({ flags: 'acp', long: { 'all-tasks': 'none', 'cpu-list': 'none', pid: 'none', ...H } }, (p) =>
    has(p, 'p', 'pid')
      ? { own: [...p.own, ...p.operands] }
      : { own: [...p.own, ...p.operands.slice(0, 1)], wrapped: p.operands.slice(1) },
  ),
  command: simple({ flags: 'pvV' }, (p) =>
    has(p, 'v', 'V') ? { own: [...p.own, ...p.operands] } : { own: p.own, wrapped: p.operands },
  ),
  builtin: simple({}),
  exec: simple({ flags: 'cl', withValue: 'a' }),
  xargs: simple(
    {
      flags: '0oprtx',
      withValue: 'adEILnPs',
      optionalValue: 'eil',
      long: {
        null: 'none', 'arg-file': 'req', delimiter: 'req', eof: 'opt', replace: 'opt', 'max-lines': 'opt',
        'max-args': 'req', 'open-tty': 'none', interactive: 'none', 'max-procs': 'req', 'process-slot-var': 'req',
        'no-run-if-empty': 'none', 'max-chars': 'req', verbose: 'none', exit: 'none', 'show-limits': 'none', ...H,
      },
    },
    (p) => {
      const cmd = p.operands.length ? p.operands : [knownWord('echo')];
      return { own: p.own, wrapped: [...cmd, unknownWord('…', 'arguments read by xargs')] };
    },
  ),
  watch: simple(
    {
      flags: 'bcCegprtwx',
      withValue: 'nq',
      optionalValue: 'd',
      long: {
        beep: 'none', color: 'none', 'no-color': 'none', differences: 'opt', errexit: 'none', chgexit: 'none',
        interval: 'req', precise: 'none', 'no-title': 'none', 'no-wrap': 'none', 'no-rerun': 'none', exec: 'none',
        equexit: 'req', ...H,
      },
    },
    (p) => {
      if (has(p, 'x', 'exec')) return { own: p.own, wrapped: p.operands };
      if (p.operands.length === 0) return { own: p.own };
      const unknown = p.operands.find((w) => w.unknown);
      if (unknown) return { own: p.own, string: unknown };
      return { own: p.own, string: knownWord(p.operands.map((w) => w.text).join(' ')) };
    },
  ),
  flock: simple(
    {
      flags: 'sxenouFhV',
      withValue: 'wE',
      long: {
        shared: 'none', exclusive: 'none', unlock: 'none', nonblock: 'none', nb: 'none', close: 'none', 'no-fork': 'none',
        timeout: 'req', wait: 'req', 'conflict-exit-code': 'req', verbose: 'none', ...H,
      },
    },
    (p) => {
      const [file, next, ...rest] = p.operands;
      if (!file) return { own: p.own };
      if (next && !next.unknown && (next.text === '-c' || next.text === '--command')) {
        const s = rest[0];
        return { own: [...p.own, file, next, ...rest.slice(0, 1)], ...(s ? { string: s } : {}) };
      }
      return { own: [...p.own, file], wrapped: next ? [next, ...rest] : [] };
    },
  ),
  su: suWrapper,
  runuser: suWrapper,
  busybox: (_name, args) => {
    const first = args[0];
    if (!first) return { own: [] };
    if (first.unknown) return { own: [], problem: `busybox applet is not known statically (${first.why ?? 'unknown'})` };
    if (first.text.startsWith('-')) return { own: args };
    return { own: [], wrapped: args };
  },
};

function envWrapper(name: string, args: Word[]): WrapResult {
  const spec: OptionSpec = {
    flags: '0iv',
    withValue: 'uCSP',
    loneDash: true,
    long: {
      'ignore-environment': 'none', null: 'none', unset: 'req', chdir: 'req', 'split-string': 'req',
      'block-signal': 'opt', 'default-signal': 'opt', 'ignore-signal': 'opt', 'list-signal-handling': 'none',
      debug: 'none', ...H,
    },
  };
  const own: Word[] = [];
  const parts: Part[] = [];
  let words = args;
  // -S splices its split string into the arguments, which may hold more env options.
  for (let round = 0; round < 16; round++) {
    const p = parseOptions(name, words, spec);
    own.push(...p.own);
    if (p.problem) return { own, parts, problem: p.problem };
    if (has(p, 'P')) return { own, parts, problem: 'env -P changes where the program is looked up' };
    const split = valueOf(p, 'S', 'split-string');
    if (!split) {
      const rest = takeAssignments(p.operands, own, parts);
      return { own, parts, wrapped: rest };
    }
    if (split.unknown) return { own, parts, problem: `env -S string is not known statically (${split.why ?? 'unknown'})` };
    const inner = parseLine(split.text);
    const cmd = inner.items[0];
    if (inner.invalid || inner.items.length !== 1 || !cmd || cmd.kind !== 'cmd') {
      return { own, parts, problem: 'env -S string is not a plain list of words' };
    }
    words = [...cmd.assigns.map((a) => knownWord(a.text)), ...cmd.words, ...p.operands];
  }
  return { own, parts, problem: 'env -S nested too deeply' };
}

function suWrapper(name: string, args: Word[]): WrapResult {
  const p = parseOptions(name, args, {
    flags: 'flmpPhV',
    withValue: name === 'runuser' ? 'cCgGswu' : 'cCgGsw',
    permute: true,
    loneDash: true,
    long: {
      command: 'req', 'session-command': 'req', fast: 'none', group: 'req', 'supp-group': 'req', login: 'none',
      'preserve-environment': 'none', pty: 'none', shell: 'req', 'whitelist-environment': 'req', user: 'req', ...H,
    },
  });
  if (p.problem) return { own: p.own, problem: p.problem };
  const shell = valueOf(p, 's', 'shell');
  if (shell && (shell.unknown || !SHELLS.has(basename(shell.text)))) {
    return { own: p.own, problem: `${name} -s runs ${shell.text} as the shell` };
  }
  if (name === 'runuser' && has(p, 'u', 'user')) return { own: p.own, wrapped: p.operands };
  const [user, ...extra] = p.operands;
  const own = user ? [...p.own, user] : p.own;
  const str = valueOf(p, 'c', 'C', 'command', 'session-command');
  if (str) return { own: [...own, ...extra], string: str };
  return { own, wrapped: [...SH, ...extra] };
}
