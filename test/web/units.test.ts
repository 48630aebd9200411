import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { html, esc } from '../../src/web/console/html.js';
import { serializeCookie } from '../../src/web/console/cookies.js';
import { WebSessions } from '../../src/web/console/web-sessions.js';
import { LoginLimiter } from '../../src/web/console/login-limiter.js';
import { rolesFor } from '../../src/web/console/roles.js';
import { checkSessionId, parseSessionFilter, type AuditRow } from '../../src/web/console/session-data.js';
import { buildPlayback, eventTimes, isRecordingName, stripAnsi } from '../../src/web/console/playback.js';
import { buildTimeline } from '../../src/web/console/timeline.js';
import { HttpError } from '../../src/web/router.js';
import { tempDir } from '../helpers/tmp.js';

test('html escapes every interpolated value, including attribute quotes', () => {
  const evil = `"><img src=x onerror=alert(1)>'\``;
  const out = html`<a title="${evil}">${evil}</a>`.html;
  assert.ok(!out.includes('<img'));
  assert.equal(out.match(/"/g)!.length, 2, 'only the template quotes remain');
  assert.equal(esc('&<>"\''), '&#38;&#60;&#62;&#34;&#39;');
});

test('cookies: HttpOnly always, Secure when asked, only base64url values', () => {
  const c = serializeCookie('sg_session', 'abc_-1', { secure: true, sameSite: 'Strict', maxAge: 60 });
  assert.equal(c, 'sg_session=abc_-1; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure');
  assert.throws(() => serializeCookie('x', 'a;b', { secure: false, sameSite: 'Lax', maxAge: 1 }), TypeError);
});

test('web sessions expire, are bounded, and are stored by hash', () => {
  let now = 1_000;
  const s = new WebSessions(60_000, 2, () => now);
  const a = s.create({ subject: 'alice', groups: ['auditors'] });
  assert.equal(s.get(a.id)?.subject, 'alice');
  assert.notEqual(a.session.csrf, a.id);
  assert.equal(s.get(a.id.slice(0, -1) + 'x'), null);
  assert.equal(s.get('x'.repeat(500)), null);
  now += 60_000;
  assert.equal(s.get(a.id), null, 'expired');
  const b = s.create({ subject: 'b', groups: [] });
  s.create({ subject: 'c', groups: [] });
  s.create({ subject: 'd', groups: [] });
  assert.equal(s.size, 2);
  assert.equal(s.get(b.id), null, 'the oldest was dropped');
  const e = s.create({ subject: 'e', groups: [] });
  s.destroy(e.id);
  assert.equal(s.get(e.id), null);
});

test('login limiter: per address, a sliding minute', () => {
  let now = 0;
  const l = new LoginLimiter(3, 100, () => now);
  assert.deepEqual([1, 2, 3, 4].map(() => l.allow('10.0.0.1')), [true, true, true, false]);
  assert.equal(l.allow('10.0.0.2'), true, 'another address has its own budget');
  now += 60_001;
  assert.equal(l.allow('10.0.0.1'), true);
});

test('roles: groups map to roles, admin implies the others, the admin token is admin', () => {
  const map = { auditor: ['aud'], approver: ['appr'], admin: ['adm'] };
  assert.deepEqual([...rolesFor({ kind: 'oidc', subject: 'x', groups: ['aud'] }, map)], ['auditor']);
  assert.deepEqual([...rolesFor({ kind: 'session', subject: 'x', groups: ['appr', 'aud'] }, map)].sort(), ['approver', 'auditor']);
  assert.deepEqual([...rolesFor({ kind: 'session', subject: 'x', groups: ['adm'] }, map)].sort(), ['admin', 'approver', 'auditor']);
  assert.deepEqual([...rolesFor({ kind: 'admin', subject: 'admin', groups: [] }, map)].sort(), ['admin', 'approver', 'auditor']);
  assert.equal(rolesFor({ kind: 'oidc', subject: 'x', groups: ['other'] }, map).size, 0);
  assert.equal(rolesFor(null, map).size, 0);
});

test('session ids: gateway ids pass, anything path-like is a 400', () => {
  assert.equal(checkSessionId('20261122T051200Z-3f9a1c2b7d4e'), '20261122T051200Z-3f9a1c2b7d4e');
  for (const bad of ['', '..', '../x', 'a/b', 'a\\b', '.x', '-x', 'a..b', 'a\u0000', 'x'.repeat(129), undefined]) {
    assert.throws(() => checkSessionId(bad), (e: unknown) => e instanceof HttpError && e.status === 400, String(bad));
  }
  assert.equal(isRecordingName('s1-0.cast', 's1'), true);
  assert.equal(isRecordingName('../s1-0.cast', 's1'), false);
  assert.equal(isRecordingName('s2-0.cast', 's1'), false, "another session's file");
  assert.equal(isRecordingName('s1-0.txt', 's1'), false);
});

test('playback joins channel recordings in order with markers; timeline times point into it', () => {
  const t = tempDir('shellgate-web-unit-');
  try {
    const write = (name: string, events: unknown[]) =>
      writeFileSync(path.join(t.dir, name), [JSON.stringify({ version: 2, width: 100, height: 30, timestamp: 1 }), ...events.map((e) => JSON.stringify(e))].join('\n') + '\n');
    // An absurd resize (an older recording kept the agent's window-change as sent) is not replayed.
    write('s1-0.cast', [[0.1, 'o', 'one\n'], [0.2, 'i', 'typed'], [0.24, 'r', '4294967295x5'], [0.25, 'r', '120x40'], [0.3, 'o', '\x1b[31mred\x1b[0m\r\n']]);
    write('s1-1.cast', [[0.05, 'o', 'two\n']]);
    let seq = 0;
    const ev = (type: string, body: Record<string, unknown>): AuditRow => {
      seq++;
      return { seq, ts: '', type, body: { type, session: 's1', ...body }, raw: '', hash: '' };
    };
    const events = [
      ev('session.start', {}),
      ev('command.decision', { channel: 0, command: 'echo one', decision: 'allow' }),
      ev('recording.sealed', { channel: 0, file: 's1-0.cast', size: 1, sha256: 'x' }),
      ev('command.result', { channel: 0, exit: 0 }),
      ev('command.decision', { channel: 2, command: 'rm -r /', decision: 'deny' }),
      ev('command.decision', { channel: 1, command: 'echo two', decision: 'allow' }),
      ev('recording.sealed', { channel: 1, file: 's1-1.cast', size: 1, sha256: 'x' }),
      ev('recording.sealed', { channel: 5, file: '../etc/passwd', size: 1, sha256: 'x' }),
      ev('session.end', {}),
    ];
    const p = buildPlayback(events, 's1', t.dir);
    assert.deepEqual(p.segments.map((s) => [s.file, s.offset, s.duration]), [['s1-0.cast', 0, 0.3], ['s1-1.cast', 0.8, 0.05]]);
    assert.equal(p.width, 100);
    assert.ok(!p.events.some((e) => e[1] === 'i'), 'input is not replayed');
    assert.deepEqual(p.events.filter((e) => e[1] === 'r'), [[0.25, 'r', '120x40']]);
    assert.deepEqual(p.events.filter((e) => e[1] === 'm'), [[0, 'm', 'echo one'], [0.8, 'm', 'echo two']]);
    assert.deepEqual(p.events.find((e) => e[2].startsWith('one')), [0.1, 'o', 'one\r\n']);
    assert.equal(p.banners.size, 2);
    const times = eventTimes(events, p);
    assert.equal(times.get(2), 0, 'first command');
    assert.equal(times.get(4), 0.31, 'its result, just after its output');
    assert.equal(times.get(5), 0.8, 'a denied command sits where the next recording begins');
    assert.equal(times.get(6), 0.8);
    assert.equal(stripAnsi('\x1b[31mred\x1b[0m\r\n\x1b]0;title\x07x'), 'red\nx');
  } finally {
    t.cleanup();
  }
});

test('session filters: zone-less times are UTC, bad values are a 400', () => {
  const f = parseSessionFilter(new URLSearchParams('from=2026-11-22T05:30&to=2026-11-22T06:00:00Z&denials=1&subject=agent'));
  assert.equal(f.from, '2026-11-22T05:30:00.000Z');
  assert.equal(f.to, '2026-11-22T06:00:00.000Z');
  assert.equal(f.denials, true);
  assert.equal(f.approvals, false);
  assert.equal(f.subject, 'agent');
  for (const bad of ['from=soon', 'limit=5000', 'approvals=yes', 'subject=' + 'x'.repeat(201), 'target=a%0Ab']) {
    assert.throws(() => parseSessionFilter(new URLSearchParams(bad)), (e: unknown) => e instanceof HttpError && e.status === 400, bad);
  }
});

test('timeline: results without a status, shell ends, and events written late or at a restart say so', () => {
  let seq = 0;
  const ev = (type: string, body: Record<string, unknown>): AuditRow => ({ seq: ++seq, ts: '', type, body: { type, session: 's1', ...body }, raw: '', hash: '' });
  const items = buildTimeline(
    [
      ev('command.result', { channel: 0, exit: 0 }),
      ev('command.result', { channel: 1, exit: null, signal: null, error: 'upstream channel closed without an exit status' }),
      ev('command.result', { channel: 2, exit: 0, late: true }),
      ev('command.result', { channel: 3, exit: null, signal: null, recovered: true, error: 'the gateway stopped first' }),
      ev('command.result', { channel: 4, exit: null, signal: 'KILL' }),
      ev('shell.end', { channel: 5, mode: 'guarded', exit: 126, reason: 'the recording cannot be written' }),
      ev('session.end', { reason: 'gateway restarted', recovered: true }),
    ],
    new Map(),
  );
  assert.deepEqual(
    items.map((i) => [i.kind, i.label, i.detail]),
    [
      ['result', 'exit 0', null],
      ['result', 'no exit status', 'upstream channel closed without an exit status'],
      ['result', 'exit 0', 'logged late (the audit log could not be written at the time)'],
      ['result', 'no exit status', 'the gateway stopped first · written when the gateway restarted'],
      ['result', 'signal KILL', null],
      ['end', 'shell ended, exit 126', 'the recording cannot be written'],
      ['end', 'session ended', 'gateway restarted · written when the gateway restarted'],
    ],
  );
});
