import Database from 'better-sqlite3';
import path from 'node:path';

export interface EventRow {
  seq: number;
  type: string;
  body: Record<string, unknown>;
}

/** The audit events of a gateway folder (read-only, as an auditor would). */
export function readEvents(dir: string): EventRow[] {
  const db = new Database(path.join(dir, 'data', 'shellgate.db'), { readonly: true });
  try {
    return (db.prepare('SELECT seq, type, body FROM audit_events ORDER BY seq').all() as { seq: number; type: string; body: string }[]).map((r) => ({
      seq: r.seq,
      type: r.type,
      body: JSON.parse(r.body) as Record<string, unknown>,
    }));
  } finally {
    db.close();
  }
}

/** Poll until pred holds over the events (the gateway appends asynchronously after a channel closes). */
export async function waitForEvents(dir: string, pred: (e: EventRow[]) => boolean, timeoutMs = 10_000): Promise<EventRow[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ev = readEvents(dir);
    if (pred(ev)) return ev;
    if (Date.now() > until) throw new Error(`audit events not as expected after ${timeoutMs} ms: ${JSON.stringify(ev.map((e) => e.type))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
