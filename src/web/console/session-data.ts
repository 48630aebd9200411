import { recentSessions, SESSION_KEY, type SessionSummary } from '../../audit/index.js';
import type { Store } from '../../store/open-store.js';
import { HttpError } from '../router.js';

/** Session ids as the gateway makes them (and recordings accept): no separators, no dot-files, no "..". */
const SESSION_ID_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** 400 for anything that is not a plausible session id: checked before any lookup or file access. */
export function checkSessionId(id: string | undefined): string {
  if (!id || !SESSION_ID_RE.test(id) || id.includes('..')) throw new HttpError(400, 'invalid session id');
  return id;
}

export interface AuditRow {
  seq: number;
  ts: string;
  type: string;
  body: Record<string, unknown>;
  /** The canonical JSON exactly as hashed. */
  raw: string;
  hash: string;
}

/** The session's events (checkpoints excluded), in order; 404 when the log has none. */
export function sessionEvents(db: Store, id: string): AuditRow[] {
  // Through the session index (ensureAuditSchema): the session's rows only.
  const rows = db
    .prepare(`SELECT seq, ts, type, body, hash FROM audit_events WHERE ${SESSION_KEY} = ? ORDER BY seq`)
    .all(id) as { seq: number; ts: string; type: string; body: string; hash: string }[];
  if (rows.length === 0) throw new HttpError(404, 'no such session');
  return rows.map((r) => ({ seq: r.seq, ts: r.ts, type: r.type, body: JSON.parse(r.body) as Record<string, unknown>, raw: r.body, hash: r.hash }));
}

export interface SessionFilter {
  subject: string | null;
  target: string | null;
  from: string | null;
  to: string | null;
  denials: boolean;
  approvals: boolean;
  limit: number;
}

const MAX_FILTER_TEXT = 200;

function isoParam(q: URLSearchParams, name: string): string | null {
  const v = q.get(name);
  if (v === null || v === '') return null;
  // The page's datetime-local inputs send no zone: they mean UTC, like every time on the pages.
  const t = Date.parse(/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(v) ? v + 'Z' : v);
  if (!Number.isFinite(t)) throw new HttpError(400, `${name} must be a date/time (RFC 3339)`);
  return new Date(t).toISOString();
}

function textParam(q: URLSearchParams, name: string): string | null {
  const v = q.get(name);
  if (v === null || v === '') return null;
  if (v.length > MAX_FILTER_TEXT || /[\u0000-\u001f]/.test(v)) throw new HttpError(400, `${name} is too long or has control characters`);
  return v;
}

function flagParam(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null || v === '' || v === '0' || v === 'false') return false;
  if (v === '1' || v === 'true' || v === 'on') return true;
  throw new HttpError(400, `${name} must be 1 or 0`);
}

/** Filters from the query string: subject, target, from, to, denials=1, approvals=1, limit. */
export function parseSessionFilter(q: URLSearchParams): SessionFilter {
  const limitRaw = q.get('limit');
  let limit = 200;
  if (limitRaw !== null && limitRaw !== '') {
    if (!/^\d{1,5}$/.test(limitRaw) || Number(limitRaw) < 1 || Number(limitRaw) > 1000) throw new HttpError(400, 'limit must be 1..1000');
    limit = Number(limitRaw);
  }
  return {
    subject: textParam(q, 'subject'),
    target: textParam(q, 'target'),
    from: isoParam(q, 'from'),
    to: isoParam(q, 'to'),
    denials: flagParam(q, 'denials'),
    approvals: flagParam(q, 'approvals'),
    limit,
  };
}

/**
 * Sessions newest first, filtered; `subject`/`target` match exactly or as a substring. Reads
 * sessions one at a time until `limit` match: subject, target and `to` are checked on the
 * session's start event before the rest of its events are read.
 */
export function filterSessions(db: Store, f: SessionFilter): SessionSummary[] {
  const out: SessionSummary[] = [];
  if (f.limit <= 0) return out;
  const startMatches = ({ ts, body }: { ts: string; body: Record<string, unknown> }) =>
    // A start event without the field leaves the decision to the summary's checks below.
    (!f.subject || typeof body.subject !== 'string' || body.subject.includes(f.subject)) &&
    (!f.target || typeof body.target !== 'string' || body.target.includes(f.target)) &&
    (!f.to || ts <= f.to);
  for (const s of recentSessions(db, startMatches)) {
    if (f.subject && !(s.subject ?? '').includes(f.subject)) continue;
    if (f.target && !(s.target ?? '').includes(f.target)) continue;
    if (f.from && (s.end ?? '9999') < f.from) continue;
    if (f.to && (s.start ?? '') > f.to) continue;
    if (f.denials && s.denials === 0) continue;
    if (f.approvals && s.approvals === 0) continue;
    out.push(s);
    if (out.length >= f.limit) break;
  }
  return out;
}
