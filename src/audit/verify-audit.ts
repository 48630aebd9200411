import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Store } from '../store/open-store.js';
import { isCanonicalText } from './canonicalize.js';
import { chainHash, GENESIS_HASH, TIMESTAMP_RE } from './chain-hash.js';
import { hashFile } from './recorder.js';
import { checkpointVerifier, type CheckpointVerifier } from './sign-checkpoint.js';
import type { JsonWebKey } from './signing-key.js';

export interface VerifyProblem {
  seq: number | null;
  file: string | null;
  reason: string;
}

export interface VerifyResult {
  ok: boolean;
  events: number;
  checkpoints: number;
  recordings: number;
  problems: VerifyProblem[];
}

export interface VerifyOptions {
  db: Store;
  recordingsDir: string | null;
  witness: string | null;
  /** Null: checkpoint heads are checked, signatures are not (the CLI refuses that case). */
  publicKey: JsonWebKey | null;
}

type Row = { seq: number; ts: string; type: string; body: string; prev_hash: string; hash: string };
type WitnessLine = { line: number; seq: number; hash: string; jws: string };

const PAGE = 5000;
const MAX_PROBLEMS = 1000;

/**
 * Recompute the chain from seq 1 (hash, prev_hash link, gap-free seq, body fields and canonical
 * form), check every checkpoint's head and Ed25519 signature, every sealed recording's size and
 * SHA-256, and the witness file's checkpoints against the chain (a witnessed head beyond the
 * chain's end or with another hash means the tail was deleted or rewritten).
 * Reads in pages with no statement held open across awaits, so it can share the gateway's
 * connection. Problems are sorted by seq: the first is the earliest failure.
 */
export async function verifyAudit(opts: VerifyOptions): Promise<VerifyResult> {
  const problems: VerifyProblem[] = [];
  const report = (seq: number | null, file: string | null, reason: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push({ seq, file, reason });
  };
  const result = (events: number, checkpoints: number, recordings: number): VerifyResult => {
    problems.sort((a, b) => (a.seq ?? Infinity) - (b.seq ?? Infinity));
    return { ok: problems.length === 0, events, checkpoints, recordings, problems };
  };

  const table = opts.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_events'").get();
  if (!table) {
    report(null, null, 'the store has no audit_events table');
    return result(0, 0, 0);
  }
  const verify: CheckpointVerifier | null = opts.publicKey ? await checkpointVerifier(opts.publicKey) : null;
  const witnessName = opts.witness ? path.basename(opts.witness) : null;
  const witness = opts.witness ? readWitness(opts.witness, report) : null;
  const bySeq = new Map<number, WitnessLine[]>();
  for (const w of witness ?? []) {
    const list = bySeq.get(w.seq);
    if (list) list.push(w);
    else bySeq.set(w.seq, [w]);
  }

  const page = opts.db.prepare('SELECT seq, ts, type, body, prev_hash, hash FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?');
  const sealed: { seq: number; file: unknown; size: unknown; sha256: unknown }[] = [];
  let events = 0;
  let checkpoints = 0;
  let prevSeq = 0;
  let prevHash = GENESIS_HASH;
  let prevTs = '';
  /** Checkpoint signatures already verified against their head: a witness line repeating one needs no second check. */
  const goodJws = new Set<string>();
  for (;;) {
    const rows = page.all(prevSeq, PAGE) as Row[];
    if (rows.length === 0) break;
    const signatures: Promise<void>[] = [];
    for (const row of rows) {
      events++;
      const problem = checkRow(row, prevSeq, prevHash);
      if (problem) report(problem.seq, null, problem.reason);
      if (!problem || problem.parsed) {
        const body = problem?.parsed ?? JSON.parse(row.body);
        if (row.type === 'checkpoint') {
          checkpoints++;
          const head = body.head as { seq?: unknown; hash?: unknown } | undefined;
          if (!head || head.seq !== prevSeq || head.hash !== prevHash) {
            report(row.seq, null, `checkpoint head does not match the preceding event (seq ${prevSeq})`);
          } else if (typeof body.jws !== 'string') {
            report(row.seq, null, 'checkpoint has no signature');
          } else if (verify) {
            const want = { seq: prevSeq, hash: prevHash, ts: prevTs };
            const seq = row.seq;
            const jws: string = body.jws;
            signatures.push(
              verify(body.jws).then((p) => {
                if (!p) report(seq, null, 'checkpoint signature is invalid');
                else if (p.seq !== want.seq || p.hash !== want.hash || p.ts !== want.ts) report(seq, null, 'checkpoint signature covers a different head');
                else goodJws.add(jws);
              }),
            );
          }
        } else if (row.type === 'recording.sealed') {
          sealed.push({ seq: row.seq, file: body.file, size: body.size, sha256: body.sha256 });
        }
      }
      for (const w of bySeq.get(row.seq) ?? []) {
        if (w.hash !== row.hash) report(row.seq, witnessName, `witness line ${w.line} holds another hash for seq ${row.seq}: the log was rewritten`);
      }
      prevSeq = row.seq;
      prevHash = row.hash;
      prevTs = row.ts;
    }
    await Promise.all(signatures);
    if (rows.length < PAGE) break;
  }

  const witnessChecks: Promise<void>[] = [];
  for (const w of witness ?? []) {
    if (w.seq > prevSeq) {
      report(w.seq, witnessName, `witness line ${w.line} has a checkpoint at seq ${w.seq} beyond the chain head (seq ${prevSeq}): the tail was deleted`);
    }
    if (verify && !(goodJws.has(w.jws) && (bySeq.get(w.seq) ?? []).length > 0 && w.seq <= prevSeq)) {
      witnessChecks.push(
        verify(w.jws).then((p) => {
          if (!p || p.seq !== w.seq || p.hash !== w.hash) report(w.seq, witnessName, `witness line ${w.line} has an invalid signature`);
        }),
      );
    }
  }
  await Promise.all(witnessChecks);
  if (witness && witness.length === 0 && checkpoints > 0 && !existsSync(opts.witness!)) {
    report(null, witnessName, 'witness file is missing but the log has checkpoints');
  }

  let recordings = 0;
  if (opts.recordingsDir !== null) {
    for (const s of sealed) {
      if (typeof s.file !== 'string' || s.file !== path.basename(s.file) || s.file.startsWith('.')) {
        report(s.seq, typeof s.file === 'string' ? s.file : null, 'recording.sealed names an invalid file');
        continue;
      }
      recordings++;
      const file = path.join(opts.recordingsDir, s.file);
      if (!existsSync(file)) {
        report(s.seq, s.file, 'recording is missing');
        continue;
      }
      const actual = hashFile(file);
      if (actual.size !== s.size) report(s.seq, s.file, `recording size is ${actual.size}, sealed as ${String(s.size)}: altered`);
      else if (actual.sha256 !== s.sha256) report(s.seq, s.file, 'recording SHA-256 differs from the sealed one: altered');
    }
  }
  return result(events, checkpoints, recordings);
}

