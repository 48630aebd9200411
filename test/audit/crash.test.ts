import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAuditPublicKey, recoverUnsealed, verifyAudit } from '../../src/audit/index.js';
import { asciinemaCat, newStore, openLog, tmpDir } from './helpers.js';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'audit-child.js');

test('SIGKILL mid-session: recovery seals the recording and ends the session; chain and recording verify and play', async (t) => {
  const dir = tmpDir(t);
  const proc = spawn(process.execPath, [child, 'crash', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => proc.kill('SIGKILL'));
  let out = '';
  proc.stdout.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child never became ready')), 20_000);
    proc.stdout.on('data', (d: string) => {
      out += d;
      if (out.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await new Promise((r) => setTimeout(r, 100)); // let it write some more, mid-stream
  proc.kill('SIGKILL');
  await once(proc, 'exit');

  const db = newStore(dir);
  const recordings = path.join(dir, 'recordings');
  const log = await openLog(db, dir, { witness: path.join(dir, 'data', 'witness.jsonl') });
  const recovered = await recoverUnsealed(db, log, recordings);
  assert.deepEqual(recovered, { recordings: 1, commands: 1, sessions: 1, failed: [] });
  const sealedRow = db.prepare("SELECT body FROM audit_events WHERE type = 'recording.sealed'").get() as { body: string };
  const sealed = JSON.parse(sealedRow.body);
  assert.equal(sealed.file, 'crashy-0.cast');
  assert.equal(sealed.session, 'crashy');
  assert.equal(sealed.recovered, true);
  // Who and which channel, as the gateway's own seals say (from the session's start).
  assert.deepEqual([sealed.subject, sealed.target, sealed.channel], ['agent', 'web-1', 0]);
  const endRow = db.prepare("SELECT body FROM audit_events WHERE type = 'session.end'").get() as { body: string };
  const end = JSON.parse(endRow.body);
  assert.deepEqual([end.session, end.reason, end.recovered, end.subject], ['crashy', 'gateway restarted', true, 'agent']);
  // The command the crash cut short is closed, saying so, before the session's end.
  const types = (db.prepare("SELECT type FROM audit_events WHERE type IN ('command.result', 'session.end') ORDER BY seq").all() as { type: string }[]).map((r) => r.type);
  assert.deepEqual(types, ['command.result', 'session.end']);
  const result = JSON.parse((db.prepare("SELECT body FROM audit_events WHERE type = 'command.result'").get() as { body: string }).body);
  assert.deepEqual([result.session, result.subject, result.exit, result.recovered], ['crashy', 'agent', null, true]);
  assert.match(result.error, /gateway stopped before the command's result was logged/);
  // Idempotent: a second start finds nothing left to recover.
  assert.deepEqual(await recoverUnsealed(db, log, recordings), { recordings: 0, commands: 0, sessions: 0, failed: [] });
  await log.close();

  const r = await verifyAudit({ db, recordingsDir: recordings, witness: path.join(dir, 'data', 'witness.jsonl'), publicKey: await loadAuditPublicKey(path.join(dir, 'data')) });
  assert.equal(r.ok, true, JSON.stringify(r.problems));
  assert.ok(r.events > 50);
  assert.equal(r.recordings, 1);
  const text = readFileSync(path.join(recordings, 'crashy-0.cast'), 'utf8');
  for (const line of text.trimEnd().split('\n')) JSON.parse(line); // every line whole
  assert.ok(!text.includes('\ufffd'), 'no character broken at a chunk boundary');
  const played = asciinemaCat(path.join(recordings, 'crashy-0.cast'));
  assert.equal(played.status, 0, played.stderr);
  assert.ok(played.stdout.includes('line 50 ✓ 世界'));
  db.close();
});

test('a torn last line (OS crash) is trimmed so the file plays, and the event says so', async (t) => {
  const dir = tmpDir(t);
  const recordings = path.join(dir, 'recordings');
  mkdirSync(recordings);
  const good = '{"version":2,"width":80,"height":24,"timestamp":1700000000}\n[0.1,"o","hello\\r\\n"]\n';
  const torn = '[0.2,"o","wor';
  writeFileSync(path.join(recordings, 'torn-session-1.cast'), good + torn);
  writeFileSync(path.join(recordings, 'zeros-2.cast'), good + '\0\0\0\0\0\0\0\0');
  const db = newStore(dir);
  const log = await openLog(db, dir);
  await log.append({ type: 'session.start', session: 'torn-session', subject: 'a', target: 't' });
  await log.append({ type: 'session.start', session: 'done' });
  await log.append({ type: 'session.end', session: 'done', reason: 'client closed' });
  assert.deepEqual(await recoverUnsealed(db, log, recordings), { recordings: 2, commands: 0, sessions: 1, failed: [] });
  const bodies = (db.prepare("SELECT body FROM audit_events WHERE type = 'recording.sealed' ORDER BY seq").all() as { body: string }[]).map((r) => JSON.parse(r.body));
  assert.deepEqual(bodies.map((b) => [b.file, b.session, b.trimmed, b.size]), [
    ['torn-session-1.cast', 'torn-session', torn.length, good.length],
    ['zeros-2.cast', 'zeros', 8, good.length],
  ]);
  assert.equal(readFileSync(path.join(recordings, 'torn-session-1.cast'), 'utf8'), good);
  for (const f of ['torn-session-1.cast', 'zeros-2.cast']) assert.equal(asciinemaCat(path.join(recordings, f)).status, 0);
  await log.close();
  const r = await verifyAudit({ db, recordingsDir: recordings, witness: null, publicKey: await loadAuditPublicKey(path.join(dir, 'data')) });
  assert.deepEqual([r.ok, r.recordings], [true, 2]);
  db.close();
});

test('recovery closes exactly the commands that may have run without a result: allowed or approved, exec or guarded line', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  t.after(() => db.close());
  const log = await openLog(db, dir);
  const s = { session: 'cut', subject: 'agent', target: 'web-1' };
  const ev = (type: string, body: Record<string, unknown>) => log.append({ type, ...s, ...body });
  await ev('session.start', {});
  await ev('command.decision', { channel: 0, command: 'echo done', decision: 'allow' });
  await ev('command.result', { channel: 0, exit: 0 });
  await ev('command.decision', { channel: 1, command: 'sleep 60', decision: 'allow' }); // running at the crash
  await ev('command.decision', { channel: 2, command: 'rm -rf /', decision: 'deny' });
  await ev('command.decision', { channel: 3, command: 'systemctl restart a', decision: 'approve' });
  await ev('approval.requested', { approval: 'A1', command: 'systemctl restart a' });
  await ev('command.decision', { channel: 4, command: 'systemctl restart b', decision: 'approve' });
  await ev('approval.resolved', { approval: 'B1', command: 'systemctl restart b', decision: 'denied' }); // never ran
  await ev('approval.resolved', { approval: 'A1', command: 'systemctl restart a', decision: 'approved' }); // running at the crash
  await ev('command.decision', { channel: 5, command: 'systemctl restart c', decision: 'approve' }); // still waiting: never ran
  await ev('command.decision', { channel: 6, mode: 'guarded', line: 1, command: 'ls', decision: 'allow' });
  await ev('command.result', { channel: 6, mode: 'guarded', line: 1, exit: 0 });
  await ev('command.decision', { channel: 6, mode: 'guarded', line: 2, command: 'top', decision: 'allow' }); // running at the crash
  await ev('command.decision', { channel: 7, command: 'true', decision: 'allow' });
  await ev('command.result', { channel: 7, exit: 126, error: 'the recording cannot be written: command not run' });
  await ev('shell.start', { channel: 8, mode: 'passthrough', pty: true }); // ends with a command.result
  await ev('shell.start', { channel: 9, mode: 'passthrough', pty: true });
  await ev('command.result', { channel: 9, exit: 0 });
  await ev('shell.start', { channel: 6, mode: 'guarded', pty: true }); // (its lines above) ends with a shell.end
  await ev('shell.start', { channel: 10, mode: 'guarded', pty: true });
  await ev('shell.end', { channel: 10, mode: 'guarded', exit: 0, reason: 'shell exited' });
  // A session that ended keeps what it has (its results are the gateway's to write, not recovery's).
  await log.append({ type: 'session.start', session: 'done', subject: 'agent', target: 'web-1' });
  await log.append({ type: 'command.decision', session: 'done', channel: 0, command: 'true', decision: 'allow' });
  await log.append({ type: 'session.end', session: 'done', reason: 'connection closed' });

  const recordings = path.join(dir, 'recordings');
  assert.deepEqual(await recoverUnsealed(db, log, recordings), { recordings: 0, commands: 5, sessions: 1, failed: [] });
  const rows = (db.prepare("SELECT body FROM audit_events WHERE type = 'command.result' AND json_extract(body, '$.recovered') = 1 ORDER BY seq").all() as { body: string }[]).map(
    (r) => JSON.parse(r.body) as Record<string, unknown>,
  );
  assert.deepEqual(
    rows.map((r) => [r.session, r.channel, r.mode ?? null, r.line ?? null, r.exit, r.signal, r.subject, r.target]),
    [
      ['cut', 1, null, null, null, null, 'agent', 'web-1'],
      ['cut', 3, null, null, null, null, 'agent', 'web-1'],
      ['cut', 6, 'guarded', 2, null, null, 'agent', 'web-1'],
      ['cut', 8, null, null, null, null, 'agent', 'web-1'],
    ],
  );
  const ends = (db.prepare("SELECT body FROM audit_events WHERE type = 'shell.end' AND json_extract(body, '$.recovered') = 1").all() as { body: string }[]).map(
    (r) => JSON.parse(r.body) as Record<string, unknown>,
  );
  assert.deepEqual(ends.map((r) => [r.channel, r.mode, r.exit, r.reason, r.subject]), [[6, 'guarded', null, 'gateway restarted', 'agent']]);
  // Then the session's end, last.
  const last = db.prepare('SELECT type FROM audit_events ORDER BY seq DESC LIMIT 1').get() as { type: string };
  assert.equal(last.type, 'session.end');
  assert.deepEqual(await recoverUnsealed(db, log, recordings), { recordings: 0, commands: 0, sessions: 0, failed: [] });
  await log.close();
  const r = await verifyAudit({ db, recordingsDir: recordings, witness: null, publicKey: await loadAuditPublicKey(path.join(dir, 'data')) });
  assert.equal(r.ok, true, JSON.stringify(r.problems));
});
