import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import type { Connection, Server, ServerChannel, Session } from 'ssh2';
import ssh2 from '../net/ssh2.js';
import { ssh2Algorithms } from '../config/ssh-algorithms.js';
import { CloseSignal } from './close-signal.js';
import type { TargetConfig } from '../config/types.js';
import type { Identity } from '../identity/types.js';
import type { PtyRequest, UpstreamProcess } from '../upstream/types.js';
import type { Recorder } from '../audit/index.js';
import { authenticate, type AuthDeps } from './authenticate.js';
import type { ConnectionState, GatewayDeps, LiveChannel } from './context.js';
import { coalesceWrites } from '../net/coalesce-writes.js';
import { holdKexinit } from '../net/hold-kexinit.js';
import { isLoopbackHost } from '../config/load-config.js';
import { forTerminal, msg } from './messages.js';
import { runProgram } from './run-program.js';
import { runGuardedShell } from './guarded/run-guarded-shell.js';
import { newSessionId } from './session-id.js';
import type { GatewayControl } from './live-hub.js';
import { termSize } from './term-size.js';

/** Names that change what a shell runs: never accepted from an agent's `env` request, whatever the config says. */
const DANGEROUS_ENV = /^(PATH|IFS|ENV|BASH_ENV|SHELLOPTS|BASHOPTS|PS4|PROMPT_COMMAND|LD_.*|BASH_FUNC_.*)$/;

/**
 * The SSH side of shellgate (ssh2 Server): authenticates agents, maps the user name to a
 * target, and serves session channels. Everything that is not an exec or a permitted
 * shell is refused and audited: port forwarding, agent forwarding, X11, subsystems.
 */
export class SshGateway {
  private server: Server;
  private connections = new Set<Connection>();
  private bySession = new Map<string, { client: Connection; conn: ConnectionState }>();
  private accepting = true;
  /** Whether each connection's session.start reached the audit log (commands wait for it). */
  private sessionLogged = new WeakMap<ConnectionState, Promise<boolean>>();
  /** Sessions whose end is being appended (closeAll waits for them). */
  private readonly sessionEnds = new Set<Promise<void>>();
  private shuttingDown = false;

  constructor(
    private readonly deps: GatewayDeps,
    private readonly auth: AuthDeps,
    hostKey: Buffer,
  ) {
    this.server = new ssh2.Server(
      { hostKeys: [hostKey], ident: 'shellgate', banner: undefined, algorithms: ssh2Algorithms(deps.config.sshAlgorithms) },
      (client, info) => this.onConnection(client, info.ip ?? 'unknown', info.header.identRaw.length),
    );
    this.server.on('error', (err: Error) => deps.log.error({ err: err.message }, 'ssh server error'));
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    this.server.listen(port, host);
    await once(this.server, 'listening');
    return this.server.address() as AddressInfo;
  }

  /** Stop accepting; existing connections continue until they end (net.Server.close's callback would wait for them). */
  stopAccepting(): void {
    this.accepting = false;
    this.server.close();
  }

  /**
   * End every agent connection, and resolve once each has closed and its session's last events
   * (`session.end`, any late closing events) are appended, or after `timeoutMs`: the audit log
   * closes after this, so the log of a clean shutdown ends every session itself rather than
   * leaving them for the next start's recovery.
   */
  async closeAll(timeoutMs = 2000): Promise<void> {
    this.shuttingDown = true;
    const closed = [...this.connections].map((c) => new Promise<void>((resolve) => c.once('close', () => resolve())));
    for (const c of this.connections) c.end();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    // The gateway's own 'close' listener runs first: by then each session's end is in sessionEnds.
    await Promise.race([Promise.all(closed).then(() => Promise.allSettled([...this.sessionEnds])), deadline]);
    clearTimeout(timer);
  }

  connectionCount(): number {
    return this.connections.size;
  }

