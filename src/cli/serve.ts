import pino from 'pino';
import { StdoutLog } from './stdout-log.js';
import { startGateway } from '../gateway/start-gateway.js';
import { configFromFlag } from './config-flag.js';
import { parseFlags, type CliIO } from './io.js';

export const help = `usage: shellgate serve [--config FILE] [--log-level LEVEL]

Run the gateway (SSH listener + HTTP API) from a config file (default ./shellgate.yaml).
Logs are JSON lines (pino) on stdout; when listening, one line has "msg":"listening"
with the actual "ssh" and "http" addresses.

Signals: SIGHUP reloads the policies (an invalid policy keeps the old ones);
SIGTERM/SIGINT stop accepting, let running commands finish (up to 10 s),
write a final audit checkpoint and exit 0.

options:
  --config FILE      config file (see docs/config.md)
  --log-level LEVEL  fatal, error, warn, info, debug, trace (overrides logLevel)
`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(argv, { config: { type: 'string' }, 'log-level': { type: 'string' } }, false);
  const config = configFromFlag(values.config, io);
  const level = values['log-level'] ?? config.logLevel;
  // Off the event loop, batched and bounded: see StdoutLog.
  const out = new StdoutLog();
  const logger = pino({ level, base: { pid: process.pid } }, out);
  const gw = await startGateway(config, { logger });
  return await new Promise<number>((resolve) => {
    // What the log's reader takes within 2 s after the stop; a stuck reader cannot hold the exit.
    const exit = (code: number) => void out.drain(2000).then(() => resolve(code));
    const shutdown = (sig: string) => {
      logger.info({ signal: sig }, 'shutdown requested');
      gw.stop().then(
        () => exit(0),
        (err: Error) => {
          logger.error({ err: err.message }, 'shutdown failed');
          exit(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGHUP', () => gw.deps.policies.reload());
  });
}
