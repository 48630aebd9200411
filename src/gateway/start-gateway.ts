import { mkdirSync } from 'node:fs';
import pino, { type Logger } from 'pino';
import type { Config, TargetConfig } from '../config/types.js';
import { openStore, type Store } from '../store/open-store.js';
import { AuditLog, InlineGate, recoverUnsealed } from '../audit/index.js';
import { ApprovalBroker, registerApprovalRoutes } from '../approvals/index.js';
import { compileMasker, type Masker } from '../masking/index.js';
import { initPolicyEngine } from '../policy/index.js';
import { loadDevIssuer, type DevIssuer } from '../identity/dev-issuer.js';
import { TicketStore } from '../identity/tickets.js';
import { TokenVerifier } from '../identity/verify-token.js';
import { Vault } from '../vault/vault.js';
import { SshPool } from '../upstream/ssh-pool.js';
import { WebServer } from '../web/server.js';
import { registerTicketRoutes } from '../web/ticket-routes.js';
import { registerConsoleRoutes } from '../web/console/register-console.js';
import type { GatewayDeps, LiveChannel } from './context.js';
import { SshGateway } from './gateway.js';
import { loadOrCreateHostKey } from './host-key.js';
import { PolicySet } from './policy-set.js';
import { LiveHub } from './live-hub.js';
import { soleSession } from './sole-session.js';
import { FailureLimiter } from './rate-limit.js';

export interface RunningGateway {
  config: Config;
  log: Logger;
  sshAddress: { host: string; port: number };
  httpAddress: { host: string; port: number } | null;
  devIssuer: DevIssuer | null;
  deps: GatewayDeps;
  ssh: SshGateway;
  /** Graceful stop: stop accepting, let running commands finish up to the deadline, final checkpoint. */
  stop(deadlineMs?: number): Promise<void>;
}

