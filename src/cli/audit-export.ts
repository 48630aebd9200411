import { parseFlags, type CliIO } from './io.js';
import { isBrokenPipe, openStoreReadOnly, resolveAuditPaths, write } from './audit-verify.js';

export const help = `usage: shellgate audit export [--config FILE] [--db FILE] [--jsonl]

Print the audit events' bodies (canonical JSON, exactly as hashed), in seq order:
a JSON array by default, one body per line with --jsonl.`;

const PAGE = 5000;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(argv, { config: { type: 'string' }, db: { type: 'string' }, jsonl: { type: 'boolean' } }, false);
  const paths = resolveAuditPaths(values, io);
  const db = openStoreReadOnly(paths.store);
  try {
    const page = db.prepare('SELECT seq, body FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?');
    let last = 0;
    let first = true;
    if (!values.jsonl) await write(io.stdout, '[');
    for (;;) {
      const rows = page.all(last, PAGE) as { seq: number; body: string }[];
      for (const row of rows) {
        await write(io.stdout, values.jsonl ? row.body + '\n' : (first ? '\n' : ',\n') + row.body);
        first = false;
        last = row.seq;
      }
      if (rows.length < PAGE) break;
    }
    if (!values.jsonl) await write(io.stdout, first ? ']\n' : '\n]\n');
  } catch (err) {
    if (!isBrokenPipe(err)) throw err;
  } finally {
    db.close();
  }
  return 0;
}
