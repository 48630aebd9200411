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

/** One audit row as the summaries read it: `body` parsed. */
export interface SessionEventRow {
  ts: string;
  type: string;
  body: Record<string, unknown>;
}

/**
 * The expression `audit_events_session` indexes (ensureAuditSchema). A query must spell it
 * exactly like this for SQLite to use the index.
 */
export const SESSION_KEY = "json_extract(body, '$.session')";

/** The name of that index. */
export const SESSION_INDEX = 'audit_events_session';

const SUMMARY_TYPES = "('session.start', 'session.end', 'command.decision', 'approval.requested', 'recording.sealed')";

function emptySummary(id: string): SessionSummary {
  return { id, subject: null, target: null, start: null, end: null, endReason: null, commands: 0, denials: 0, approvals: 0, recordings: [] };
}

/** Folds one event of the session into its summary (events in log order). */
function addEvent(s: SessionSummary, row: SessionEventRow): void {
  const body = row.body;
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

/** The summary of one session from its events in log order (as `sessionEvents` returns them). */
export function summarizeSession(id: string, rows: Iterable<SessionEventRow>): SessionSummary {
  const s = emptySummary(id);
  for (const row of rows) if (row.body.session === id) addEvent(s, row);
  return s;
}

/** One session's summary through the session index; null when the log has no event of it. */
export function sessionSummary(db: Store, id: string): SessionSummary | null {
  const rows = db
    .prepare(`SELECT ts, type, body FROM audit_events WHERE ${SESSION_KEY} = ? AND type IN ${SUMMARY_TYPES} ORDER BY seq`)
    .all(id) as { ts: string; type: string; body: string }[];
  if (rows.length === 0) return null;
  return summarizeSession(
    id,
    rows.map((r) => ({ ts: r.ts, type: r.type, body: JSON.parse(r.body) as Record<string, unknown> })),
  );
}

/**
 * Session ids newest first (by their `session.start`), read a page of start events at a time
 * through the type index, so a caller that stops early reads no further. `accept` filters on
 * the `session.start` event.
 */
export function* recentSessionIds(db: Store, accept: (start: SessionEventRow) => boolean = () => true): Generator<string> {
  const page = db.prepare("SELECT seq, ts, type, body FROM audit_events WHERE type = 'session.start' AND seq < ? ORDER BY seq DESC LIMIT 200");
  const seen = new Set<string>();
  let before = Number.MAX_SAFE_INTEGER;
  for (;;) {
    const rows = page.all(before) as { seq: number; ts: string; type: string; body: string }[];
    for (const r of rows) {
      before = r.seq;
      const start = { ts: r.ts, type: r.type, body: JSON.parse(r.body) as Record<string, unknown> };
      const id = start.body.session;
      if (typeof id !== 'string' || seen.has(id) || !accept(start)) continue;
      seen.add(id);
      yield id;
    }
    if (rows.length < 200) return;
  }
}

/**
 * Sessions newest first, summarised one at a time through the session index: a caller that
 * stops after a page reads that page's events only, not the whole log. `accept` pre-filters on
 * the `session.start` event before any other event of the session is read.
 */
export function* recentSessions(db: Store, accept?: (start: SessionEventRow) => boolean): Generator<SessionSummary> {
  for (const id of recentSessionIds(db, accept)) {
    const s = sessionSummary(db, id);
    if (s) yield s;
  }
}

/** Whether the store has the session index (the gateway builds it on open; read-only tools cannot). */
export function hasSessionIndex(db: Store): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?").get(SESSION_INDEX) !== undefined;
}

/**
 * The newest `limit` sessions (by their `session.start`), oldest first. Through the session
 * index when the store has it; a store the gateway has not opened since the index came (read
 * here read-only, so it is not built) gets one pass over the log instead: without the index,
 * each session's summary would be a scan of the whole log.
 */
export function newestSessions(db: Store, limit: number): SessionSummary[] {
  const out: SessionSummary[] = [];
  if (hasSessionIndex(db)) {
    for (const s of recentSessions(db)) if (out.push(s) >= limit) break;
  } else {
    const all = new Map(listSessions(db).map((s) => [s.id, s]));
    for (const id of recentSessionIds(db)) {
      const s = all.get(id);
      if (s && out.push(s) >= limit) break;
    }
  }
  return out.reverse();
}

/** Every session as the audit log tells it, oldest first (one pass over the log: `shellgate sessions`). */
export function listSessions(db: Store): SessionSummary[] {
  const sessions = new Map<string, SessionSummary>();
  const rows = db
    .prepare(`SELECT ts, type, body FROM audit_events WHERE type IN ${SUMMARY_TYPES} ORDER BY seq`)
    .iterate() as IterableIterator<{ ts: string; type: string; body: string }>;
  for (const row of rows) {
    const body = JSON.parse(row.body) as Record<string, unknown>;
    if (typeof body.session !== 'string') continue;
    let s = sessions.get(body.session);
    if (!s) sessions.set(body.session, (s = emptySummary(body.session)));
    addEvent(s, { ts: row.ts, type: row.type, body });
  }
  return [...sessions.values()];
}
