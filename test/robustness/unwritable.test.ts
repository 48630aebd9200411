/**
 * The recordings folder or the store becomes unwritable: new commands are refused with a clear
 * message, nothing is half-written (no partial recording, the audit chain still verifies),
 * and the gateway recovers once writing works again. Tests run as root, so permissions do not
 * stop them: the recordings folder is replaced by a file, and the store lives on a small tmpfs
 * that is filled up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { startGateway, type GatewayHandle, type GatewayOptions } from '../helpers/gateway.js';
import { startSshd } from '../helpers/sshd.js';
import { readEvents, waitForEvents } from '../helpers/events.js';
import { cliPath } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';
import { assertSealedRecordings, collect, connectAgentFrom, execChannel, sleep, until } from './helpers.js';
import { PROMPT, Term } from '../guarded/term.js';

async function run(port: number, token: string, command: string) {
  const c = await connectAgentFrom(port, 'local', token);
  try {
    return await collect(await execChannel(c, command));
  } finally {
    c.end();
  }
}

function verify(configFile: string, env: NodeJS.ProcessEnv): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [cliPath, 'audit', 'verify', '--config', configFile, '--json'], { env, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** Fill the (24 MB tmpfs) file system holding `filler` to the last block. */
function fillUp(filler: string): void {
  const fd = openSync(filler, 'w');
  const block = Buffer.alloc(1 << 16, 0x61);
  try {
    for (let i = 0; i < 1000; i++) writeSync(fd, block);
    assert.fail('the 24 MB tmpfs never filled up');
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  }
  for (let size = 4096; size >= 1; size >>= 1) {
    try {
      for (let i = 0; i < 64; i++) writeSync(fd, Buffer.alloc(size, 0x61));
    } catch {
      /* smaller pieces next */
    }
  }
  closeSync(fd);
}

/**
 * A gateway whose folder is a small (24 MB) tmpfs: `prepare` runs on the mounted folder before
 * the start (`outside` is a folder beside it, on the normal disk), then `body`; unmounted after.
 */
async function onSmallDisk(
  prepare: (mnt: string, outside: string) => void,
  body: (gw: GatewayHandle, filler: string, outside: string) => Promise<void>,
  opts: Omit<GatewayOptions, 'dir'> = {},
): Promise<void> {
  const t = tempDir('shellgate-full-');
  const mnt = path.join(t.dir, 'mnt');
  const outside = path.join(t.dir, 'outside');
  mkdirSync(mnt);
  mkdirSync(outside, { mode: 0o700 });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mnt]);
  const filler = path.join(mnt, 'filler');
  let gw: GatewayHandle | null = null;
  try {
    prepare(mnt, outside);
    gw = await startGateway({ ...opts, dir: mnt });
    await body(gw, filler, outside);
  } finally {
    await gw?.stop();
    if (existsSync(filler)) rmSync(filler, { force: true });
    execFileSync('umount', ['-l', mnt]);
    t.cleanup();
  }
}

test('recordings folder replaced by a file: commands refused clearly, then recovered', { timeout: 60_000 }, async () => {
  const gw = await startGateway();
  try {
    const token = await gw.token();
    const rec = path.join(gw.dir, 'recordings');
    assert.equal((await run(gw.sshPort, token, 'echo one')).stdout, 'one\n');

    renameSync(rec, rec + '.away');
    writeFileSync(rec, 'not a folder\n');
    const r = await run(gw.sshPort, token, 'echo two');
    assert.equal(r.code, 126);
    assert.equal(r.stdout, '', 'the command did not run');
    assert.match(r.stderr, /^shellgate: the recording cannot be written: command refused\n$/);
    assert.deepEqual(readdirSync(rec + '.away').length, 1, 'no recording was started elsewhere');

    // The log says the command did not run.
    const ev = await waitForEvents(gw.dir, (e) => e.filter((x) => x.type === 'command.result').length === 2);
    const refused = ev.filter((x) => x.type === 'command.result').at(-1)!;
    assert.equal(refused.body.exit, 126);
    assert.match(String(refused.body.error), /recording/);

    unlinkSync(rec);
    renameSync(rec + '.away', rec);
    const again = await run(gw.sshPort, token, 'echo three');
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, 'three\n');
    await waitForEvents(gw.dir, (e) => e.filter((x) => x.type === 'recording.sealed').length === 2);
    const v = verify(gw.configFile, gw.env);
    assert.equal(v.status, 0, v.out);
  } finally {
    await gw.stop();
  }
});

