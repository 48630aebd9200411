/**
 * Durable writes made on the event loop while it is quiet (InlineGate): the gate's rules, and
 * that the audit log and the recorder keep their guarantees whichever way a write goes: the
 * chain stays whole and in order when batches switch between the loop and the writer thread,
 * a lock held by another process never stalls the loop, a failure still rejects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { AuditWriteError } from '../../src/errors.js';
import { AuditLog, InlineGate, Recorder, verifyAudit } from '../../src/audit/index.js';
import { auditOptions, newStore, storeFile, tmpDir } from './helpers.js';

/** Keep the event loop busy (synchronously) for `ms`. */
function block(ms: number): void {
  const t0 = performance.now();
  while (performance.now() - t0 < ms);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('InlineGate: open on a quiet loop; closed while the loop is busy, unless alone on a loop with room, or solo', async () => {
  const gate = new InlineGate({ windowMs: 20, maxUtilization: 0.4 });
  assert.equal(gate.allows(), true, 'a fresh gate on an idle loop');
  block(60); // the whole window busy
  assert.equal(gate.allows(), false, 'the loop was busy for the last window');

  let alone = true;
  const few = new InlineGate({ windowMs: 20, maxUtilization: 0.1, aloneMaxUtilization: 0.9, alone: () => alone });
  await sleep(10);
  block(10); // about half of the window busy: above maxUtilization, below aloneMaxUtilization
  await sleep(10);
  assert.equal(few.allows(), true, 'busy, but nobody else would wait and the loop has room');
  alone = false;
  assert.equal(few.allows(), false);
  alone = true;
  block(60);
  assert.equal(few.allows(), false, 'alone, but the loop is saturated: arrivals would wait behind the write');

  let solo = true;
  const one = new InlineGate({ windowMs: 20, maxUtilization: 0.1, aloneMaxUtilization: 0.2, solo: () => solo });
  block(60);
  assert.equal(one.allows(), true, 'one agent by itself: whatever the utilisation');
  solo = false;
  assert.equal(one.allows(), false);
  assert.deepEqual(one.counts, { inline: 0, handedOff: 1, slow: 0 });
  // lightlyLoaded(): the load half of the same answer, not counted as a hand-off (asked by the upstream pool).
  assert.equal(one.lightlyLoaded(), false);
  solo = true;
  assert.equal(one.lightlyLoaded(), true);
  assert.deepEqual(one.counts, { inline: 0, handedOff: 1, slow: 0 });
});

test('InlineGate: the loop being idle again opens the gate once the next window is sampled', async () => {
  const gate = new InlineGate({ windowMs: 20, maxUtilization: 0.9 });
  block(40);
  assert.equal(gate.allows(), false);
  await sleep(200); // a window that is almost all idle
  assert.equal(gate.allows(), true);
});

test('InlineGate: a slow write in place closes the gate for backoff x its duration, also when it throws', async () => {
  const gate = new InlineGate({ slowMs: 5, backoff: 10, maxUtilization: 1.1 });
  assert.equal(gate.run(() => 42), 42, 'run returns the write result');
  assert.equal(gate.allows(), true, 'a fast write leaves the gate open');
  assert.throws(
    () =>
      gate.run(() => {
        block(15);
        throw new Error('disk');
      }),
    /disk/,
  );
  assert.equal(gate.allows(), false, 'closed for about 150 ms');
  assert.equal(gate.lightlyLoaded(), true, 'a slow disk is no load');
  await sleep(60);
  assert.equal(gate.allows(), false, 'still closed');
  await sleep(200);
  assert.equal(gate.allows(), true, 'open again');
  assert.equal(gate.counts.inline, 2);
  assert.equal(gate.counts.slow, 1, 'the slow one is counted');
});

test('InlineGate validates its options', () => {
  assert.throws(() => new InlineGate({ slowMs: -1 }), TypeError);
  assert.throws(() => new InlineGate({ maxUtilization: Number.NaN }), TypeError);
  assert.throws(() => new InlineGate({ backoff: Infinity }), TypeError);
  assert.throws(() => new InlineGate({ alone: 'yes' as unknown as () => boolean }), TypeError);
  assert.throws(() => new InlineGate({ solo: 1 as unknown as () => boolean }), TypeError);
  assert.throws(() => new InlineGate({ aloneMaxUtilization: -0.5 }), TypeError);
});

type Row = { seq: number; type: string; body: string };

test('audit log with a gate: batches switch between the loop and the writer thread, chain whole and in order', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  let quiet = true;
  // maxUtilization 0: only `alone` opens the gate, so the test decides each batch's way.
  const gate = new InlineGate({ maxUtilization: 0, alone: () => quiet });
  const log = await AuditLog.open(db, auditOptions(dir, { writer: 'thread', inline: gate, checkpointEvery: 7 }));
  const expected: number[] = [];
  for (let round = 0; round < 12; round++) {
    quiet = round % 3 !== 1; // two rounds in place, one on the thread, ...
    const batch = Array.from({ length: 1 + (round % 4) }, (_, i) => round * 10 + i);
    expected.push(...batch);
    const links = await Promise.all(batch.map((n) => log.append({ type: 'command.result', n })));
    for (let i = 1; i < links.length; i++) assert.ok(links[i]!.seq > links[i - 1]!.seq, 'seqs follow the append order');
  }
  assert.ok(gate.counts.inline >= 8, `in place: ${gate.counts.inline}`);
  assert.ok(gate.counts.handedOff >= 4, `handed off: ${gate.counts.handedOff}`);
  await log.close();
  const rows = db.prepare('SELECT seq, type, body FROM audit_events ORDER BY seq').all() as Row[];
  assert.deepEqual(rows.map((r) => r.seq), Array.from({ length: rows.length }, (_, i) => i + 1), 'no gap');
  assert.deepEqual(
    rows.filter((r) => r.type === 'command.result').map((r) => (JSON.parse(r.body) as { n: number }).n),
    expected,
    'every event once, in append order',
  );
  assert.ok(rows.filter((r) => r.type === 'checkpoint').length >= 4, 'checkpoints still every 7 events');
  const v = await verifyAudit({ db, recordingsDir: null, witness: null, publicKey: null });
  assert.equal(v.ok, true, JSON.stringify(v.problems));
  db.close();
});

