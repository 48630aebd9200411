import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Client, ClientChannel } from 'ssh2';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { startGateway, TEST_POLICY, type GatewayHandle } from '../helpers/gateway.js';
import { connectAgent } from '../helpers/ssh2-agent.js';
import { waitForEvents } from '../helpers/events.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';

let sshd: SshdHandle;
let gw: GatewayHandle;

before(async () => {
  sshd = await startSshd(['AcceptEnv LC_*', 'AcceptEnv SHELLGATE_TEST_*']);
  gw = await startGateway({
    sshd,
    // A target that allows one variable, and tries to allow a dangerous one: that one must still be refused.
    extraYaml:
      '  envtest:\n    kind: local\n    shell: /bin/sh\n    policy: test\n    env: [SHELLGATE_TEST_X, LD_PRELOAD]\n' +
      '  noshell:\n    kind: local\n    shell: /bin/sh\n    policy: noshell\n',
    extraPolicies: { noshell: TEST_POLICY.replace('shell: passthrough', 'shell: deny') },
  });
});
after(async () => {
  await gw?.stop();
  await sshd?.stop();
});

function shell(client: Client, rows: number, cols: number): Promise<ClientChannel> {
  return new Promise((resolve, reject) => client.shell({ rows, cols, term: 'xterm' }, (err, ch) => (err ? reject(err) : resolve(ch))));
}

async function readUntil(ch: ClientChannel, re: RegExp, timeoutMs = 10_000): Promise<string> {
  let buf = '';
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}: ${JSON.stringify(buf.slice(-300))}`)), timeoutMs);
    const on = (d: Buffer) => {
      buf += d.toString();
      const m = re.exec(buf);
      if (m) {
        clearTimeout(timer);
        ch.off('data', on);
        resolve(m[0]);
      }
    };
    ch.on('data', on);
  });
}

test('window-change requests reach the program (stty size), on local and ssh targets', async () => {
  for (const target of ['local', 'web-1']) {
    const c = await connectAgent(gw.sshPort, target, await gw.token());
    const ch = await shell(c, 30, 100);
    ch.write('stty size; echo mark-$((1+1))\n');
    await readUntil(ch, /30 100/);
    ch.setWindow(40, 120, 0, 0);
    await new Promise((r) => setTimeout(r, 200));
    ch.write('stty size\n');
    await readUntil(ch, /40 120/);
    ch.write('exit\n');
    await new Promise((r) => ch.once('close', r));
    c.end();
  }
  // The recordings got the resize as asciicast "r" events.
  const ev = await waitForEvents(gw.dir, (e) => e.filter((x) => x.type === 'recording.sealed').length >= 2);
  for (const sealed of ev.filter((e) => e.type === 'recording.sealed')) {
    const cast = readFileSync(path.join(gw.dir, 'recordings', String(sealed.body.file)), 'utf8').trim().split('\n');
    const header = JSON.parse(cast[0]!) as { width: number; height: number };
    assert.deepEqual([header.width, header.height], [100, 30]);
    assert.ok(cast.slice(1).some((l) => { const e = JSON.parse(l) as [number, string, string]; return e[1] === 'r' && e[2] === '120x40'; }), 'no resize event');
  }
});

test('absurd terminal sizes from the agent are cut to 1000x1000 (zero means unknown): program, recording and playback see sane ones', async () => {
  const sealedSoFar = (await waitForEvents(gw.dir, () => true)).filter((e) => e.type === 'recording.sealed').length;
  const c = await connectAgent(gw.sshPort, 'local', await gw.token());
  const ch = await shell(c, 2 ** 32 - 1, 2 ** 32 - 1);
  ch.write('stty size\n');
  await readUntil(ch, /1000 1000/);
  ch.setWindow(0, 0, 0, 0); // unknown (RFC 4254 §6.2): ignored, not recorded
  ch.setWindow(50, 70000, 0, 0);
  await new Promise((r) => setTimeout(r, 200));
  ch.write('stty size\n');
  await readUntil(ch, /50 1000/);
  ch.write('exit\n');
  await new Promise((r) => ch.once('close', r));
  c.end();
  const ev = await waitForEvents(gw.dir, (e) => e.filter((x) => x.type === 'recording.sealed').length > sealedSoFar);
  const sealed = ev.filter((e) => e.type === 'recording.sealed').at(-1)!;
  const cast = readFileSync(path.join(gw.dir, 'recordings', String(sealed.body.file)), 'utf8').trim().split('\n');
  const header = JSON.parse(cast[0]!) as { width: number; height: number };
  assert.deepEqual([header.width, header.height], [1000, 1000]);
  const resizes = cast.slice(1).map((l) => JSON.parse(l) as [number, string, string]).filter((e) => e[1] === 'r').map((e) => e[2]);
  assert.deepEqual(resizes, ['1000x50']);
});

test('signal requests reach the running command (local target)', async () => {
  const c = await connectAgent(gw.sshPort, 'local', await gw.token());
  const res = await new Promise<{ code: number | null; signal: string | undefined }>((resolve, reject) => {
    c.exec('sleep 30', (err, ch) => {
      if (err) return reject(err);
      let code: number | null = null;
      let signal: string | undefined;
      ch.on('exit', (cd: number | null, sig?: string) => ((code = cd), (signal = sig)));
      ch.resume(); // consume output, or the client never sees the channel end
      ch.on('close', () => resolve({ code, signal }));
      setTimeout(() => ch.signal('TERM'), 500);
    });
  });
  assert.equal(res.signal, 'SIGTERM');
  c.end();
});

function envOf(c: Client): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    c.exec('env', { env: { SHELLGATE_TEST_X: 'visible', LD_PRELOAD: '/tmp/evil.so' } }, (err, ch) => {
      if (err) return reject(err);
      let s = '';
      ch.on('data', (d: Buffer) => (s += d));
      ch.on('close', () => resolve(s));
    });
  });
}

test('env requests: only allow-listed names are passed, never dangerous ones, never the gateway\'s own secrets', async () => {
  const c = await connectAgent(gw.sshPort, 'local', await gw.token());
  const out = await envOf(c);
  assert.doesNotMatch(out, /SHELLGATE_TEST_X/, 'not allow-listed, not passed');
  assert.doesNotMatch(out, /LD_PRELOAD/);
  assert.doesNotMatch(out, /SHELLGATE_MASTER_KEY|SHELLGATE_ADMIN_TOKEN/, 'the gateway leaked its own secrets into the local target');
  c.end();
  const e = await connectAgent(gw.sshPort, 'envtest', await gw.token());
  const out2 = await envOf(e);
  assert.match(out2, /^SHELLGATE_TEST_X=visible$/m);
  assert.doesNotMatch(out2, /LD_PRELOAD/, 'LD_PRELOAD is refused even when configured');
  e.end();
});

test('shell: deny refuses interactive shells with a clear message, exec still works', async () => {
  const c = await connectAgent(gw.sshPort, 'noshell', await gw.token());
  const ch = await shell(c, 24, 80);
  let err = '';
  ch.stderr.on('data', (d: Buffer) => (err += d));
  const code = await new Promise<number | null>((resolve) => {
    let exit: number | null = null;
    ch.on('exit', (x: number | null) => (exit = x));
    ch.resume();
    ch.on('close', () => resolve(exit));
  });
  assert.equal(code, 126);
  assert.match(err, /interactive shells are not allowed on target noshell/);
  const ev = await waitForEvents(gw.dir, (e) => e.some((x) => x.type === 'channel.refused' && x.body.kind === 'shell'));
  assert.ok(ev.length > 0);
  c.end();
});
