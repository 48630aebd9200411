import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAuditPublicKey, verifyAudit } from '../../src/audit/index.js';
import { newStore, openLog, tmpDir } from './helpers.js';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'audit-child.js');

test('50 concurrent appenders here and a second process on the same store: one gap-free valid chain', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  const witness = path.join(dir, 'data', 'witness.jsonl');
  const log = await openLog(db, dir, { checkpointEvery: 100, witness });
  await log.append({ type: 'gateway.start' }); // creates the signing key before the child shares it
  const proc = spawn(process.execPath, [child, 'append', dir, '2000'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = once(proc, 'exit'); // listen now: the child may finish before our appenders do
  // Start our appenders once the child is writing, so both processes really interleave.
  const childRows = db.prepare("SELECT count(*) AS n FROM audit_events WHERE type = 'command.decision'");
  const deadline = Date.now() + 20_000;
  while ((childRows.get() as { n: number }).n === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
  const seqs: number[] = [];
  await Promise.all(
    Array.from({ length: 50 }, async (_, s) => {
      for (let i = 0; i < 20; i++) {
        const r = await log.append({ type: 'command.decision', session: `s${s}`, decision: 'allow', command: `cmd ${i}` });
        seqs.push(r.seq);
      }
    }),
  );
  const [code] = await exited;
  assert.equal(code, 0);
  await log.close();
  assert.equal(new Set(seqs).size, 1000, 'every append got its own seq');
  const counts = db.prepare("SELECT count(*) AS n, sum(type = 'checkpoint') AS cp, max(seq) AS max FROM audit_events").get() as { n: number; cp: number; max: number };
  assert.equal(counts.n - counts.cp, 1 + 1000 + 2000);
  const span = (like: string) => db.prepare("SELECT min(seq) AS lo, max(seq) AS hi FROM audit_events WHERE json_extract(body, '$.session') LIKE ?").get(like) as { lo: number; hi: number };
  const ours = span('s%');
  const theirs = span('child-%');
  assert.ok(ours.lo < theirs.hi && theirs.lo < ours.hi, `the two processes interleaved (${JSON.stringify({ ours, theirs })})`);
  assert.equal(counts.max, counts.n, 'no gaps');
  assert.ok(counts.cp >= 20, `checkpoints from both processes (${counts.cp})`);
  const r = await verifyAudit({ db, recordingsDir: null, witness, publicKey: await loadAuditPublicKey(path.join(dir, 'data')) });
  assert.equal(r.ok, true, JSON.stringify(r.problems.slice(0, 3)));
  assert.equal(r.events, counts.n);
  db.close();
});
