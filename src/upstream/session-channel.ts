import type { Client, ClientChannel } from 'ssh2';
import type { SessionOptions } from './types.js';

/**
 * A session channel opened in steps: the channel, its environment and terminal, the program.
 * Opening a session runs nothing upstream: a program starts only on an "exec", "shell" or
 * "subsystem" request (RFC 4254 §6.1, §6.5). So the pool keeps a channel open ahead of the next
 * command (SshPool.replenish), the gateway takes it, or opens one, while the decision that
 * allows the command is being committed, and the exec request goes out once that decision is
 * durable (audit.md).
 *
 * ssh2 1.x has no public call for the two steps (`Client.exec` does both at once). These are
 * the internals its own `exec` and `shell` use (`openChannel`, `reqEnv`, `reqPty`, `reqExec`
 * and `reqShell` in `ssh2/lib/client.js`); `test/upstream/session-channel.test.ts` runs them
 * against OpenSSH's sshd, and a version of ssh2 without them fails here with a TypeError
 * rather than misbehaving.
 */

/** The window and packet size ssh2 gives the channels it opens (`ssh2/lib/Channel.js`). */
const MAX_WINDOW = 2 * 1024 * 1024;
const PACKET_SIZE = 32 * 1024;

type ReplyCallback = (err: unknown) => void;

interface ClientInternals {
  _chanMgr?: { add(handler: ((err: Error | undefined, ch: ClientChannel) => void) & { type?: string }): number };
  _protocol?: {
    session(localId: number, window: number, packetSize: number): void;
    env(id: number, key: string, value: string, wantReply: boolean): void;
    pty(id: number, rows: number, cols: number, height: number, width: number, term: string, modes: unknown, wantReply: boolean): void;
    exec(id: number, command: string, wantReply: boolean): void;
    shell(id: number, wantReply: boolean): void;
  };
}

interface ChannelInternals {
  incoming: { state: string };
  outgoing: { id: number; state: string };
  _callbacks: ReplyCallback[];
  subtype?: string;
  allowHalfOpen: boolean;
}

function internals(client: Client): Required<ClientInternals> {
  const c = client as unknown as ClientInternals;
  if (typeof c._chanMgr?.add !== 'function' || typeof c._protocol?.session !== 'function' || typeof c._protocol.exec !== 'function') {
    throw new TypeError('this version of ssh2 lacks the channel internals shellgate uses (ssh2 1.x expected)');
  }
  return c as Required<ClientInternals>;
}

/**
 * The requests waiting for a reply on each connection, failed together when it closes: ssh2
 * never answers a pending request whose connection dies. One 'close' listener per connection,
 * however many of its channels wait (a listener per request passed Node's limit of ten with a
 * connection's ten channels and the one opened ahead, and warned).
 */
const waiting = new WeakMap<Client, Set<() => void>>();

function waitingOn(client: Client): Set<() => void> {
  let set = waiting.get(client);
  if (!set) {
    const fresh = new Set<() => void>();
    client.once('close', () => {
      for (const gone of fresh) gone();
      fresh.clear();
    });
    waiting.set(client, fresh);
    set = fresh;
  }
  return set;
}

/** A channel request with want-reply set: resolves on SSH_MSG_CHANNEL_SUCCESS, rejects on FAILURE (RFC 4254 §5.4). */
function request(client: Client, ch: ClientChannel, what: string, send: (id: number) => void): Promise<void> {
  const c = ch as unknown as ChannelInternals;
  if (c.outgoing.state !== 'open') return Promise.reject(new Error('channel is not open'));
  return new Promise((resolve, reject) => {
    const pending = waitingOn(client);
    const gone = () => reject(new Error(`connection closed while waiting for ${what}`));
    pending.add(gone);
    c._callbacks.push((err) => {
      pending.delete(gone);
      if (err) reject(err instanceof Error ? err : new Error(`the upstream refused ${what}`));
      else resolve();
    });
    send(c.outgoing.id);
  });
}

/** Open a session channel, nothing requested on it yet. Rejects with ssh2's error for a refused open (its `reason` is the RFC 4254 §5.1 code). */
export async function openSession(client: Client): Promise<ClientChannel> {
  const c = internals(client);
  return await new Promise<ClientChannel>((resolve, reject) => {
    const handler = Object.assign((err: Error | undefined, opened: ClientChannel) => (err ? reject(err) : resolve(opened)), { type: 'session' });
    const localId = c._chanMgr.add(handler);
    if (localId === -1) {
      reject(new Error('no free channels available'));
      return;
    }
    c._protocol.session(localId, MAX_WINDOW, PACKET_SIZE);
  });
}

/**
 * Set a session up for its program: environment variables (no reply asked, as ssh2 does: a
 * server that does not accept one ignores it), then the terminal when asked for. A refused
 * terminal closes the channel and rejects.
 */
export async function setUpSession(client: Client, ch: ClientChannel, opts: SessionOptions): Promise<void> {
  const c = internals(client);
  const id = (ch as unknown as ChannelInternals).outgoing.id;
  for (const [key, value] of Object.entries(opts.env)) c._protocol.env(id, key, value, false);
  const pty = opts.pty;
  if (!pty) return;
  try {
    await request(client, ch, 'a pseudo-terminal', (i) => c._protocol.pty(i, pty.rows, pty.cols, pty.height, pty.width, pty.term, null, true));
  } catch (err) {
    ch.close();
    throw err;
  }
}

/** openSession, then setUpSession. */
export async function openSessionChannel(client: Client, opts: SessionOptions): Promise<ClientChannel> {
  const ch = await openSession(client);
  await setUpSession(client, ch, opts);
  return ch;
}

/** Whether a channel is still open both ways (neither side has sent CHANNEL_CLOSE). */
export function isOpen(ch: ClientChannel): boolean {
  const c = ch as unknown as ChannelInternals;
  return c.incoming.state === 'open' && c.outgoing.state === 'open';
}

/** Start the program on a channel from openSessionChannel: a command, or the user's shell when null. */
export async function startProgram(client: Client, ch: ClientChannel, command: string | null): Promise<void> {
  const c = internals(client);
  if (command === null) {
    await request(client, ch, 'the shell', (i) => c._protocol.shell(i, true));
    (ch as unknown as ChannelInternals).subtype = 'shell';
  } else {
    await request(client, ch, 'the command', (i) => c._protocol.exec(i, command, true));
    const ci = ch as unknown as ChannelInternals;
    ci.subtype = 'exec';
    ci.allowHalfOpen = true; // as ssh2's exec: the agent's EOF on stdin does not end the output
  }
}