test('store and recordings on a full disk: commands refused clearly, nothing half-written, recovered', { timeout: 90_000 }, async () => {
  await onSmallDisk(() => undefined, async (gw, filler) => {
    const mnt = gw.dir;
    const token = await gw.token();
    assert.equal((await run(gw.sshPort, token, 'echo before')).stdout, 'before\n');
    const eventsBefore = readEvents(gw.dir).length;
    const castsBefore = readdirSync(path.join(mnt, 'recordings')).sort();

    fillUp(filler);

    // Several commands while full: each is refused with a one-line reason and does not run.
    for (const cmd of ['echo during-1', 'echo during-2', 'sh -c "echo during-3"']) {
      const r = await run(gw.sshPort, token, cmd);
      assert.equal(r.code, 126, `${cmd}: ${r.stderr}`);
      assert.equal(r.stdout, '', 'the refused command did not run');
      assert.match(r.stderr, /^shellgate: the (audit log|recording) cannot be written: command refused\n$/);
    }
    // No partial recording appeared.
    const castsDuring = readdirSync(path.join(mnt, 'recordings')).sort();
    for (const f of castsDuring) assert.ok(castsBefore.includes(f), `partial recording left behind: ${f}`);

    // Space returns: the gateway recovers without a restart.
    unlinkSync(filler);
    const after = await run(gw.sshPort, token, 'echo after');
    assert.equal(after.code, 0, after.stderr);
    assert.equal(after.stdout, 'after\n');
    const ev = await waitForEvents(gw.dir, (e) => e.some((x) => x.type === 'command.result' && x.seq > eventsBefore && x.body.exit === 0));
    // Nothing in the log claims a refused command ran.
    for (const e of ev.filter((x) => x.type === 'command.result' && x.seq > eventsBefore)) {
      if (e.body.exit === 0) continue;
      assert.equal(e.body.exit, 126);
    }
    const v = verify(gw.configFile, gw.env);
    assert.equal(v.status, 0, v.out);
  });
});

test('store full, recordings fine: an allowed command is refused, and its recording (opened alongside the decision) is deleted', { timeout: 90_000 }, async () => {
  // Only the store is on the small file system: the recordings folder points outside it.
  await onSmallDisk((mnt, outside) => symlinkSync(outside, path.join(mnt, 'recordings')), async (gw, filler, outside) => {
    // One connection throughout: its session.start is durable before the disk fills, so the
    // failing write is the command's decision.
    const agent = await connectAgentFrom(gw.sshPort, 'local', await gw.token());
    agent.on('error', () => undefined);
    assert.equal((await collect(await execChannel(agent, 'echo before'))).stdout, 'before\n');
    const before = readdirSync(outside).sort();
    assert.equal(before.length, 1);

    fillUp(filler);
    const r = await collect(await execChannel(agent, 'echo during'));
    assert.equal(r.code, 126, r.stderr);
    assert.equal(r.stdout, '', 'the command did not run');
    assert.match(r.stderr, /^shellgate: the audit log cannot be written: command refused\n$/);
    assert.deepEqual(readdirSync(outside).sort(), before, 'no recording left for the command that did not run');

    unlinkSync(filler);
    const after = await collect(await execChannel(agent, 'echo after'));
    assert.equal(after.code, 0, after.stderr);
    assert.equal(after.stdout, 'after\n');
    agent.end();
    await waitForEvents(gw.dir, (e) => e.filter((x) => x.type === 'recording.sealed').length === 2);
    assert.equal(readdirSync(outside).length, 2);
    const v = verify(gw.configFile, gw.env);
    assert.equal(v.status, 0, v.out);
  });
});