  private onConnection(client: Connection, address: string, peerIdentLength: number): void {
    const { log } = this.deps;
    if (!this.accepting) {
      client.end();
      return;
    }
    this.connections.add(client);
    // Nagle + delayed ACK would add ~40 ms to every exit status and prompt (ssh2 leaves it on).
    (client as unknown as { setNoDelay(on: boolean): void }).setNoDelay(true);
    const sock = (client as unknown as { _sock?: Socket })._sock;
    coalesceWrites(sock);
    // Loopback peers only: elsewhere the stall it avoids did not occur, and the hold costs half
    // a round trip (see hold-kexinit.ts).
    if (isLoopbackHost(address.replace(/^::ffff:/i, ''))) holdKexinit(sock, peerIdentLength);
    let conn: ConnectionState | null = null;
    // Agents must authenticate promptly: a connection that never finishes auth is dropped.
    const authTimer = setTimeout(() => {
      if (!conn) client.end();
    }, 30_000);
    authTimer.unref();

    client.on('error', (err: Error) => log.debug({ client: address, err: err.message }, 'agent connection error'));
    client.on('authentication', (ctx) =>
      authenticate(this.auth, ctx, address, (identity: Identity, target: TargetConfig) => {
        conn = {
          session: newSessionId(),
          identity,
          target,
          clientAddress: address,
          startedAt: Date.now(),
          nextChannel: 0,
          openChannels: 0,
        };
      }),
    );
    client.on('ready', () => {
      clearTimeout(authTimer);
      const c = conn!;
      this.bySession.set(c.session, { client, conn: c });
      const logged = this.deps.audit
        .append({
          type: 'session.start',
          session: c.session,
          subject: c.identity.subject,
          target: c.target.name,
          groups: [...c.identity.groups],
          issuer: c.identity.issuer,
          jti: c.identity.jti,
          tokenHash: c.identity.tokenHash,
          via: c.identity.via,
          client: address,
        })
        .then(
          () => true,
          (err: Error) => {
            log.error({ session: c.session, err: err.message }, 'audit append failed: refusing commands and closing the session');
            // Time for the agent's channel requests (which may come well after authentication on a
            // loaded machine) to get a clear refusal; then the connection goes.
            setTimeout(() => client.end(), 10_000).unref();
            return false;
          },
        );
      this.sessionLogged.set(c, logged);
      if (c.target.kind === 'ssh') this.deps.pool.warm(c.target);
      const closed = new CloseSignal();
      client.once('close', () => closed.fire());
      client.on('session', (accept) => this.onSession(c, accept(), closed));
      client.on('tcpip', (_accept, reject, info) => {
        reject();
        this.refused(c, 'direct-tcpip', `${info.destIP}:${info.destPort}`);
      });
      client.on('openssh.streamlocal', (_accept, reject) => {
        reject();
        this.refused(c, 'direct-streamlocal', '');
      });
      client.on('request', (_accept, reject, name) => {
        reject?.();
        this.refused(c, name, '');
      });
    });
    client.on('close', () => {
      clearTimeout(authTimer);
      this.connections.delete(client);
      if (conn) {
        const c = conn;
        this.bySession.delete(c.session);
        // After its channels' last events (an agent that drops mid-command: the result comes later).
        const channels = [...this.deps.live].filter((l) => l.session === c.session).map((l) => l.done);
        const durationMs = Date.now() - c.startedAt;
        const reason = this.shuttingDown ? 'gateway shutting down' : 'connection closed';
        const ending = Promise.allSettled(channels)
          .then(async () => {
            await this.appendUnlogged(c.session);
            await this.deps.audit.append({
              type: 'session.end',
              session: c.session,
              subject: c.identity.subject,
              target: c.target.name,
              reason,
              durationMs,
            });
          })
          .catch((err: Error) => log.error({ session: c.session, err: err.message }, 'audit append failed for session.end'));
        this.sessionEnds.add(ending);
        void ending.finally(() => this.sessionEnds.delete(ending));
        log.info({ session: c.session }, 'session ended');
      }
    });
  }

