import { UsageError } from '../errors.js';
import { configFromFlag } from './config-flag.js';
import { parseFlags, print, type CliIO } from './io.js';

export const help = `usage: shellgate ticket [--url URL] [--config FILE]

Exchange the JWT in $SHELLGATE_TOKEN for a short one-time ticket (valid 60 s, single use)
and print it. OpenSSH sends at most 1023 characters per prompt answer; answer the
"OIDC token:" prompt with the ticket instead of a long JWT.

options:
  --url URL       the gateway's HTTP address (default: listen.http from the config)
`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(argv, { url: { type: 'string' }, config: { type: 'string' } }, false);
  const token = io.env.SHELLGATE_TOKEN;
  if (!token) throw new UsageError('SHELLGATE_TOKEN is not set');
  let base = values.url;
  if (!base) {
    const config = configFromFlag(values.config, io, { secrets: 'optional' });
    if (!config.listen.http) throw new UsageError('no --url given and the config has no listen.http');
    base = `http://${config.listen.http.host}:${config.listen.http.port}`;
  }
  const res = await fetch(new URL('/api/tickets', base), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json().catch(() => ({}))) as { ticket?: string; error?: string };
  if (!res.ok || !body.ticket) {
    io.stderr.write(`shellgate ticket: refused (HTTP ${res.status}): ${body.error ?? 'no ticket'}\n`);
    return 1;
  }
  print(io.stdout, body.ticket);
  return 0;
}
