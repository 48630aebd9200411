import type { Client as ClientT, ClientChannel, ConnectConfig } from 'ssh2';
import { Client } from '../net/ssh2.js';
import type { Socket } from 'node:net';
import { coalesceWrites } from '../net/coalesce-writes.js';
import { ssh2Algorithms, type SshAlgorithms } from '../config/ssh-algorithms.js';
import type { Logger } from 'pino';
import { HostKeyMismatchError, UpstreamError } from '../errors.js';
import type { SshTargetConfig } from '../config/types.js';
import type { Vault } from '../vault/vault.js';
import { fingerprint, fingerprintMatches } from './fingerprint.js';
import { isOpen, openSession, openSessionChannel, setUpSession, startProgram } from './session-channel.js';
import type { ExitInfo, PreparedChannel, SessionOptions, UpstreamProcess } from './types.js';

interface PooledConnection {
  client: ClientT;
  /** Authenticated: channels can be opened on it now. */
  ready: boolean;
  /** Channels open or reserved on it (reserved: waiting for its handshake), its spare included. */
  channels: number;
  closed: boolean;
  idleTimer: NodeJS.Timeout | null;
  /** A session channel opened ahead for the next command (SshPool.replenish), and one being opened. */
  spare: ClientChannel | null;
  spareOpening: boolean;
}

/**
 * A channel waiting for a slot: reserved on a connection still in its handshake (`conn`), or,
 * while MAX_CONNECTING handshakes are already under way, on none yet (`conn` null).
 */
interface Waiter {
  conn: PooledConnection | null;
  resolve: (conn: PooledConnection) => void;
  reject: (err: Error) => void;
}

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Handshakes under way to one target at a time, at most. OpenSSH's MaxStartups (default
 * 10:30:100) starts dropping connections beyond 10 unauthenticated ones, and on a busy
 * gateway every handshake takes CPU from the commands that are waiting (about 4 ms on each
 * side for ssh2 on loopback): a burst of channels waits for slots rather than opening a
 * connection each ten of them.
 */
export const MAX_CONNECTING = 4;

/** Attempts at opening a session channel the upstream refuses (see SshPool.openChannel). */
const OPEN_ATTEMPTS = 4;

/**
 * Refused channel opens are logged at warn level at most once per target in this interval,
 * with the count since the last line: an operator sees that the target's session limit is
 * being hit (OpenSSH MaxSessions below the target's maxChannels, or a pool reusing a slot sshd
 * has not freed yet) without a line per command under load.
 */
export const REFUSED_LOG_INTERVAL_MS = 60_000;

/** Connections of `list` still in their handshake. */
function handshakes(list: PooledConnection[]): number {
  let n = 0;
  for (const c of list) if (!c.ready && !c.closed) n++;
  return n;
}

/** Channels at work on `conn`: those open or reserved, less its spare. */
function busy(conn: PooledConnection): number {
  return conn.channels - (conn.spare || conn.spareOpening ? 1 : 0);
}

/** Work has come to `conn`: its idle timer stops. */
function stopIdle(conn: PooledConnection): void {
  if (conn.idleTimer) {
    clearTimeout(conn.idleTimer);
    conn.idleTimer = null;
  }
}

/** One more channel on `conn` (open or reserved): it is no longer idle. */
function take(conn: PooledConnection): void {
  conn.channels++;
  stopIdle(conn);
}

/**
 * ssh2 client connections to SSH targets, reused across agent channels of the same
 * target (each carries at most `maxChannelsPerConnection`: OpenSSH's MaxSessions
 * defaults to 10) and closed after an idle period. The upstream host key is pinned:
 * a mismatch refuses the connection before any credential is sent.
 *
 * When every slot is taken, a channel reserves one on a new connection (at most
 * MAX_CONNECTING in their handshake at once; beyond that it waits in line). Channels waiting
 * are served in arrival order by whichever comes first: a slot that frees on an authenticated
 * connection (a command lasts milliseconds, a handshake on a busy machine hundreds), a
 * connection that comes up with slots to spare, or their own connection's handshake. A new
 * connection that finds nothing left reserved on it idles.
 */
export class SshPool {
  private pools = new Map<string, PooledConnection[]>();
  /** Per target, in arrival order: channels waiting for a slot. */
  private waiting = new Map<string, Waiter[]>();
  private closing = false;
  /** Per target: refused channel opens not yet logged, and when the last warn line went out. */
  private refused = new Map<string, { count: number; loggedAt: number }>();

