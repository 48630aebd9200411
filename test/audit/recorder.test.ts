import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { Recorder, AuditError, InlineGate } from '../../src/audit/index.js';
import { asciinemaCat, asciinemaPlay, tmpDir } from './helpers.js';
import { fsyncFault } from '../helpers/fsync-fault.js';

function lines(file: string): unknown[] {
  const text = readFileSync(file, 'utf8');
  assert.ok(text.endsWith('\n'));
  return text.trimEnd().split('\n').map((l) => JSON.parse(l));
}

/** A 64 kB tmpfs for the test, unmounted and removed after it. */
function smallDisk(t: { after(fn: () => void): void }): string {
  const dir = tmpDir();
  const mnt = path.join(dir, 'mnt');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]);
  t.after(() => {
    execFileSync('umount', ['-l', mnt]);
    rmSync(dir, { recursive: true, force: true });
  });
  return mnt;
}

/** Record `chunk` until a write fails (at most 100 times); that write's error. */
function fillUp(rec: Recorder, chunk: string): NodeJS.ErrnoException | null {
  for (let i = 0; i < 100; i++) {
    try {
      rec.output(chunk);
    } catch (err) {
      return err as NodeJS.ErrnoException;
    }
  }
  return null;
}

test('asciicast v2: header, o/i/r/m events, valid JSON lines after every write, plays in asciinema', async (t) => {
  const dir = tmpDir(t);
  const rec = await Recorder.open({ dir: path.join(dir, 'recordings'), session: 'sess-01', channel: 0, width: 100, height: 30, title: 'web-1', env: { TERM: 'xterm-256color', SHELL: '/bin/bash' }, recordInput: true });
  assert.equal(rec.file, path.join(dir, 'recordings', 'sess-01-0.cast'));
  assert.equal(statSync(rec.file).mode & 0o777, 0o600);
  const header = lines(rec.file)[0] as Record<string, unknown>;
  assert.deepEqual(Object.keys(header), ['version', 'width', 'height', 'timestamp', 'title', 'env']);
  assert.equal(header.version, 2);
  assert.equal(header.width, 100);
  assert.ok(Math.abs((header.timestamp as number) - Date.now() / 1000) < 5);
  rec.output('$ ');
  assert.equal(lines(rec.file).length, 2);
  rec.input(Buffer.from('ls\r'));
  rec.output(Buffer.from('file-a  file-b\r\n'));
  rec.resize(120, 40);
  rec.marker('command: ls');
  const events = lines(rec.file).slice(1) as [number, string, string][];
  assert.deepEqual(events.map((e) => [e[1], e[2]]), [
    ['o', '$ '],
    ['i', 'ls\r'],
    ['o', 'file-a  file-b\r\n'],
    ['r', '120x40'],
    ['m', 'command: ls'],
  ]);
  for (let i = 1; i < events.length; i++) assert.ok(events[i]![0] >= events[i - 1]![0], 'times never go back');
  const sealed = await rec.seal();
  const data = readFileSync(rec.file);
  assert.deepEqual(sealed, { file: 'sess-01-0.cast', size: data.length, sha256: createHash('sha256').update(data).digest('hex') });
  assert.deepEqual(await rec.seal(), sealed, 'seal is idempotent');
  rec.output('after seal'); // ignored: a sealed file never changes
  assert.equal(readFileSync(rec.file).length, sealed.size);
  const played = asciinemaCat(rec.file);
  assert.equal(played.status, 0, played.stderr);
  assert.ok(played.stdout.includes('file-a  file-b'));
  const player = asciinemaPlay(rec.file);
  assert.equal(player.status, 0, player.stderr);
  assert.ok(player.stdout.includes('file-a  file-b'));
});

test('a UTF-8 character split across chunks is never broken; input off by default', async (t) => {
  const dir = tmpDir(t);
  const rec = await Recorder.open({ dir, session: 's2', channel: 'shell', width: 80, height: 24, recordInput: false });
  const text = 'héllo → 世界 🎉 done';
  const bytes = Buffer.from(text, 'utf8');
  // One byte at a time: every multi-byte sequence is split.
  for (let i = 0; i < bytes.length; i++) rec.output(bytes.subarray(i, i + 1));
  rec.input('secret input');
  rec.output(Buffer.from([0xe4, 0xb8])); // a truncated character at the end: flushed as U+FFFD on seal
  await rec.seal();
  const events = lines(rec.file).slice(1) as [number, string, string][];
  assert.ok(events.every((e) => e[1] === 'o'), 'no input events when recordInput is false');
  const joined = events.map((e) => e[2]).join('');
  assert.equal(joined, text + '\ufffd');
  assert.ok(!events.some((e) => e[2].includes('\ufffd') && e !== events[events.length - 1]));
  const played = asciinemaCat(rec.file);
  assert.equal(played.status, 0, played.stderr);
  assert.ok(played.stdout.includes('世界 🎉'));
});

