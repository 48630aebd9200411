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
import { startGateway, type GatewayHandle } from '../helpers/gateway.js';
import { readEvents, waitForEvents } from '../helpers/events.js';
import { cliPath } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';
import { collect, connectAgentFrom, execChannel } from './helpers.js';

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
    gw = await startGateway({ dir: mnt });
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
