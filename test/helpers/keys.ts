import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * A fresh P-256 key pair for test issuers. Made as DER inside the generation call and imported,
 * because on Node 20 exporting a key straight from `generateKeyPair*` as a JWK can deadlock when
 * its generation job is garbage-collected meanwhile (see src/util/new-ed25519-key.ts).
 */
export function newEs256Pair(): { privateKey: KeyObject; publicKey: KeyObject } {
  const { privateKey: der } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
    publicKeyEncoding: { type: 'spki', format: 'der' },
  });
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** A throwaway Ed25519 key made with OpenSSH's ssh-keygen, no passphrase: written to `file` (and `file.pub`), returned. */
export function newSshKeyFile(file: string, comment = ''): Buffer {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  return readFileSync(file);
}
