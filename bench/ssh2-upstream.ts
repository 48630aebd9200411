/**
 * A lightweight SSH server written with ssh2, used as the upstream for the concurrency
 * benchmark: OpenSSH forks a process (or two) per connection, so 1,000 sessions would
 * measure fork() rather than the gateway. It accepts any public key and understands three
 * commands: `true` (exit 0), `echo WORDS` (prints them), anything else exits 127.
 *
 * Run as a child process: `node dist/bench/ssh2-upstream.js HOSTKEYFILE`; it prints one JSON
 * line {"port":N,"fingerprint":"SHA256:…"} once listening on 127.0.0.1.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ssh2 from 'ssh2';
import { fingerprint } from '../src/upstream/fingerprint.js';

export function startSsh2Upstream(hostKey: Buffer): Promise<{ port: number; fingerprint: string; close(): void }> {
  const parsed = ssh2.utils.parseKey(hostKey);
  if (parsed instanceof Error) throw parsed;
  const fp = fingerprint((Array.isArray(parsed) ? parsed[0] : parsed).getPublicSSH());
  const server = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
    client.on('error', () => undefined);
    // Without TCP_NODELAY, Nagle + delayed ACK add ~40 ms to every small exchange.
    (client as unknown as { setNoDelay(on: boolean): void }).setNoDelay(true);
    client.on('authentication', (ctx) => (ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey'])));
    client.on('ready', () => {
      client.on('session', (accept) => {
        const session = accept();
        session.on('exec', (acc, _rej, info) => {
          const ch = acc();
          const cmd = info.command.trim();
          if (cmd === 'true') ch.exit(0);
          else if (cmd.startsWith('echo ')) {
            ch.write(cmd.slice(5) + '\n');
            ch.exit(0);
          } else {
            ch.stderr.write(`ssh2-upstream: ${cmd.split(' ')[0]}: not found\n`);
            ch.exit(127);
          }
          ch.end();
        });
      });
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({ port: (server.address() as { port: number }).port, fingerprint: fp, close: () => server.close() });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const up = await startSsh2Upstream(readFileSync(process.argv[2]!));
  process.stdout.write(JSON.stringify({ port: up.port, fingerprint: up.fingerprint }) + '\n');
  process.on('SIGTERM', () => process.exit(0));
}