/** The recordings alone on the small file system: the store (data/) points outside it. */
const recordingsOnly = (mnt: string, outside: string) => symlinkSync(outside, path.join(mnt, 'data'));

/** The command.result of channel `channel` once logged. */
async function resultOf(dir: string, channel: number) {
  const ev = await waitForEvents(dir, (e) => e.some((x) => x.type === 'command.result' && x.body.channel === channel));
  return ev.find((x) => x.type === 'command.result' && x.body.channel === channel)!;
}


for (const target of ['local', 'web-1'] as const) {
  test(`recordings fill up mid-command (${target}): the command is stopped (126, one line), the log says why, the connection and the gateway carry on`, { timeout: 90_000 }, async () => {
    const sshd = target === 'web-1' ? await startSshd() : undefined;
    try {
      await onSmallDisk(
        recordingsOnly,
        async (gw, filler) => {
          const agent = await connectAgentFrom(gw.sshPort, target, await gw.token());
          let dropped = false;
          agent.on('error', () => (dropped = true));
          // Lines of 3 kB every 50 ms for 20 s: each needs a new page of the file system once it is full.
          const ch = await execChannel(agent, `for i in ${Array.from({ length: 400 }, (_, i) => i).join(' ')}; do printf "%3000s\\n" x; sleep 0.05; done`);
          const result = collect(ch, 60_000);
          let seen = 0;
          ch.on('data', (d: Buffer) => (seen += d.length));
          assert.ok(await until(() => seen > 6000, 20_000), 'output flows');
          fillUp(filler);
          const r = await result;
          assert.equal(r.code, 126, r.stderr);
          assert.match(r.stderr, /shellgate: the recording cannot be written: command stopped\n$/);
          assert.ok(r.bytes < 400 * 3001, 'stopped before the end');
          const res = await resultOf(gw.dir, 0);
          assert.match(String(res.body.error), /^the recording cannot be written \(ENOSPC\): command stopped/);

          unlinkSync(filler);
          const after = await collect(await execChannel(agent, 'echo after'));
          assert.deepEqual([after.code, after.stdout], [0, 'after\n'], after.stderr);
          assert.equal(dropped, false, 'the agent connection was not dropped');
          agent.end();
          await waitForEvents(gw.dir, (e) => e.some((x) => x.type === 'session.end'));
          assert.equal(assertSealedRecordings(gw.dir), 2);
          const v = verify(gw.configFile, gw.env);
          assert.equal(v.status, 0, v.out);
        },
        { sshd },
      );
    } finally {
      await sshd?.stop();
    }
  });
}

test('recorded input on a full disk: the command is stopped and told why, the connection carries on (it used to close without an exit status)', { timeout: 90_000 }, async () => {
  await onSmallDisk(
    recordingsOnly,
    async (gw, filler) => {
      const agent = await connectAgentFrom(gw.sshPort, 'local', await gw.token());
      let dropped = false;
      agent.on('error', () => (dropped = true));
      const ch = await execChannel(agent, 'cat');
      const result = collect(ch, 30_000);
      let echoed = '';
      ch.on('data', (d: Buffer) => (echoed += d.toString('utf8')));
      ch.write('one\n');
      assert.ok(await until(() => echoed === 'one\n', 10_000), 'input reaches the program and its echo comes back');
      fillUp(filler);
      ch.write('y'.repeat(16_384) + '\n'); // needs new pages of the file system
      const r = await result;
      assert.equal(r.code, 126, r.stderr);
      assert.match(r.stderr, /shellgate: the recording cannot be written: command stopped\n$/);
      assert.match(String((await resultOf(gw.dir, 0)).body.error), /^the recording cannot be written \(ENOSPC\): command stopped/);

      unlinkSync(filler);
      const after = await collect(await execChannel(agent, 'echo after'));
      assert.deepEqual([after.code, after.stdout], [0, 'after\n'], after.stderr);
      assert.equal(dropped, false, 'the agent connection was not dropped');
      assert.equal(gw.proc.exitCode, null, 'the gateway runs on');
      agent.end();
      await waitForEvents(gw.dir, (e) => e.some((x) => x.type === 'session.end'));
      assert.equal(assertSealedRecordings(gw.dir), 2);
      const v = verify(gw.configFile, gw.env);
      assert.equal(v.status, 0, v.out);
    },
    { topYaml: '  recordInput: true\n' }, // inside the helper's audit: block
  );
});

