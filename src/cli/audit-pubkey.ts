import path from 'node:path';
import { loadAuditPublicKey } from '../audit/index.js';
import { loadConfig } from '../config/load-config.js';
import { parseFlags, print, type CliIO } from './io.js';

export const help = `usage: shellgate audit pubkey [--config FILE] [--data-dir DIR]

Print the public key that signs audit checkpoints, as a JWK (Ed25519, JSON), for an
auditor who verifies checkpoints and witness entries outside this machine.`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(argv, { config: { type: 'string' }, 'data-dir': { type: 'string' } }, false);
  const dataDir =
    values['data-dir'] !== undefined
      ? path.resolve(io.cwd, values['data-dir'])
      : loadConfig(path.resolve(io.cwd, values.config ?? 'shellgate.yaml'), io.env, { secrets: 'optional' }).dataDir;
  print(io.stdout, JSON.stringify(await loadAuditPublicKey(dataDir)));
  return 0;
}