test('file names are safe and never reused', async (t) => {
  const dir = tmpDir(t);
  await assert.rejects(Recorder.open({ dir, session: '../x', channel: 0, width: 80, height: 24, recordInput: false }), TypeError);
  await assert.rejects(Recorder.open({ dir, session: 'a/b', channel: 0, width: 80, height: 24, recordInput: false }), TypeError);
  await assert.rejects(Recorder.open({ dir, session: 'ok', channel: '1-2', width: 80, height: 24, recordInput: false }), TypeError);
  await assert.rejects(Recorder.open({ dir, session: 'ok', channel: 0, width: 0, height: 24, recordInput: false }), TypeError);
  const rec = await Recorder.open({ dir, session: 'ok', channel: 3, width: 80, height: 24, recordInput: false });
  await rec.seal();
  await assert.rejects(Recorder.open({ dir, session: 'ok', channel: 3, width: 80, height: 24, recordInput: false }), AuditError);
  assert.equal(asciinemaCat(rec.file).status, 0);
});

test('a full disk mid-line: the partial line is cut, the sealed hash matches the file', async (t) => {
  const mnt = smallDisk(t);
  const rec = await Recorder.open({ dir: mnt, session: 'full', channel: 0, width: 80, height: 24, recordInput: false });
  const chunk = 'x'.repeat(5000) + '\r\n';
  assert.equal(fillUp(rec, chunk)?.code, 'ENOSPC');
  const sealed = await rec.seal();
  const data = readFileSync(rec.file);
  assert.equal(sealed.size, data.length);
  assert.equal(sealed.sha256, createHash('sha256').update(data).digest('hex'));
  const events = lines(rec.file).slice(1) as [number, string, string][];
  assert.ok(events.length >= 1 && events.every((e) => e[2] === chunk), 'whole events only');
  assert.equal(asciinemaCat(rec.file).status, 0);
});

test('events of every size, two recordings interleaved: each file holds exactly its events, the seal hashes the file', async (t) => {
  // Lines are encoded into a buffer shared by all recordings (grown up to 1 MiB; longer lines get
  // their own): interleaved writes of small, growing, past-the-cap and multi-byte events must never
  // show one recording's bytes in another, nor a stale tail.
  const dir = tmpDir(t);
  const a = await Recorder.open({ dir, session: 'mix', channel: 0, width: 80, height: 24, recordInput: true });
  const b = await Recorder.open({ dir, session: 'mix', channel: 1, width: 80, height: 24, recordInput: false });
  const sizes = [1, 10, 70_000, 3, 300_000, 2_000_000, 5, 1_500_000, 8];
  const wantA: [string, string][] = [];
  const wantB: string[] = [];
  sizes.forEach((n, i) => {
    const text = (i % 2 ? 'é€\u{1F600}"\\\n\t\u0001' : 'ab\r\n').repeat(Math.ceil(n / 8)).slice(0, n);
    a.output(text);
    wantA.push(['o', text]);
    const other = String.fromCharCode(65 + i).repeat(n >> 1 || 1);
    b.output(Buffer.from(other));
    wantB.push(other);
    if (i % 3 === 0) {
      a.input(Buffer.from(`in-${i}`));
      wantA.push(['i', `in-${i}`]);
    }
  });
  for (const [rec, want] of [[a, wantA], [b, wantB.map((x) => ['o', x] as [string, string])]] as const) {
    const sealed = await rec.seal();
    const data = readFileSync(rec.file);
    assert.equal(sealed.size, data.length);
    assert.equal(sealed.sha256, createHash('sha256').update(data).digest('hex'));
    const events = (lines(rec.file).slice(1) as [number, string, string][]).map((e) => [e[1], e[2]]);
    assert.deepEqual(events, want);
  }
});

test('discard: a recording whose command never ran is closed and deleted; a sealed one is kept', async (t) => {
  const dir = path.join(tmpDir(t), 'recordings');
  const unused = await Recorder.open({ dir, session: 'sess-d', channel: 0, width: 80, height: 24, recordInput: false });
  assert.ok(existsSync(unused.file));
  await unused.discard();
  assert.ok(!existsSync(unused.file), 'the unused recording is gone');
  unused.output('late output is dropped, not written\n');
  await assert.rejects(unused.seal(), AuditError, 'a discarded recording cannot be sealed');
  await unused.discard(); // twice: no error

  const kept = await Recorder.open({ dir, session: 'sess-d', channel: 1, width: 80, height: 24, recordInput: false });
  kept.output('evidence\n');
  const sealed = await kept.seal();
  await kept.discard();
  assert.ok(existsSync(kept.file), 'a sealed recording is evidence: never deleted');
  assert.equal(statSync(kept.file).size, sealed.size);
});

