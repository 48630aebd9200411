import { existsSync } from 'node:fs';
import { loadAuditPublicKey, verifyAudit, type JsonWebKey, type VerifyResult } from '../../audit/index.js';
import { hashFile } from '../../audit/recorder.js';
import type { Store } from '../../store/open-store.js';
import type { AuditRow } from './session-data.js';
import { recordingPath, type SessionRecording } from './playback.js';

export interface EvidenceStatus {
  /** Every event of the session is on an intact chain: no problem at or before its last seq. */
  chain: { ok: boolean; events: number; lastSeq: number; problems: { seq: number | null; reason: string }[] };
  recordings: { file: string; ok: boolean; reason: string | null }[];
  ok: boolean;
}

/**
 * Verifies the whole chain (hashes, links, checkpoint signatures, witness) with `verifyAudit`
 * and keeps the result while the log's head is unchanged, then judges one session from it:
 * a broken link anywhere up to the session's last event breaks the proof of its events.
 */
export class EvidenceChecker {
  private cached: { head: string; result: Promise<VerifyResult> } | null = null;
  private key: JsonWebKey | null | undefined;

  constructor(
    private readonly db: Store,
    private readonly dataDir: string,
    private readonly recordingsDir: string,
    private readonly witness: string | null,
  ) {}

  private async chain(): Promise<VerifyResult> {
    const head = this.db.prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
    const id = head ? `${head.seq}:${head.hash}` : 'empty';
    if (this.cached?.head === id) return this.cached.result;
    // Concurrent page views of an unchanged log share one verification run.
    const result = (async () => {
      if (this.key === undefined) this.key = await loadAuditPublicKey(this.dataDir).catch(() => null);
      return verifyAudit({ db: this.db, recordingsDir: null, witness: this.witness, publicKey: this.key });
    })();
    this.cached = { head: id, result };
    result.catch(() => {
      if (this.cached?.result === result) this.cached = null;
    });
    return result;
  }

  async check(events: AuditRow[], recordings: SessionRecording[]): Promise<EvidenceStatus> {
    const lastSeq = events.reduce((m, e) => Math.max(m, e.seq), 0);
    const result = await this.chain();
    const problems = result.problems
      .filter((p) => p.seq === null || p.seq <= lastSeq)
      .slice(0, 20)
      .map((p) => ({ seq: p.seq, reason: p.reason }));
    const recs = recordings.map((r) => {
      const file = recordingPath(this.recordingsDir, r.file);
      if (!existsSync(file)) return { file: r.file, ok: false, reason: 'recording is missing' };
      const actual = hashFile(file);
      if (actual.size !== r.size) return { file: r.file, ok: false, reason: `size is ${actual.size}, sealed as ${String(r.size)}` };
      if (actual.sha256 !== r.sha256) return { file: r.file, ok: false, reason: 'SHA-256 differs from the sealed one' };
      return { file: r.file, ok: true, reason: null };
    });
    const chainOk = problems.length === 0;
    return { chain: { ok: chainOk, events: events.length, lastSeq, problems }, recordings: recs, ok: chainOk && recs.every((r) => r.ok) };
  }
}
