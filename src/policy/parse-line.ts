import type { Node } from 'web-tree-sitter';
import { arithmeticHazard } from './arithmetic-hazards.js';
import { bashParser } from './grammar.js';
import { lexWord } from './lex-word.js';
import {
  ansiCEnd,
  decodeAnsiC,
  decodeDoubleQuoted,
  decodeUnquoted,
  knownWord,
  unknownWord,
  unquotedExpansion,
  type Word,
} from './words.js';

export { ansiCEnd };

/** A leading `NAME=value` of a simple command (kept for the audit record). */
export interface Assignment {
  readonly name: string;
  readonly text: string;
}

/** What one command line runs, in line order, before wrappers are unwrapped. */
export type Item =
  | { kind: 'cmd'; words: Word[]; assigns: Assignment[]; inside?: string }
  | { kind: 'redirect'; path: Word; inside?: string }
  | { kind: 'unanalyzable'; reason: string; text: string }
  /** Always denied whatever the policy says (invalid nested shell, nesting limits). */
  | { kind: 'deny'; reason: string; text: string };

export interface ParsedLine {
  /** Set when the line is not valid shell: the whole line is denied. */
  readonly invalid: string | null;
  readonly items: Item[];
}

/** Syntax trees deeper than this are refused (deny), never walked into a stack overflow. */
export const MAX_TREE_DEPTH = 200;

const STATEMENTS = new Set([
  'command', 'redirected_statement', 'pipeline', 'list', 'subshell', 'compound_statement',
  'if_statement', 'elif_clause', 'else_clause', 'while_statement', 'for_statement',
  'c_style_for_statement', 'case_statement', 'case_item', 'do_group', 'function_definition',
  'negated_command', 'test_command', 'declaration_command', 'unset_command',
  'variable_assignment', 'variable_assignments', 'comment', 'program',
]);
const CONTAINERS = new Set([
  'program', 'list', 'pipeline', 'subshell', 'compound_statement', 'do_group', 'if_statement',
  'elif_clause', 'else_clause', 'while_statement', 'c_style_for_statement', 'case_statement',
  'case_item', 'negated_command',
]);
const OUTPUT_OPS = new Set(['>', '>>', '>|', '&>', '&>>', '>&']);
const EXPANSIONS = new Set(['simple_expansion', 'expansion', 'command_substitution', 'arithmetic_expansion', 'process_substitution']);

/** Parses one command line with the bash grammar. Never throws for any input string. */
export function parseLine(line: string): ParsedLine {
  if (line.includes('\0')) return { invalid: 'the line holds a NUL byte', items: [] };
  // tree-sitter-bash mis-tokenises a line break directly followed by a backslash (`ls⏎\rm` becomes
  // one command) and a continuation glued inside a word (`r\⏎m`): refuse rather than guess.
  if (/\n\\|[^ \t\n]\\\n[^ \t\n]/.test(line)) {
    return { invalid: 'not valid shell here: a backslash beside a line break is not analysed reliably', items: [] };
  }
  return plainWords(line) ?? parseWithGrammar(line);
}

/** Characters that bash never treats specially (no quoting, expansion, globbing, comments)… */
const PLAIN = /^[A-Za-z0-9_\-./:,@+= ]*$/;
/** …plus the list and pipeline operators. */
const PLAIN_OPS = /^[A-Za-z0-9_\-./:,@+= |&;]*$/;
const PLAIN_TOKEN = /\|\||&&|[|&;]|[^ |&;]+| +/g;
const RESERVED = new Set(['if', 'then', 'elif', 'else', 'fi', 'for', 'while', 'until', 'do', 'done', 'case', 'esac', 'select', 'function', 'in', 'time', 'coproc']);

/**
 * Fast path for the common line made of plain words, optionally joined by `|` `;` `&&` `||` `&`:
 * splitting at blanks and operators is then exactly what bash does. Anything else (an empty
 * command, `|&`, a reserved word or an assignment first) goes to the grammar.
 * Checked against the grammar by a property test.
 */
