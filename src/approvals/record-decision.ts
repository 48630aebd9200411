import type { Store } from '../store/open-store.js';
import { ApprovalError } from './errors.js';
import { acceptedDecisions, effectiveState, getRequest } from './store-rows.js';
import type { DecisionInput } from './types.js';

export interface RecordOptions {
  now?: number;
  /** The nonce of a one-time link: consumed in the same transaction as the decision. */
  linkNonce?: string;
}

/**
 * Check one approver's decision against the request and the rule, and record it as a row.
 * Used in-process by the broker and by the CLI on the gateway host (another process), so
 * everything it depends on is read inside one BEGIN IMMEDIATE transaction.
 * Policy refusals (self-approval, wrong group, the same approver again, an unauthenticated
 * link on a rule that needs more) are recorded too, so the broker can audit them; then it throws.
 * Returns what the request's recorded decisions now add up to.
 */
export function recordDecision(
  db: Store,
  id: string,
  d: DecisionInput,
  opts: RecordOptions = {},
): { status: 'approved' | 'denied' | 'pending'; approvedBy: string[]; seq: number } {
  if (!d.approver) throw new TypeError('recordDecision: approver is required');
  if (d.decision !== 'approve' && d.decision !== 'deny') throw new TypeError('recordDecision: decision must be approve or deny');
  const now = opts.now ?? Date.now();
  const insert = db.prepare(
    `INSERT INTO approval_decisions (approval, approver, approver_groups, decision, reason, via, at, accepted, refusal)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const run = db.transaction(() => {
    if (opts.linkNonce !== undefined) {
      const used = db.prepare('SELECT 1 FROM approval_links_used WHERE nonce = ?').get(opts.linkNonce);
      if (used) return { error: new ApprovalError('token-used', 'this approval link has already been used') };
    }
    const req = getRequest(db, id);
    if (!req) return { error: new ApprovalError('unknown', `no approval request #${id}`) };
    if (req.status !== 'pending') {
      const what = req.status === 'timeout' ? 'has timed out' : req.status === 'cancelled' ? 'was cancelled' : `is already ${req.status}`;
      return { error: new ApprovalError('decided', `approval #${id} ${what}`) };
    }
    if (now >= req.expires_at) return { error: new ApprovalError('expired', `approval #${id} has expired`) };
    const before = effectiveState(req, acceptedDecisions(db, id));
    if (before.state !== 'pending') return { error: new ApprovalError('decided', `approval #${id} is already ${before.state}`) };

    const approverGroups = JSON.parse(req.approver_groups) as string[];
    let refusal: ApprovalError | null = null;
    if (d.approver.toLowerCase() === req.subject.toLowerCase()) {
      refusal = new ApprovalError('self', `${d.approver} may not decide their own request #${id}`);
    } else if (d.via === 'webhook' && (req.approvers > 1 || approverGroups.length > 0)) {
      refusal = new ApprovalError('unauthenticated', `approval #${id} needs authenticated approvers (CLI, API or web console)`);
    } else if (approverGroups.length > 0 && !d.approverGroups.some((g) => approverGroups.includes(g))) {
      refusal = new ApprovalError('group', `${d.approver} is not in an approver group of rule ${req.rule} (${approverGroups.join(', ')})`);
    } else if (acceptedDecisions(db, id).some((x) => x.approver === d.approver)) {
      refusal = new ApprovalError('duplicate', `${d.approver} has already decided approval #${id}; another approver is needed`);
    }
    const ins = insert.run(
      id,
      d.approver,
      JSON.stringify(d.approverGroups),
      d.decision,
      d.reason ?? null,
      d.via,
      now,
      refusal ? 0 : 1,
      refusal ? refusal.message : null,
    );
    if (refusal) return { error: refusal };
    if (opts.linkNonce !== undefined) {
      db.prepare('INSERT INTO approval_links_used (nonce, approval, used_at) VALUES (?, ?, ?)').run(opts.linkNonce, id, now);
    }
    const after = effectiveState(req, acceptedDecisions(db, id));
    return { status: after.state, approvedBy: after.approvedBy, seq: Number(ins.lastInsertRowid) };
  });
  const r = run.immediate();
  if ('error' in r) throw r.error;
  return r;
}
