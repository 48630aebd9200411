import type { Store } from '../store/open-store.js';

/**
 * Tables for approval requests and decisions. Idempotent: the gateway and the CLI both call it.
 * Decisions are rows, not updates of the request, so that a CLI process can record one in a
 * BEGIN IMMEDIATE transaction and the gateway's broker (the only audit writer) applies it later.
 */
export function ensureApprovalsSchema(db: Store): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS approval_requests (
      id TEXT PRIMARY KEY,
      run TEXT NOT NULL,
      subject TEXT NOT NULL,
      groups TEXT NOT NULL,
      target TEXT NOT NULL,
      command TEXT NOT NULL,
      argv TEXT NOT NULL,
      rule TEXT NOT NULL,
      session TEXT NOT NULL,
      approvers INTEGER NOT NULL,
      approver_groups TEXT NOT NULL,
      requested_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'denied', 'timeout', 'cancelled')),
      decided_at INTEGER,
      outcome_approver TEXT,
      outcome_reason TEXT
    );
    CREATE INDEX IF NOT EXISTS approval_requests_by_status ON approval_requests (status, expires_at);
    CREATE TABLE IF NOT EXISTS approval_decisions (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      approval TEXT NOT NULL REFERENCES approval_requests (id),
      approver TEXT NOT NULL,
      approver_groups TEXT NOT NULL,
      decision TEXT NOT NULL CHECK (decision IN ('approve', 'deny')),
      reason TEXT,
      via TEXT NOT NULL,
      at INTEGER NOT NULL,
      accepted INTEGER NOT NULL,
      refusal TEXT,
      applied INTEGER NOT NULL DEFAULT 0
    );
    CREATE UNIQUE INDEX IF NOT EXISTS approval_decisions_one_per_approver
      ON approval_decisions (approval, approver) WHERE accepted = 1;
    CREATE INDEX IF NOT EXISTS approval_decisions_unapplied ON approval_decisions (applied) WHERE applied = 0;
    CREATE TABLE IF NOT EXISTS approval_links_used (
      nonce TEXT PRIMARY KEY,
      approval TEXT NOT NULL,
      used_at INTEGER NOT NULL
    );
  `);
}
