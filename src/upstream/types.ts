import type { Readable, Writable } from 'node:stream';

export interface PtyRequest {
  term: string;
  cols: number;
  rows: number;
  width: number;
  height: number;
  modes?: Record<string, number | undefined>;
}

/** A running program on a target, whatever carries it (an ssh2 channel or a local process). */
export interface UpstreamProcess {
  /** Output (the PTY stream when a terminal was requested). */
  readonly stdout: Readable;
  /** Separate error output; null under a PTY, where it is merged into stdout. */
  readonly stderr: Readable | null;
  readonly stdin: Writable;
  resize(cols: number, rows: number, width?: number, height?: number): void;
  /** Deliver a signal by name without the SIG prefix (RFC 4254 §6.9: "INT", "TERM", …). */
  signal(name: string): void;
  /** Tear the program down (channel close / kill). */
  close(): void;
  /** Resolves once with the exit status or signal (RFC 4254 §6.10) when the program has ended and its output is drained. */
  readonly done: Promise<ExitInfo>;
}

/** What a session is set up with before its program starts: a terminal, and environment variables (RFC 4254 §6.2, §6.4). */
export interface SessionOptions {
  pty: PtyRequest | null;
  env: Record<string, string>;
}

/** An upstream channel opened ahead of its program (see SshPool.prepare). */
export interface PreparedChannel {
  /** Start the program: a command, or the shell when null. Once only; rejects when the channel could not be opened or the request is refused. */
  run(command: string | null): Promise<UpstreamProcess>;
  /** The program will not run: close the channel (if it opened) and give back its slot. */
  discard(): void;
}

export interface ExitInfo {
  code: number | null;
  /** Signal name without the SIG prefix, as RFC 4254 exit-signal carries it. */
  signal: string | null;
  coreDumped?: boolean;
  message?: string;
}