export function plainWords(line: string): ParsedLine | null {
  if (line.length > 1024) return null;
  const simple = PLAIN.test(line);
  if (!simple && !PLAIN_OPS.test(line)) return null;
  const items: Item[] = [];
  let words: string[] = [];
  let lastOp = '';
  const finish = (): boolean => {
    const first = words[0];
    if (first === undefined || first.includes('=') || RESERVED.has(first)) return false;
    items.push({ kind: 'cmd', words: words.map((w) => knownWord(w)), assigns: [] });
    words = [];
    return true;
  };
  if (simple) {
    words = line.split(' ').filter((w) => w !== '');
    return words.length && finish() ? { invalid: null, items } : null;
  }
  PLAIN_TOKEN.lastIndex = 0;
  for (let m = PLAIN_TOKEN.exec(line); m; m = PLAIN_TOKEN.exec(line)) {
    const t = m[0];
    if (t.charCodeAt(0) === 32) continue;
    if (t === '|' || t === '||' || t === '&&' || t === ';' || t === '&') {
      if (!finish()) return null;
      lastOp = t;
    } else words.push(t);
  }
  if (words.length) return finish() ? { invalid: null, items } : null;
  // A trailing `;` or `&` ends the last command; a trailing `|`, `&&`, `||` is incomplete.
  return items.length && (lastOp === ';' || lastOp === '&') ? { invalid: null, items } : null;
}

/** Parses with tree-sitter-bash. */
export function parseWithGrammar(line: string): ParsedLine {
  const tree = bashParser().parse(line);
  if (!tree) return { invalid: 'the line could not be parsed', items: [] };
  try {
    const root = tree.rootNode;
    if (root.hasError) return { invalid: describeError(root), items: [] };
    // The grammar can skip text silently (`- x=1` parses as just `x=1`): all of it must be covered.
    if (!GAP.test(line.slice(0, root.startIndex)) || !GAP.test(line.slice(root.endIndex))) {
      return { invalid: 'not valid shell here: text the grammar skipped', items: [] };
    }
    const items: Item[] = [];
    walk(root, items, 0);
    const arith = arithmeticHazard(root);
    if (arith) items.push({ kind: 'unanalyzable', reason: arith, text: clip(line) });
    return { invalid: null, items };
  } finally {
    tree.delete();
  }
}

