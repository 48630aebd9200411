import type { Store } from '../store/open-store.js';
import type { PendingSummary, RequestStatus } from './types.js';

/** approval_requests as stored. Times are milliseconds since the epoch. */
export interface RequestRow {
  id: string;
  run: string;
  subject: string;
  groups: string;
  target: string;
  command: string;
  argv: string;
  rule: string;
  session: string;
  approvers: number;
  approver_groups: string;
  requested_at: number;
  expires_at: number;
  status: RequestStatus;
  decided_at: number | null;
  outcome_approver: string | null;
  outcome_reason: string | null;
}

export interface DecisionRow {
  seq: number;
  approval: string;
  approver: string;
  approver_groups: string;
  decision: 'approve' | 'deny';
  reason: string | null;
  via: string;
  at: number;
  accepted: number;
  refusal: string | null;
  applied: number;
}

export function getRequest(db: Store, id: string): RequestRow | undefined {
  return db.prepare('SELECT * FROM approval_requests WHERE id = ?').get(id) as RequestRow | undefined;
}

/** Accepted decisions of one request, oldest first; `appliedOnly` = only those the broker has audited. */
export function acceptedDecisions(db: Store, id: string, appliedOnly = false): DecisionRow[] {
  return db
    .prepare(
      `SELECT * FROM approval_decisions WHERE approval = ? AND accepted = 1 ${appliedOnly ? 'AND applied = 1' : ''} ORDER BY seq`,
    )
    .all(id) as DecisionRow[];
}

export type EffectiveState =
  | { state: 'pending'; approvedBy: string[] }
  | { state: 'approved'; approvedBy: string[] }
  | { state: 'denied'; approvedBy: string[]; approver: string; reason: string };

export const NO_REASON = 'no reason given';

/** What the accepted decisions add up to: a deny by any allowed approver denies; N distinct approvals approve. */
export function effectiveState(req: RequestRow, decisions: readonly DecisionRow[]): EffectiveState {
  const approvedBy: string[] = [];
  for (const d of decisions) {
    if (d.decision === 'deny') return { state: 'denied', approvedBy, approver: d.approver, reason: d.reason || NO_REASON };
    if (!approvedBy.includes(d.approver)) approvedBy.push(d.approver);
  }
  return { state: approvedBy.length >= req.approvers ? 'approved' : 'pending', approvedBy };
}

export function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

export function toSummary(req: RequestRow, approvedBy: string[]): PendingSummary {
  return {
    id: req.id,
    subject: req.subject,
    groups: JSON.parse(req.groups) as string[],
    target: req.target,
    command: req.command,
    argv: JSON.parse(req.argv) as string[][],
    rule: req.rule,
    session: req.session,
    requestedAt: rfc3339(req.requested_at),
    expiresAt: rfc3339(req.expires_at),
    approvers: req.approvers,
    approvals: approvedBy.length,
    approvedBy,
    approverGroups: JSON.parse(req.approver_groups) as string[],
  };
}
