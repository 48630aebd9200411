/**
 * Malformed traffic: random bytes after the SSH banner, truncated and absurd packets, a 1 MB
 * keyboard-interactive answer, and 1,000 failed logins from one address (rate limited per
 * source while another address is still served). The gateway must drop the offenders, keep
 * its memory bounded and keep serving.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Client } from 'ssh2';
import { startGateway, type GatewayHandle } from '../helpers/gateway.js';
import { collect, connectAgentFrom, execChannel, rssMb, until } from './helpers.js';

let gw: GatewayHandle;
let rssStart = 0;

before(async () => {
  gw = await startGateway();
  // One normal command first, so the baseline includes the policy engine and masker.
  const c = await connectAgentFrom(gw.sshPort, 'local', await gw.token());
  assert.equal((await collect(await execChannel(c, 'true'))).code, 0);
  c.end();
  rssStart = rssMb(gw.proc.pid!);
});
after(async () => {
  await gw?.stop();
});

/** Send `payload` after the server's identification line; resolves with how the connection ended. */
function sendRaw(payload: Buffer, halfClose: boolean, timeoutMs = 15_000): Promise<{ closedByServer: boolean; ms: number }> {
  return new Promise((resolve) => {
    const s = connect(gw.sshPort, '127.0.0.1');
    const t0 = Date.now();
    let done = false;
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ closedByServer, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    s.on('error', () => finish(true));
    s.once('close', () => finish(true));
    s.once('data', () => {
      s.write(payload);
      if (halfClose) s.end();
    });
  });
}

async function serves(localAddress = '127.0.0.2'): Promise<boolean> {
  const c = await connectAgentFrom(gw.sshPort, 'local', await gw.token(), { localAddress });
  const r = await collect(await execChannel(c, 'echo still-here'));
  c.end();
  return r.code === 0 && r.stdout === 'still-here\n';
}

test('random bytes after the banner are dropped', { timeout: 60_000 }, async () => {
  for (let i = 0; i < 20; i++) {
    const r = await sendRaw(Buffer.concat([Buffer.from('SSH-2.0-fuzzer\r\n'), randomBytes(1024 + i * 1500)]), false);
    assert.ok(r.closedByServer, `connection ${i} with random bytes was not closed by the gateway`);
  }
  assert.ok(await serves());
});

test('truncated and absurd packets are dropped without big allocations', { timeout: 60_000 }, async () => {
  const ident = Buffer.from('SSH-2.0-fuzzer\r\n');
  // A packet announcing 1,000 bytes, only 10 sent, then EOF.
  const truncated = Buffer.alloc(14);
  truncated.writeUInt32BE(1000, 0);
  let r = await sendRaw(Buffer.concat([ident, truncated]), true);
  assert.ok(r.closedByServer, 'truncated packet + EOF closes the connection');
  // Half a length field, then EOF.
  r = await sendRaw(Buffer.concat([ident, Buffer.from([0, 0])]), true);
  assert.ok(r.closedByServer);
  // A packet announcing ~2 GB: must be refused on sight, not buffered.
  for (const len of [0x7fffffff, 0xffffffff, 0x01000000]) {
    const huge = Buffer.alloc(64);
    huge.writeUInt32BE(len, 0);
    r = await sendRaw(Buffer.concat([ident, huge]), false);
    assert.ok(r.closedByServer, `packet length ${len} closes the connection`);
    assert.ok(r.ms < 10_000);
  }
  assert.ok(rssMb(gw.proc.pid!) - rssStart < 100, 'no large allocation');
  assert.ok(await serves());
});

test('a 1 MB keyboard-interactive answer is refused and does not hurt the gateway', { timeout: 60_000 }, async () => {
  const huge = 'A'.repeat(1024 * 1024);
  const outcome = await new Promise<string>((resolve) => {
    const c = new Client();
    const timer = setTimeout(() => {
      c.destroy();
      resolve('timeout');
    }, 30_000);
    c.on('keyboard-interactive', (_n, _i, _l, prompts, finish) => finish(prompts.map(() => huge)));
    c.once('ready', () => {
      clearTimeout(timer);
      c.end();
      resolve('ready');
    });
    c.once('error', (err) => {
      clearTimeout(timer);
      c.destroy();
      resolve('error: ' + err.message);
    });
    // The gateway drops the connection on the oversized packet ("Bad packet length").
    c.once('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
    c.connect({ host: '127.0.0.1', port: gw.sshPort, username: 'local', tryKeyboard: true, authHandler: ['keyboard-interactive'], readyTimeout: 20_000, localAddress: '127.0.0.3' });
  });
  assert.match(outcome, /^(error|closed)/, `oversized answer must not log in, and the connection must end (got ${outcome})`);
  assert.ok(rssMb(gw.proc.pid!) - rssStart < 100, 'memory stays bounded');
  assert.ok(await serves());
});

test('1,000 failed logins from one address are rate limited; another address is served meanwhile', { timeout: 90_000 }, async () => {
  const wrong = 'not-a-token-' + randomBytes(8).toString('hex');
  const ATTEMPTS = 1000;
  const PARALLEL = 25;
  let next = 0;
  let accepted = 0;
  const attempt = () =>
    new Promise<void>((resolve) => {
      const c = new Client();
      const timer = setTimeout(() => {
        c.destroy();
        resolve();
      }, 20_000);
      c.on('keyboard-interactive', (_n, _i, _l, prompts, finish) => finish(prompts.map(() => wrong)));
      c.once('ready', () => {
        accepted++;
        c.end();
      });
      c.on('error', () => undefined);
      c.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      c.connect({ host: '127.0.0.1', port: gw.sshPort, username: 'local', tryKeyboard: true, authHandler: ['keyboard-interactive'], readyTimeout: 20_000, localAddress: '127.0.0.1' });
    });
  const flood = Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < ATTEMPTS) {
        next++;
        await attempt();
      }
    }),
  );
  // While the flood runs, another source logs in and runs commands.
  const during: number[] = [];
  while (next < ATTEMPTS * 0.8) {
    const t0 = Date.now();
    assert.ok(await serves('127.0.0.2'), 'another address is served during the flood');
    during.push(Date.now() - t0);
  }
  await flood;
  assert.equal(accepted, 0, 'no wrong token logged in');
  assert.ok(during.length >= 1);
  assert.ok(Math.max(...during) < 15_000, `the other address waited ${Math.max(...during)} ms`);

  // The gateway's log is written asynchronously: give its last lines a moment to arrive.
  const countLimited = () => gw.logs.filter((l) => l.msg === 'login failed' && l.reason === 'rate limited' && l.client === '127.0.0.1').length;
  await until(() => countLimited() >= ATTEMPTS - 100, 5000);
  const limited = countLimited();
  assert.ok(limited >= ATTEMPTS - 100, `only ${limited} attempts were cut short by the rate limit`);
  const verified = gw.logs.filter((l) => l.msg === 'login failed' && l.reason !== 'rate limited' && l.client === '127.0.0.1').length;
  assert.ok(verified <= 100, `${verified} wrong tokens were examined despite the limit`);

  // Even a valid token is refused from the flooding address for now; others still get in.
  await assert.rejects(connectAgentFrom(gw.sshPort, 'local', await gw.token(), { localAddress: '127.0.0.1' }));
  assert.ok(await serves('127.0.0.2'));
  assert.ok(rssMb(gw.proc.pid!) - rssStart < 150, 'memory stays bounded after the flood');
});