  /**
   * The session's closing events that could not be appended when their channel ended, appended
   * now (`late: true`), in their order, before its `session.end`. Still failing: the session is
   * left without its end (this rejects), and the next start's recovery closes what is open.
   */
  private async appendUnlogged(session: string): Promise<void> {
    const kept = this.deps.unlogged.get(session);
    if (!kept) return;
    this.deps.unlogged.delete(session);
    for (const [i, event] of kept.entries()) {
      try {
        await this.deps.audit.append({ ...event, late: true });
      } catch (err) {
        this.deps.log.error({ session, events: kept.length - i, err: (err as Error).message }, 'closing events still cannot be appended: the session is left open for the next start to close');
        throw err;
      }
    }
    this.deps.log.warn({ session, events: kept.length }, 'closing events appended late, once the audit log could be written again');
  }

  /** The console's view of running sessions (see live-hub.ts). */
  control(): GatewayControl {
    return {
      liveSessions: () =>
        [...this.bySession.values()].map(({ conn }) => ({
          session: conn.session,
          subject: conn.identity.subject,
          target: conn.target.name,
          startedAt: new Date(conn.startedAt).toISOString(),
          client: conn.clientAddress,
        })),
      subscribe: (session, fn) => (this.bySession.has(session) ? this.deps.hub.subscribe(session, fn) : null),
      terminate: async (session, actor, reason) => {
        const entry = this.bySession.get(session);
        if (!entry) return false;
        const { conn, client } = entry;
        await this.deps.audit.append({ type: 'session.terminated', session, subject: conn.identity.subject, target: conn.target.name, actor, reason });
        for (const l of this.deps.live) if (l.session === session) l.terminate(`terminated by ${actor}`);
        setTimeout(() => client.end(), 100).unref();
        return true;
      },
    };
  }

  private refused(c: ConnectionState, kind: string, detail: string): void {
    this.deps.log.warn({ session: c.session, kind, detail }, 'request refused');
    this.deps.audit
      .append({ type: 'channel.refused', session: c.session, subject: c.identity.subject, target: c.target.name, kind, detail })
      .catch(() => undefined);
  }