function describeError(root: Node): string {
  // Iterative search: an error tree may be deep.
  const stack: Node[] = [root];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.isMissing) return `not valid shell: missing ${JSON.stringify(n.type)}`;
    if (n.type === 'ERROR') {
      const t = n.text;
      if (/^(\$?['"`]|\$\(|\$\{|<\(|>\()/.test(t) || /["'`]/.test(t)) return 'not valid shell: unterminated quote or substitution';
      return `not valid shell: syntax error near ${JSON.stringify(t.slice(0, 24))}`;
    }
    if (!n.hasError) continue;
    for (let i = n.childCount - 1; i >= 0; i--) stack.push(n.child(i)!);
  }
  return 'not valid shell';
}

function children(n: Node): Node[] {
  return n.children as Node[];
}

const REDIRECTS = new Set(['file_redirect', 'heredoc_redirect', 'herestring_redirect']);

/**
 * bash joins tokens that touch (`"a"\b` is one word, `v=""\ls` one assignment); tree-sitter-bash
 * sometimes splits them into sibling nodes. Such a line is refused: guessing could hide a command.
 */
function splitWordProblem(node: Node, out: Item[], inCommand: 'command' | 'words' | false = false): boolean {
  const gap = inCommand ? WORD_GAP : GAP;
  const raw = node.text;
  const base = node.startIndex;
  let prevEnd = base;
  let prev: Node | null = null;
  const kids = children(node);
  for (const c of kids) {
    // What lies between two children must be blanks: anything else was skipped by the grammar
    // (it drops `\ ` after a quoted string: `'a'\ 'b'` is one word for bash).
    if (c.startIndex > prevEnd && !gap.test(raw.slice(prevEnd - base, c.startIndex - base))) {
      out.push({ kind: 'deny', reason: 'not valid shell here: text the grammar skipped', text: clip(raw) });
      return true;
    }
    prevEnd = c.endIndex;
    // An anonymous `$` is a word piece too (`"a"\$` arrives as a string and a `$` token).
    // In a simple command every token is a word piece (`==` arrives as an anonymous token).
    if ((!c.isNamed && c.type !== '$' && inCommand !== 'command') || c.type === 'comment') {
      prev = null;
      continue;
    }
    if (prev && prev.endIndex === c.startIndex) {
      const redirect = REDIRECTS.has(c.type);
      const translated = prev.type === '$' && prev.text === '$' && startsWithString(c); // $"…"
      if (!translated && (!redirect || c.child(0)?.type === 'file_descriptor')) {
        out.push({ kind: 'deny', reason: 'not valid shell here: quoting the grammar splits differently from bash', text: clip(raw) });
        return true;
      }
    }
    prev = c;
  }
  if (kids.length && !gap.test(raw.slice(prevEnd - base))) {
    out.push({ kind: 'deny', reason: 'not valid shell here: text the grammar skipped', text: clip(raw) });
    return true;
  }
  return false;
}

/** `"…"` or `"…"…`: what may follow the `$` of $"…". */
function startsWithString(n: Node): boolean {
  return n.type === 'string' || (n.type === 'concatenation' && n.child(0)?.type === 'string');
}

/** Blanks, line breaks and line continuations: the only text allowed between statement tokens. */
const GAP = /^(?:[ \t\n]|\\\n)*$/;
/**
 * Inside one simple command a bare line break ends the command for bash; the grammar sometimes
 * carries on (`echo ==⏎rm -rf /` became one echo): only blanks and continuations may separate words.
 */
const WORD_GAP = /^(?:[ \t]|\\\n)*$/;

function walk(node: Node, out: Item[], depth: number): void {
  if (depth > MAX_TREE_DEPTH) {
    out.push({ kind: 'deny', reason: `constructs nested deeper than ${MAX_TREE_DEPTH} levels`, text: '' });
    return;
  }
  const type = node.type;
  if (type === 'command') return simpleCommand(node, [], out, depth);
  if (type === 'redirected_statement') return redirectedStatement(node, out, depth);
  if (type === 'comment') return;
  if (type === 'for_statement') {
    if (node.child(0)?.type === 'select') {
      out.push({ kind: 'unanalyzable', reason: 'select loop', text: clip(node.text) });
      return;
    }
  }
  if (type === 'compound_statement' && node.child(0)?.type === '((') {
    scanSubstitutions(node, out, depth + 1);
    return;
  }
  if (CONTAINERS.has(type) || type === 'for_statement') {
    if (splitWordProblem(node, out)) return;
    for (const c of children(node)) {
      if (!c.isNamed) continue;
      if (STATEMENTS.has(c.type)) walk(c, out, depth + 1);
      else if (c.type === 'heredoc_redirect' || c.type === 'file_redirect' || c.type === 'herestring_redirect') {
        redirect(c, out, [], depth + 1);
      } else {
        if (WORDISH.has(c.type) && !checkWord(c, out)) continue;
        scanSubstitutions(c, out, depth + 1);
      }
    }
    return;
  }
  switch (type) {
    case 'function_definition':
      out.push({ kind: 'unanalyzable', reason: 'function definition', text: clip(node.text) });
      return;
    case 'variable_assignment':
    case 'variable_assignments': {
      // A bare assignment runs nothing, but one that changes what runs taints the rest of the line.
      const assigns: Assignment[] = [];
      const sub: Item[] = [];
      for (const a of type === 'variable_assignment' ? [node] : children(node).filter((c) => c.type === 'variable_assignment')) {
        assigns.push(assignment(a, sub, depth));
      }
      for (const a of assigns) {
        if (isDangerousName(a.name)) out.push({ kind: 'unanalyzable', reason: `assignment to ${a.name}`, text: clip(a.text) });
      }
      out.push(...sub);
      return;
    }
    case 'declaration_command':
    case 'unset_command':
    case 'test_command': {
      const sub: Item[] = [];
      const words: Word[] = [];
      const dangerous: string[] = [];
      if (splitWordProblem(node, out, type === 'test_command' ? false : 'words')) return;
      flattenWords(node, words, sub, dangerous, depth);
      out.push({ kind: 'cmd', words, assigns: [] });
      for (const name of dangerous) out.push({ kind: 'unanalyzable', reason: `assignment to ${name}`, text: clip(node.text) });
      out.push(...sub);
      return;
    }
    default:
      if (node.isNamed && !STATEMENTS.has(type)) {
        out.push({ kind: 'unanalyzable', reason: `unsupported construct (${type})`, text: clip(node.text) });
      }
  }
}

/** The words of `export A=1`, `unset X`, `[[ -f x ]]`: every leaf in order, quotes removed. */
function flattenWords(node: Node, words: Word[], sub: Item[], dangerous: string[], depth: number): void {
  for (const c of children(node)) {
    if (c.type === 'variable_assignment') {
      const a = assignment(c, sub, depth);
      if (isDangerousName(a.name)) dangerous.push(a.name);
      words.push(knownWord(a.text));
    } else if (WORDISH.has(c.type)) {
      words.push(wordOf(c, sub, depth + 1));
    } else if (!c.isNamed || c.childCount === 0) {
      words.push(knownWord(c.text));
    } else {
      flattenWords(c, words, sub, dangerous, depth + 1);
    }
  }
}

const WORDISH = new Set([
  'word', 'number', 'raw_string', 'ansi_c_string', 'string', 'translated_string', 'concatenation',
  'simple_expansion', 'expansion', 'command_substitution', 'process_substitution',
  'arithmetic_expansion', 'brace_expression', 'extglob_pattern',
]);

export function isDangerousName(name: string): boolean {
  return (
    name === 'PATH' || name === 'IFS' || name === 'ENV' || name === 'BASH_ENV' || name === 'SHELLOPTS' ||
    name === 'BASHOPTS' || name === 'PS4' || name === 'PROMPT_COMMAND' ||
    name.startsWith('LD_') || name.startsWith('BASH_FUNC_')
  );
}

function assignment(node: Node, sub: Item[], depth: number): Assignment {
  let name = '';
  let value = '';
  for (const c of children(node)) {
    if (c.type === 'variable_name') name = c.text;
    else if (c.type === 'subscript') name = c.child(0)?.text ?? c.text;
    else if (c.isNamed) value += wordOf(c, sub, depth + 1).text;
  }
  return { name, text: node.text.length > 200 ? `${name}=…` : node.text };
}

function redirectedStatement(node: Node, out: Item[], depth: number): void {
  if (splitWordProblem(node, out)) return;
  const redirects: Node[] = [];
  let body: Node | null = null;
  for (const c of children(node)) {
    if (c.type === 'file_redirect' || c.type === 'heredoc_redirect' || c.type === 'herestring_redirect') redirects.push(c);
    else if (c.isNamed && body === null) body = c;
  }
  if (body && body.type === 'command') return simpleCommand(body, redirects, out, depth);
  const extra: Word[] = [];
  if (body) walk(body, out, depth + 1);
  const tail: Item[] = [];
  for (const r of redirects) redirect(r, tail, extra, depth + 1);
  // `> x hi` runs hi: words after a redirection's target belong to the command. After a
  // pipeline or `!` (`! a < f x`, `a | b < f x`) bash gives them to the last simple command, which
  // the grammar has already closed; after a compound command they are a syntax error: refuse.
  if (extra.length && body) {
    out.push({ kind: 'deny', reason: 'not valid shell here: words after a redirection the grammar attaches differently from bash', text: clip(node.text) });
  } else if (extra.length) out.push({ kind: 'cmd', words: extra, assigns: [] });
  out.push(...tail);
}

function simpleCommand(node: Node, outerRedirects: Node[], out: Item[], depth: number): void {
  if (splitWordProblem(node, out, 'command')) return;
  const assigns: Assignment[] = [];
  const words: Word[] = [];
  const sub: Item[] = [];
  const redirects: Node[] = [];
  for (const c of children(node)) {
    const t = c.type;
    if (t === 'variable_assignment' && words.length === 0) assigns.push(assignment(c, sub, depth));
    else if (t === 'command_name') {
      const inner = c.namedChild(0);
      words.push(inner ? wordOf(inner, sub, depth + 1) : knownWord(c.text));
    } else if (t === 'file_redirect' || t === 'heredoc_redirect' || t === 'herestring_redirect') redirects.push(c);
    else if (!c.isNamed) {
      // $"…" arrives as `$` then a string touching it: bash reads the string (C locale).
      const next = c.nextSibling;
      if (t === '$' && c.text === '$' && next && next.startIndex === c.endIndex && startsWithString(next)) continue;
      words.push(tokenWord(c, sub)); // `==`, `=~`, `$$` arrive as tokens: they are words for bash
      continue;
    } else if (t === 'comment') continue;
    else if (t === 'variable_assignment') words.push(knownWord(assignment(c, sub, depth).text));
    else words.push(wordOf(c, sub, depth + 1));
  }
  const tail: Item[] = [];
  for (const r of [...redirects, ...outerRedirects]) redirect(r, tail, words, depth + 1);
  out.push({ kind: 'cmd', words, assigns });
  out.push(...sub, ...tail);
}

/** One redirection: output to a path becomes the pseudo-command `> PATH`. */
function redirect(node: Node, out: Item[], extraArgs: Word[], depth: number): void {
  if (node.type === 'herestring_redirect') {
    scanSubstitutions(node, out, depth + 1);
    return;
  }
  if (node.type === 'heredoc_redirect') return heredoc(node, out, extraArgs, depth);
  if (splitWordProblem(node, out, 'words')) return;
  let op: string | null = null;
  let dest: Node | null = null;
  for (const c of children(node)) {
    if (c.type === 'file_descriptor') continue;
    if (!c.isNamed) {
      if (op === null) op = c.type;
      continue;
    }
    if (dest === null) dest = c;
    else extraArgs.push(wordOf(c, out, depth + 1));
  }
  if (!dest || op === null) return; // `>&-` closes a descriptor
  const sub: Item[] = [];
  const w = wordOf(dest, sub, depth + 1);
  if (OUTPUT_OPS.has(op)) {
    const isDup = (op === '>&') && !w.unknown && /^(\d+-?|-)$/.test(w.text);
    if (!isDup && (w.unknown || w.match !== '/dev/null')) out.push({ kind: 'redirect', path: w });
  }
  out.push(...sub);
}

function heredoc(node: Node, out: Item[], extraArgs: Word[], depth: number): void {
  let literal = false;
  for (const c of children(node)) {
    switch (c.type) {
      case 'heredoc_start':
        literal = /['"\\]/.test(c.text);
        break;
      case 'heredoc_body': {
        if (literal) break;
        let expansion = false;
        for (const b of children(c)) if (EXPANSIONS.has(b.type)) expansion = true;
        if (expansion) {
          const reason = 'a here-document body holds an expansion';
          out.push({ kind: 'unanalyzable', reason, text: clip(c.text) });
          const inner: Item[] = [];
          scanSubstitutions(c, inner, depth + 1);
          out.push(...markInside(inner, reason));
        }
        break;
      }
      case 'heredoc_end':
        break;
      case 'file_redirect':
      case 'herestring_redirect':
        redirect(c, out, extraArgs, depth + 1);
        break;
      default:
        if (!c.isNamed) break;
        if (STATEMENTS.has(c.type)) walk(c, out, depth + 1);
        // `cmd <<EOF x`: words after the delimiter are arguments of the command (the grammar
        // puts them inside the redirection).
        else if (WORDISH.has(c.type)) extraArgs.push(wordOf(c, out, depth + 1));
        else scanSubstitutions(c, out, depth + 1);
    }
  }
}

/** Finds $(…), `…`, <(…) and >(…) anywhere below `node`: each is unanalyzable, and its commands are decided too. */
function scanSubstitutions(node: Node, out: Item[], depth: number): void {
  if (depth > MAX_TREE_DEPTH) {
    out.push({ kind: 'deny', reason: `constructs nested deeper than ${MAX_TREE_DEPTH} levels`, text: '' });
    return;
  }
  const t = node.type;
  if (t === 'command_substitution' || t === 'process_substitution') return substitution(node, out, depth);
  for (const c of children(node)) if (c.isNamed && c.childCount > 0) scanSubstitutions(c, out, depth + 1);
}

function substitution(node: Node, out: Item[], depth: number): void {
  const text = node.text;
  const reason = text.startsWith('`')
    ? 'command substitution `…`'
    : text.startsWith('$(')
      ? 'command substitution $(…)'
      : `process substitution ${text.slice(0, 2)}…)`;
  // Inside `…` bash first removes the backslash of \$ \` \\ (and \" within "…"), then parses
  // what is left; the grammar parses the text as it stands: refuse rather than guess.
  if (text.startsWith('`') && /\\[$`\\"]/.test(text.slice(1, -1))) {
    out.push({ kind: 'deny', reason: 'not valid shell here: escapes inside `…` are not analysed reliably', text: clip(text) });
    return;
  }
  out.push({ kind: 'unanalyzable', reason, text: clip(text) });
  const inner: Item[] = [];
  for (const c of children(node)) {
    if (!c.isNamed) continue;
    if (STATEMENTS.has(c.type)) walk(c, inner, depth + 1);
    else scanSubstitutions(c, inner, depth + 1);
  }
  out.push(...markInside(inner, reason));
}

/**
 * Commands inside an unanalyzable construct are decided too, so that a command a rule denies stays
 * denied; one that matches no rule gets the `unanalyzable` decision instead of the default.
 */
function markInside(items: Item[], construct: string): Item[] {
  return items.map((it) => ((it.kind === 'cmd' || it.kind === 'redirect') && !it.inside ? { ...it, inside: construct } : it));
}

interface Piece {
  text: string;
  /** Unquoted signature: quoted characters are \x01 (for glob/brace/tilde detection). */
  sig: string;
  why: string | null;
}

/** Converts a word node to a Word; substitutions inside add items to `sub`. */
export function wordOf(node: Node, sub: Item[], depth: number): Word {
  if (node.type === 'array') {
    // `a=(x y)`: each element is a word of its own.
    for (const c of children(node)) if (c.isNamed && c.type !== 'comment') wordOf(c, sub, depth + 1);
    return unknownWord(node.text, 'array');
  }
  // Cross-check the grammar's reading of the word against an independent bash quote lexer.
  const lexed = lexWord(node.text, expansionSpans(node));
  if (!lexed.ok) {
    sub.push({ kind: 'deny', reason: `not valid shell here: a word the grammar reads differently from bash (${lexed.why})`, text: clip(node.text) });
    return unknownWord(node.text, 'misparsed word');
  }
  if (node.type === 'regex') {
    // After `==`/`=~` the grammar reads a `regex` token even in a simple command, where bash
    // reads an ordinary word: take the lexer's reading (any expansion keeps it unknown).
    if (lexed.expansion) return unknownWord(node.text, 'expansion');
    const why = unquotedExpansion(lexed.sig);
    return why ? unknownWord(lexed.value, why) : knownWord(lexed.value);
  }
  const p = piece(node, sub, depth);
  const why = p.why ?? unquotedExpansion(p.sig);
  if (why) return unknownWord(p.why ? node.text : p.text, why === 'tilde expansion' ? `${why} ${clip(node.text, 40)}` : why);
  // An expansion only the lexer saw (`x$$`: the grammar took `$$` for text) is a plain parameter
  // (a substitution would have failed the lexer): the word is unknown.
  if (lexed.expansion) return unknownWord(node.text, 'variable');
  if (lexed.value !== p.text) {
    sub.push({ kind: 'deny', reason: 'not valid shell here: quoting the grammar reads differently from bash', text: clip(node.text) });
    return unknownWord(node.text, 'misparsed word');
  }
  return knownWord(p.text);
}

/** An anonymous token in word position, read by the lexer (`$$` is the shell's PID, not text). */
function tokenWord(node: Node, sub: Item[]): Word {
  const lexed = lexWord(node.text, new Map());
  if (!lexed.ok) {
    sub.push({ kind: 'deny', reason: `not valid shell here: a word the grammar reads differently from bash (${lexed.why})`, text: clip(node.text) });
    return unknownWord(node.text, 'misparsed word');
  }
  if (lexed.expansion) return unknownWord(node.text, 'variable');
  return knownWord(lexed.value);
}

const SPANS = new Set(['command_substitution', 'process_substitution', 'expansion', 'arithmetic_expansion']);

/** Where each substitution the grammar found below `node` starts and ends, relative to `node`. */
function expansionSpans(node: Node): Map<number, number> {
  const base = node.startIndex;
  const spans = new Map<number, number>();
  const stack: Node[] = [node];
  while (stack.length) {
    const n = stack.pop()!;
    if (SPANS.has(n.type)) {
      spans.set(n.startIndex - base, n.endIndex - base);
      continue;
    }
    for (const c of children(n)) stack.push(c);
  }
  return spans;
}

/** A word the grammar found outside a command (a `for` list, a `case` pattern) is checked too. */
function checkWord(node: Node, out: Item[]): boolean {
  const lexed = lexWord(node.text, expansionSpans(node));
  if (lexed.ok) return true;
  out.push({ kind: 'deny', reason: `not valid shell here: a word the grammar reads differently from bash (${lexed.why})`, text: clip(node.text) });
  return false;
}

/** Quoted text can never be a glob, brace or tilde: one placeholder stands for all of it. */
function quotedSig(_s: string): string {
  return '\x01';
}

function piece(node: Node, sub: Item[], depth: number): Piece {
  if (depth > MAX_TREE_DEPTH) {
    sub.push({ kind: 'deny', reason: `constructs nested deeper than ${MAX_TREE_DEPTH} levels`, text: '' });
    return { text: '', sig: '', why: 'too deep' };
  }
  switch (node.type) {
    case 'word':
    case 'extglob_pattern': {
      const raw = node.text;
      if (raw.includes('\n') && raw.replace(/\\\n/g, '').includes('\n')) {
        // Backstop for grammar quirks: bash never puts an unquoted line break inside a word.
        sub.push({ kind: 'deny', reason: 'a line break inside a word is not analysed reliably', text: '' });
      }
      const { value, sig } = decodeUnquoted(raw);
      return { text: value, sig, why: null };
    }
    case 'number':
      return { text: node.text, sig: node.text, why: null };
    case 'raw_string': {
      const t = node.text.slice(1, -1);
      return { text: t, sig: quotedSig(t), why: null };
    }
    case 'ansi_c_string': {
      // The grammar ends $'…' wrongly after an escaped backslash ($'\\' ; rm … '): check the end.
      if (ansiCEnd(node.text) !== node.text.length) {
        sub.push({ kind: 'deny', reason: "not valid shell here: a $'…' string the grammar reads differently from bash", text: '' });
        return { text: node.text, sig: '\x01', why: 'misparsed string' };
      }
      const t = decodeAnsiC(node.text);
      return { text: t, sig: quotedSig(t), why: null };
    }
    case 'string':
    case 'translated_string': {
      // The text between expansions is taken from the source: the grammar's string_content
      // nodes can leave characters out (a line break right after the opening quote).
      const raw = node.text;
      const base = node.startIndex;
      const open = raw.indexOf('"') + 1;
      const close = raw.endsWith('"') && raw.length > open ? raw.length - 1 : raw.length;
      let pos = open;
      let text = '';
      let why: string | null = null;
      for (const c of children(node)) {
        if (!c.isNamed || c.type === 'string_content') continue;
        const start = c.startIndex - base;
        if (start < pos) continue;
        text += decodeDoubleQuoted(raw.slice(pos, start));
        const p = piece(c, sub, depth + 1);
        text += p.text;
        why ??= p.why;
        pos = c.endIndex - base;
      }
      text += decodeDoubleQuoted(raw.slice(pos, close));
      return { text, sig: quotedSig(text), why };
    }
    case 'concatenation': {
      let text = '';
      let sig = '';
      let why: string | null = null;
      for (const c of children(node)) {
        // $"…" arrives as `$` then a string: bash reads it as the string (C locale).
        if (c.type === '$' && c.nextSibling?.type === 'string' && c.endIndex === c.nextSibling.startIndex) continue;
        const p = piece(c, sub, depth + 1);
        text += p.text;
        sig += p.sig;
        why ??= p.why;
      }
      return { text, sig, why };
    }
    case 'simple_expansion':
    case 'expansion':
      scanSubstitutions(node, sub, depth + 1);
      return { text: node.text, sig: '\x01', why: `variable ${clip(node.text, 40)}` };
    case 'command_substitution':
    case 'process_substitution':
      substitution(node, sub, depth + 1);
      return { text: node.text, sig: '\x01', why: node.type.replace('_', ' ') };
    case 'arithmetic_expansion':
      scanSubstitutions(node, sub, depth + 1);
      return { text: node.text, sig: '\x01', why: 'arithmetic expansion' };
    case 'brace_expression':
      return { text: node.text, sig: '\x01', why: 'brace expansion' };
    default:
      if (!node.isNamed) return { text: node.text, sig: node.text, why: null };
      scanSubstitutions(node, sub, depth + 1);
      return { text: node.text, sig: '\x01', why: node.type.replace(/_/g, ' ') };
  }
}

function clip(s: string, n = 80): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length > n ? one.slice(0, n - 1) + '…' : one;
}
