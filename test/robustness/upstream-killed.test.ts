/**
 * The upstream killed mid-stream: the agent gets an error and a non-zero exit, the command's
 * result and the session's end are in the audit log, the recording is sealed (its hash in the
 * log matches the file), and the gateway reconnects for the next command.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type GatewayHandle } from '../helpers/gateway.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { waitForEvents } from '../helpers/events.js';
import { assertSealedRecordings, collect, connectAgentFrom, descendants, execChannel, until } from './helpers.js';

let sshd: SshdHandle;
let gw: GatewayHandle;

before(async () => {
  sshd = await startSshd();
  gw = await startGateway({ sshd });
});
after(async () => {
  await gw?.stop();
  await sshd?.stop();
});

test('killing the upstream mid-stream fails the command cleanly and seals its recording', { timeout: 60_000 }, async () => {
  const agent = await connectAgentFrom(gw.sshPort, 'web-1', await gw.token());
  const ch = await execChannel(agent, 'yes');
  const result = collect(ch, 30_000);
  let seen = 0;
  ch.on('data', (d: Buffer) => (seen += d.length));
  assert.ok(await until(() => seen > 1_000_000, 20_000), 'output flows');

  // SIGKILL every per-connection sshd process (and the `yes` under it); the listener stays.
  const victims = descendants(sshd.proc.pid!);
  assert.ok(victims.length > 0, 'the upstream connection has sshd processes');
  for (const pid of victims) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }

  const r = await result;
  assert.notEqual(r.code, 0, 'non-zero exit status');
  assert.equal(r.code, 255, 'the gateway reports an upstream failure as 255, as ssh does');

  // The command's result and a sealed recording are in the log; the recording is whole.
  const ev = await waitForEvents(gw.dir, (e) => e.some((x) => x.type === 'command.result') && e.some((x) => x.type === 'recording.sealed'));
  const res = ev.find((x) => x.type === 'command.result')!;
  assert.equal(res.body.exit, null);
  assert.match(String(res.body.error), /upstream|closed/i);
  assert.equal(assertSealedRecordings(gw.dir), 1);

  // The next command on the same agent connection gets a fresh upstream connection.
  const again = await collect(await execChannel(agent, 'echo back'));
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, 'back\n');

  agent.end();
  const ended = await waitForEvents(gw.dir, (e) => e.some((x) => x.type === 'session.end'));
  const start = ended.find((x) => x.type === 'session.start')!;
  assert.equal(ended.find((x) => x.type === 'session.end')!.body.session, start.body.session);
});