test('audit log with a gate: a write lock held by another process sends the batch to the thread, the loop keeps running', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir); // busy_timeout 5000: the thread waits for the lock
  const gate = new InlineGate({ maxUtilization: 0, alone: () => true });
  const log = await AuditLog.open(db, auditOptions(dir, { writer: 'thread', inline: gate }));
  await log.append({ type: 'before' });
  const locker = new Database(storeFile(dir));
  locker.exec('BEGIN IMMEDIATE');
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 5);
  const pending = log.append({ type: 'while-locked' });
  await sleep(150);
  // The in-place attempt gave up at once (busy_timeout 0) and the thread is waiting: the loop ran.
  assert.ok(ticks >= 5, `event loop ticks while the lock was held: ${ticks}`);
  locker.exec('COMMIT');
  locker.close();
  clearInterval(ticker);
  const link = await pending;
  assert.equal(link.seq, 2);
  assert.ok(gate.counts.inline >= 2, 'the first append and the attempt went in place');
  await log.close();
  const v = await verifyAudit({ db, recordingsDir: null, witness: null, publicKey: null });
  assert.equal(v.ok, true, JSON.stringify(v.problems));
  db.close();
});

test('audit log with a gate: a failure in place still rejects with AuditWriteError, no silent skip', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  const gate = new InlineGate({ maxUtilization: 0, alone: () => true });
  const log = await AuditLog.open(db, auditOptions(dir, { writer: 'thread', inline: gate }));
  await log.append({ type: 'session.start', session: 'a' });
  rmSync(path.join(dir, 'data'), { recursive: true, force: true });
  await assert.rejects(log.append({ type: 'command.decision', decision: 'allow' }), (err: unknown) => err instanceof AuditWriteError && /removed/.test((err as Error).message));
  assert.ok(gate.counts.inline >= 2, 'the failing write was made in place');
  await assert.rejects(log.close(), AuditWriteError);
  db.close();
});

test('recorder: the seal fsyncs in place when the gate allows, on the thread pool when not; same sealed file', async (t) => {
  const dir = tmpDir(t);
  for (const quiet of [true, false]) {
    const gate = new InlineGate({ maxUtilization: 0, alone: () => quiet });
    const rec = await Recorder.open({ dir, session: `s-${quiet}`, channel: 0, width: 80, height: 24, recordInput: false, inline: gate });
    rec.output('hello\r\n');
    const sealed = await rec.seal();
    const data = readFileSync(rec.file);
    assert.deepEqual(sealed, { file: `s-${quiet}-0.cast`, size: data.length, sha256: createHash('sha256').update(data).digest('hex') });
    assert.deepEqual(gate.counts, quiet ? { inline: 1, handedOff: 0, slow: 0 } : { inline: 0, handedOff: 1, slow: 0 });
  }
});