/** The first thing wrong with one row, if anything (and its parsed body when that much held). */
function checkRow(row: Row, prevSeq: number, prevHash: string): { seq: number; reason: string; parsed?: Record<string, any> } | null {
  if (row.seq !== prevSeq + 1) {
    return { seq: prevSeq + 1, reason: `event missing: the chain jumps from seq ${prevSeq} to ${row.seq}` };
  }
  if (row.prev_hash !== prevHash) {
    return { seq: row.seq, reason: `prev_hash does not link to seq ${prevSeq}: events removed, reordered or rewritten` };
  }
  if (chainHash(row.prev_hash, row.body) !== row.hash) {
    return { seq: row.seq, reason: 'hash does not match prev_hash and body: the event was altered' };
  }
  let body: Record<string, any>;
  try {
    body = JSON.parse(row.body);
  } catch {
    return { seq: row.seq, reason: 'body is not JSON' };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { seq: row.seq, reason: 'body is not a JSON object' };
  if (body.seq !== row.seq || body.ts !== row.ts || body.type !== row.type) {
    return { seq: row.seq, reason: 'body seq/ts/type differ from the row', parsed: body };
  }
  if (!TIMESTAMP_RE.test(row.ts)) return { seq: row.seq, reason: 'ts is not RFC 3339 UTC with milliseconds', parsed: body };
  if (!isCanonicalText(row.body, body)) return { seq: row.seq, reason: 'body is not canonical JSON (RFC 8785)', parsed: body };
  return null;
}

function readWitness(file: string, report: (seq: number | null, file: string | null, reason: string) => void): WitnessLine[] {
  const name = path.basename(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    report(null, name, `witness file cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    return [];
  }
  const out: WitnessLine[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      const w = JSON.parse(line) as Partial<WitnessLine>;
      if (!Number.isInteger(w.seq) || typeof w.hash !== 'string' || typeof w.jws !== 'string') throw new Error('shape');
      out.push({ line: i + 1, seq: w.seq!, hash: w.hash!, jws: w.jws! });
    } catch {
      report(null, name, `witness line ${i + 1} is not a {seq, hash, jws} object`);
    }
  });
  return out;
}
