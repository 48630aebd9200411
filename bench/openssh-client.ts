/**
 * OpenSSH `ssh` as the client for the throughput and set-up measures, so the direct baseline is
 * OpenSSH end to end. The gateway's "OIDC token:" prompt is answered through SSH_ASKPASS, as
 * agents do. Throughput runs over a ControlMaster connection (authenticated once) so each
 * timed exec measures the byte stream, not the handshake.
 */
import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ASKPASS, sshArgs } from '../test/helpers/openssh.js';

export interface Endpoint {
  /** Arguments before the destination: port, options, identity. */
  args: string[];
  dest: string;
  env: NodeJS.ProcessEnv;
}

export function gatewayEndpoint(port: number, knownHostsFile: string, target: string, token: string): Endpoint {
  return {
    args: sshArgs(port, knownHostsFile, ['-T']),
    dest: `${target}@127.0.0.1`,
    env: { ...process.env, SSH_ASKPASS: ASKPASS, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0', SHELLGATE_TOKEN: token },
  };
}

export function directEndpoint(port: number, keyFile: string, hostKeyPub: string, user: string, dir: string): Endpoint {
  const kh = path.join(dir, `direct_known_hosts_${port}`);
  writeFileSync(kh, `[127.0.0.1]:${port} ${hostKeyPub.split(/\s+/).slice(0, 2).join(' ')}\n`);
  chmodSync(keyFile, 0o600);
  return {
    args: ['-p', String(port), '-F', '/dev/null', '-i', keyFile, '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-T'],
    dest: `${user}@127.0.0.1`,
    env: { ...process.env },
  };
}

/** Run ssh with a time limit; resolves with exit status, stdout (small), stderr and wall time. */
export function ssh(
  ep: Endpoint,
  extra: string[],
  command: string | null,
  timeoutMs = 120_000,
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const args = [...ep.args, ...extra, ep.dest, ...(command === null ? [] : [command])];
  const t0 = performance.now();
  const child = spawn('ssh', args, { env: ep.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    if (stdout.length < 4096) stdout += d.toString('utf8');
  });
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString('utf8');
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    }),
  );
}

/** A ControlMaster connection (authenticated once, backgrounded by -f) and a way to close it. */
export async function openMaster(ep: Endpoint, socket: string): Promise<{ extra: string[]; close(): Promise<void> }> {
  // The backgrounded master keeps whatever stdio it inherits: give it none, and wait for the
  // foreground process to exit (not for pipes to close, which they never would).
  const child = spawn('ssh', [...ep.args, '-M', '-S', socket, '-N', '-f', '-o', 'ControlPersist=no', '-o', 'LogLevel=ERROR', '-E', socket + '.log', ep.dest], { env: ep.env, stdio: 'ignore' });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`ssh master failed (${code}): ${readLog(socket + '.log')}`);
  const extra = ['-S', socket, '-o', 'ControlMaster=no'];
  return { extra, close: async () => void (await ssh(ep, ['-S', socket, '-O', 'exit'], null, 10_000)) };
}

/**
 * One bulk transfer: `cat FILE` on the far side, bytes counted by `wc -c` locally (C on both
 * ends, so the client side is not the bottleneck). Returns MB/s (10^6 bytes).
 */
export async function bulkOnce(ep: Endpoint, masterExtra: string[], file: string, expectBytes: number): Promise<number> {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const line = ['ssh', ...ep.args, ...masterExtra, ep.dest, `cat ${file}`].map((a, i) => (i === 0 ? a : q(a))).join(' ') + ' | wc -c';
  const t0 = performance.now();
  const child = spawn('sh', ['-c', line], { env: ep.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
  const code = await new Promise<number | null>((r) => child.once('close', r));
  clearTimeout(timer);
  const secs = (performance.now() - t0) / 1000;
  const got = Number(out.trim());
  if (code !== 0 || got !== expectBytes) throw new Error(`bulk transfer got ${got} of ${expectBytes} bytes (exit ${code}): ${err.trim().slice(0, 300)}`);
  return expectBytes / 1e6 / secs;
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().slice(0, 500);
  } catch {
    return '(no log)';
  }
}
