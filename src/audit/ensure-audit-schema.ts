import type { Store } from '../store/open-store.js';
import { SESSION_INDEX, SESSION_KEY } from './list-sessions.js';

/**
 * The `audit_events` table exactly as `spec/audit.md` lists it. `seq` is the rowid, so
 * rows are read back in chain order without a separate index; the index on `type` serves
 * session listing and start-up recovery, which look at a few event types only. The index on
 * each event's session (an expression index: the table keeps the spec's columns) lets the
 * console read one session's events without scanning the whole log, which after months of
 * events took seconds per page. Opening a log written before it builds it once.
 */
export function ensureAuditSchema(db: Store): void {
  db.exec(`CREATE TABLE IF NOT EXISTS audit_events (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS audit_events_type ON audit_events (type, seq);
  CREATE INDEX IF NOT EXISTS ${SESSION_INDEX} ON audit_events (${SESSION_KEY});`);
}
