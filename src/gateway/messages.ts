/** Lines the agent sees on stderr (cli.md, approvals.md). One line each, no secrets. */
export const msg = {
  denied: (rule: string | null, reason: string) => `shellgate: denied by rule ${rule ?? '(policy default)'}: ${oneLine(reason)}\n`,
  deniedByApprover: (name: string, reason: string) => `shellgate: denied by approver ${oneLine(name)}: ${oneLine(reason || 'no reason given')}\n`,
  waiting: (id: string, timeoutS: number) => `shellgate: waiting for approval #${id} (timeout ${timeoutS}s)\n`,
  timedOut: (id: string) => `shellgate: approval #${id} timed out\n`,
  error: (text: string) => `shellgate: ${oneLine(text)}\n`,
};

function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, 500);
}

/** Exit status for anything the gateway refused (bash's "command found but not executable"). */
export const EXIT_REFUSED = 126;
/** Exit status when the target could not be reached (as ssh itself uses). */
export const EXIT_UPSTREAM = 255;

/** Under a PTY the terminal needs CR LF. */
export function forTerminal(text: string, pty: boolean): string {
  return pty ? text.replace(/\r?\n/g, '\r\n') : text;
}