/** Build every stage from a validated config and start listening. */
export async function startGateway(config: Config, opts: { logger?: Logger } = {}): Promise<RunningGateway> {
  const log = opts.logger ?? pino({ level: config.logLevel, base: { pid: process.pid } });
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  mkdirSync(config.recordings, { recursive: true, mode: 0o700 });
  const hostKey = loadOrCreateHostKey(config.hostKey);

  await initPolicyEngine();
  const policies = new PolicySet(config, log);

  const db: Store = openStore(config.store);
  const live = new Set<LiveChannel>();
  // Quiet when at most one channel runs (nobody else waits behind a write made in place) and the
  // loop has room, or when one agent has had the gateway to itself for 100 ms.
  const inline = new InlineGate({ alone: () => live.size <= 1, solo: soleSession(live) });
  const audit = await AuditLog.open(db, {
    inline,
    dataDir: config.dataDir,
    checkpointEvery: config.audit.checkpointEvery,
    checkpointIntervalMs: config.audit.checkpointIntervalMs,
    witness: config.audit.witness,
    witnessUrl: config.audit.witnessUrl,
    logger: log,
  });
  const recovered = await recoverUnsealed(db, audit, config.recordings);
  if (recovered.recordings || recovered.commands || recovered.sessions) {
    log.warn({ recordings: recovered.recordings, commands: recovered.commands, sessions: recovered.sessions }, 'sealed recordings and closed commands and sessions left open by an earlier run');
  }
  for (const f of recovered.failed) log.error(f, 'recording left unsealed: it could not be synced or read (tried again at the next start)');

  const devIssuer = config.identity.devIssuer ? await loadDevIssuer(config.dataDir) : null;
  const verifier = new TokenVerifier(config.identity.issuers, devIssuer);
  const tickets = new TicketStore();
  const vault = config.vault.masterKey ? Vault.open(config.vault.file, config.vault.masterKey) : null;
  const pool = new SshPool(vault, log, config.limits.upstreamIdleMs, () => inline.lightlyLoaded(), config.sshAlgorithms);
  if (!config.masking.enabled) log.warn('masking is disabled (masking.enabled: false): secrets reach agents and recordings unmasked');


  // HTTP first: the approvals broker needs its public URL for webhook links.
  let web: WebServer | null = null;
  let httpAddress: { host: string; port: number } | null = null;
  if (config.listen.http) {
    web = new WebServer({ log, verifier, adminToken: config.web.adminToken });
    const a = await web.listen(config.listen.http.host, config.listen.http.port);
    httpAddress = { host: a.address, port: a.port };
  }
  const broker = new ApprovalBroker({
    db,
    audit,
    timeoutMs: config.approvals.timeoutMs,
    webhooks: config.approvals.webhooks,
    publicUrl: config.approvals.publicUrl ?? (httpAddress ? `http://${fmtHost(httpAddress.host)}:${httpAddress.port}` : null),
    dataDir: config.dataDir,
    logger: log,
  });
  await broker.start();
  if (web) {
    registerTicketRoutes(web.router, tickets, verifier);
    registerApprovalRoutes(web.router, broker);
  }

  const maskers = new Map<string, { generation: number; masker: Masker }>();
  const maskerFor = (target: TargetConfig): Masker | null => {
    if (!config.masking.enabled) return null;
    const hit = maskers.get(target.name);
    if (hit && hit.generation === policies.generation) return hit.masker;
    const policy = policies.get(target.policy);
    const masker = compileMasker({
      add: policy.masking.add,
      disable: policy.masking.disable,
      vaulted: target.kind === 'ssh' ? pool.secretsFor(target) : [],
      idleMs: config.masking.idleMs,
    });
    maskers.set(target.name, { generation: policies.generation, masker });
    return masker;
  };
  // Compile every target's masker now: a bad policy regex must fail the start, not a session.
  for (const t of Object.values(config.targets)) maskerFor(t);

  const deps: GatewayDeps = { config, log, audit, inline, policies, pool, broker, maskerFor, live, hub: new LiveHub(), unlogged: new Map() };
  const limiter = new FailureLimiter(config.limits.authAttemptsPerMinute);
  const ssh = new SshGateway(deps, { config, log, verifier, tickets, limiter }, hostKey);
  if (web) registerConsoleRoutes(web, { config, db, audit, broker, control: ssh.control(), verifier, log });
  const sshAddr = await ssh.listen(config.listen.ssh.host, config.listen.ssh.port);

  const sshAddress = { host: sshAddr.address, port: sshAddr.port };
  log.info(
    {
      ssh: `${fmtHost(sshAddress.host)}:${sshAddress.port}`,
      ...(httpAddress ? { http: `${fmtHost(httpAddress.host)}:${httpAddress.port}` } : {}),
      targets: Object.keys(config.targets),
      devIssuer: devIssuer?.issuer ?? null,
    },
    'listening',
  );

  let stopping: Promise<void> | null = null;
  const stop = (deadlineMs = 10_000): Promise<void> =>
    (stopping ??= (async () => {
      log.info({ running: live.size }, 'stopping: no new connections');
      ssh.stopAccepting();
      const deadline = new Promise<void>((r) => setTimeout(r, deadlineMs).unref());
      await Promise.race([Promise.allSettled([...live].map((l) => l.done)), deadline]);
      for (const l of live) l.terminate('gateway shutting down');
      const sessionsEnded = ssh.closeAll();
      await web?.close();
      await broker.stop();
      pool.closeAll();
      await sessionsEnded; // their channels' results and the sessions' ends, before the final checkpoint
      await audit.close();
      db.close();
      // How many durable writes ran on the event loop (quiet) and how many were handed off (busy).
      log.info({ durableWrites: { ...inline.counts } }, 'stopped');
    })());

  return { config, log, sshAddress, httpAddress, devIssuer, deps, ssh, stop };
}

function fmtHost(h: string): string {
  return h.includes(':') ? `[${h}]` : h;
}
