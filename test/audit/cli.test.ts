import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { cliPath } from '../helpers/paths.js';
import { buildScenario } from './scenario.js';
import { newStore, openLog, tmpDir } from './helpers.js';

function cli(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [cliPath, ...args], { cwd, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const CONFIG = 'store: data/shellgate.db\nrecordings: recordings\nidentity:\n  devIssuer: true\naudit:\n  witness: data/witness.jsonl\n';

test('audit verify / export / pubkey, sessions and replay through bin/shellgate.js', async (t) => {
  const s = await buildScenario(t);
  writeFileSync(path.join(s.dir, 'shellgate.yaml'), CONFIG);

  let r = cli(s.dir, 'audit', 'verify', '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { ok: true, events: 18, checkpoints: 3, recordings: 1, problems: [] });
  r = cli(s.dir, 'audit', 'verify', '--db', 'data/shellgate.db', '--recordings', 'recordings', '--witness', 'data/witness.jsonl');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^audit OK: 18 events, 3 signed checkpoints, 1 recordings/);

  r = cli(s.dir, 'audit', 'pubkey', '--config', 'shellgate.yaml');
  assert.equal(r.code, 0, r.stderr);
  const jwk = JSON.parse(r.stdout);
  assert.deepEqual([jwk.kty, jwk.crv, jwk.x, jwk.d], ['OKP', 'Ed25519', s.publicKey.x, undefined]);

  r = cli(s.dir, 'audit', 'export', '--config', 'shellgate.yaml', '--jsonl');
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  const bodies = (s.db.prepare('SELECT body FROM audit_events ORDER BY seq').all() as { body: string }[]).map((x) => x.body);
  assert.deepEqual(lines, bodies);
  r = cli(s.dir, 'audit', 'export', '--db', 'data/shellgate.db');
  assert.deepEqual(JSON.parse(r.stdout).map((b: { seq: number }) => b.seq), Array.from({ length: 18 }, (_, i) => i + 1));

  r = cli(s.dir, 'sessions', '--json');
  assert.equal(r.code, 0, r.stderr);
  const sessions = JSON.parse(r.stdout);
  assert.equal(sessions.length, 1);
  assert.deepEqual(
    { id: sessions[0].id, subject: sessions[0].subject, target: sessions[0].target, commands: sessions[0].commands, denials: sessions[0].denials, approvals: sessions[0].approvals, recordings: sessions[0].recordings },
    { id: 'sess', subject: 'agent-1', target: 'web-1', commands: 12, denials: 3, approvals: 0, recordings: ['sess-0.cast'] },
  );
  assert.ok(sessions[0].start < sessions[0].end);
  r = cli(s.dir, 'sessions', '--db', 'data/shellgate.db');
  assert.match(r.stdout, /^SESSION\s+SUBJECT\s+TARGET/);
  assert.match(r.stdout, /sess\s+agent-1\s+web-1/);

  r = cli(s.dir, 'replay', 'sess', '--speed', '0');
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.startsWith('$ echo 0\r\n0\r\n') && r.stdout.includes('$ echo 11\r\n11\r\n'));
  r = cli(s.dir, 'replay', 'recordings/sess-0.cast', '--speed', '1000');
  assert.ok(r.stdout.includes('$ echo 11'));
  assert.equal(cli(s.dir, 'replay', 'nosuch', '--speed', '0').code, 1);
  assert.equal(cli(s.dir, 'replay', 'sess', '--speed', 'fast').code, 2);
  assert.equal(cli(s.dir, 'audit', 'verify', '--bogus').code, 2);

  // Tampered: exit 1, the first failing seq on stderr, the spec's JSON shape.
  s.db.prepare("UPDATE audit_events SET body = replace(body, 'echo 5', 'echo 6') WHERE seq = 8").run();
  r = cli(s.dir, 'audit', 'verify');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^audit FAILED at seq 8: hash does not match/);
  r = cli(s.dir, 'audit', 'verify', '--config', 'shellgate.yaml', '--json');
  assert.equal(r.code, 1);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(j), ['ok', 'events', 'checkpoints', 'recordings', 'problems']);
  assert.deepEqual(j.problems[0], { seq: 8, file: null, reason: 'hash does not match prev_hash and body: the event was altered' });
});

test('audit verify --db: the default config applies when it is that store\'s (recordings checked); a missing store fails in --json too', async (t) => {
  const s = await buildScenario(t);
  writeFileSync(path.join(s.dir, 'shellgate.yaml'), CONFIG);
  const cast = path.join(s.dir, 'recordings', 'sess-0.cast');
  appendFileSync(cast, '[99.0,"o","appended later"]\n');

  // Same store as ./shellgate.yaml's: its recordings folder is checked.
  let r = cli(s.dir, 'audit', 'verify', '--db', 'data/shellgate.db');
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /^audit FAILED at .*sess-0\.cast/);
  r = cli(s.dir, 'audit', 'verify', '--db', path.join(s.dir, 'data', '..', 'data', 'shellgate.db'), '--json');
  assert.equal(r.code, 1);
  assert.equal(JSON.parse(r.stdout).problems[0].file, 'sess-0.cast');

  // Another store (a copy): the config is not about it, so its recordings are not assumed.
  const elsewhere = path.join(s.dir, 'copy');
  mkdirSync(elsewhere);
  s.db.pragma('wal_checkpoint(TRUNCATE)');
  copyFileSync(s.dbFile, path.join(elsewhere, 'shellgate.db'));
  r = cli(s.dir, 'audit', 'verify', '--db', 'copy/shellgate.db', '--pubkey', 'copy.jwk');
  assert.equal(r.code, 1, 'no key file: fails closed');
  writeFileSync(path.join(s.dir, 'copy.jwk'), cli(s.dir, 'audit', 'pubkey', '--data-dir', 'data').stdout);
  r = cli(s.dir, 'audit', 'verify', '--db', 'copy/shellgate.db', '--pubkey', 'copy.jwk');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /recordings not checked: no folder given/);

  // No store at all: exit 1, and with --json the spec's shape on stdout.
  r = cli(s.dir, 'audit', 'verify', '--db', 'gone.db', '--json');
  assert.equal(r.code, 1);
  const j = JSON.parse(r.stdout);
  assert.deepEqual([j.ok, j.events, j.problems.length], [false, 0, 1]);
  assert.match(j.problems[0].reason, /no store/);
  assert.equal(cli(s.dir, 'audit', 'verify', '--db', 'gone.db').code, 1);
});

