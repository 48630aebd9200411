import type { Store } from '../store/open-store.js';

export interface SessionSummary {
  id: string;
  subject: string | null;
  target: string | null;
  /** ts of session.start (RFC 3339), or of the first event seen for the session. */
  start: string | null;
  /** ts of session.end, null while the session is open. */
  end: string | null;
  endReason: string | null;
  commands: number;
  denials: number;
  approvals: number;
  /** Sealed recording file names (basenames in the recordings folder). */
  recordings: string[];
}

/** Sessions as the audit log tells them, oldest first. */
export function listSessions(db: Store): SessionSummary[] {
  const sessions = new Map<string, SessionSummary>();
  const rows = db
    .prepare(
      "SELECT ts, type, body FROM audit_events WHERE type IN ('session.start', 'session.end', 'command.decision', 'approval.requested', 'recording.sealed') ORDER BY seq",
    )
    .all() as { ts: string; type: string; body: string }[];
  for (const row of rows) {
    const body = JSON.parse(row.body) as Record<string, unknown>;
    if (typeof body.session !== 'string') continue;
    let s = sessions.get(body.session);
    if (!s) {
      s = { id: body.session, subject: null, target: null, start: null, end: null, endReason: null, commands: 0, denials: 0, approvals: 0, recordings: [] };
      sessions.set(body.session, s);
    }
    if (typeof body.subject === 'string' && s.subject === null) s.subject = body.subject;
    if (typeof body.target === 'string' && s.target === null) s.target = body.target;
    switch (row.type) {
      case 'session.start':
        s.start = row.ts;
        break;
      case 'session.end':
        s.end = row.ts;
        s.endReason = typeof body.reason === 'string' ? body.reason : null;
        break;
      case 'command.decision':
        s.commands++;
        if (body.decision === 'deny') s.denials++;
        break;
      case 'approval.requested':
        s.approvals++;
        break;
      case 'recording.sealed':
        if (typeof body.file === 'string' && !s.recordings.includes(body.file)) s.recordings.push(body.file);
        break;
    }
    if (s.start === null) s.start = row.ts;
  }
  return [...sessions.values()];
}
