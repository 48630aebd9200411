import { createRequire } from 'node:module';
import type { Algorithms, CipherAlgorithm, KexAlgorithm, MacAlgorithm } from 'ssh2';

/** ssh2's default algorithm lists (its modern set, in its order of preference). */
interface Ssh2Constants {
  DEFAULT_CIPHER: readonly string[];
  DEFAULT_KEX: readonly string[];
  DEFAULT_MAC: readonly string[];
}
const constants = createRequire(import.meta.url)('ssh2/lib/protocol/constants.js') as Ssh2Constants;

/**
 * What `sshAlgorithms` may name: only ssh2's defaults, so the option can narrow and reorder
 * what both SSH hops negotiate (a crypto policy, FIPS) but never enable the legacy algorithms
 * ssh2 still supports on request (CBC modes, arcfour, 3DES, SHA-1 key exchange, HMAC-MD5).
 */
export const ALLOWED_SSH_ALGORITHMS: Readonly<Record<'cipher' | 'kex' | 'mac', readonly string[]>> = Object.freeze({
  cipher: Object.freeze([...constants.DEFAULT_CIPHER]),
  kex: Object.freeze([...constants.DEFAULT_KEX]),
  mac: Object.freeze([...constants.DEFAULT_MAC]),
});

export interface SshAlgorithms {
  readonly cipher: readonly string[] | null;
  readonly kex: readonly string[] | null;
  readonly mac: readonly string[] | null;
}

/** The `algorithms` option of an ssh2 Server or Client for these settings (ssh2 calls MACs `hmac`). */
export function ssh2Algorithms(a: SshAlgorithms): Algorithms {
  // The names were checked against ssh2's own lists when the config was loaded.
  return {
    ...(a.cipher ? { cipher: [...a.cipher] as CipherAlgorithm[] } : {}),
    ...(a.kex ? { kex: [...a.kex] as KexAlgorithm[] } : {}),
    ...(a.mac ? { hmac: [...a.mac] as MacAlgorithm[] } : {}),
  };
}
