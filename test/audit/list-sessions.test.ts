import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasSessionIndex, listSessions, newestSessions, recentSessions, sessionSummary, SESSION_KEY } from '../../src/audit/index.js';
import { newStore, openLog, tmpDir } from './helpers.js';

test('listSessions summarises sessions from the log', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  const log = await openLog(db, dir);
  await log.append({ type: 'session.start', session: 'a', subject: 'bot-a', target: 'web-1' });
  await log.append({ type: 'session.start', session: 'b', subject: 'bot-b', target: 'db-1' });
  await log.append({ type: 'command.decision', session: 'a', decision: 'allow', command: 'ls' });
  await log.append({ type: 'command.decision', session: 'a', decision: 'deny', command: 'rm -rf /' });
  await log.append({ type: 'command.decision', session: 'b', decision: 'approve', command: 'reboot' });
  await log.append({ type: 'approval.requested', session: 'b', approval: 'ap1', command: 'reboot' });
  await log.append({ type: 'recording.sealed', session: 'a', file: 'a-0.cast', size: 1, sha256: '0'.repeat(64) });
  await log.append({ type: 'session.end', session: 'a', reason: 'client closed' });
  await log.append({ type: 'command.decision', decision: 'allow' }); // no session: ignored
  await log.close();
  const list = listSessions(db);
  assert.deepEqual(
    list.map((s) => [s.id, s.subject, s.target, s.commands, s.denials, s.approvals, s.recordings, s.end !== null, s.endReason]),
    [
      ['a', 'bot-a', 'web-1', 2, 1, 0, ['a-0.cast'], true, 'client closed'],
      ['b', 'bot-b', 'db-1', 1, 0, 1, [], false, null],
    ],
  );
  assert.ok(list.every((s) => typeof s.start === 'string'));
  db.close();
});

test('the session index: one session read without the rest of the log, newest sessions first in pages, filters before reading', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  const log = await openLog(db, dir);
  // 450 sessions: more than two of recentSessions' pages of 200.
  for (let i = 0; i < 450; i++) {
    const id = `s${String(i).padStart(3, '0')}`;
    await log.append({ type: 'session.start', session: id, subject: i % 2 ? 'odd-bot' : 'even-bot', target: 'web-1' });
    await log.append({ type: 'command.decision', session: id, decision: i % 3 === 0 ? 'deny' : 'allow', command: 'ls' });
    if (i % 2 === 0) await log.append({ type: 'session.end', session: id, reason: 'client closed' });
  }
  await log.close();

  // One session: the same summary as the whole-log pass, through the index.
  const all = listSessions(db);
  assert.equal(all.length, 450);
  const one = sessionSummary(db, 's123');
  assert.deepEqual(one, all.find((s) => s.id === 's123'));
  assert.deepEqual([one!.commands, one!.denials, one!.subject, one!.end], [1, 1, 'odd-bot', null]);
  assert.equal(sessionSummary(db, 'nope'), null);
  // A session id that is a prefix of others, or holds LIKE's wildcards, matches itself only.
  assert.equal(sessionSummary(db, 's1'), null);
  assert.equal(sessionSummary(db, 's%'), null);

  // The query plan reads the session index, not the table (the expression must match exactly).
  const plan = db.prepare(`EXPLAIN QUERY PLAN SELECT seq, ts, type, body, hash FROM audit_events WHERE ${SESSION_KEY} = ? ORDER BY seq`).all('s1') as { detail: string }[];
  assert.ok(plan.some((p) => /USING (COVERING )?INDEX audit_events_session\b/.test(p.detail)), JSON.stringify(plan));

  // Newest first across page boundaries, every session once.
  const recent = [...recentSessions(db)].map((s) => s.id);
  assert.deepEqual(recent, all.map((s) => s.id).reverse());

  // The start-event filter runs before a session's other events are read, and a consumer
  // that stops early reads no further.
  let asked = 0;
  const firstOdd = [];
  for (const s of recentSessions(db, (start) => (asked++, start.body.subject === 'odd-bot'))) {
    firstOdd.push(s.id);
    if (firstOdd.length === 3) break;
  }
  assert.deepEqual(firstOdd, ['s449', 's447', 's445']);
  assert.equal(asked, 5, 'the filter saw s449 to s445 only');
  db.close();
});

test('opening a log written before the session index builds it', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  const log = await openLog(db, dir);
  await log.append({ type: 'session.start', session: 'old', subject: 'bot', target: 'web-1' });
  await log.close();
  db.exec('DROP INDEX audit_events_session');
  const indexes = () => (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_events'").all() as { name: string }[]).map((r) => r.name);
  assert.ok(!indexes().includes('audit_events_session'));
  const again = await openLog(db, dir);
  await again.close();
  assert.ok(indexes().includes('audit_events_session'));
  assert.equal(sessionSummary(db, 'old')?.subject, 'bot');
  db.close();
});

test('newestSessions: the same sessions and summaries with the session index and without it', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  const log = await openLog(db, dir);
  for (let i = 0; i < 40; i++) {
    const id = `s${i}`;
    await log.append({ type: 'session.start', session: id, subject: `bot-${i % 3}`, target: 'web-1' });
    if (i % 4 === 0) await log.append({ type: 'command.decision', session: `s${i >> 1}`, decision: i % 8 ? 'allow' : 'deny', command: 'ls' });
    if (i % 5 === 0) await log.append({ type: 'session.end', session: `s${i >> 2}`, reason: 'client closed' });
  }
  await log.append({ type: 'command.decision', session: 'no-start', decision: 'allow', command: 'ls' }); // never listed by start
  await log.close();
  assert.equal(hasSessionIndex(db), true);
  const withIndex = [1, 7, 40, 99].map((n) => newestSessions(db, n));
  assert.deepEqual(withIndex[1]!.map((s) => s.id), ['s33', 's34', 's35', 's36', 's37', 's38', 's39']);
  assert.equal(withIndex[3]!.length, 40);
  db.exec('DROP INDEX audit_events_session');
  assert.equal(hasSessionIndex(db), false);
  assert.deepEqual([1, 7, 40, 99].map((n) => newestSessions(db, n)), withIndex);
  db.close();
});
