import { randomBytes } from 'node:crypto';
import { AuditWriteError, ShellgateError } from '../errors.js';
import type { Store } from '../store/open-store.js';
import { ApprovalError } from './errors.js';
import { signLinkToken, loadOrCreateLinkKey, verifyLinkToken, type LinkClaims } from './link-token.js';
import { listPendingApprovals } from './list-pending.js';
import { newApprovalId, normalizeApprovalId } from './new-id.js';
import { recordDecision } from './record-decision.js';
import { ensureApprovalsSchema } from './schema.js';
import { deliverWebhook, type WebhookLogger } from './send-webhook.js';
import {
  acceptedDecisions,
  effectiveState,
  getRequest,
  rfc3339,
  toSummary,
  type DecisionRow,
  type RequestRow,
} from './store-rows.js';
import type {
  ApprovalOutcome,
  ApprovalRequestInput,
  AuditSink,
  DecisionInput,
  PendingApproval,
  PendingSummary,
  RequestStatus,
} from './types.js';

export interface ApprovalBrokerOptions {
  db: Store;
  audit: AuditSink;
  timeoutMs: number;
  webhooks: readonly { url: string; secret: string }[];
  /** Base URL of the HTTP server for one-time links; null = no links in webhook payloads. */
  publicUrl: string | null;
  /** Where the link-signing key lives (created 0600 on first start). */
  dataDir: string;
  logger: WebhookLogger;
  /** How often decisions written by other processes (the CLI) are picked up. */
  pollMs?: number;
  webhookRetry?: { maxAttempts?: number; baseDelayMs?: number };
}

/** Who the broker names as the approver of the decisions it takes itself (timeout, restart, cancel). */
const SYSTEM = 'shellgate';

interface Waiter {
  promise: Promise<ApprovalOutcome>;
  resolve: (o: ApprovalOutcome) => void;
  timer: NodeJS.Timeout | null;
}

/** What a one-time link refers to, for the confirmation page a GET shows. */
export interface LinkInfo {
  claims: LinkClaims;
  request: PendingSummary | null;
  status: RequestStatus | 'unknown';
  /** This very link was used before. */
  used: boolean;
}

/**
 * Owns approval requests in the gateway process: records them, notifies webhooks, applies
 * decisions (its own API calls and rows the CLI writes into the store, polled), enforces
 * timeouts, and writes every step to the audit log. It is the only audit writer for approvals.
 */
export class ApprovalBroker {
  private readonly db: Store;
  private readonly audit: AuditSink;
  private readonly opts: ApprovalBrokerOptions;
  private readonly run = randomBytes(8).toString('hex');
  private readonly waiters = new Map<string, Waiter>();
  private readonly abort = new AbortController();
  private readonly deliveries = new Set<Promise<unknown>>();
  /** Serialises everything that writes audit events or changes a request's status. */
  private chain: Promise<unknown> = Promise.resolve();
  private pollTimer: NodeJS.Timeout | null = null;
  private pollQueued = false;
  private linkKey: Buffer | null = null;
  private started = false;
  private stopped = false;

