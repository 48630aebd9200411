import { existsSync } from 'node:fs';
import { openStore, type Store } from '../store/open-store.js';
import { ApprovalClientError } from './errors.js';
import { listPendingApprovals } from './list-pending.js';
import { normalizeApprovalId } from './new-id.js';
import { recordDecision } from './record-decision.js';
import { ensureApprovalsSchema } from './schema.js';
import type { PendingSummary } from './types.js';

/** Where `shellgate approvals` reads requests and sends decisions: the store file, or a gateway's API. */
export interface ApprovalsBackend {
  /** For the prompt's header: "store FILE" or "gateway URL". */
  readonly where: string;
  /** The approver name decisions are recorded under (null when the server decides it: OIDC token). */
  readonly approver: string | null;
  list(): Promise<PendingSummary[]>;
  /** `applied`: false when a local decision was recorded but no running gateway has picked it up yet. */
  decide(id: string, decision: 'approve' | 'deny', reason?: string): Promise<{ status: 'approved' | 'denied' | 'pending'; applied: boolean }>;
  close(): void;
}

/**
 * On the gateway host, through the store: whoever can write the store is an operator, so the
 * decision counts as authenticated, under `approver` with `groups`. The gateway's broker picks
 * the row up (it polls), audits it and applies it.
 */
export function localBackend(file: string, approver: string, groups: readonly string[], appliedWaitMs = 3000): ApprovalsBackend {
  if (!existsSync(file)) throw new ApprovalClientError(`no store at ${file} (has the gateway run with this config?)`);
  const db: Store = openStore(file);
  ensureApprovalsSchema(db);
  return {
    where: `store ${file}`,
    approver,
    list: async () => listPendingApprovals(db),
    decide: async (rawId, decision, reason) => {
      const id = normalizeApprovalId(rawId);
      const r = recordDecision(db, id, { approver, approverGroups: groups, decision, reason, via: 'cli' });
      // The gateway's broker polls the store (~200 ms); wait a little so "approved" means applied.
      const deadline = Date.now() + appliedWaitMs;
      const appliedQ = db.prepare('SELECT applied FROM approval_decisions WHERE seq = ?');
      const statusQ = db.prepare('SELECT status FROM approval_requests WHERE id = ?');
      // Applied = audited; when this decision settles the request, also wait for the outcome itself.
      for (;;) {
        const applied = !!(appliedQ.get(r.seq) as { applied: number }).applied;
        const status = (statusQ.get(id) as { status: string }).status;
        if (applied && (r.status === 'pending' || status !== 'pending')) {
          return { status: status === 'approved' ? 'approved' : status === 'pending' ? 'pending' : 'denied', applied: true };
        }
        if (Date.now() >= deadline) return { status: r.status, applied: false };
        await new Promise((res) => setTimeout(res, 50));
      }
    },
    close: () => db.close(),
  };
}

/** Against a running gateway's API with a bearer token (admin token, or the approver's OIDC token). */
export function remoteBackend(baseUrl: string, token: string, as: string | null, groups: readonly string[]): ApprovalsBackend {
  const base = baseUrl.replace(/\/+$/, '');
  async function call(method: string, path: string, body?: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(base + path, {
        method,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      const e = err as { cause?: { code?: string }; name?: string };
      throw new ApprovalClientError(`cannot reach ${new URL(base).origin}: ${e.cause?.code ?? e.name ?? 'error'}`);
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON: reported below */
    }
    if (!res.ok) {
      const msg = json && typeof json === 'object' && typeof (json as { error?: unknown }).error === 'string' ? (json as { error: string }).error : `HTTP ${res.status}`;
      throw new ApprovalClientError(`${msg} (HTTP ${res.status})`);
    }
    return json;
  }
  return {
    where: `gateway ${base}`,
    approver: as,
    list: async () => {
      const r = await call('GET', '/api/approvals');
      if (!Array.isArray(r)) throw new ApprovalClientError('unexpected answer from GET /api/approvals');
      return r as PendingSummary[];
    },
    decide: async (id, decision, reason) => {
      const body: Record<string, unknown> = {};
      if (reason) body.reason = reason;
      if (as) body.as = as;
      if (groups.length) body.groups = groups;
      const r = (await call('POST', `/api/approvals/${encodeURIComponent(normalizeApprovalId(id))}/${decision}`, body)) as { status?: string };
      const status = r?.status === 'approved' || r?.status === 'denied' ? r.status : 'pending';
      return { status, applied: true };
    },
    close: () => {},
  };
}
