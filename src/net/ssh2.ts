import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { pooledRandomFill } from './pooled-random-fill.js';

type Ssh2 = typeof import('ssh2');

const require = createRequire(import.meta.url);

/** Where ssh2 draws its random padding and KEXINIT cookies from, when loaded here first. */
export const ssh2Random = pooledRandomFill();

/**
 * ssh2, loaded with `crypto.randomFillSync` swapped for the pooled one for the duration of the
 * load only: ssh2 takes its own reference at load time (`const { randomFillSync } =
 * require('crypto')`), so its packet padding, KEXINIT cookies and X11 cookies draw from the pool
 * while every other module keeps Node's function. None of those values is a key (RFC 4253 §6
 * and §7.1); key exchange secrets come from OpenSSL's own key generation. If ssh2 was already
 * loaded by someone else (a test importing it first), that copy is used unchanged.
 */
function load(): Ssh2 {
  const real = crypto.randomFillSync;
  crypto.randomFillSync = ssh2Random as typeof crypto.randomFillSync;
  try {
    return require('ssh2') as Ssh2;
  } finally {
    crypto.randomFillSync = real;
  }
}

const ssh2: Ssh2 = load();
export default ssh2;
export const { Client } = ssh2;
