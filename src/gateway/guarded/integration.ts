import { randomBytes } from 'node:crypto';

/**
 * The bash side of a guarded shell: one line of bash, typed into `bash --noprofile --norc
 * --noediting` under the PTY as its first input (a single line, because once PROMPT_COMMAND
 * is set every queued line would be swallowed by the sync loop below).
 *
 * Markers are OSC 133-style, terminated by BEL, and carry the per-session nonce:
 *   C — command start (PS0)             D;<status> — command end, then wait for the sync line
 *   A — prompt start (PS1)              B — prompt end (PS1): bash now reads a line
 *   P — continuation prompt (PS2): the gateway never sends partial lines, so this ends the session
 *
 * After D the shell discards every input line up to the gateway's sync line (`SG<nonce>`):
 * whatever reached the PTY while a program ran (type-ahead, in-flight bytes of an interactive
 * program) is read and dropped before bash reads its next command, because the sync line is
 * written after all of it on the same ordered stream.
 */
export interface Integration {
  /** 32 hex characters; never shown to the agent (stripped from markers, hidden in output). */
  readonly nonce: string;
  /** Prefix of the integration's function names (random per session, denied in lines). */
  readonly prefix: string;
  /** The line to type into bash (ends with "\n"). */
  readonly setupLine: string;
  /** What the gateway writes after a D marker to end the shell's discard loop. */
  readonly syncLine: string;
}

/** The upstream command that starts the shell the integration is typed into. */
export const GUARDED_SHELL_COMMAND = 'exec bash --noprofile --norc --noediting';

/** Variables the integration owns: readonly in bash, and any line naming them is denied. */
export const PROTECTED_VARIABLES = ['PROMPT_COMMAND', 'PS0', 'PS1', 'PS2', 'PS3', 'PS4', 'SHELL', 'LESSSECURE', 'HISTFILE', 'BASH_ENV', 'ENV'];

export function buildIntegration(): Integration {
  const nonce = randomBytes(16).toString('hex');
  const prefix = '__sg' + randomBytes(4).toString('hex');
  const pc = `${prefix}_pc`;
  const osc = (body: string) => `\\e]133;${body};${nonce}\\a`;
  const parts = [
    // No echo (the gateway echoes locally), no XON/XOFF (a stray ^S would freeze the markers).
    'stty -echo -ixon icanon isig 2>/dev/null',
    // A guarded shell needs PS0 (bash 4.4).
    `((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 404)) || exit 97`,
    // No history expansion (`!!` would run text the gate never saw), no aliases, no prompt expansion of $(…) in PS1.
    'set +H +T +x +v',
    'shopt -u promptvars expand_aliases extdebug',
    'unalias -a',
    'trap - DEBUG RETURN ERR',
    'unset HISTFILE',
    // Programs that honour these cannot start a shell for the agent (vim :shell, less !cmd).
    'export SHELL=/bin/false LESSSECURE=1',
    // The prompt hook: status, reset the tty (a program may have left other line-ending or EOF characters), D marker,
    // then drop input up to the sync line.
    // stty by its full path, resolved now (a later PATH or hash change cannot swap it); builtins as builtins.
    `${prefix}_stty=$(type -P stty)`,
    `${pc}() { local r=$? l n=0; builtin trap '' INT; "$${prefix}_stty" sane -echo -ixon 2>/dev/null; builtin printf '\\033]133;D;%s;${nonce}\\007' "$r"; ` +
      `while :; do IFS= builtin read -r l; case $l in *SG${nonce}) break;; esac; n=$((n+1)); ((n > 100000)) && builtin exit 98; done; builtin trap - INT; }`,
    `PS0='${osc('C')}'`,
    // promptvars is off, so `\\$` would keep its backslash: the sign is chosen once here.
    `PS1='\\[${osc('A')}\\]\\u@\\h:\\w'"$( ((EUID)) && echo '$' || echo '#')"' \\[${osc('B')}\\]'`,
    `PS2='\\[${osc('P')}\\]'`,
    "PS3='' PS4='+ '",
    `PROMPT_COMMAND=${pc}`,
    `readonly -f ${pc}`,
    `readonly ${prefix}_stty`,
    `readonly ${PROTECTED_VARIABLES.join(' ')}`,
  ];
  const setupLine = parts.join('; ') + '\n';
  if (Buffer.byteLength(setupLine) > 3500) throw new TypeError('guarded shell integration exceeds the terminal line limit');
  return { nonce, prefix, setupLine, syncLine: `\nSG${nonce}\n` };
}
