import pino from 'pino';
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
  // Asynchronous stdout, off the event loop, in writes of 4 KiB or every 100 ms, whichever comes
  // first: under load a write per line was a thread-pool hand-off per line (2-4 % of the loop at
  // 500 commands a second). The audit log, not this log, is the durable record; pending lines are
  // still written before any exit but a SIGKILL.
  const logger = pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 100 }));
  const gw = await startGateway(config, { logger });
  return await new Promise<number>((resolve) => {
    const shutdown = (sig: string) => {
      logger.info({ signal: sig }, 'shutdown requested');
      gw.stop().then(
        () => resolve(0),
        (err: Error) => {
          logger.error({ err: err.message }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGHUP', () => gw.deps.policies.reload());
  });
}
