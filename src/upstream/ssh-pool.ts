import type { Client as ClientT, ClientChannel, ConnectConfig } from 'ssh2';
import { Client } from '../net/ssh2.js';
import type { Socket } from 'node:net';
import { coalesceWrites } from '../net/coalesce-writes.js';
import type { Logger } from 'pino';
import { HostKeyMismatchError, UpstreamError } from '../errors.js';
import type { SshTargetConfig } from '../config/types.js';
import type { Vault } from '../vault/vault.js';
import { fingerprint, fingerprintMatches } from './fingerprint.js';
import type { ExitInfo, PtyRequest, UpstreamProcess } from './types.js';

interface PooledConnection {
  client: ClientT;
  /** Authenticated: channels can be opened on it now. */
  ready: boolean;
  /** Channels open or reserved on it (reserved: waiting for its handshake). */
  channels: number;
  closed: boolean;
  idleTimer: NodeJS.Timeout | null;
}

/** A channel waiting for the handshake of the connection it reserved a slot on. */
interface Waiter {
  conn: PooledConnection;
  resolve: (conn: PooledConnection) => void;
  reject: (err: Error) => void;
}

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * ssh2 client connections to SSH targets, reused across agent channels of the same
 * target (each carries at most `maxChannelsPerConnection`: OpenSSH's MaxSessions
 * defaults to 10) and closed after an idle period. The upstream host key is pinned:
 * a mismatch refuses the connection before any credential is sent.
 *
 * When every slot is taken, a channel reserves one on a new connection; if a slot frees on
 * an authenticated connection before that handshake ends, the oldest such waiter takes it
 * (a command lasts milliseconds, a handshake on a busy machine hundreds), and the new
 * connection, once up, serves whatever is still reserved on it or idles.
 */
export class SshPool {
  private pools = new Map<string, PooledConnection[]>();
  /** Per target, in arrival order: channels waiting for a connection's handshake. */
  private waiting = new Map<string, Waiter[]>();

  constructor(
    private readonly vault: Vault | null,
    private readonly log: Logger,
    private readonly idleMs: number,
  ) {}

  /** Plaintext credential values for a target (fed to the vaulted-secret masker). */
  secretsFor(target: SshTargetConfig): string[] {
    if (!this.vault) return [];
    try {
      return [this.vault.get(target.credential).value.toString('utf8')];
    } catch {
      return [];
    }
  }

  private connect(target: SshTargetConfig): PooledConnection {
    if (!this.vault) throw new UpstreamError('no vault master key configured: ssh targets need vault credentials');
    const cred = this.vault.get(target.credential);
    const client = new Client();
    const conn: PooledConnection = { client, ready: false, channels: 0, closed: false, idleTimer: null };
    let presented: string | null = null;
    const cfg: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.user,
      readyTimeout: CONNECT_TIMEOUT_MS,
      keepaliveInterval: 15_000,
      keepaliveCountMax: 3,
      hostVerifier: (key: Buffer) => {
        if (fingerprintMatches(key, target.hostKey)) return true;
        presented = fingerprint(key);
        return false;
      },
      ...(cred.kind === 'private-key' ? { privateKey: cred.value } : { password: cred.value.toString('utf8') }),
    };
    client.once('ready', () => {
      // Nagle + delayed ACK would add ~40 ms to every small exchange (ssh2 leaves it on).
      client.setNoDelay(true);
      conn.ready = true;
      if (conn.closed) return;
      this.settleWaiters(target.name, conn, (w) => w.resolve(conn));
      if (conn.channels === 0) this.idleLater(target, conn);
    });
    client.once('error', (err: Error & { level?: string }) => {
      if (conn.ready) return;
      let failure: Error;
      if (presented) {
        this.log.error({ target: target.name, expected: target.hostKey, presented }, 'upstream host key mismatch: refusing the target');
        failure = new HostKeyMismatchError(`host key of target ${target.name} does not match the pinned fingerprint`);
      } else {
        failure = new UpstreamError(`target ${target.name} unreachable: ${err.message}`);
      }
      this.fail(target.name, conn, failure);
    });
    client.on('error', () => undefined);
    client.on('close', () => {
      this.fail(target.name, conn, new UpstreamError(`target ${target.name} closed the connection during its handshake`));
    });
    client.connect(cfg);
    coalesceWrites((client as unknown as { _sock?: Socket })._sock); // created by connect()
    return conn;
  }

  /** The connection is gone (or never came up): channels still waiting for it fail with `err`. */
  private fail(name: string, conn: PooledConnection, err: Error): void {
    conn.closed = true;
    const list = this.pools.get(name);
    const i = list ? list.indexOf(conn) : -1;
    if (i >= 0) list!.splice(i, 1);
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    this.settleWaiters(name, conn, (w) => w.reject(err));
  }

  private settleWaiters(name: string, conn: PooledConnection, settle: (w: Waiter) => void): void {
    const queue = this.waiting.get(name);
    if (!queue?.length) return;
    const mine = queue.filter((w) => w.conn === conn);
    if (!mine.length) return;
    this.waiting.set(name, queue.filter((w) => w.conn !== conn));
    for (const w of mine) settle(w);
  }

  private idleLater(target: SshTargetConfig, conn: PooledConnection): void {
    conn.idleTimer = setTimeout(() => {
      conn.closed = true;
      this.fail(target.name, conn, new UpstreamError(`target ${target.name}: idle connection closed`));
      conn.client.end();
    }, this.idleMs);
    conn.idleTimer.unref();
  }

  private acquire(target: SshTargetConfig): Promise<PooledConnection> {
    let list = this.pools.get(target.name);
    if (!list) this.pools.set(target.name, (list = []));
    const free = (c: PooledConnection) => !c.closed && c.channels < target.maxChannelsPerConnection;
    let conn = list.find((c) => c.ready && free(c)) ?? list.find(free);
    if (!conn) {
      conn = this.connect(target);
      list.push(conn);
    }
    conn.channels++;
    if (conn.idleTimer) {
      clearTimeout(conn.idleTimer);
      conn.idleTimer = null;
    }
    if (conn.ready) return Promise.resolve(conn);
    const reserved = conn;
    return new Promise((resolve, reject) => {
      let queue = this.waiting.get(target.name);
      if (!queue) this.waiting.set(target.name, (queue = []));
      queue.push({ conn: reserved, resolve, reject });
    });
  }

  private release(target: SshTargetConfig, conn: PooledConnection): void {
    conn.channels--;
    if (conn.closed || !conn.ready) return;
    // A slot freed on a live connection: the oldest channel still waiting for a handshake
    // takes it, and gives back the slot it had reserved there.
    const w = this.waiting.get(target.name)?.shift();
    if (w) {
      w.conn.channels--;
      w.conn = conn;
      conn.channels++;
      w.resolve(conn);
      return;
    }
    if (conn.channels === 0) this.idleLater(target, conn);
  }

  /** Open an exec (command) or a shell (command null) channel on the target. */
  async open(target: SshTargetConfig, command: string | null, opts: { pty: PtyRequest | null; env: Record<string, string> }): Promise<UpstreamProcess> {
    const conn = await this.acquire(target);
    let channel: ClientChannel;
    try {
      channel = await new Promise<ClientChannel>((resolve, reject) => {
        const cb = (err: Error | undefined, ch: ClientChannel) => (err ? reject(err) : resolve(ch));
        const pty = opts.pty ? { term: opts.pty.term, rows: opts.pty.rows, cols: opts.pty.cols, width: opts.pty.width, height: opts.pty.height } : undefined;
        if (command === null) conn.client.shell(pty ?? false, { env: opts.env }, cb);
        else conn.client.exec(command, { pty: pty ?? false, env: opts.env }, cb);
      });
    } catch (err) {
      this.release(target, conn);
      throw new UpstreamError(`target ${target.name} refused the channel: ${(err as Error).message}`);
    }
    return wrapChannel(channel, () => this.release(target, conn));
  }

  closeAll(): void {
    for (const list of this.pools.values()) for (const c of list.splice(0)) {
      c.closed = true;
      if (c.idleTimer) clearTimeout(c.idleTimer);
      c.client.end();
    }
  }

  /** Open upstream connections (for leak checks and metrics). */
  connectionCount(): number {
    let n = 0;
    for (const list of this.pools.values()) n += list.length;
    return n;
  }
}

