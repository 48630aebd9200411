import { spawn } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import os from 'node:os';
import * as pty from 'node-pty';
import type { LocalTargetConfig } from '../config/types.js';
import type { ExitInfo, PtyRequest, SessionOptions, UpstreamProcess } from './types.js';

const SIGNALS = new Set(['ABRT', 'ALRM', 'FPE', 'HUP', 'ILL', 'INT', 'KILL', 'PIPE', 'QUIT', 'SEGV', 'TERM', 'USR1', 'USR2']);

/**
 * The environment a local target's programs get: built from scratch, never inherited,
 * so the gateway's own secrets (vault master key, admin token) cannot leak into a shell.
 */
function cleanEnv(extra: Record<string, string>, term: string | null): Record<string, string> {
  const user = os.userInfo();
  const env: Record<string, string> = {
    PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
    HOME: user.homedir,
    USER: user.username,
    LOGNAME: user.username,
    SHELL: '/bin/sh',
    LANG: process.env.LANG ?? 'C.UTF-8',
  };
  if (term) env.TERM = term;
  return { ...env, ...extra };
}

/** Run a command (or a shell when command is null) on the gateway machine. */
export function openLocal(target: LocalTargetConfig, command: string | null, opts: SessionOptions): UpstreamProcess {
  const cwd = target.cwd ?? os.homedir();
  const args = command === null ? ['-l'] : ['-c', command];
  if (opts.pty) return openPty(target.shell, args, cwd, cleanEnv({ ...opts.env, SHELL: target.shell }, opts.pty.term), opts.pty);
  // No terminal requested: a plain child process keeps stdout and stderr apart, as sshd does.
  // Its own process group, so a signal or a close reaches the whole command (sh -c does not exec its last command).
  const child = spawn(target.shell, args, { cwd, env: cleanEnv({ ...opts.env, SHELL: target.shell }, null), stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const group = (sig: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, sig);
    } catch {
      /* already gone */
    }
  };
  const done = new Promise<ExitInfo>((resolve) => {
    child.once('error', (err) => resolve({ code: 127, signal: null, message: err.message }));
    child.once('close', (code, signal) => resolve({ code, signal: signal ? signal.replace(/^SIG/, '') : null }));
  });
  child.stdin.on('error', () => undefined);
  return {
    stdout: child.stdout,
    stderr: child.stderr,
    stdin: child.stdin,
    resize: () => undefined,
    signal: (name) => {
      if (SIGNALS.has(name)) group(`SIG${name}` as NodeJS.Signals);
    },
    close: () => {
      if (child.exitCode === null && child.signalCode === null) group('SIGHUP');
    },
    done,
  };
}

function openPty(file: string, args: string[], cwd: string, env: Record<string, string>, req: PtyRequest): UpstreamProcess {
  const p = pty.spawn(file, args, { name: req.term || 'xterm', cols: req.cols || 80, rows: req.rows || 24, cwd, env });
  let paused = false;
  // A Readable over the PTY that pauses the PTY when the consumer is slow (back-pressure).
  const stdout = new Readable({
    read() {
      if (paused) {
        paused = false;
        p.resume();
      }
    },
  });
  p.onData((d) => {
    if (!stdout.push(Buffer.from(d, 'utf8')) && !paused) {
      paused = true;
      p.pause();
    }
  });
  const done = new Promise<ExitInfo>((resolve) => {
    p.onExit(({ exitCode, signal }) => {
      // node-pty reports the exit before the last output may have been read: let it drain.
      setTimeout(() => {
        stdout.push(null);
        resolve(signal ? { code: null, signal: signalName(signal) } : { code: exitCode, signal: null });
      }, 20);
    });
  });
  const stdin = new Writable({
    write(chunk: Buffer, _enc, cb) {
      try {
        p.write(chunk.toString('utf8'));
      } catch {
        /* the program ended */
      }
      cb();
    },
  });
  return {
    stdout,
    stderr: null,
    stdin,
    resize: (cols, rows) => {
      try {
        p.resize(Math.max(1, cols), Math.max(1, rows));
      } catch {
        /* ended */
      }
    },
    signal: (name) => {
      if (SIGNALS.has(name)) {
        try {
          p.kill(`SIG${name}`);
        } catch {
          /* ended */
        }
      }
    },
    close: () => {
      try {
        p.kill('SIGHUP');
      } catch {
        /* ended */
      }
    },
    done,
  };
}

function signalName(n: number): string {
  const entry = Object.entries(os.constants.signals).find(([, v]) => v === n);
  return entry ? entry[0].replace(/^SIG/, '') : String(n);
}
