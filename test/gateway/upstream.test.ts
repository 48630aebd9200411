import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startSshd } from '../helpers/sshd.js';
import { startGateway } from '../helpers/gateway.js';
import { connectAgent, execOn } from '../helpers/ssh2-agent.js';

/** Established TCP connections whose local port is `port` (the sshd side), from /proc/net/tcp. */
function establishedTo(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => {
      const f = l.trim().split(/\s+/);
      return f[1]?.endsWith(':' + hex) && f[3] === '01';
    }).length;
}

test('upstream connections are pooled (at most maxChannels each) and closed when idle', async () => {
  const sshd = await startSshd();
  const gw = await startGateway({ sshd, topYaml: 'limits:\n  upstreamIdle: 1500ms\n  maxChannelsPerConnection: 20\n' });
  try {
    const agent = await connectAgent(gw.sshPort, 'web-1', await gw.token());
    // Three channels at once: one upstream connection.
    const three = [1, 2, 3].map(() => execOn(agent, 'sleep 1'));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(establishedTo(sshd.port), 1);
    await Promise.all(three);
    // Twelve at once with maxChannels 10 (the default): two upstream connections.
    const twelve = Array.from({ length: 12 }, () => execOn(agent, 'sleep 1'));
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(establishedTo(sshd.port), 2);
    const res = await Promise.all(twelve);
    assert.ok(res.every((r) => r.code === 0), JSON.stringify(res.filter((r) => r.code !== 0)));
    // Idle: closed after upstreamIdle.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(establishedTo(sshd.port), 0);
    // And a new command reconnects transparently.
    assert.equal((await execOn(agent, 'echo again')).stdout, 'again\n');
    agent.end();
  } finally {
    await gw.stop();
    await sshd.stop();
  }
});

test('a target that is down gives a clean error and exit 255, and the session is logged', async () => {
  const sshd = await startSshd();
  const gw = await startGateway({ sshd });
  try {
    await sshd.stop();
    const agent = await connectAgent(gw.sshPort, 'web-1', await gw.token());
    const r = await execOn(agent, 'echo hello');
    assert.equal(r.code, 255);
    assert.match(r.stderr, /^shellgate: target web-1 unreachable: .*ECONNREFUSED.*$/m);
    assert.equal(r.stdout, '');
    agent.end();
    await gw.waitForLog((l) => l.msg === 'upstream open failed');
  } finally {
    await gw.stop();
  }
});
