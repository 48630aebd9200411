/**
 * 200 connections opened and dropped abruptly at every stage — before authentication, during
 * it, in the middle of a command, and while waiting for an approval — leave nothing behind:
 * no upstream connections, no file descriptors, no pending approvals.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import Database from 'better-sqlite3';
import path from 'node:path';
import { Client } from 'ssh2';
import { startGateway, type GatewayHandle } from '../helpers/gateway.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { collect, connectAgentFrom, descendants, establishedTo, execChannel, fdCount, sleep, until } from './helpers.js';

let sshd: SshdHandle;
let gw: GatewayHandle;

before(async () => {
  sshd = await startSshd(['MaxStartups 100:30:200', 'MaxSessions 20']);
  gw = await startGateway({ sshd, extraYaml: 'limits:\n  upstreamIdle: 1s\n' });
});
after(async () => {
  await gw?.stop();
  await sshd?.stop();
});

const PER_STAGE = 50;
const PARALLEL = 10;

async function inBatches(n: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

/** TCP only, or the banners exchanged, then the socket destroyed. */
function dropBeforeAuth(port: number, i: number): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const t = setTimeout(() => s.destroy(), 5000);
    s.on('error', () => undefined);
    s.once('close', () => {
      clearTimeout(t);
      resolve();
    });
    if (i % 2 === 0) s.once('connect', () => s.destroy());
    else
      s.once('data', () => {
        s.write('SSH-2.0-dropper\r\n');
        setTimeout(() => s.destroy(), 20);
      });
  });
}

/** Key exchange done, the token prompt received, never answered: the socket is destroyed. */
function dropDuringAuth(port: number): Promise<void> {
  return new Promise((resolve) => {
    const c = new Client();
    const t = setTimeout(() => c.destroy(), 10_000);
    c.on('error', () => undefined);
    c.once('close', () => {
      clearTimeout(t);
      resolve();
    });
    c.on('keyboard-interactive', () => c.destroy());
    c.connect({ host: '127.0.0.1', port, username: 'web-1', tryKeyboard: true, authHandler: ['keyboard-interactive'], readyTimeout: 20_000 });
  });
}

/** Authenticated, a command started (its first output seen, or the approval prompt), then destroyed. */
async function dropMidCommand(port: number, token: string, command: string, when: RegExp): Promise<void> {
  const c = await connectAgentFrom(port, 'web-1', token);
  c.on('error', () => undefined);
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  const ch = await execChannel(c, command);
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 10_000);
    const check = (d: Buffer) => {
      if (when.test(d.toString('utf8'))) {
        clearTimeout(t);
        resolve();
      }
    };
    ch.on('data', check);
    ch.stderr.on('data', check);
  });
  c.destroy();
  await closed;
}

function pendingApprovals(): { pending: number; total: number } {
  const db = new Database(path.join(gw.dir, 'data', 'shellgate.db'), { readonly: true });
  try {
    const row = db.prepare("SELECT sum(status = 'pending') AS pending, count(*) AS total FROM approval_requests").get() as { pending: number | null; total: number };
    return { pending: row.pending ?? 0, total: row.total };
  } finally {
    db.close();
  }
}

test('200 connections dropped abruptly at every stage leak nothing', { timeout: 120_000 }, async () => {
  const pid = gw.proc.pid!;
  const token = await gw.token();
  // Warm up (policy engine, masker, first upstream connection), then let the upstream idle out.
  const warm = await connectAgentFrom(gw.sshPort, 'web-1', token);
  assert.equal((await collect(await execChannel(warm, 'echo warm'))).code, 0);
  warm.end();
  assert.ok(await until(() => establishedTo(sshd.port) === 0, 10_000), 'warm-up upstream connection idles out');
  await sleep(500);
  const fdBefore = fdCount(pid);

  await inBatches(PER_STAGE, (i) => dropBeforeAuth(gw.sshPort, i));
  await inBatches(PER_STAGE, () => dropDuringAuth(gw.sshPort));
  await inBatches(PER_STAGE, () => dropMidCommand(gw.sshPort, token, 'echo started; sleep 3', /started/));
  await inBatches(PER_STAGE, () => dropMidCommand(gw.sshPort, token, 'touch /tmp/shellgate-robustness-never', /waiting for approval/));

  // Everything the drops opened must close: upstream connections (after the 1 s idle time,
  // once the `sleep 3` commands end upstream), sshd's per-connection processes, descriptors.
  const upstreamClosed = await until(() => establishedTo(sshd.port) === 0, 20_000, 200);
  assert.ok(upstreamClosed, `upstream connections still open: ${establishedTo(sshd.port)}`);
  assert.ok(await until(() => descendants(sshd.proc.pid!).length === 0, 10_000, 200), 'no sshd session processes left');
  const fdSettled = await until(() => fdCount(pid) <= fdBefore + 3, 15_000, 200);
  assert.ok(fdSettled, `gateway descriptors: ${fdBefore} before, ${fdCount(pid)} after`);

  const ap = pendingApprovals();
  assert.equal(ap.total, PER_STAGE, 'every approval-stage connection created a request');
  assert.ok(await until(() => pendingApprovals().pending === 0, 10_000), `pending approvals left: ${pendingApprovals().pending}`);

  // And the gateway still serves.
  const c = await connectAgentFrom(gw.sshPort, 'web-1', token);
  const r = await collect(await execChannel(c, 'echo alive'));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'alive\n');
  c.end();
});
