import type { CommandDecision } from '../../policy/index.js';
import { PROTECTED_VARIABLES } from './integration.js';

/**
 * Canonical mode delivers at most 4095 bytes per line: a longer line would reach bash cut
 * short, i.e. as a line nobody decided. The guarded shell refuses it instead.
 */
export const MAX_GUARDED_LINE_BYTES = 4000;

/**
 * Builtins that change or inspect the shell the gate relies on: options and traps (`set`,
 * `shopt`, `trap`), replacing or redirecting the shell itself (`exec`), attributes and
 * listings that would show or alter the integration (`declare`, `typeset`, `readonly`,
 * `local`, `unset`, `compgen`, `export` with options), what a command name means (`alias`,
 * `hash`, `enable`), history re-execution and key bindings (`fc`, `history`, `bind`), and
 * stopping the shell (`suspend`). Denied whatever the policy says: the policy decides
 * programs, the gate keeps the shell it decides for.
 */
const SHELL_STATE_BUILTINS = new Set([
  'set', 'shopt', 'trap', 'exec', 'declare', 'typeset', 'readonly', 'local', 'unset', 'compgen', 'complete',
  'alias', 'unalias', 'hash', 'enable', 'fc', 'history', 'bind', 'suspend', 'let', 'caller', 'mapfile', 'readarray',
  // A process in its own session may reconfigure the terminal behind the shell's back (line-ending characters).
  'setsid',
]);

/** `stty` may only report: changing the line discipline could split a later line the gate decided whole. */
const STTY_REPORTS = new Set(['size', '-a', '--all', '-g', '--save']);

const PROTECTED_RE = new RegExp(`\\b(${PROTECTED_VARIABLES.join('|')}|BASH_[A-Z_]+|SHELLOPTS|BASHOPTS|LD_[A-Za-z0-9_]*)\\b`);

/**
 * Text the gate refuses before the policy is consulted; null when the line may be decided.
 * Returns a one-line reason.
 */
export function guardLineText(line: string, prefix: string): string | null {
  if (Buffer.byteLength(line, 'utf8') > MAX_GUARDED_LINE_BYTES) return `line longer than ${MAX_GUARDED_LINE_BYTES} bytes (the terminal would cut it)`;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(line)) return 'control characters in the line';
  if (line.includes(prefix) || /__sg[0-9a-f]/.test(line)) return 'the line names the guarded shell integration';
  const prot = PROTECTED_RE.exec(line);
  if (prot) return `the line names ${prot[1]}, which the guarded shell integration owns`;
  // A function could shadow a builtin or a program the integration and the policy rely on.
  if (/(^|[\s;&|(){}])function\s|[^\s;&|(){}=$]\s*\(\s*\)/.test(line)) return 'function definitions are not accepted in a guarded shell';
  // A here-document continues on the next lines: never sent partially.
  if (/(^|[^<])<<(?!<)/.test(line)) return 'here-documents continue on further lines: not accepted in a guarded shell';
  // Indirect expansion and prompt expansion of a variable can print or reach the integration.
  if (/\$\{![^}]*\}/.test(line)) return 'indirect expansion ${!…} is not accepted in a guarded shell';
  if (/\$\{[^}]*@[PAaEQKk]\}/.test(line)) return 'parameter transformation ${…@…} is not accepted in a guarded shell';
  // Arithmetic evaluates array subscripts in variable values: a[$(cmd)] would run a command the gate never saw.
  if (/\$\(\(|\(\(|\$\[/.test(line)) return 'arithmetic expansion is not accepted in a guarded shell';
  if (/\$\{[^}]*(\[|:[^-=?+])/.test(line)) return 'subscripts and offsets in ${…} are not accepted in a guarded shell (arithmetic)';
  if (/\[\[.*-(eq|ne|lt|le|gt|ge)\b/.test(line)) return 'arithmetic comparisons in [[ ]] are not accepted in a guarded shell';
  return null;
}

/** A reason when a parsed command touches the shell's own state; null otherwise. */
export function guardCommands(commands: readonly CommandDecision[]): string | null {
  for (const c of commands) {
    const name = (c.argv[0] ?? '').replace(/^.*\//, '');
    if (SHELL_STATE_BUILTINS.has(name)) return `${name} changes or reveals the guarded shell itself`;
    if (name === 'stty' && c.argv.slice(1).some((a) => !STTY_REPORTS.has(a))) return 'stty may only report settings in a guarded shell';
    if (name === 'export' && c.argv.slice(1).some((a) => a.startsWith('-'))) return 'export with options changes or reveals the guarded shell itself';
    if (name === 'export' && c.argv.length === 1) return 'export without arguments reveals the guarded shell environment';
  }
  return null;
}
