import path from 'node:path';
import ssh2 from 'ssh2';
import { fingerprint } from '../../src/upstream/fingerprint.js';
import { newSshKeyFile } from './keys.js';
import { tempDir } from './tmp.js';

/** What the probe does with an exec request: run it (`true` exits 0, `echo …` prints), refuse it, or never answer. */
export type ExecAnswer = 'run' | 'refuse' | 'ignore';

export interface ProbeUpstream {
  port: number;
  fingerprint: string;
  /**
   * What happened, in order, session channels numbered from 1 as they open: `open N`,
   * `pty N`, `exec N COMMAND`, `close N`; and `end` when a connection closes.
   */
  events: string[];
  /** How the next exec requests are answered (default `run`). */
  answer: ExecAnswer;
  /** Session channels open with no program yet (their numbers). */
  idle(): number[];
  /** Close, from the server's side, the session channels that have no program yet. */
  closeIdle(): void;
  /** Resolves once `pred` holds for the events (polled), rejects after `ms`. */
  until(pred: (events: string[]) => boolean, ms?: number): Promise<void>;
  close(): Promise<void>;
}

interface Internals {
  _protocol: { channelClose(id: number): void };
}

/**
 * An SSH server written with ssh2, in the test's own process, that logs the messages the
 * gateway sends it: the tests see when a session channel opens and when (or whether) its exec
 * request arrives. Any public key is accepted.
 */
export async function startProbeUpstream(): Promise<ProbeUpstream> {
  const { dir, cleanup } = tempDir('shellgate-probe-');
  const keyFile = path.join(dir, 'host_ed25519');
  const hostKey = newSshKeyFile(keyFile);
  const parsed = ssh2.utils.parseKey(hostKey);
  if (parsed instanceof Error) throw parsed;
  const events: string[] = [];
  const clients = new Set<ssh2.Connection>();
  /** Sessions without a program: number → how to close it from here. */
  const idle = new Map<number, () => void>();
  let sessions = 0;
  const probe: ProbeUpstream = {
    port: 0,
    fingerprint: fingerprint((Array.isArray(parsed) ? parsed[0]! : parsed).getPublicSSH()),
    events,
    answer: 'run',
    idle: () => [...idle.keys()],
    closeIdle: () => {
      for (const close of idle.values()) close();
    },
    async until(pred, ms = 5000) {
      const end = Date.now() + ms;
      while (!pred(events)) {
        if (Date.now() > end) throw new Error(`probe upstream: condition not met in ${ms} ms; events: ${events.join(', ')}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    close: async () => {
      for (const c of clients) c.end();
      await new Promise((r) => server.close(r));
      cleanup();
    },
  };
  const server = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
    clients.add(client);
    client.on('error', () => undefined);
    client.on('close', () => {
      clients.delete(client);
      events.push('end');
    });
    client.on('authentication', (ctx) => (ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey'])));
    client.on('ready', () => {
      client.on('session', (accept) => {
        const n = ++sessions;
        const session = accept();
        events.push(`open ${n}`);
        // ssh2 has no call to close a session that has no program: the same message, sent by hand.
        const chanInfo = (session as unknown as { _chanInfo: { outgoing: { id: number } } })._chanInfo;
        idle.set(n, () => (client as unknown as Internals)._protocol.channelClose(chanInfo.outgoing.id));
        session.on('close', () => {
          idle.delete(n);
          events.push(`close ${n}`);
        });
        session.on('pty', (acc) => {
          events.push(`pty ${n}`);
          acc();
        });
        session.on('exec', (acc, rej, info) => {
          idle.delete(n);
          events.push(`exec ${n} ${info.command}`);
          if (probe.answer === 'ignore') return;
          if (probe.answer === 'refuse') {
            rej();
            return;
          }
          const ch = acc();
          if (info.command.startsWith('echo ')) ch.write(info.command.slice(5) + '\n');
          ch.exit(info.command === 'true' || info.command.startsWith('echo ') ? 0 : 127);
          ch.end();
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  probe.port = (server.address() as { port: number }).port;
  return probe;
}
