import { loadDevIssuer } from '../identity/dev-issuer.js';
import { parseDuration } from '../config/duration.js';
import { UsageError } from '../errors.js';
import { configFromFlag } from './config-flag.js';
import { parseFlags, print, type CliIO } from './io.js';

export const help = `usage: shellgate token [--config FILE] [--sub SUBJECT] [--group GROUP]... [--ttl 15m]

Mint a token from the gateway's dev issuer (identity.devIssuer: true) and print it alone
on stdout. For demos and tests only: production tokens come from your identity provider.

options:
  --sub SUBJECT   the token's subject (default: agent)
  --group GROUP   a group (repeatable)
  --ttl DURATION  lifetime, e.g. 90s, 15m, 1h (default 15m, at most 24h)
`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(
    argv,
    { config: { type: 'string' }, sub: { type: 'string' }, group: { type: 'string', multiple: true }, ttl: { type: 'string' } },
    false,
  );
  const config = configFromFlag(values.config, io, { secrets: 'optional' });
  if (!config.identity.devIssuer) throw new UsageError(`the dev issuer is not enabled in ${config.file} (identity.devIssuer: true)`);
  const ttl = parseDuration(values.ttl ?? '15m');
  if (ttl === null || ttl < 1000 || ttl > 86_400_000) throw new UsageError('--ttl must be a duration from 1s to 24h');
  const issuer = await loadDevIssuer(config.dataDir);
  const token = await issuer.mint({ sub: values.sub ?? 'agent', groups: values.group ?? [], ttlSeconds: Math.round(ttl / 1000) });
  print(io.stdout, token);
  return 0;
}
