import { Client } from 'ssh2';

/**
 * An agent connection made with the ssh2 client (for tests that need many connections
 * or several commands on one connection). Answers the "OIDC token:" prompt with `token`.
 */
export async function connectAgent(port: number, target: string, token: string): Promise<Client> {
  const client = new Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.on('keyboard-interactive', (_n, _i, _l, prompts, finish) => finish(prompts.map(() => token)));
    client.connect({ host: '127.0.0.1', port, username: target, tryKeyboard: true, authHandler: ['keyboard-interactive'], readyTimeout: 30_000 });
  });
  return client;
}

/** Run one command on an open agent connection: stdout, stderr and exit status. */
export async function execOn(client: Client, command: string): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return await new Promise((resolve, reject) => {
    client.exec(command, (err, ch) => {
      if (err) return reject(err);
      let stdout = '';
      let stderr = '';
      let code: number | null = null;
      let signal: string | null = null;
      ch.on('data', (d: Buffer) => (stdout += d));
      ch.stderr.on('data', (d: Buffer) => (stderr += d));
      ch.on('exit', (c: number | null, s?: string) => {
        code = c;
        signal = s ?? null;
      });
      ch.on('close', () => resolve({ code, signal, stdout, stderr }));
    });
  });
}