function wrapChannel(channel: ClientChannel, onClose: () => void): UpstreamProcess {
  const exit: ExitInfo = { code: null, signal: null };
  let sawExit = false;
  channel.on('exit', (code: number | null, signal?: string, coreDumped?: boolean, message?: string) => {
    sawExit = true;
    exit.code = code;
    exit.signal = signal ? signal.replace(/^SIG/, '') : null;
    if (coreDumped) exit.coreDumped = true;
    if (message) exit.message = message;
  });
  // ssh2 emits a client channel's 'close' only after its readable side has ended. Once the
  // agent is gone nobody reads it (a pipeline tears down by calling destroy(), which for ssh2
  // only sends CHANNEL_CLOSE), so drain it, or `done` never resolves and the channel and its
  // pooled connection are never released.
  let draining = false;
  const drain = () => {
    if (draining) return;
    draining = true;
    for (const s of [channel, channel.stderr]) {
      s.on('pause', () => setImmediate(() => s.resume()));
      s.resume();
    }
  };
  // ssh2's destroy() is end() + close(); end() on an already ended stream builds an error with a
  // stack trace (a measurable cost per command), so end only what is still open.
  channel.destroy = () => {
    drain();
    if (!channel.writableEnded) channel.end();
    channel.close();
    return channel;
  };
  const done = new Promise<ExitInfo>((resolve) => {
    // ssh2 also passes the exit status to 'close': an upstream that answers exec with its exit
    // status in the same segment emits 'exit' before the exec callback has attached our listener.
    channel.once('close', (code?: number | null, signal?: string, coreDumped?: boolean, message?: string) => {
      onClose();
      if (!sawExit && (typeof code === 'number' || signal)) {
        sawExit = true;
        exit.code = typeof code === 'number' ? code : null;
        exit.signal = signal ? signal.replace(/^SIG/, '') : null;
        if (coreDumped) exit.coreDumped = true;
        if (message) exit.message = message;
      }
      resolve(sawExit ? exit : { code: null, signal: null, message: 'upstream channel closed without an exit status' });
    });
  });
  return {
    stdout: channel,
    stderr: channel.stderr,
    stdin: channel,
    resize: (cols, rows, width = 0, height = 0) => channel.setWindow(rows, cols, height, width),
    signal: (name) => {
      try {
        channel.signal(name);
      } catch {
        /* channel already gone */
      }
    },
    close: () => {
      channel.close();
      drain();
    },
    done,
  };
}
