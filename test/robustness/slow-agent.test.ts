/**
 * A slow agent that stops reading: the gateway must not buffer the upstream's output (SSH
 * window back-pressure reaches the upstream), so its memory stays bounded; and the session
 * resumes when the agent reads again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from 'ssh2';
import { startGateway, type GatewayHandle } from '../helpers/gateway.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { connectAgentFrom, execChannel, rssMb, sleep, until } from './helpers.js';

let sshd: SshdHandle;
let gw: GatewayHandle;
let agent: Client | null = null;

before(async () => {
  sshd = await startSshd();
  gw = await startGateway({ sshd });
});
after(async () => {
  agent?.end();
  await gw?.stop();
  await sshd?.stop();
});

test('an agent that stops reading does not grow the gateway, and resumes', { timeout: 60_000 }, async () => {
  agent = await connectAgentFrom(gw.sshPort, 'web-1', await gw.token());
  const pid = gw.proc.pid!;
  // `yes` writes as fast as the pipes let it: gigabytes a minute if nothing pushed back.
  const ch = await execChannel(agent, 'yes');
  let received = 0;
  const onData = (d: Buffer) => (received += d.length);
  ch.on('data', onData);
  assert.ok(await until(() => received > 4_000_000, 20_000), 'output flows before the pause');

  ch.pause();
  await sleep(1000);
  const atPause = received;
  const rss1 = rssMb(pid);
  await sleep(4000);
  const rss2 = rssMb(pid);
  // Paused: only what was already in flight (the windows and stream buffers) may still arrive.
  assert.ok(received - atPause < 8_000_000, `agent paused but ${received - atPause} bytes arrived`);
  assert.ok(rss2 - rss1 < 32, `gateway RSS grew from ${rss1.toFixed(1)} to ${rss2.toFixed(1)} MB while the agent was not reading`);
  assert.ok(rss2 < 400, `gateway RSS ${rss2.toFixed(1)} MB`);

  const resumedFrom = received;
  ch.resume();
  assert.ok(await until(() => received - resumedFrom > 8_000_000, 20_000), 'output resumes when the agent reads again');
  const rss3 = rssMb(pid);
  assert.ok(rss3 < 400, `gateway RSS ${rss3.toFixed(1)} MB after resuming`);

  const closed = new Promise((r) => ch.once('close', r));
  ch.close();
  await closed;
  // The channel is not leaked: the same connection still runs commands.
  const ok = await until(async () => {
    const r = await new Promise<number | null>((resolve) => {
      agent!.exec('true', (err, c) => {
        if (err) return resolve(null);
        let code: number | null = null;
        c.on('exit', (x: number) => (code = x));
        c.on('close', () => resolve(code));
        c.resume();
      });
    });
    return r === 0;
  }, 10_000);
  assert.ok(ok, 'the connection still serves commands after the slow channel closed');
});