  constructor(opts: ApprovalBrokerOptions) {
    if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs <= 0) throw new TypeError('ApprovalBroker: timeoutMs must be > 0');
    for (const w of opts.webhooks) {
      const u = new URL(w.url); // throws TypeError on a malformed URL
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError('ApprovalBroker: webhook URLs must be http or https');
      if (!w.secret) throw new TypeError('ApprovalBroker: every webhook needs a secret');
    }
    if (opts.publicUrl !== null) new URL(opts.publicUrl);
    this.opts = opts;
    this.db = opts.db;
    this.audit = opts.audit;
  }

  /** Create the tables, expire the pending requests of earlier runs as denied, start polling. */
  async start(): Promise<void> {
    if (this.started) return;
    ensureApprovalsSchema(this.db);
    this.linkKey = loadOrCreateLinkKey(this.opts.dataDir);
    this.started = true;
    await this.serial(async () => {
      await this.applyDecisions();
      await this.expireEarlierRuns();
    });
    this.pollTimer = setInterval(() => this.poll(), this.opts.pollMs ?? 200);
    this.pollTimer.unref();
  }

  /** Record a request; resolves once `approval.requested` is durable in the audit log. */
  async request(input: ApprovalRequestInput): Promise<PendingApproval> {
    if (!this.started || this.stopped) throw new TypeError('ApprovalBroker.request: broker is not running');
    if (!Number.isInteger(input.approvers) || input.approvers < 1) throw new TypeError('ApprovalBroker.request: approvers must be an integer >= 1');
    if (!input.subject || !input.rule) throw new TypeError('ApprovalBroker.request: subject and rule are required');
    return this.serial(async () => {
      const now = Date.now();
      const expiresAt = now + this.opts.timeoutMs;
      const id = this.insertRequest(input, now, expiresAt);
      try {
        await this.audit.append({
          type: 'approval.requested',
          session: input.session,
          subject: input.subject,
          target: input.target,
          approval: id,
          command: input.command,
          argv: input.argv,
          rule: input.rule,
          groups: [...input.groups],
          approvers: input.approvers,
          approverGroups: [...input.approverGroups],
          requestedAt: rfc3339(now),
          expiresAt: rfc3339(expiresAt),
        });
      } catch (err) {
        // Not durable: the request must never be approvable.
        this.setStatus(id, 'denied', SYSTEM, 'audit log unavailable');
        throw err instanceof ShellgateError ? err : new AuditWriteError('audit log unavailable: approval.requested could not be written', { cause: err });
      }
      const waiter = this.newWaiter(id, expiresAt);
      this.notify(id);
      const pending: PendingApproval = {
        id,
        expiresAt: new Date(expiresAt),
        wait: () => waiter.promise,
        cancel: () => {
          void this.serial(() => this.cancelRequest(id)).catch((err) =>
            this.opts.logger.warn({ approval: id, error: String((err as Error)?.message) }, 'approval cancel failed'),
          );
        },
      };
      return pending;
    });
  }

  /**
   * One approver's decision (API, web console, or in-process callers). Throws ApprovalError
   * (`status` 404 / 409 / 403) when refused; policy refusals are audited first.
   */
  async decide(id: string, d: DecisionInput): Promise<{ status: 'approved' | 'denied' | 'pending' }> {
    return this.decideWith(normalizeApprovalId(id), d, {});
  }

  /** A one-time link was POSTed: decide as `webhook` (or `as`). 403 forged, 409 used/decided, 410 expired. */
  async decideByLink(token: string, as?: string): Promise<{ id: string; decision: 'approve' | 'deny'; status: 'approved' | 'denied' | 'pending' }> {
    const claims = this.linkKey ? verifyLinkToken(this.linkKey, token) : null;
    if (!claims) throw new ApprovalError('bad-token', 'invalid approval link');
    if (Math.floor(Date.now() / 1000) >= claims.exp) throw new ApprovalError('token-expired', `approval link for #${claims.id} has expired`);
    try {
      const r = await this.decideWith(
        claims.id,
        { approver: as ?? 'webhook', approverGroups: [], decision: claims.decision, via: 'webhook' },
        { linkNonce: claims.nonce },
      );
      return { id: claims.id, decision: claims.decision, ...r };
    } catch (err) {
      if (err instanceof ApprovalError && err.kind === 'expired') throw new ApprovalError('token-expired', err.message);
      if (err instanceof ApprovalError && err.kind === 'decided' && getRequest(this.db, claims.id)?.status === 'timeout') {
        throw new ApprovalError('token-expired', err.message);
      }
      throw err;
    }
  }

  /** For the confirmation page of a GET on a link (a GET never decides). Throws 403 on a forged token. */
  describeLink(token: string): LinkInfo {
    const claims = this.linkKey ? verifyLinkToken(this.linkKey, token) : null;
    if (!claims) throw new ApprovalError('bad-token', 'invalid approval link');
    const used = !!this.db.prepare('SELECT 1 FROM approval_links_used WHERE nonce = ?').get(claims.nonce);
    const req = getRequest(this.db, claims.id);
    if (!req) return { claims, request: null, status: 'unknown', used };
    const request = toSummary(req, effectiveState(req, acceptedDecisions(this.db, req.id)).approvedBy);
    return { claims, request, status: req.status, used };
  }

  /** Pending requests, read from the store. */
  listPending(): PendingSummary[] {
    return listPendingApprovals(this.db);
  }

  /** Stop timers, polling and webhook retries; waits resolve as cancelled, rows stay pending until the next start expires them. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.abort.abort();
    await this.chain.catch(() => {});
    for (const [id, w] of this.waiters) {
      if (w.timer) clearTimeout(w.timer);
      this.waiters.delete(id);
      w.resolve({ result: 'cancelled' });
    }
    await Promise.allSettled([...this.deliveries]);
  }

  // ---- internals ----

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => {});
    return next;
  }

  private async decideWith(
    id: string,
    d: DecisionInput,
    extra: { linkNonce?: string },
  ): Promise<{ status: 'approved' | 'denied' | 'pending' }> {
    if (!this.started) throw new TypeError('ApprovalBroker.decide: broker is not started');
    try {
      recordDecision(this.db, id, d, extra);
    } catch (err) {
      if (err instanceof ApprovalError) await this.serial(() => this.applyDecisions()); // audit a recorded refusal now
      throw err;
    }
    await this.serial(() => this.applyDecisions());
    const status = getRequest(this.db, id)?.status ?? 'pending';
    return { status: status === 'pending' ? 'pending' : status === 'approved' ? 'approved' : 'denied' };
  }

  private insertRequest(input: ApprovalRequestInput, now: number, expiresAt: number): string {
    const stmt = this.db.prepare(
      `INSERT INTO approval_requests (id, run, subject, groups, target, command, argv, rule, session, approvers,
         approver_groups, requested_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (let i = 0; ; i++) {
      const id = newApprovalId();
      try {
        stmt.run(
          id,
          this.run,
          input.subject,
          JSON.stringify(input.groups),
          input.target,
          input.command,
          JSON.stringify(input.argv),
          input.rule,
          input.session,
          input.approvers,
          JSON.stringify(input.approverGroups),
          now,
          expiresAt,
        );
        return id;
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_CONSTRAINT_PRIMARYKEY' || i >= 5) throw err;
      }
    }
  }

  private newWaiter(id: string, expiresAt: number): Waiter {
    let resolve!: (o: ApprovalOutcome) => void;
    const promise = new Promise<ApprovalOutcome>((r) => (resolve = r));
    const w: Waiter = { promise, resolve, timer: null };
    this.waiters.set(id, w);
    this.armTimer(id, w, expiresAt);
    return w;
  }

  private armTimer(id: string, w: Waiter, expiresAt: number): void {
    w.timer = setTimeout(() => {
      w.timer = null;
      void this.serial(() => this.timeoutRequest(id)).catch((err) =>
        this.opts.logger.warn({ approval: id, error: String((err as Error)?.message) }, 'approval timeout handling failed'),
      );
    }, Math.max(0, expiresAt - Date.now())); // ref'd: a pending request is work in progress

  }

  private resolveWaiter(id: string, outcome: ApprovalOutcome): void {
    const w = this.waiters.get(id);
    if (!w) return;
    if (w.timer) clearTimeout(w.timer);
    this.waiters.delete(id);
    w.resolve(outcome);
  }

  private poll(): void {
    if (this.pollQueued || this.stopped) return;
    this.pollQueued = true;
    void this.serial(async () => {
      this.pollQueued = false;
      await this.applyDecisions();
      const overdue = this.db
        .prepare("SELECT id FROM approval_requests WHERE status = 'pending' AND run = ? AND expires_at <= ?")
        .all(this.run, Date.now()) as { id: string }[];
      for (const { id } of overdue) await this.timeoutRequest(id);
    }).catch((err) => this.opts.logger.warn({ error: String((err as Error)?.message) }, 'approval poll failed'));
  }

  private requestFields(req: RequestRow) {
    return { session: req.session, subject: req.subject, target: req.target, approval: req.id, command: req.command };
  }

  /**
   * Audit decision rows not yet audited (oldest first), then settle the requests they touch.
   * Only audited decisions count towards an outcome, so nothing is approved without its evidence.
   */
  private async applyDecisions(): Promise<void> {
    const rows = this.db.prepare('SELECT * FROM approval_decisions WHERE applied = 0 ORDER BY seq').all() as DecisionRow[];
    const touched = new Set<string>();
    const markApplied = this.db.prepare('UPDATE approval_decisions SET applied = 1 WHERE seq = ?');
    for (const d of rows) {
      const req = getRequest(this.db, d.approval);
      const type = d.accepted ? 'approval.decided' : 'approval.refused';
      try {
        // Audited already when the process stopped before marking the row: once is enough.
        if (!this.audit.hasEvent?.(type, { approval: d.approval, decisionRow: d.seq })) {
          await this.audit.append({
            type,
            ...(req ? this.requestFields(req) : { approval: d.approval }),
            approver: d.approver,
            approverGroups: JSON.parse(d.approver_groups) as string[],
            via: d.via,
            decision: d.decision,
            reason: d.accepted ? d.reason : d.refusal,
            decisionRow: d.seq,
          });
        }
      } catch (err) {
        this.opts.logger.warn({ approval: d.approval, error: String((err as Error)?.message) }, 'approval decision could not be audited; will retry');
        break; // keep the audit order: later rows wait for this one
      }
      markApplied.run(d.seq);
      if (d.accepted) touched.add(d.approval);
    }
    for (const id of touched) await this.settle(id);
  }

  private async settle(id: string): Promise<void> {
    const req = getRequest(this.db, id);
    // A request of an earlier run has no one waiting and is only ever expired as denied, never approved.
    if (!req || req.status !== 'pending' || req.run !== this.run) return;
    const eff = effectiveState(req, acceptedDecisions(this.db, id, true));
    if (eff.state === 'approved') await this.finishApproved(req, eff.approvedBy);
    else if (eff.state === 'denied') await this.finish(req, 'denied', eff.approver, eff.reason, { result: 'denied', approver: eff.approver, reason: eff.reason });
  }

  private async finishApproved(req: RequestRow, approvers: string[]): Promise<void> {
    try {
      await this.audit.append({ type: 'approval.resolved', ...this.requestFields(req), decision: 'approved', approvers });
    } catch (err) {
      // Fail closed: an approval without its evidence is a denial.
      this.opts.logger.warn({ approval: req.id, error: String((err as Error)?.message) }, 'approval outcome could not be audited; denying');
      await this.finish(req, 'denied', SYSTEM, 'audit log unavailable', { result: 'denied', approver: SYSTEM, reason: 'audit log unavailable' });
      return;
    }
    this.setStatus(req.id, 'approved', null, null);
    this.resolveWaiter(req.id, { result: 'approved', approvers });
  }

  /** A non-allowing end: the status changes first (fail closed), then the audit events, then the waiter. */
  private async finish(
    req: RequestRow,
    status: Exclude<RequestStatus, 'pending' | 'approved'>,
    approver: string,
    reason: string,
    outcome: ApprovalOutcome,
    systemDecision?: { via: 'timeout' | 'cancel'; decision: 'deny' | 'cancel' },
  ): Promise<void> {
    if (!this.setStatus(req.id, status, approver, reason)) return;
    try {
      if (systemDecision) {
        await this.audit.append({
          type: 'approval.decided',
          ...this.requestFields(req),
          approver: SYSTEM,
          approverGroups: [],
          via: systemDecision.via,
          decision: systemDecision.decision,
          reason,
        });
      }
      await this.audit.append({
        type: 'approval.resolved',
        ...this.requestFields(req),
        decision: status,
        ...(status === 'denied' ? { approver, reason } : {}),
      });
    } catch (err) {
      this.opts.logger.warn({ approval: req.id, error: String((err as Error)?.message) }, 'approval outcome could not be audited');
    } finally {
      this.resolveWaiter(req.id, outcome);
    }
  }

  private setStatus(id: string, status: RequestStatus, approver: string | null, reason: string | null): boolean {
    return (
      this.db
        .prepare(
          "UPDATE approval_requests SET status = ?, decided_at = ?, outcome_approver = ?, outcome_reason = ? WHERE id = ? AND status = 'pending'",
        )
        .run(status, Date.now(), approver, reason, id).changes === 1
    );
  }

  private async timeoutRequest(id: string): Promise<void> {
    await this.applyDecisions(); // a decision recorded just before the deadline still counts
    const req = getRequest(this.db, id);
    if (!req || req.status !== 'pending') return;
    if (Date.now() < req.expires_at) {
      const w = this.waiters.get(id);
      if (w && !w.timer) this.armTimer(id, w, req.expires_at);
      return;
    }
    await this.finish(req, 'timeout', SYSTEM, 'approval timed out', { result: 'timeout' }, { via: 'timeout', decision: 'deny' });
  }

  private async cancelRequest(id: string): Promise<void> {
    if (this.stopped) return;
    await this.applyDecisions();
    const req = getRequest(this.db, id);
    if (!req || req.status !== 'pending') return;
    await this.finish(req, 'cancelled', SYSTEM, 'the agent closed the channel', { result: 'cancelled' }, { via: 'cancel', decision: 'cancel' });
  }

  /** Requests left pending by an earlier gateway run can never be allowed: expire them as denied. */
  private async expireEarlierRuns(): Promise<void> {
    const rows = this.db
      .prepare("SELECT * FROM approval_requests WHERE status = 'pending' AND run <> ? ORDER BY requested_at")
      .all(this.run) as RequestRow[];
    const reason = 'gateway restarted while the request was pending';
    for (const req of rows) {
      await this.finish(req, 'denied', SYSTEM, reason, { result: 'denied', approver: SYSTEM, reason }, { via: 'timeout', decision: 'deny' });
    }
    if (rows.length) this.opts.logger.info({ expired: rows.length }, 'expired approval requests of an earlier run as denied');
  }

  /** Send the webhook notifications for a new request (not awaited: the agent's wait starts now). */
  private notify(id: string): void {
    if (this.opts.webhooks.length === 0) return;
    const req = getRequest(this.db, id)!;
    const summary = toSummary(req, []);
    const payload: Record<string, unknown> = {
      id: summary.id,
      subject: summary.subject,
      groups: summary.groups,
      target: summary.target,
      command: summary.command,
      argv: summary.argv,
      rule: summary.rule,
      session: summary.session,
      requestedAt: summary.requestedAt,
      expiresAt: summary.expiresAt,
      approvers: summary.approvers,
      approverGroups: summary.approverGroups,
    };
    // An unauthenticated link counts as one approver: only for single-approver rules without groups.
    if (this.opts.publicUrl && this.linkKey && req.approvers === 1 && summary.approverGroups.length === 0) {
      const base = this.opts.publicUrl.replace(/\/+$/, '');
      const exp = Math.ceil(req.expires_at / 1000);
      payload.approveUrl = `${base}/approvals/decide/${signLinkToken(this.linkKey, { id, decision: 'approve', exp }).token}`;
      payload.denyUrl = `${base}/approvals/decide/${signLinkToken(this.linkKey, { id, decision: 'deny', exp }).token}`;
    }
    const body = JSON.stringify(payload);
    for (const w of this.opts.webhooks) {
      const p = deliverWebhook({
        url: w.url,
        secret: w.secret,
        body,
        logger: this.opts.logger,
        signal: this.abort.signal,
        stillWanted: () => getRequest(this.db, id)?.status === 'pending',
        maxAttempts: this.opts.webhookRetry?.maxAttempts,
        baseDelayMs: this.opts.webhookRetry?.baseDelayMs,
      }).catch(() => false);
      this.deliveries.add(p);
      void p.finally(() => this.deliveries.delete(p));
    }
  }
}
