import * as pty from 'node-pty';
import { ASKPASS, sshArgs } from '../helpers/openssh.js';
import type { GatewayHandle } from '../helpers/gateway.js';

/** OpenSSH's `ssh -tt` under a real PTY (node-pty), as a person or an agent's terminal would run it. */
export class Term {
  readonly proc: pty.IPty;
  output = '';
  exitCode: number | null = null;
  readonly exited: Promise<number>;
  private mark = 0;

  constructor(gw: GatewayHandle, target: string, token: string, opts: { cols?: number; rows?: number } = {}) {
    const args = [...sshArgs(gw.sshPort, gw.knownHostsFile, ['-tt', '-o', 'LogLevel=ERROR']), `${target}@127.0.0.1`];
    this.proc = pty.spawn('ssh', args, {
      name: 'xterm',
      cols: opts.cols ?? 100,
      rows: opts.rows ?? 30,
      env: { ...process.env, SSH_ASKPASS: ASKPASS, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0', SHELLGATE_TOKEN: token } as Record<string, string>,
    });
    this.proc.onData((d) => (this.output += d));
    this.exited = new Promise((resolve) => this.proc.onExit(({ exitCode }) => resolve((this.exitCode = exitCode))));
  }

  write(s: string): void {
    this.proc.write(s);
  }

  /** Output since the last `since()` checkpoint (or the start). */
  get recent(): string {
    return this.output.slice(this.mark);
  }

  /** Start a new window of output for `waitFor`. */
  since(): this {
    this.mark = this.output.length;
    return this;
  }

  /** Wait until the output since the checkpoint matches; returns that output. */
  async waitFor(pattern: RegExp | string, timeoutMs = 10_000): Promise<string> {
    const until = Date.now() + timeoutMs;
    const test = (s: string) => (typeof pattern === 'string' ? s.includes(pattern) : pattern.test(s));
    while (!test(this.recent)) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${String(pattern)}; output since mark: ${JSON.stringify(this.recent.slice(-1500))}`);
      if (this.exitCode !== null && !test(this.recent)) throw new Error(`ssh exited (${this.exitCode}) before ${String(pattern)}; output: ${JSON.stringify(this.recent.slice(-1500))}`);
      await sleep(25);
    }
    return this.recent;
  }

  /** Type a line (Enter = CR, as a terminal in raw mode sends it) and wait for the next prompt. */
  async run(line: string, prompt = PROMPT, timeoutMs = 10_000): Promise<string> {
    this.since();
    this.write(line + '\r');
    return await this.waitFor(prompt, timeoutMs);
  }

  kill(): void {
    try {
      this.proc.kill();
    } catch {
      /* gone */
    }
  }
}

/** The guarded shell's prompt (bash PS1 `\u@\h:\w\$ `) seen after some output. */
export const PROMPT = /[\w.-]+@[\w.-]+:[^\r\n]*[$#] $/;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