test('guarded shell, recordings full mid-session: the shell ends, the agent is told why (126), the log closes it', { timeout: 90_000 }, async () => {
  const policy = 'version: 1\ndefault: deny\nunanalyzable: deny\nshell: guarded\nrules:\n  - id: inspection\n    decision: allow\n    match: [echo, printf]\n';
  await onSmallDisk(
    recordingsOnly,
    async (gw, filler) => {
      const term = new Term(gw, 'local', await gw.token());
      try {
        await term.waitFor(PROMPT, 15_000);
        assert.match(await term.run('echo before'), /before/);
        fillUp(filler);
        term.since().write('printf "%20000s\\n" x\r'); // needs new pages of the file system
        assert.match(await term.waitFor(/shellgate: the recording cannot be written: session closed/, 15_000), /session closed/);
        assert.equal(await Promise.race([term.exited, sleep(15_000).then(() => -1)]), 126);
      } finally {
        term.kill();
      }
      const ev = await waitForEvents(gw.dir, (e) => e.some((x) => x.type === 'shell.end'));
      assert.equal(ev.find((x) => x.type === 'shell.end')!.body.reason, 'the recording cannot be written');
      unlinkSync(filler);
      const r = await run(gw.sshPort, await gw.token(), 'echo after');
      assert.deepEqual([r.code, r.stdout], [0, 'after\n'], r.stderr);
      assert.equal(assertSealedRecordings(gw.dir), 2);
      const v = verify(gw.configFile, gw.env);
      assert.equal(v.status, 0, v.out);
    },
    { policy },
  );
});

test('store full when a command ends: its result is logged late, before the session ends, once space returns', { timeout: 90_000 }, async () => {
  // Only the store is on the small file system: the recordings folder points outside it.
  await onSmallDisk((mnt, outside) => symlinkSync(outside, path.join(mnt, 'recordings')), async (gw, filler) => {
    const agent = await connectAgentFrom(gw.sshPort, 'local', await gw.token());
    agent.on('error', () => undefined);
    assert.equal((await collect(await execChannel(agent, 'echo before'))).stdout, 'before\n');
    const ch = await execChannel(agent, 'sleep 2');
    const result = collect(ch, 30_000);
    await sleep(300); // its decision is durable: it is running
    fillUp(filler);
    const r = await result;
    assert.equal(r.code, 0, 'the command ran: the agent gets its own exit status');
    await gw.waitForLog((l) => l.msg === 'audit append failed after the command ran' && l.channel === 1, 10_000);
    assert.ok(!readEvents(gw.dir).some((x) => x.type === 'command.result' && x.body.channel === 1), 'not logged while the disk is full');

    unlinkSync(filler);
    agent.end();
    const ev = await waitForEvents(gw.dir, (e) => e.some((x) => x.type === 'session.end'));
    const late = ev.filter((x) => x.type === 'command.result' && x.body.channel === 1);
    assert.equal(late.length, 1, 'the result, once');
    assert.deepEqual([late[0]!.body.exit, late[0]!.body.late], [0, true]);
    assert.ok(late[0]!.seq < ev.find((x) => x.type === 'session.end')!.seq, 'before the session ends');
    assert.equal(ev.filter((x) => x.type === 'recording.sealed' && x.body.channel === 1).length, 1, 'and its recording, sealed');
    const v = verify(gw.configFile, gw.env);
    assert.equal(v.status, 0, v.out);
  });
});
