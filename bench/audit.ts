/**
 * Audit benchmark: durable appends/s with group commit from 50 concurrent sessions (each
 * awaits its append before the next, as the gateway awaits a command.decision), and
 * verification speed in events/s. Goals: >= 5,000 appends/s, >= 100,000 verified events/s.
 *   node dist/bench/audit.js [--quick]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../src/store/open-store.js';
import { AuditLog, ensureAuditSchema, loadAuditPublicKey, verifyAudit } from '../src/audit/index.js';

export async function runAuditBench(opts: { quick: boolean }): Promise<{ appendsPerSec: number; verifyEventsPerSec: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shellgate-bench-audit-'));
  try {
    const dataDir = path.join(dir, 'data');
    const db = openStore(path.join(dataDir, 'shellgate.db'));
    ensureAuditSchema(db);
    const log = await AuditLog.open(db, { dataDir, checkpointEvery: 100, checkpointIntervalMs: 60_000, witness: path.join(dataDir, 'witness.jsonl'), witnessUrl: null });
    const sessions = 50;
    const perSession = opts.quick ? 60 : 400;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: sessions }, async (_, s) => {
        for (let i = 0; i < perSession; i++) {
          await log.append({
            type: 'command.decision',
            session: `session-${s}`,
            subject: `agent-${s}@example.com`,
            target: 'web-1',
            command: `systemctl status nginx --no-pager -n ${i}`,
            argv: ['systemctl', 'status', 'nginx', '--no-pager', '-n', String(i)],
            decision: 'allow',
            rule: 'read-only-systemctl',
            reason: 'systemctl status matches read-only-systemctl',
          });
        }
      }),
    );
    const appendsPerSec = (sessions * perSession) / ((performance.now() - t0) / 1000);

    // Grow the log with large batches (one transaction each) so verification has enough to read.
    const extra = opts.quick ? 20_000 : 200_000;
    for (let done = 0; done < extra; done += 10_000) {
      await Promise.all(Array.from({ length: 10_000 }, (_, i) => log.append({ type: 'command.result', session: `session-${i % sessions}`, exit: 0, bytes: i, duration: 12 })));
    }
    await log.close();
    const publicKey = await loadAuditPublicKey(dataDir);
    const t1 = performance.now();
    const r = await verifyAudit({ db, recordingsDir: null, witness: path.join(dataDir, 'witness.jsonl'), publicKey });
    const verifyEventsPerSec = r.events / ((performance.now() - t1) / 1000);
    if (!r.ok) throw new Error('benchmark chain did not verify: ' + JSON.stringify(r.problems[0]));
    db.close();
    return { appendsPerSec: Math.round(appendsPerSec), verifyEventsPerSec: Math.round(verifyEventsPerSec) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const result = await runAuditBench({ quick: process.argv.includes('--quick') });
  process.stdout.write(JSON.stringify(result) + '\n');
}
