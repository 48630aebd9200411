import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { publishWitness } from '../../src/audit/publish-witness.js';
import { fsyncFault } from '../helpers/fsync-fault.js';
import { loadAuditPublicKey, verifyAudit } from '../../src/audit/index.js';
import { memoryLogger, newStore, openLog, tmpDir } from './helpers.js';

const entry = (seq: number) => ({ seq, hash: 'h'.repeat(64), jws: `jws-${seq}` });

function recorder() {
  const warns: { obj: Record<string, unknown>; msg: string }[] = [];
  return { warns, logger: { warn: (obj: object, msg: string) => warns.push({ obj: obj as Record<string, unknown>, msg }), info: () => undefined } };
}

test('witness file: checkpoints published in one turn land as whole lines in their order, in a private file', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'new', 'folder', 'witness.jsonl');
  const { warns, logger } = recorder();
  const posts = Array.from({ length: 40 }, (_, i) => publishWitness(entry(i + 1), file, null, logger));
  await Promise.all(posts);
  const lines = readFileSync(file, 'utf8').split('\n');
  assert.equal(lines.pop(), '', 'ends with a newline');
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as { seq: number }).seq), Array.from({ length: 40 }, (_, i) => i + 1));
  assert.deepEqual(Object.keys(JSON.parse(lines[0]!) as object), ['seq', 'hash', 'jws']);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
  assert.deepEqual(warns, []);
  // Appended to, never rewritten.
  await publishWitness(entry(41), file, null, logger);
  assert.equal(readFileSync(file, 'utf8').split('\n').length, 42);
});

test('witness file that cannot be written: logged with the file, not thrown; the next checkpoint still lands', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'witness.jsonl');
  mkdirSync(file); // a folder where the file should be
  const { warns, logger } = recorder();
  await publishWitness(entry(1), file, null, logger);
  assert.equal(warns.length, 1);
  assert.equal(warns[0]!.msg, 'could not write audit checkpoint to the witness file');
  assert.deepEqual([warns[0]!.obj.file, warns[0]!.obj.seq], [file, 1]);
  assert.match(String(warns[0]!.obj.err), /^EISDIR/);
  const other = path.join(dir, 'w2.jsonl');
  await publishWitness(entry(2), other, null, logger);
  assert.equal(warns.length, 1);
  assert.equal((JSON.parse(readFileSync(other, 'utf8')) as { seq: number }).seq, 2);
});

