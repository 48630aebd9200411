import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listSessions } from '../../src/audit/index.js';
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
