import path from 'node:path';
import type { Store } from '../../src/store/open-store.js';
import { chainHash, GENESIS_HASH, loadAuditPublicKey, Recorder, verifyAudit, type JsonWebKey } from '../../src/audit/index.js';
import { asciinemaCat, newStore, openLog, storeFile, tmpDir } from './helpers.js';

export interface Scenario {
  dir: string;
  db: Store;
  dbFile: string;
  witness: string;
  recordings: string;
  castFile: string;
  publicKey: JsonWebKey;
  verify(over?: { witness?: string | null; recordingsDir?: string | null }): ReturnType<typeof verifyAudit>;
}

/**
 * A small, realistic log: a session with a sealed recording, 12 decisions, checkpoints every
 * 5 events (witnessed to a file), closed cleanly. 18 events: decisions at 2-5, 7-11, 13-15,
 * checkpoints at 6, 12, 18 (witness heads 5, 11, 17), recording.sealed at 16, session.end 17.
 */
export async function buildScenario(t: { after(fn: () => void): void }): Promise<Scenario> {
  const dir = tmpDir(t);
  const db = newStore(dir);
  t.after(() => db.open && db.close());
  const witness = path.join(dir, 'data', 'witness.jsonl');
  const recordings = path.join(dir, 'recordings');
  const log = await openLog(db, dir, { checkpointEvery: 5, witness });
  await log.append({ type: 'session.start', session: 'sess', subject: 'agent-1', target: 'web-1', groups: ['ops'], channel: 'shell' });
  const rec = await Recorder.open({ dir: recordings, session: 'sess', channel: 0, width: 80, height: 24, recordInput: false });
  for (let i = 0; i < 12; i++) {
    await log.append({ type: 'command.decision', session: 'sess', subject: 'agent-1', target: 'web-1', command: `echo ${i}`, argv: ['echo', String(i)], decision: i % 4 === 3 ? 'deny' : 'allow', rule: 'r', reason: 'test' });
    rec.output(`$ echo ${i}\r\n${i}\r\n`);
  }
  const sealed = await rec.seal();
  const played = asciinemaCat(rec.file);
  if (played.status !== 0) throw new Error('asciinema cat refused the scenario recording: ' + played.stderr);
  await log.append({ type: 'recording.sealed', session: 'sess', ...sealed });
  await log.append({ type: 'session.end', session: 'sess', reason: 'client closed', duration: 1234 });
  await log.close();
  const publicKey = await loadAuditPublicKey(path.join(dir, 'data'));
  return {
    dir,
    db,
    dbFile: storeFile(dir),
    witness,
    recordings,
    castFile: rec.file,
    publicKey,
    verify: (over = {}) =>
      verifyAudit({
        db,
        recordingsDir: over.recordingsDir === undefined ? recordings : over.recordingsDir,
        witness: over.witness === undefined ? witness : over.witness,
        publicKey,
      }),
  };
}

/** What an attacker with write access to the store does: recompute every hash from `fromSeq` on. */
export function rehashFrom(db: Store, fromSeq: number): void {
  const rows = db.prepare('SELECT seq, body FROM audit_events WHERE seq >= ? ORDER BY seq').all(fromSeq) as { seq: number; body: string }[];
  let prev = fromSeq === 1 ? GENESIS_HASH : (db.prepare('SELECT hash FROM audit_events WHERE seq = ?').get(fromSeq - 1) as { hash: string }).hash;
  const upd = db.prepare('UPDATE audit_events SET prev_hash = ?, hash = ? WHERE seq = ?');
  for (const r of rows) {
    const h = chainHash(prev, r.body);
    upd.run(prev, h, r.seq);
    prev = h;
  }
}