/** Publish checkpoints 1..n to `file` in a child process whose fsync fails where armed; its warnings. */
function publishInChild(file: string, n: number, env: NodeJS.ProcessEnv): { msg: string; err: string }[] {
  const script = `
    const { publishWitness } = await import(process.env.SG_WITNESS_MODULE);
    const warns = [];
    const logger = { warn: (o, msg) => warns.push({ msg, err: o.err }), info: () => {} };
    for (let i = 1; i <= Number(process.env.SG_N); i++) {
      await publishWitness({ seq: i, hash: 'h', jws: 'j' }, process.env.SG_FILE, null, logger);
    }
    console.log(JSON.stringify(warns));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, ...env, SG_WITNESS_MODULE: new URL('../../src/audit/publish-witness.js', import.meta.url).href, SG_FILE: file, SG_N: String(n) },
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { msg: string; err: string }[];
}

test('witness file is fsynced, and so is its folder when the file is new (EIO injected at each)', async (t) => {
  const fault = fsyncFault();
  t.after(() => fault.cleanup());
  const base = tmpDir(t);

  // The file's own fsync: its failure is the checkpoint's witness failure, logged.
  const dirA = path.join(base, 'a');
  const fileA = path.join(dirA, 'witness.jsonl');
  fault.arm(dirA, 1);
  const a = publishInChild(fileA, 1, fault.env);
  assert.deepEqual(fault.fired(), [fileA], 'the first fsync is the file');
  assert.deepEqual(a.map((w) => w.msg), ['could not write audit checkpoint to the witness file']);
  assert.match(a[0]!.err, /^EIO/);

  // A new file: after the file, its folder is fsynced (a new name is durable only then).
  const dirB = path.join(base, 'b');
  const fileB = path.join(dirB, 'witness.jsonl');
  fault.arm(dirB, 1, 1);
  const b = publishInChild(fileB, 1, fault.env);
  assert.equal(fault.pending(), 0);
  assert.deepEqual(fault.fired().slice(1), [dirB], 'the second fsync is the folder');
  assert.match(b[0]!.err, /^EIO/);

  // An existing file: one fsync per checkpoint, on the file, none on the folder.
  fault.arm(dirB, 1, 3);
  const c = publishInChild(fileB, 3, fault.env);
  assert.deepEqual(c, [], 'three checkpoints, three fsyncs passed');
  assert.equal(fault.pending(), 1, 'no fourth fsync');
  assert.equal(readFileSync(fileB, 'utf8').trim().split('\n').length, 4);
});

test('a witness behind the log (its lines lost after the commits) is brought level when the log opens; verification passes', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  t.after(() => db.close());
  const witness = path.join(dir, 'w', 'witness.jsonl');
  const log = await openLog(db, dir, { checkpointEvery: 3, witness });
  for (let i = 0; i < 10; i++) await log.append({ type: 'command.result', session: 's', exit: i });
  await log.close();
  const full = readFileSync(witness, 'utf8');
  const seqs = (text: string) => text.trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq);
  assert.deepEqual(seqs(full), [3, 7, 11, 13], 'every 3 events, then at close (each checkpoint takes a seq)');
  const pub = await loadAuditPublicKey(path.join(dir, 'data'));
  const verify = async () => verifyAudit({ db, recordingsDir: null, witness, publicKey: pub });

  // The last two lines lost (as a gateway killed between a commit and the witness's append).
  writeFileSync(witness, full.split('\n').slice(0, 2).join('\n') + '\n');
  const mem = memoryLogger();
  const again = await openLog(db, dir, { witness, logger: mem });
  assert.equal(readFileSync(witness, 'utf8'), full, 'the same lines as if none was lost');
  assert.ok(mem.lines.some((l) => l.msg === 'witness file caught up with the log' && (l.obj as { checkpoints?: number }).checkpoints === 2));
  await again.close(); // nothing new: no checkpoint, no line
  assert.equal(readFileSync(witness, 'utf8'), full);
  assert.deepEqual([(await verify()).ok], [true]);

  // The whole file lost: `audit verify` reports it until the next start writes it again.
  rmSync(witness);
  assert.match((await verify()).problems[0]!.reason, /witness file is missing/);
  await (await openLog(db, dir, { witness })).close();
  assert.equal(readFileSync(witness, 'utf8'), full);
  assert.equal((await verify()).ok, true);

  // A last line that cannot be read: left alone, logged; verification says what is wrong.
  writeFileSync(witness, full.split('\n').slice(0, 1).join('\n') + '\n{"seq": "x"}\n');
  const bad = readFileSync(witness, 'utf8');
  const mem2 = memoryLogger();
  await (await openLog(db, dir, { witness, logger: mem2 })).close();
  assert.equal(readFileSync(witness, 'utf8'), bad, 'not touched');
  assert.ok(mem2.lines.some((l) => l.msg === 'witness file left as it is: its last line cannot be read'));
  assert.equal((await verify()).ok, false);

  // A witness beyond the log (its tail deleted) gets nothing appended: the deletion stays visible.
  const ahead = full + JSON.stringify({ seq: 99, hash: 'f'.repeat(64), jws: 'x' }) + '\n';
  writeFileSync(witness, ahead);
  await (await openLog(db, dir, { witness })).close();
  assert.equal(readFileSync(witness, 'utf8'), ahead);
  assert.match((await verify()).problems.map((p) => p.reason).join('\n'), /beyond the chain head/);
});
