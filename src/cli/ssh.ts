import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from '../net/ssh2.js';
import { UsageError } from '../errors.js';
import { loadConfig } from '../config/load-config.js';
import { fingerprint, fingerprintMatches } from '../upstream/fingerprint.js';
import { parseFlags, type CliIO } from './io.js';

export const help = `usage: shellgate ssh TARGET [--host HOST] [--port PORT] [--host-key SHA256:…] [--config FILE] [-- COMMAND…]

Connect to TARGET through the gateway as an agent. The token comes from $SHELLGATE_TOKEN
(a JWT of any length: this client has no 1023-character limit). With COMMAND, run it and
exit with its status; without, open an interactive shell (if the target's policy allows).

The gateway's host key is pinned: --host-key, else $SHELLGATE_HOST_KEY, else the key next
to the local config's hostKey (./shellgate.yaml), else the connection is refused.

options:
  --host HOST        gateway host (default: listen.ssh of the config, else 127.0.0.1)
  --port PORT        gateway SSH port (default: listen.ssh of the config, else 2222)
  --host-key FP      the gateway's host key fingerprint (ssh-keygen -lf)
`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const dd = argv.indexOf('--');
  const own = dd >= 0 ? argv.slice(0, dd) : argv;
  const command = dd >= 0 ? argv.slice(dd + 1).join(' ') : null;
  const { values, positionals } = parseFlags(own, {
    host: { type: 'string' },
    port: { type: 'string' },
    'host-key': { type: 'string' },
    config: { type: 'string' },
  });
  if (positionals.length !== 1) throw new UsageError('give exactly one TARGET');
  const target = positionals[0]!;
  const token = io.env.SHELLGATE_TOKEN;
  if (!token) throw new UsageError('SHELLGATE_TOKEN is not set');

  let host = values.host;
  let port = values.port ? Number(values.port) : undefined;
  let pinned = values['host-key'] ?? io.env.SHELLGATE_HOST_KEY;
  const cfgFile = path.resolve(io.cwd, values.config ?? 'shellgate.yaml');
  if (existsSync(cfgFile) && (!host || !port || !pinned)) {
    const cfg = loadConfig(cfgFile, io.env, { secrets: 'optional' });
    host ??= cfg.listen.ssh.host;
    port ??= cfg.listen.ssh.port;
    if (!pinned && existsSync(cfg.hostKey + '.pub')) {
      const blob = Buffer.from(readFileSync(cfg.hostKey + '.pub', 'utf8').trim().split(/\s+/)[1] ?? '', 'base64');
      pinned = fingerprint(blob);
    }
  }
  host ??= '127.0.0.1';
  port ??= 2222;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError('--port must be 1-65535');
  if (!pinned) throw new UsageError('no gateway host key to pin: pass --host-key SHA256:… or set SHELLGATE_HOST_KEY');

  const client = new Client();
  const stdin = io.stdin as NodeJS.ReadStream;
  const interactive = command === null;
  return await new Promise<number>((resolve) => {
    let status = 255;
    let refusedWhy = '';
    client.on('keyboard-interactive', (_name, instructions, _lang, prompts, finish) => {
      if (prompts.length === 0) {
        refusedWhy = instructions;
        finish([]);
        return;
      }
      finish(prompts.map(() => token));
    });
    client.on('error', (err: Error) => {
      io.stderr.write(`shellgate ssh: ${refusedWhy || err.message}\n`);
      resolve(255);
    });
    client.on('ready', () => {
      const onChannel = (err: Error | undefined, ch: import('ssh2').ClientChannel) => {
        if (err) {
          io.stderr.write(`shellgate ssh: ${err.message}\n`);
          client.end();
          resolve(255);
          return;
        }
        ch.on('exit', (code: number | null, signal?: string) => {
          status = code ?? (signal ? 128 + (signalNumber(signal) ?? 0) : 255);
        });
        ch.on('close', () => {
          if (interactive && stdin.isTTY) stdin.setRawMode(false);
          stdin.unpipe(ch);
          stdin.pause();
          client.end();
          resolve(status);
        });
        ch.pipe(io.stdout as NodeJS.WritableStream, { end: false });
        ch.stderr.pipe(io.stderr as NodeJS.WritableStream, { end: false });
        if (interactive && stdin.isTTY) {
          stdin.setRawMode(true);
          process.stdout.on('resize', () => ch.setWindow(process.stdout.rows, process.stdout.columns, 0, 0));
        }
        stdin.pipe(ch);
      };
      if (interactive) {
        const tty = (io.stdout as NodeJS.WriteStream).isTTY;
        const win = tty ? { rows: process.stdout.rows, cols: process.stdout.columns, term: io.env.TERM ?? 'xterm' } : false;
        client.shell(win as never, onChannel);
      } else client.exec(command, onChannel);
    });
    client.connect({
      host,
      port,
      username: target,
      tryKeyboard: true,
      authHandler: ['keyboard-interactive'],
      hostVerifier: (key: Buffer) => {
        if (fingerprintMatches(key, pinned!)) return true;
        refusedWhy = `the gateway's host key ${fingerprint(key)} does not match the pinned ${pinned}`;
        return false;
      },
      readyTimeout: 20_000,
    });
  });
}

function signalNumber(name: string): number | undefined {
  const map: Record<string, number> = { HUP: 1, INT: 2, QUIT: 3, KILL: 9, SEGV: 11, PIPE: 13, ALRM: 14, TERM: 15 };
  return map[name.replace(/^SIG/, '')];
}
