import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { buildScenario } from './scenario.js';

const script = path.join(repoRoot, 'tools', 'verify-audit.py');
const py = (...args: string[]) => spawnSync('python3', [script, ...args], { encoding: 'utf8', timeout: 30_000 });

test('the independent Python verifier is short, stdlib-only, and passes a good chain', async (t) => {
  const src = readFileSync(script, 'utf8');
  assert.ok(src.trimEnd().split('\n').length <= 30);
  for (const m of src.matchAll(/^import (.+)$/gm)) for (const name of m[1]!.split(',')) assert.ok(['hashlib', 'json', 'sqlite3', 'sys'].includes(name.trim()));
  const s = await buildScenario(t);
  let r = py(s.dbFile);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'OK 18 events');
  r = py(s.dbFile, s.witness);
  assert.equal(r.status, 0, r.stderr);
});

test('the Python verifier fails a changed byte, a deleted row and a deleted tail (with the witness)', async (t) => {
  const s = await buildScenario(t);
  s.db.prepare("UPDATE audit_events SET body = replace(body, 'echo 5', 'echo 6') WHERE seq = 8").run();
  let r = py(s.dbFile);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /FAIL seq 8: hash/);

  const s2 = await buildScenario(t);
  s2.db.prepare('DELETE FROM audit_events WHERE seq = 4').run();
  r = py(s2.dbFile);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /FAIL seq 4: missing/);

  const s3 = await buildScenario(t);
  s3.db.prepare('DELETE FROM audit_events WHERE seq > 12').run();
  assert.equal(py(s3.dbFile).status, 0, 'a clean cut passes without the witness');
  r = py(s3.dbFile, s3.witness);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /FAIL seq 17: witnessed head not in the chain/);
});
