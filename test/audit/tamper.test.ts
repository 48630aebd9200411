import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, rmSync } from 'node:fs';
import { CompactSign } from 'jose';
import { newEd25519Key } from '../../src/util/new-ed25519-key.js';
import { canonicalize } from '../../src/audit/index.js';
import { buildScenario, rehashFrom } from './scenario.js';

test('an untouched log verifies: events, checkpoints, recordings, witness', async (t) => {
  const s = await buildScenario(t);
  const r = await s.verify();
  assert.deepEqual(r, { ok: true, events: 18, checkpoints: 3, recordings: 1, problems: [] });
});

test('one changed byte in a body → that seq, hash mismatch', async (t) => {
  const s = await buildScenario(t);
  s.db.prepare("UPDATE audit_events SET body = replace(body, 'echo 5', 'echo 6') WHERE seq = 8").run();
  const r = await s.verify();
  assert.equal(r.ok, false);
  assert.equal(r.problems[0]!.seq, 8);
  assert.match(r.problems[0]!.reason, /altered/);
  assert.equal(r.problems.length, 1);
});

test('two rows reordered → the first moved seq, broken link', async (t) => {
  const s = await buildScenario(t);
  s.db.exec('UPDATE audit_events SET seq = -1 WHERE seq = 3; UPDATE audit_events SET seq = 3 WHERE seq = 4; UPDATE audit_events SET seq = 4 WHERE seq = -1;');
  const r = await s.verify();
  assert.equal(r.ok, false);
  assert.equal(r.problems[0]!.seq, 3);
  assert.match(r.problems[0]!.reason, /prev_hash does not link to seq 2/);
});

test('a deleted middle row → the missing seq', async (t) => {
  const s = await buildScenario(t);
  s.db.prepare('DELETE FROM audit_events WHERE seq = 9').run();
  const r = await s.verify();
  assert.equal(r.ok, false);
  assert.equal(r.problems[0]!.seq, 9);
  assert.match(r.problems[0]!.reason, /missing: the chain jumps from seq 8 to 10/);
});

test('a deleted tail is invisible to the chain alone but caught by the witness', async (t) => {
  const s = await buildScenario(t);
  s.db.prepare('DELETE FROM audit_events WHERE seq > 13').run();
  const alone = await s.verify({ witness: null, recordingsDir: null });
  assert.equal(alone.ok, true, 'a clean cut leaves a valid shorter chain');
  const r = await s.verify();
  assert.equal(r.ok, false);
  const p = r.problems.find((x) => x.file === 'witness.jsonl');
  assert.ok(p, JSON.stringify(r.problems));
  assert.equal(p.seq, 17);
  assert.match(p.reason, /beyond the chain head \(seq 13\): the tail was deleted/);
});

test('a rewritten tail (rehashed, re-signed with another key) is caught by signatures and the witness', async (t) => {
  const s = await buildScenario(t);
  s.db.prepare("UPDATE audit_events SET body = replace(body, '\"deny\"', '\"allow\"') WHERE seq = 10").run();
  rehashFrom(s.db, 10);
  // A careful attacker also points the next checkpoint at the new head.
  const cp = JSON.parse((s.db.prepare('SELECT body FROM audit_events WHERE seq = 12').get() as { body: string }).body);
  cp.head.hash = (s.db.prepare('SELECT hash FROM audit_events WHERE seq = 11').get() as { hash: string }).hash;
  s.db.prepare('UPDATE audit_events SET body = ? WHERE seq = 12').run(canonicalize(cp));
  rehashFrom(s.db, 12);
  const r = await s.verify();
  assert.equal(r.ok, false);
  assert.equal(r.problems[0]!.seq, 11, JSON.stringify(r.problems));
  assert.match(r.problems[0]!.reason, /witness line 2 holds another hash for seq 11/);
  assert.ok(r.problems.some((p) => p.seq === 12 && /checkpoint signature covers a different head/.test(p.reason)));
});

test('a forged checkpoint signature → the checkpoint seq', async (t) => {
  const s = await buildScenario(t);
  const row = s.db.prepare('SELECT body FROM audit_events WHERE seq = 12').get() as { body: string };
  const body = JSON.parse(row.body);
  const head = s.db.prepare('SELECT seq, hash, ts FROM audit_events WHERE seq = 11').get() as { seq: number; hash: string; ts: string };
  const privateKey = newEd25519Key();
  body.jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(head))).setProtectedHeader({ alg: 'EdDSA', kid: s.publicKey.kid! }).sign(privateKey);
  s.db.prepare('UPDATE audit_events SET body = ? WHERE seq = 12').run(canonicalize(body));
  rehashFrom(s.db, 12);
  const r = await s.verify({ witness: null });
  assert.equal(r.ok, false);
  assert.deepEqual(r.problems[0], { seq: 12, file: null, reason: 'checkpoint signature is invalid' });
});

test('an altered or missing recording → the file name', async (t) => {
  const s = await buildScenario(t);
  appendFileSync(s.castFile, '[99.0, "o", "injected"]\n');
  let r = await s.verify();
  assert.equal(r.ok, false);
  assert.equal(r.problems[0]!.file, 'sess-0.cast');
  assert.equal(r.problems[0]!.seq, 16);
  assert.match(r.problems[0]!.reason, /altered/);
  rmSync(s.castFile);
  r = await s.verify();
  assert.deepEqual(r.problems, [{ seq: 16, file: 'sess-0.cast', reason: 'recording is missing' }]);
});

test('a checkpoint whose head no longer matches, and a body whose seq disagrees with its row', async (t) => {
  const s = await buildScenario(t);
  s.db.prepare('UPDATE audit_events SET body = replace(body, \'"seq":5\', \'"seq":50\') WHERE seq = 5').run();
  rehashFrom(s.db, 5);
  const r = await s.verify({ witness: null });
  assert.equal(r.problems[0]!.seq, 5);
  assert.match(r.problems[0]!.reason, /seq\/ts\/type differ/);
  assert.ok(r.problems.some((p) => p.seq === 6 && /checkpoint head does not match the preceding event/.test(p.reason)));
});

test('a body re-serialised in another (non-canonical) form is reported even when rehashed', async (t) => {
  const s = await buildScenario(t);
  const row = s.db.prepare('SELECT body FROM audit_events WHERE seq = 3').get() as { body: string };
  s.db.prepare('UPDATE audit_events SET body = ? WHERE seq = 3').run(JSON.stringify(JSON.parse(row.body), null, 1));
  rehashFrom(s.db, 3);
  const r = await s.verify({ witness: null });
  assert.equal(r.problems[0]!.seq, 3);
  assert.match(r.problems[0]!.reason, /not canonical/);
});
