import { spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { repoRoot } from './paths.js';

export interface SshResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

export const ASKPASS = path.join(repoRoot, 'bin', 'shellgate-askpass');

/** Common OpenSSH client options: keyboard-interactive only, the gateway's host key pinned. */
export function sshArgs(port: number, knownHostsFile: string, extra: string[] = []): string[] {
  return [
    '-p', String(port),
    '-F', '/dev/null',
    '-o', 'PreferredAuthentications=keyboard-interactive',
    '-o', 'PubkeyAuthentication=no',
    '-o', `UserKnownHostsFile=${knownHostsFile}`,
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'NumberOfPasswordPrompts=1',
    '-o', 'ConnectTimeout=10',
    ...extra,
  ];
}

/**
 * Run OpenSSH's `ssh` against the gateway, answering the "OIDC token:" prompt through
 * SSH_ASKPASS (the way agents do), and collect its output and exit status.
 */
export async function runSsh(opts: {
  port: number;
  knownHostsFile: string;
  target: string;
  token: string;
  command?: string;
  input?: string | Buffer;
  extra?: string[];
  timeoutMs?: number;
}): Promise<SshResult> {
  const args = [...sshArgs(opts.port, opts.knownHostsFile, opts.extra ?? ['-T']), `${opts.target}@127.0.0.1`];
  if (opts.command !== undefined) args.push(opts.command);
  const child = spawn('ssh', args, {
    env: { ...process.env, SSH_ASKPASS: ASKPASS, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0', SHELLGATE_TOKEN: opts.token },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d) => (err += d));
  child.stdin.on('error', () => undefined);
  if (opts.input !== undefined) child.stdin.end(opts.input);
  else child.stdin.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.once('close', (c, s) => r([c, s])));
  clearTimeout(timer);
  return { code, signal, stdout: Buffer.concat(out), stderr: err };
}

/** Direct OpenSSH to the test sshd with its throwaway client key (the baseline to compare with). */
export async function runDirectSsh(opts: { port: number; keyFile: string; hostKeyPub: string; user: string; command: string; dir: string }): Promise<SshResult> {
  const kh = path.join(opts.dir, 'direct_known_hosts');
  writeFileSync(kh, `[127.0.0.1]:${opts.port} ${opts.hostKeyPub.split(/\s+/).slice(0, 2).join(' ')}\n`);
  chmodSync(opts.keyFile, 0o600);
  const child = spawn(
    'ssh',
    ['-p', String(opts.port), '-F', '/dev/null', '-i', opts.keyFile, '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-T', `${opts.user}@127.0.0.1`, opts.command],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: os.homedir() } },
  );
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d) => (err += d));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.once('close', (c, s) => r([c, s])));
  return { code, signal, stdout: Buffer.concat(out), stderr: err };
}
