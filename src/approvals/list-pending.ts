import type { Store } from '../store/open-store.js';
import { acceptedDecisions, effectiveState, toSummary, type RequestRow } from './store-rows.js';
import type { PendingSummary } from './types.js';

/**
 * Pending requests, oldest first, read from the store each time (another process may have decided one).
 * A request whose recorded decisions already settle it, or that is past its expiry, is not shown.
 */
export function listPendingApprovals(db: Store, now = Date.now()): PendingSummary[] {
  const rows = db
    .prepare("SELECT * FROM approval_requests WHERE status = 'pending' AND expires_at > ? ORDER BY requested_at, id")
    .all(now) as RequestRow[];
  const out: PendingSummary[] = [];
  for (const r of rows) {
    const eff = effectiveState(r, acceptedDecisions(db, r.id));
    if (eff.state === 'pending') out.push(toSummary(r, eff.approvedBy));
  }
  return out;
}
