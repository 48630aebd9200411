import { listSessions, newestSessions, type SessionSummary } from '../audit/index.js';
import { UsageError } from '../errors.js';
import { parseFlags, print, type CliIO } from './io.js';
import { openStoreReadOnly, resolveAuditPaths } from './audit-verify.js';

export const help = `usage: shellgate sessions [--config FILE] [--db FILE] [--limit N] [--json]

List sessions from the audit log, oldest first: id, subject, target, start, end, commands,
denials, approvals and recordings. --limit N lists the newest N only, reading their events
alone (without it, the whole log is read). --json prints an array of objects with those
fields.`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(argv, { config: { type: 'string' }, db: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } }, false);
  if (values.limit !== undefined && !/^[1-9]\d{0,6}$/.test(values.limit)) throw new UsageError('--limit must be a whole number from 1 to 9999999');
  const limit = values.limit === undefined ? null : Number(values.limit);
  const paths = resolveAuditPaths(values, io);
  const db = openStoreReadOnly(paths.store);
  let sessions: SessionSummary[];
  try {
    sessions = limit === null ? listSessions(db) : newestSessions(db, limit);
  } finally {
    db.close();
  }
  if (values.json) {
    print(io.stdout, JSON.stringify(sessions, null, 2));
    return 0;
  }
  if (sessions.length === 0) {
    print(io.stdout, 'no sessions');
    return 0;
  }
  const rows = [['SESSION', 'SUBJECT', 'TARGET', 'START', 'END', 'CMDS', 'DENIED', 'APPROVALS']];
  for (const s of sessions) {
    rows.push([s.id, s.subject ?? '-', s.target ?? '-', s.start ?? '-', s.end ?? '(open)', String(s.commands), String(s.denials), String(s.approvals)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) print(io.stdout, r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  return 0;
}
