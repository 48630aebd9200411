import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { newSshKeyFile } from './keys.js';
import os from 'node:os';
import path from 'node:path';
import { tempDir } from './tmp.js';

export interface SshdHandle {
  port: number;
  user: string;
  dir: string;
  /** Pinned fingerprint of the throwaway host key (SHA256:…). */
  hostKeyFingerprint: string;
  hostKeyPub: string;
  /** Throwaway client key authorised for `user` (OpenSSH private key file). */
  clientKeyFile: string;
  clientKey: Buffer;
  proc: ChildProcess;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

export const SSHD = '/usr/sbin/sshd';

/**
 * A real OpenSSH sshd on a random loopback port with throwaway host and client keys,
 * public-key auth only, torn down by stop(). Extra sshd_config lines may be passed.
 */
export async function startSshd(extraConfig: string[] = []): Promise<SshdHandle> {
  const { dir, cleanup } = tempDir('shellgate-sshd-');
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = path.join(dir, 'host_ed25519');
  const clientKeyFile = path.join(dir, 'client_ed25519');
  newSshKeyFile(hostKey, 'test-host');
  newSshKeyFile(clientKeyFile, 'test-client');
  writeFileSync(path.join(dir, 'authorized_keys'), readFileSync(clientKeyFile + '.pub'), { mode: 0o600 });
  const fp = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', hostKey + '.pub'], { encoding: 'utf8' }).split(/\s+/)[1]!;
  const user = os.userInfo().username;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const cfg = path.join(dir, 'sshd_config');
    writeFileSync(
      cfg,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey}`,
        `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
        `PidFile ${path.join(dir, 'sshd.pid')}`,
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        'PermitRootLogin prohibit-password',
        'UsePAM no',
        'StrictModes no',
        'PrintMotd no',
        'LogLevel ERROR',
        // bash started by sshd sources ~/.bashrc even for `ssh host cmd` (Debian builds it with
        // SSH_SOURCE_BASHRC) unless it is a nested shell. The test user is whoever runs the
        // suite, often root with a heavy ~/.bashrc (pyenv init: ~0.4 s per exec on the CI
        // machine), which would swamp every exec the tests and the benchmark time. Both the
        // direct and the gateway paths use this sshd, so they are measured alike.
        'SetEnv SHLVL=1',
        `AllowUsers ${user}`,
        ...extraConfig,
      ].join('\n') + '\n',
    );
    const proc = spawn(SSHD, ['-D', '-e', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (d) => (stderr += d));
    const ok = await waitForPort(port, proc, 5000);
    if (!ok) {
      proc.kill('SIGKILL');
      if (/Address already in use/.test(stderr)) continue;
      cleanup();
      throw new Error(`sshd did not start: ${stderr}`);
    }
    return {
      port,
      user,
      dir,
      hostKeyFingerprint: fp,
      hostKeyPub: readFileSync(hostKey + '.pub', 'utf8').trim(),
      clientKeyFile,
      clientKey: readFileSync(clientKeyFile),
      proc,
      async stop() {
        if (proc.exitCode === null) {
          proc.kill('SIGTERM');
          await new Promise((r) => proc.once('exit', r));
        }
        cleanup();
      },
    };
  }
  cleanup();
  throw new Error('sshd: no free port after 5 attempts');
}

async function waitForPort(port: number, proc: ChildProcess, timeoutMs: number): Promise<boolean> {
  const { connect } = await import('node:net');
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (proc.exitCode !== null) return false;
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
