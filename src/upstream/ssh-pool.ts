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
  ready: Promise<void>;
  channels: number;
  closed: boolean;
  idleTimer: NodeJS.Timeout | null;
}

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * ssh2 client connections to SSH targets, reused across agent channels of the same
 * target (each carries at most `maxChannelsPerConnection`: OpenSSH's MaxSessions
 * defaults to 10) and closed after an idle period. The upstream host key is pinned:
 * a mismatch refuses the connection before any credential is sent.
 */
export class SshPool {
  private pools = new Map<string, PooledConnection[]>();

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
    const conn: PooledConnection = { client, ready: Promise.resolve(), channels: 0, closed: false, idleTimer: null };
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
    conn.ready = new Promise<void>((resolve, reject) => {
      client.once('ready', () => {
        // Nagle + delayed ACK would add ~40 ms to every small exchange (ssh2 leaves it on).
        client.setNoDelay(true);
        resolve();
      });
      client.once('error', (err: Error & { level?: string }) => {
        if (presented) {
          this.log.error({ target: target.name, expected: target.hostKey, presented }, 'upstream host key mismatch: refusing the target');
          reject(new HostKeyMismatchError(`host key of target ${target.name} does not match the pinned fingerprint`));
        } else {
          reject(new UpstreamError(`target ${target.name} unreachable: ${err.message}`));
        }
      });
    });
    conn.ready.catch(() => undefined);
    client.on('error', () => undefined);
    client.on('close', () => {
      conn.closed = true;
      this.drop(target.name, conn);
    });
    client.connect(cfg);
    coalesceWrites((client as unknown as { _sock?: Socket })._sock); // created by connect()
    return conn;
  }

  private drop(name: string, conn: PooledConnection): void {
    const list = this.pools.get(name);
    if (!list) return;
    const i = list.indexOf(conn);
    if (i >= 0) list.splice(i, 1);
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
  }

  private async acquire(target: SshTargetConfig): Promise<PooledConnection> {
    const list = this.pools.get(target.name) ?? [];
    this.pools.set(target.name, list);
    let conn = list.find((c) => !c.closed && c.channels < target.maxChannelsPerConnection);
    if (!conn) {
      conn = this.connect(target);
      list.push(conn);
    }
    conn.channels++;
    if (conn.idleTimer) {
      clearTimeout(conn.idleTimer);
      conn.idleTimer = null;
    }
    try {
      await conn.ready;
    } catch (err) {
      conn.closed = true;
      this.drop(target.name, conn);
      throw err;
    }
    return conn;
  }

  private release(target: SshTargetConfig, conn: PooledConnection): void {
    conn.channels--;
    if (conn.channels === 0 && !conn.closed) {
      conn.idleTimer = setTimeout(() => {
        conn.closed = true;
        this.drop(target.name, conn);
        conn.client.end();
      }, this.idleMs);
      conn.idleTimer.unref();
    }
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