test('audit verify elsewhere: without the public key it fails closed; --pubkey makes it pass', async (t) => {
  const s = await buildScenario(t);
  const other = tmpDir(t);
  mkdirSync(path.join(other, 'copy'));
  s.db.pragma('wal_checkpoint(TRUNCATE)');
  copyFileSync(s.dbFile, path.join(other, 'copy', 'audit.db'));
  let r = cli(other, 'audit', 'verify', '--db', 'copy/audit.db', '--json');
  assert.equal(r.code, 1);
  assert.match(JSON.parse(r.stdout).problems[0].reason, /no public key/);
  writeFileSync(path.join(other, 'pub.jwk'), cli(s.dir, 'audit', 'pubkey', '--data-dir', 'data').stdout);
  r = cli(other, 'audit', 'verify', '--db', 'copy/audit.db', '--pubkey', 'pub.jwk');
  assert.equal(r.code, 0, r.stderr);
  r = cli(other, 'audit', 'verify', '--db', 'copy/nothing.db');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no store at/);
});

test('shellgate sessions --limit N: the newest N, oldest first; a bad N is a usage error', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  const log = await openLog(db, dir);
  for (const id of ['a', 'b', 'c']) {
    await log.append({ type: 'session.start', session: id, subject: `bot-${id}`, target: 'web-1' });
    await log.append({ type: 'command.decision', session: id, decision: 'allow', command: 'ls' });
  }
  await log.append({ type: 'session.end', session: 'a', reason: 'client closed' });
  await log.close();
  db.close();
  const ids = (r: { code: number | null; stdout: string; stderr: string }) => {
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { id: string }[]).map((s) => s.id);
  };
  assert.deepEqual(ids(cli(dir, 'sessions', '--db', 'data/shellgate.db', '--json')), ['a', 'b', 'c']);
  assert.deepEqual(ids(cli(dir, 'sessions', '--db', 'data/shellgate.db', '--json', '--limit', '2')), ['b', 'c']);
  assert.deepEqual(ids(cli(dir, 'sessions', '--db', 'data/shellgate.db', '--json', '--limit', '9')), ['a', 'b', 'c']);
  // The same summaries either way.
  const all = JSON.parse(cli(dir, 'sessions', '--db', 'data/shellgate.db', '--json').stdout) as unknown[];
  assert.deepEqual(JSON.parse(cli(dir, 'sessions', '--db', 'data/shellgate.db', '--json', '--limit', '3').stdout), all);
  const table = cli(dir, 'sessions', '--db', 'data/shellgate.db', '--limit', '1');
  assert.match(table.stdout, /^SESSION\s+SUBJECT/);
  assert.match(table.stdout, /\nc\s+bot-c\s+web-1/);
  assert.doesNotMatch(table.stdout, /bot-b/);
  // A store the gateway has not opened since the session index came: the read-only CLI does not
  // build the index, and gives the same answer from one pass over the log.
  const rw = new Database(path.join(dir, 'data', 'shellgate.db'));
  rw.exec('DROP INDEX audit_events_session');
  rw.close();
  assert.deepEqual(ids(cli(dir, 'sessions', '--db', 'data/shellgate.db', '--json', '--limit', '2')), ['b', 'c']);
  assert.deepEqual(JSON.parse(cli(dir, 'sessions', '--db', 'data/shellgate.db', '--json', '--limit', '3').stdout), all);
  const ro = new Database(path.join(dir, 'data', 'shellgate.db'), { readonly: true });
  assert.equal(ro.prepare("SELECT 1 FROM sqlite_master WHERE name = 'audit_events_session'").get(), undefined);
  ro.close();
  for (const bad of ['0', '-1', 'x', '1.5', '']) {
    const r = cli(dir, 'sessions', '--db', 'data/shellgate.db', `--limit=${bad}`);
    assert.equal(r.code, 2, `--limit ${JSON.stringify(bad)}: ${r.stderr}`);
    assert.match(r.stderr, /--limit must be a whole number/);
  }
});

test('a reader that goes away (`| true`) ends the output quietly: no stack trace, exit 0', async (t) => {
  const s = await buildScenario(t);
  for (const args of [['sessions', '--db', 'data/shellgate.db'], ['sessions', '--db', 'data/shellgate.db', '--json'], ['audit', 'verify', '--db', 'data/shellgate.db', '--json']]) {
    // `true` exits without reading: by the time node writes, the pipe has no reader (EPIPE).
    const q = (a: string) => "'" + a.replace(/'/g, "'\\''") + "'";
    const r = spawnSync('/bin/bash', ['-c', `${q(process.execPath)} ${q(cliPath)} ${args.map(q).join(' ')} | true; echo "status=\${PIPESTATUS[0]}" >&2`], { cwd: s.dir, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.stderr, 'status=0\n', `${args.join(' ')}: ${r.stderr}`);
  }
});
