/**
 * A disk that fails at fsync (EIO) after writes that succeeded: the case a full disk (see
 * unwritable.test.ts) does not cover. The gateway runs with an LD_PRELOAD library that fails
 * the fsync calls a test arms (test/helpers/fsync-fault.c).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import type { Client } from 'ssh2';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { launch, startGateway, type GatewayHandle } from '../helpers/gateway.js';
import { readEvents, waitForEvents } from '../helpers/events.js';
import { fsyncFault, type FsyncFault } from '../helpers/fsync-fault.js';
import { asciinemaCat } from '../audit/helpers.js';
import { cliPath } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';
import { collect, connectAgentFrom, execChannel } from './helpers.js';

function verify(gw: GatewayHandle): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [cliPath, 'audit', 'verify', '--config', gw.configFile, '--json'], { env: gw.env, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** A gateway running with the fault library, and one agent connection to its local target. */
async function gatewayWithFault(t: { after(fn: () => unknown): void }): Promise<{ fault: FsyncFault; gw: GatewayHandle; agent: Client }> {
  const fault = fsyncFault();
  t.after(() => fault.cleanup());
  const gw = await startGateway({ env: fault.env });
  t.after(() => gw.stop());
  const agent = await connectAgentFrom(gw.sshPort, 'local', await gw.token());
  agent.on('error', () => undefined);
  t.after(() => agent.end());
  return { fault, gw, agent };
}

test('the store fails to fsync a decision (EIO): the command is refused and does not run; the next one runs', { timeout: 90_000 }, async (t) => {
  const { fault, gw, agent } = await gatewayWithFault(t);
  assert.equal((await collect(await execChannel(agent, 'echo before'))).stdout, 'before\n');
  // Wait for the periodic checkpoint to cover the head: then the next commit is the decision's.
  await waitForEvents(gw.dir, (e) => e.at(-1)?.type === 'checkpoint', 15_000);

  fault.arm(path.join(gw.dir, 'data', 'shellgate.db'), 1);
  const marker = path.join(gw.dir, 'ran');
  const command = `sh -c "echo ran > ${marker}"`;
  const r = await collect(await execChannel(agent, command));
  assert.deepEqual(fault.fired().map((f) => path.basename(f)), ['shellgate.db-wal'], 'the decision\'s commit failed at its fsync');
  assert.equal(r.code, 126, r.stderr);
  assert.match(r.stderr, /^shellgate: the audit log cannot be written: command refused\n$/);
  assert.ok(!existsSync(marker), 'the command did not run');

  const after = await collect(await execChannel(agent, 'echo after'));
  assert.equal(after.code, 0, after.stderr);
  assert.equal(after.stdout, 'after\n');
  const ev = await waitForEvents(gw.dir, (e) => e.filter((x) => x.type === 'recording.sealed').length === 2);
  // The decision that failed is not in the log (it could not be written: that is why the
  // command was refused), nor anything claiming the command ran; the operator's log says so.
  assert.deepEqual(ev.filter((e) => e.body.command === command), []);
  assert.deepEqual(ev.map((e) => e.type).slice(-3), ['command.decision', 'recording.sealed', 'command.result']);
  assert.equal(ev.at(-1)!.body.exit, 0);
  const refusal = await gw.waitForLog((l) => l.msg === 'audit append failed: command refused');
  assert.match(String(refusal.err), /EIO|disk I\/O error/i);
  assert.equal(readdirSync(path.join(gw.dir, 'recordings')).length, 2, 'the refused command\'s recording was deleted');
  const v = verify(gw);
  assert.equal(v.status, 0, v.out);
});