  /**
   * @param lightlyLoaded whether to keep a channel open ahead (replenish): only while the
   *   gateway is lightly loaded. Under load the slots are what is scarce: a slot held by a
   *   channel opened ahead is one a waiting command cannot have, and a spare that finds channels
   *   waiting when it comes up is closed unused (a round trip spent for nothing).
   */
  constructor(
    private readonly vault: Vault | null,
    private readonly log: Logger,
    private readonly idleMs: number,
    private readonly lightlyLoaded: () => boolean = () => true,
    private readonly algorithms: SshAlgorithms = { cipher: null, kex: null, mac: null },
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
    const conn: PooledConnection = { client, ready: false, channels: 0, closed: false, idleTimer: null, spare: null, spareOpening: false };
    let presented: string | null = null;
    const cfg: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.user,
      readyTimeout: CONNECT_TIMEOUT_MS,
      algorithms: ssh2Algorithms(this.algorithms),
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
      this.reserveOn(target, conn);
      this.pump(target);
      this.replenish(target, conn);
      this.idleCheck(target, conn);
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
      this.fail(target, conn, failure);
    });
    client.on('error', () => undefined);
    client.on('close', () => {
      this.fail(target, conn, new UpstreamError(`target ${target.name} closed the connection during its handshake`));
    });
    client.connect(cfg);
    coalesceWrites((client as unknown as { _sock?: Socket })._sock); // created by connect()
    return conn;
  }

  /** The connection is gone (or never came up): channels reserved on it fail with `err`. */
  private fail(target: SshTargetConfig, conn: PooledConnection, err: Error): void {
    conn.closed = true;
    conn.spare = null; // it goes with the connection
    const list = this.pools.get(target.name);
    const i = list ? list.indexOf(conn) : -1;
    if (i >= 0) list!.splice(i, 1);
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    this.settleWaiters(target.name, conn, (w) => w.reject(err));
    this.pump(target);
  }

  /**
   * Give `conn`'s free slots to the channels waiting, oldest first. On a live connection any of
   * them takes one (giving back the slot it had reserved on a connection still in its
   * handshake, for the next in line); on a connection in its handshake, only channels waiting
   * on no connection reserve one.
   */
  private reserveOn(target: SshTargetConfig, conn: PooledConnection): void {
    const queue = this.waiting.get(target.name);
    if (!queue?.length || conn.closed) return;
    const served: Waiter[] = [];
    const givenBack = new Set<PooledConnection>();
    for (const w of queue) {
      if (conn.channels >= target.maxChannelsPerConnection) break;
      if (w.conn === conn || (w.conn !== null && !conn.ready)) continue;
      if (w.conn !== null) {
        w.conn.channels--;
        givenBack.add(w.conn);
      }
      w.conn = conn;
      take(conn);
      if (conn.ready) served.push(w);
    }
    if (served.length) {
      this.waiting.set(target.name, queue.filter((w) => !served.includes(w)));
      for (const w of served) w.resolve(conn);
    }
    for (const c of givenBack) this.reserveOn(target, c);
  }

  /** Channels waiting on no connection: start handshakes for them, up to MAX_CONNECTING. */
  private pump(target: SshTargetConfig): void {
    const queue = this.waiting.get(target.name);
    if (!queue?.some((w) => w.conn === null)) return;
    if (this.closing) {
      this.settleWaiters(target.name, null, (w) => w.reject(new UpstreamError('gateway shutting down')));
      return;
    }
    const list = this.pools.get(target.name)!;
    while (queue.some((w) => w.conn === null) && handshakes(list) < MAX_CONNECTING) {
      let conn: PooledConnection;
      try {
        conn = this.connect(target);
      } catch (err) {
        this.settleWaiters(target.name, null, (w) => w.reject(err as Error));
        return;
      }
      list.push(conn);
      this.reserveOn(target, conn);
    }
  }

  private settleWaiters(name: string, conn: PooledConnection | null, settle: (w: Waiter) => void): void {
    const queue = this.waiting.get(name);
    if (!queue?.length) return;
    const mine = queue.filter((w) => w.conn === conn);
    if (!mine.length) return;
    this.waiting.set(name, queue.filter((w) => w.conn !== conn));
    for (const w of mine) settle(w);
  }

  /** Start the idle timer of a live connection nothing works on (a spare does not count). */
  private idleCheck(target: SshTargetConfig, conn: PooledConnection): void {
    if (conn.ready && !conn.closed && !conn.idleTimer && busy(conn) === 0) this.idleLater(target, conn);
  }

  private idleLater(target: SshTargetConfig, conn: PooledConnection): void {
    conn.idleTimer = setTimeout(() => {
      this.fail(target, conn, new UpstreamError(`target ${target.name}: idle connection closed`));
      conn.client.end();
    }, this.idleMs);
    conn.idleTimer.unref();
  }

  /**
   * An agent has just logged in to `target`: when the target has no connection, open one now,
   * so the first command finds it up rather than waiting for a handshake (about 100 ms against
   * OpenSSH sshd on the 2-core development VM; more for a distant target). At most one per
   * target; it idles out after `upstreamIdle` like any other. A failure here is the command
   * path's to report: the next command connects again and gets the error.
   */
  warm(target: SshTargetConfig): void {
    if (this.closing || !this.vault) return;
    const list = this.connections(target);
    if (list.some((c) => !c.closed)) return;
    try {
      list.push(this.connect(target));
    } catch (err) {
      this.log.debug({ target: target.name, err: (err as Error).message }, 'upstream warm-up not started');
    }
  }

  /** The target's connections (a list created on first use). */
  private connections(target: SshTargetConfig): PooledConnection[] {
    let list = this.pools.get(target.name);
    if (!list) this.pools.set(target.name, (list = []));
    return list;
  }

  private acquire(target: SshTargetConfig): Promise<PooledConnection> {
    const list = this.connections(target);
    const free = (c: PooledConnection) => !c.closed && c.channels < target.maxChannelsPerConnection;
    let conn = list.find((c) => c.ready && free(c)) ?? list.find(free) ?? null;
    if (!conn && handshakes(list) < MAX_CONNECTING) {
      conn = this.connect(target);
      list.push(conn);
    }
    if (conn) {
      take(conn);
      if (conn.ready) return Promise.resolve(conn);
    }
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
    this.reserveOn(target, conn); // the slot goes to the oldest channel waiting, if any
    this.replenish(target, conn);
    this.idleCheck(target, conn);
  }

  /**
   * Keep one session channel open ahead on a live connection that has a slot to spare and no
   * channel waiting for one: the next command takes it and sends only its requests, one round
   * trip to the target instead of two (an open, then the exec). Nothing runs on a spare
   * (RFC 4254 §6.1); it takes one of the connection's slots (OpenSSH counts it in MaxSessions),
   * does not keep the connection from idling out, and goes with it. A spare the target refuses
   * is not tried again before a slot frees.
   */
  private replenish(target: SshTargetConfig, conn: PooledConnection): void {
    if (this.closing || !conn.ready || conn.closed || conn.spare || conn.spareOpening || !this.lightlyLoaded()) return;
    if (conn.channels >= target.maxChannelsPerConnection || this.waiting.get(target.name)?.length) return;
    conn.spareOpening = true;
    conn.channels++; // a slot, but not work: the idle timer keeps running
    openSession(conn.client).then(
      (ch) => {
        conn.spareOpening = false;
        if (conn.closed) return;
        if (this.waiting.get(target.name)?.length) {
          // Channels came to wait meanwhile: the slot is theirs (the spare is closed unused).
          ch.close();
          this.release(target, conn);
          return;
        }
        conn.spare = ch;
      },
      (err: Error) => {
        conn.spareOpening = false;
        this.log.debug({ target: target.name, err: err.message }, 'upstream spare channel not opened');
        conn.channels--;
        if (conn.closed) return;
        this.reserveOn(target, conn);
        this.idleCheck(target, conn);
      },
    );
  }

  /** A live spare channel of the target, taken for a command (its slot becomes the command's), or null. */
  private takeSpare(target: SshTargetConfig): { conn: PooledConnection; channel: ClientChannel } | null {
    for (const conn of this.connections(target)) {
      const channel = conn.spare;
      if (!channel || conn.closed) continue;
      conn.spare = null;
      if (!isOpen(channel)) {
        conn.channels--; // the target closed it meanwhile
        continue;
      }
      stopIdle(conn); // the slot stays counted: it is the command's now
      return { conn, channel };
    }
    return null;
  }

  /**
   * A session channel on the target for a program started later: the spare one (replenish) or
   * one opened now. `run` sends its exec (command) or shell (null) request, `discard` closes
   * the channel unused. The gateway prepares a channel while the decision that allows its
   * command is being committed, and runs the program once the decision is durable
   * (session-channel.ts). A failed open is reported by `run`.
   */
  prepare(target: SshTargetConfig, opts: SessionOptions): PreparedChannel {
    const ready = this.openChannel(target, opts);
    ready.catch(() => undefined); // run() reports it; discard() has nothing to close
    let used = false;
    return {
      run: async (command) => {
        if (used) throw new TypeError('a prepared upstream channel starts one program');
        used = true;
        const { client, channel, up } = await ready;
        try {
          await startProgram(client, channel, command);
        } catch (err) {
          up.close(); // its slot comes back with the channel's close
          throw new UpstreamError(`target ${target.name} refused the ${command === null ? 'shell' : 'command'}: ${(err as Error).message}`);
        }
        return up;
      },
      discard: () => {
        if (used) return;
        used = true;
        ready.then(({ up }) => up.close(), () => undefined);
      },
    };
  }

  /**
   * A session channel on a pooled connection, its environment and terminal set, no program yet.
   *
   * A session channel the upstream refuses to open (SSH_MSG_CHANNEL_OPEN_FAILURE, RFC 4254
   * §5.1) is tried again, up to OPEN_ATTEMPTS times in all: nothing ran, since a program only
   * starts on a request sent on an open channel (a refused exec request is not retried).
   * OpenSSH frees a session slot a little after the channel's close, so a slot this pool reuses
   * at once can still be taken there (MaxSessions; sshd answers "open failed").
   */
  private async openChannel(
    target: SshTargetConfig,
    opts: SessionOptions,
  ): Promise<{ client: ClientT; channel: ClientChannel; up: UpstreamProcess }> {
    for (let attempt = 1; ; attempt++) {
      // A spare first (one may have come up while a refused open waited to try again).
      const spare = this.takeSpare(target);
      if (spare) return await this.useSpare(target, spare.conn, spare.channel, opts);
      const conn = await this.acquire(target);
      let channel: ClientChannel;
      try {
        channel = await openSessionChannel(conn.client, opts);
      } catch (err) {
        this.release(target, conn);
        const reason = (err as { reason?: unknown }).reason;
        if (typeof reason === 'number') {
          this.noteRefused(target, reason, attempt < OPEN_ATTEMPTS);
          if (attempt < OPEN_ATTEMPTS) {
            await new Promise((r) => setTimeout(r, attempt * 5));
            continue;
          }
        }
        throw new UpstreamError(`target ${target.name} refused the channel: ${(err as Error).message}`);
      }
      return { client: conn.client, channel, up: wrapChannel(channel, () => this.release(target, conn)) };
    }
  }

  /** Set a spare channel up for its command; its slot comes back when it closes. */
  private async useSpare(
    target: SshTargetConfig,
    conn: PooledConnection,
    channel: ClientChannel,
    opts: SessionOptions,
  ): Promise<{ client: ClientT; channel: ClientChannel; up: UpstreamProcess }> {
    const up = wrapChannel(channel, () => this.release(target, conn));
    this.replenish(target, conn);
    try {
      await setUpSession(conn.client, channel, opts);
    } catch (err) {
      up.close();
      throw new UpstreamError(`target ${target.name} refused the channel: ${(err as Error).message}`);
    }
    return { client: conn.client, channel, up };
  }

  /** Count a refused open; one warn line per target per REFUSED_LOG_INTERVAL_MS at most. */
  private noteRefused(target: SshTargetConfig, reason: number, retrying: boolean): void {
    let r = this.refused.get(target.name);
    if (!r) this.refused.set(target.name, (r = { count: 0, loggedAt: -Infinity }));
    r.count++;
    this.log.debug({ target: target.name, reason, retrying }, 'upstream refused a session channel');
    const now = performance.now();
    if (now - r.loggedAt < REFUSED_LOG_INTERVAL_MS) return;
    this.log.warn(
      { target: target.name, refused: r.count, reason, maxChannels: target.maxChannelsPerConnection },
      `upstream refused session channels (is its MaxSessions below maxChannels?); each open is tried up to ${OPEN_ATTEMPTS} times`,
    );
    r.count = 0;
    r.loggedAt = now;
  }

  closeAll(): void {
    this.closing = true;
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