test('syncAhead: the seal fsyncs only what was written after the early fsync, or nothing', async (t) => {
  const dir = tmpDir(t);
  // A gate that always lets the seal's fsync run in place, so its counter shows every fsync the seal makes.
  const gate = new InlineGate({ solo: () => true });
  const open = (channel: number) => Recorder.open({ dir, session: 'ahead', channel, width: 80, height: 24, recordInput: false, inline: gate });
  const check = async (rec: Recorder, fsyncs: number, why: string) => {
    const before = gate.counts.inline;
    const sealed = await rec.seal();
    assert.equal(gate.counts.inline - before, fsyncs, why);
    const data = readFileSync(rec.file);
    assert.equal(sealed.size, data.length);
    assert.equal(sealed.sha256, createHash('sha256').update(data).digest('hex'));
    assert.equal(asciinemaCat(rec.file).status, 0);
  };

  const plain = await open(0);
  plain.output('no early fsync\n');
  await check(plain, 1, 'without syncAhead the seal fsyncs');

  const quiet = await open(1);
  quiet.syncAhead();
  quiet.syncAhead(); // once only
  await check(quiet, 0, 'nothing written since the early fsync: nothing left to sync');

  const busy = await open(2);
  busy.syncAhead();
  busy.output('written after the early fsync\n');
  await check(busy, 1, 'output after the early fsync is synced by the seal');

  const gone = await open(3);
  gone.syncAhead();
  await gone.discard();
  assert.ok(!existsSync(gone.file), 'discarded while its early fsync ran: deleted all the same');

  const sealed = await open(4);
  await sealed.seal();
  sealed.syncAhead(); // after the seal: nothing (the descriptor is closed)
  assert.equal(statSync(sealed.file).size, readFileSync(sealed.file).length);
});

test('syncAhead then a write that fails on a full disk: the seal still fsyncs the cut file', async (t) => {
  const mnt = smallDisk(t);
  const gate = new InlineGate({ solo: () => true });
  const rec = await Recorder.open({ dir: mnt, session: 'ahead-full', channel: 0, width: 80, height: 24, recordInput: false, inline: gate });
  rec.syncAhead();
  assert.equal(fillUp(rec, 'y'.repeat(5000) + '\r\n')?.code, 'ENOSPC');
  const sealed = await rec.seal();
  assert.equal(gate.counts.inline, 1, 'the cut (a change after the early fsync) is synced');
  assert.equal(sealed.size, readFileSync(rec.file).length);
});

/**
 * One recording in a child process whose fsync fails where the test arms it (LD_PRELOAD):
 * `after` says what the child does once its early fsync is under way.
 */
function recordInChild(dir: string, env: NodeJS.ProcessEnv, after: 'seal' | 'write-then-seal' | 'discard'): { ok: boolean; code?: string; file: string; exists: boolean } {
  const script = `
    const { existsSync } = await import('node:fs');
    const { Recorder } = await import(process.env.SG_RECORDER_MODULE);
    const rec = await Recorder.open({ dir: process.env.SG_DIR, session: 'eio', channel: 0, width: 80, height: 24, recordInput: false });
    rec.output('before the early fsync\\n');
    rec.syncAhead();
    let result;
    try {
      if (process.env.SG_AFTER === 'discard') await rec.discard();
      else {
        if (process.env.SG_AFTER === 'write-then-seal') rec.output('after the early fsync\\n');
        await rec.seal();
      }
      result = { ok: true };
    } catch (err) {
      result = { ok: false, code: err.code };
    }
    console.log(JSON.stringify({ ...result, file: rec.file, exists: existsSync(rec.file) }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, ...env, SG_RECORDER_MODULE: new URL('../../src/audit/index.js', import.meta.url).href, SG_DIR: dir, SG_AFTER: after },
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { ok: boolean; code?: string; file: string; exists: boolean };
}

test('an early fsync that fails (EIO) fails the seal, though the next fsync would pass', async (t) => {
  const fault = fsyncFault();
  t.after(() => fault.cleanup());
  const base = tmpDir(t);

  // Control: the library loaded, nothing armed.
  const calm = recordInChild(path.join(base, 'calm'), fault.env, 'write-then-seal');
  assert.deepEqual([calm.ok, calm.exists], [true, true]);
  assert.deepEqual(fault.fired(), []);

  for (const after of ['seal', 'write-then-seal'] as const) {
    const dir = path.join(base, after);
    fault.arm(dir, 1);
    const r = recordInChild(dir, fault.env, after);
    assert.equal(fault.pending(), 0, `${after}: the fault fired`);
    assert.equal(fault.fired().at(-1), r.file, `${after}: on the recording`);
    // Linux may report the fsync after a failed one clean though the data never reached the
    // disk: a seal that trusted it would vouch for a file it cannot vouch for.
    assert.deepEqual([r.ok, r.code], [false, 'EIO'], `${after}: the seal fails with the early fsync's error`);
    assert.ok(r.exists, `${after}: the file is kept (evidence of what ran)`);
  }

  const dir = path.join(base, 'discard');
  fault.arm(dir, 1);
  const gone = recordInChild(dir, fault.env, 'discard');
  assert.equal(fault.fired().length, 3);
  assert.deepEqual([gone.ok, gone.exists], [true, false], 'discarded after a failed early fsync: deleted, no error');
});
