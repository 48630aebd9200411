import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ssh2 from '../net/ssh2.js';
import { newEd25519Key } from '../util/new-ed25519-key.js';
import { encodeOpenSSHEd25519 } from './encode-openssh-key.js';

/**
 * The gateway's own SSH host key: ed25519, created on first start (0600) and reused,
 * so agents can pin it. Stored in OpenSSH format (ssh-keygen can read it).
 */
export function loadOrCreateHostKey(file: string): Buffer {
  if (existsSync(file)) {
    const mode = statSync(file).mode & 0o077;
    if (mode !== 0) throw new Error(`host key ${file} is readable by group or others (chmod 600 it)`);
    const key = readFileSync(file);
    // Checked here so a bad file is named; ssh2 would only say "Cannot parse privateKey".
    const parsed = ssh2.utils.parseKey(key);
    if (parsed instanceof Error) {
      throw new Error(`host key ${file} cannot be used (${parsed.message}); if it was never used by agents, remove it and its .pub, and a new one is created at start`);
    }
    return key;
  }
  const { private: priv, public: pub } = encodeOpenSSHEd25519(newEd25519Key(), 'shellgate host key');
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, priv, { mode: 0o600, flag: 'wx' });
  writeFileSync(file + '.pub', pub + '\n', { mode: 0o644 });
  return Buffer.from(priv);
}
