/**
 * SIGTERM: the gateway stops accepting at once, lets running commands finish (up to its
 * 10 s deadline, then ends them), writes a final audit checkpoint and exits 0.
 */
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startGateway, type GatewayHandle } from '../helpers/gateway.js';
import { readEvents } from '../helpers/events.js';
import { collect, connectAgentFrom, execChannel, until } from './helpers.js';

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

async function exited(gw: GatewayHandle): Promise<number | null> {
  if (gw.proc.exitCode !== null) return gw.proc.exitCode;
  return await new Promise((r) => gw.proc.once('exit', (c) => r(c)));
}

test('SIGTERM: stop accepting, let the running command finish, final checkpoint, exit 0', { timeout: 60_000 }, async () => {
  const gw = await startGateway();
  try {
    const agent = await connectAgentFrom(gw.sshPort, 'local', await gw.token());
    agent.on('error', () => undefined);
    const ch = await execChannel(agent, 'sleep 2; echo finished');
    const result = collect(ch);
    await gw.waitForLog((l) => l.msg === 'command allowed');
    const t0 = Date.now();
    gw.proc.kill('SIGTERM');
    assert.ok(await until(() => refused(gw.sshPort), 3000, 50), 'new connections are refused after SIGTERM');

    const r = await result;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'finished\n', 'the running command was allowed to finish');
    assert.equal(await exited(gw), 0);
    assert.ok(Date.now() - t0 < 9000, 'it did not wait for the deadline when nothing was running');

    const ev = readEvents(gw.dir);
    const lastResult = ev.findLastIndex((e) => e.type === 'command.result');
    assert.ok(lastResult >= 0, 'the command result was logged before exit');
    // The agent's session, still open at the signal, is ended by the gateway itself.
    const end = ev.findLastIndex((e) => e.type === 'session.end');
    assert.ok(end > lastResult, 'the session ends in the log, after its command');
    assert.equal(ev[end]!.body.reason, 'gateway shutting down');
    assert.equal(ev.at(-1)!.type, 'checkpoint', 'the log ends with a signed checkpoint');
    agent.end();
  } finally {
    await gw.stop();
  }
});

test('SIGTERM: commands still running or waiting for an approval at the deadline are ended, and the gateway exits 0', { timeout: 60_000 }, async () => {
  const gw = await startGateway();
  try {
    const agent = await connectAgentFrom(gw.sshPort, 'local', await gw.token());
    agent.on('error', () => undefined);
    const ch = await execChannel(agent, 'sleep 40');
    const result = collect(ch, 30_000);
    await gw.waitForLog((l) => l.msg === 'command allowed');
    // A second channel waits for a human (approvals time out after 20 s, after the deadline).
    const flag = path.join(gw.dir, 'approved-flag');
    const waiting = collect(await execChannel(agent, `touch ${flag}`), 30_000);
    await gw.waitForLog((l) => l.decision === 'approve');
    const t0 = Date.now();
    gw.proc.kill('SIGTERM');
    const r = await result;
    const w = await waiting;
    const code = await exited(gw);
    const took = Date.now() - t0;
    assert.equal(code, 0);
    assert.ok(took >= 9000 && took < 20_000, `ended at the 10 s deadline (took ${took} ms)`);
    assert.notEqual(r.code, 0, 'the cut-off command does not report success');
    assert.match(r.stderr, /shutting down/);
    assert.equal(w.code, 126, 'the command waiting for an approval is refused');
    assert.match(w.stderr, /shutting down/);
    assert.ok(!existsSync(flag), 'and it never ran');
    const ev = readEvents(gw.dir);
    const res = ev.filter((e) => e.type === 'command.result');
    assert.equal(res.length, 1, 'the cut-off command has its result logged; the unapproved one has none');
    assert.equal(ev.at(-1)!.type, 'checkpoint');
    agent.end();
  } finally {
    await gw.stop();
  }
});

test('a log reader that stopped reading: the gateway still serves, and SIGTERM still exits 0', { timeout: 90_000 }, async () => {
  const gw = await startGateway();
  try {
    const token = await gw.token();
    // From now on nobody reads the gateway's stdout: the pipe fills, as behind a stalled journald.
    gw.proc.stdout!.pause();
    const agent = await connectAgentFrom(gw.sshPort, 'local', token);
    agent.on('error', () => undefined);
    // About 1 MB of log lines (each decision's line holds its command line): more than the pipe holds.
    const arg = 'x'.repeat(10_000);
    for (let i = 0; i < 100; i++) {
      const r = await collect(await execChannel(agent, `echo ${arg}`), 10_000);
      assert.equal(r.code, 0, `command ${i}: ${r.stderr}`);
      assert.equal(r.bytes, arg.length + 1);
    }
    agent.end();
    gw.proc.kill('SIGTERM');
    const code = await Promise.race([exited(gw), new Promise<string>((r) => setTimeout(() => r('still running 30 s after SIGTERM'), 30_000))]);
    assert.equal(code, 0);
    // The audit log, not the operator's log, is the record: complete, ending with a checkpoint.
    const ev = readEvents(gw.dir);
    assert.equal(ev.filter((e) => e.type === 'command.result').length, 100);
    assert.equal(ev.at(-1)!.type, 'checkpoint');
  } finally {
    await gw.stop('SIGKILL');
  }
});