test('a recording fails to fsync (EIO): the agent gets its output and exit status, the result says so, and a later start seals it', { timeout: 120_000 }, async (t) => {
  const fault = fsyncFault();
  t.after(() => fault.cleanup());
  const folder = tempDir('shellgate-eio-');
  t.after(() => folder.cleanup());
  let gw = await startGateway({ dir: folder.dir, env: fault.env });
  t.after(() => gw.stop());
  const recordings = path.join(folder.dir, 'recordings');

  fault.arm(recordings + '/', 1);
  const agent = await connectAgentFrom(gw.sshPort, 'local', await gw.token());
  agent.on('error', () => undefined);
  const r = await collect(await execChannel(agent, 'echo recorded'));
  agent.end();
  // The command ran before its recording could be sealed: its output and status are the agent's.
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'recorded\n');
  assert.equal(fault.fired().length, 1);
  const file = path.basename(fault.fired()[0]!);
  assert.match(file, /\.cast$/);

  const ev = await waitForEvents(gw.dir, (e) => e.some((x) => x.type === 'command.result'));
  const decision = ev.find((x) => x.type === 'command.decision' && x.body.command === 'echo recorded')!;
  const result = ev.find((x) => x.type === 'command.result' && x.body.session === decision.body.session && x.body.channel === decision.body.channel)!;
  assert.equal(result.body.exit, 0);
  assert.match(String(result.body.recordingError), /EIO/);
  assert.ok(!ev.some((x) => x.type === 'recording.sealed' && x.body.file === file), 'no seal is claimed for it');
  const logged = await gw.waitForLog((l) => l.msg === 'recording could not be sealed');
  assert.equal(logged.file, file);
  assert.ok(!gw.logs.some((l) => l.msg === 'audit append failed after the command ran'), 'the events were appended');
  await gw.stop();

  // Next start, the disk still failing: the file is not sealed, and the operator is told.
  fault.arm(recordings + '/', 1);
  gw = await launch(gw.dir, gw.configFile, gw.adminToken, gw.env);
  const left = await gw.waitForLog((l) => String(l.msg).startsWith('recording left unsealed'));
  assert.deepEqual([left.file, left.error], [file, 'EIO: fsync failed']);
  assert.ok(!readEvents(gw.dir).some((x) => x.type === 'recording.sealed' && x.body.file === file));
  await gw.stop();

  // The disk works again: the next start syncs it and seals it as recovered.
  gw = await launch(gw.dir, gw.configFile, gw.adminToken, gw.env);
  const sealed = readEvents(gw.dir).filter((x) => x.type === 'recording.sealed' && x.body.file === file);
  assert.equal(sealed.length, 1);
  assert.equal(sealed[0]!.body.recovered, true);
  assert.equal(fault.fired().length, 2, 'no further fault');
  const v = verify(gw);
  assert.equal(v.status, 0, v.out);
  assert.equal(JSON.parse(v.out.slice(0, v.out.lastIndexOf('}') + 1)).recordings, 1);
  const played = asciinemaCat(path.join(recordings, file));
  assert.equal(played.status, 0, played.stderr);
  assert.ok(played.stdout.includes('recorded'));
});

test('the store fails to fsync an approval request (EIO): refused, never approvable, and the log closes the command', { timeout: 90_000 }, async (t) => {
  const { fault, gw, agent } = await gatewayWithFault(t);
  const store = path.join(gw.dir, 'data', 'shellgate.db');
  const approvals = () => {
    const db = new Database(store, { readonly: true });
    try {
      return db.prepare('SELECT command, status FROM approval_requests ORDER BY requested_at').all() as { command: string; status: string }[];
    } finally {
      db.close();
    }
  };

  // The command's decision (approve) commits; then the request's row fails to commit (skip 1),
  // or its `approval.requested` event does (skip 2).
  for (const skip of [1, 2]) {
    await waitForEvents(gw.dir, (e) => e.at(-1)?.type === 'checkpoint', 15_000);
    const file = path.join(gw.dir, `touched-${skip}`);
    fault.arm(store, 1, skip);
    const r = await collect(await execChannel(agent, `touch ${file}`));
    assert.equal(fault.pending(), 0, `skip ${skip}: the fault fired`);
    assert.equal(r.code, 126, r.stderr);
    assert.match(r.stderr, /^shellgate: the approval request could not be recorded: command refused\n$/);
    assert.ok(!existsSync(file), 'nothing ran');
    const list = spawnSync(process.execPath, [cliPath, 'approvals', 'list', '--json', '--config', gw.configFile], { env: gw.env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(list.status, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout), [], 'nothing is pending');
    const rows = approvals().filter((a) => a.command === `touch ${file}`);
    // A row that could not be written is absent; one whose event could not be is denied.
    assert.deepEqual(rows.map((a) => a.status), skip === 1 ? [] : ['denied']);

    const ev = await waitForEvents(gw.dir, (e) => e.at(-1)?.type === 'command.result');
    const decision = ev.find((e) => e.type === 'command.decision' && e.body.command === `touch ${file}`)!;
    assert.equal(decision.body.decision, 'approve');
    const after = ev.filter((e) => e.seq > decision.seq);
    assert.deepEqual(after.map((e) => e.type), ['command.result'], 'no approval event claims a request');
    assert.equal(after[0]!.body.exit, 126);
    assert.equal(after[0]!.body.channel, decision.body.channel);
    assert.equal(after[0]!.body.error, 'the approval request could not be recorded: command not run');
  }
  const v = verify(gw);
  assert.equal(v.status, 0, v.out);
});