  private onSession(c: ConnectionState, session: Session, connectionClosed: CloseSignal): void {
    const limits = this.deps.config.limits;
    const channelNo = c.nextChannel++;
    let pty: PtyRequest | null = null;
    const env: Record<string, string> = {};
    let up: UpstreamProcess | null = null;
    let recorder: Recorder | null = null;
    let started = false;

    session.on('pty', (accept, reject, info) => {
      if (started) return reject?.();
      pty = { term: info.term, ...termSize(info) };
      accept?.();
    });
    session.on('window-change', (accept, _reject, info) => {
      const size = termSize(info, pty ?? undefined); // zero (unknown) keeps the size we have
      if (pty && size.cols === pty.cols && size.rows === pty.rows && size.width === pty.width && size.height === pty.height) return accept?.();
      if (pty) Object.assign(pty, size);
      up?.resize(size.cols, size.rows, size.width, size.height);
      try {
        recorder?.resize(size.cols, size.rows);
      } catch {
        // Not recorded (a full disk) before the channel's handler took over the recorder's write
        // errors: its next write fails the same way and stops it. Never thrown into ssh2's
        // packet handler, which would close the agent's whole connection.
      }
      accept?.();
    });
    session.on('env', (accept, reject, info) => {
      if (!started && c.target.envAllow.includes(info.key) && !DANGEROUS_ENV.test(info.key)) {
        env[info.key] = info.val;
        accept?.();
      } else reject?.();
    });
    session.on('signal', (accept, _reject, info) => {
      up?.signal(String(info.name).replace(/^SIG/, ''));
      accept?.();
    });
    const refuseRequest = (kind: string) => (_accept: unknown, reject?: () => void) => {
      reject?.();
      this.refused(c, kind, '');
    };
    session.on('auth-agent', refuseRequest('auth-agent'));
    session.on('x11', refuseRequest('x11'));
    session.on('subsystem', (_accept, reject, info) => {
      reject?.();
      this.refused(c, 'subsystem', info.name);
    });
    session.on('sftp', (_accept, reject) => {
      reject?.();
      this.refused(c, 'subsystem', 'sftp');
    });

    const start = (ch: ServerChannel, command: string | null, run: typeof runProgram = runProgram) => {
      started = true;
      c.openChannels++;
      if (c.openChannels > limits.maxChannelsPerConnection) {
        ch.stderr.write(forTerminal(msg.error(`too many channels on one connection (max ${limits.maxChannelsPerConnection})`), !!pty));
        ch.exit(126);
        ch.end();
        c.openChannels--;
        return;
      }
      // Counted as running from now on, whatever stage it is in (audit append, approval wait,
      // recording, upstream): a graceful stop waits for it or ends it at the deadline.
      const live: LiveChannel = {
        session: c.session,
        done: Promise.resolve(),
        terminate: () => {
          try {
            ch.close();
          } catch {
            /* gone */
          }
        },
      };
      this.deps.live.add(live);
      // This channel's view of the connection closing, linked only while the channel runs: a
      // finished channel's closures must not stay reachable from the connection (ssh2 may never
      // emit 'close' for a channel whose input nobody read, so the channel cannot unlink itself).
      const channelClosed = new CloseSignal();
      const unlink = connectionClosed.onClose(() => channelClosed.fire());
      // Nothing runs before the session's start is durable in the audit log.
      live.done = (this.sessionLogged.get(c) ?? Promise.resolve(true))
        .then((logged) => {
          if (!logged) {
            ch.stderr.write(forTerminal(msg.error('the audit log cannot be written: command refused'), !!pty));
            ch.exit(126);
            ch.end();
            return;
          }
          return run(this.deps, c, ch, {
            channelNo,
            command,
            pty,
            env,
            onUpstream: (u, r) => {
              up = u;
              recorder = r;
            },
            connectionClosed: channelClosed,
            live,
          });
        })
        .catch((err: Error) => {
          this.deps.log.error({ session: c.session, err: err.message, stack: err.stack }, 'channel failed');
          try {
            ch.stderr.write(forTerminal(msg.error('internal error: command aborted'), !!pty));
            ch.exit(126);
            ch.end();
          } catch {
            /* gone */
          }
        })
        .finally(() => {
          unlink();
          c.openChannels--;
          this.deps.live.delete(live);
        });
    };

    session.on('exec', (accept, _reject, info) => {
      const ch = accept();
      start(ch, info.command);
    });
    session.on('shell', (accept) => {
      const policy = this.deps.policies.get(c.target.policy);
      if (policy.shell === 'passthrough') {
        start(accept(), null);
        return;
      }
      if (policy.shell === 'guarded') {
        start(accept(), null, runGuardedShell);
        return;
      }
      // shell: deny. Accept only to explain: a bare reject leaves OpenSSH with a cryptic "shell request failed".
      const ch = accept();
      const why = `interactive shells are not allowed on target ${c.target.name}: run commands with ssh ${c.target.name}@gateway 'COMMAND'`;
      this.refused(c, 'shell', policy.shell);
      // Not in the same breath as the CHANNEL_SUCCESS: an ssh2-based agent attaches its 'exit'
      // listener only in the shell() callback and would miss an exit status read together with it.
      setTimeout(() => {
        try {
          ch.stderr.write(forTerminal(msg.error(why), !!pty));
          ch.exit(126);
          ch.end();
        } catch {
          /* the agent already left */
        }
      }, 20);
    });
  }
}
