import { randomBytes, type KeyObject } from 'node:crypto';
import { ed25519PrivateJwk } from '../util/new-ed25519-key.js';

/**
 * An ed25519 key in OpenSSH's own formats: the private key file ("openssh-key-v1",
 * OpenSSH PROTOCOL.key, unencrypted) and the one-line public key (RFC 8709 §4).
 *
 * Written here rather than with ssh2's `utils.generateKeyPairSync`, which strips
 * leading zero bytes from the public key: one key in 256 came out 31 bytes long
 * and unparseable, and the gateway then refused to start (mscdex/ssh2#1390, #1513).
 * An ed25519 public key is always exactly 32 bytes, zeros included.
 */
export function encodeOpenSSHEd25519(key: KeyObject, comment: string): { private: string; public: string } {
  const jwk = ed25519PrivateJwk(key); // TypeError unless an Ed25519 private key
  const seed = Buffer.from(jwk.d, 'base64url');
  const pub = Buffer.from(jwk.x, 'base64url');
  const pubBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
  // Two equal random "check" words let a reader detect a wrong passphrase; kept even unencrypted.
  const check = randomBytes(4);
  const body = Buffer.concat([check, check, sshString('ssh-ed25519'), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment)]);
  // Padding 1, 2, 3, … up to the cipher's block size (8 for "none").
  const padLen = (8 - (body.length % 8)) % 8;
  const padding = Buffer.from(Array.from({ length: padLen }, (_, i) => i + 1));
  const blob = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    sshString('none'), // cipher
    sshString('none'), // kdf
    sshString(Buffer.alloc(0)), // kdf options
    uint32(1), // number of keys
    sshString(pubBlob),
    sshString(Buffer.concat([body, padding])),
  ]);
  const b64 = blob.toString('base64');
  const lines = b64.match(/.{1,70}/g) ?? [];
  return {
    private: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`,
    public: `ssh-ed25519 ${pubBlob.toString('base64')}${comment ? ' ' + comment : ''}`,
  };
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** RFC 4251 §5 "string": a uint32 length, then the bytes. */
function sshString(v: string | Buffer): Buffer {
  const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
  return Buffer.concat([uint32(b.length), b]);
}
