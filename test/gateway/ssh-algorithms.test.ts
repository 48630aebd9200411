import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { startGateway, type GatewayHandle } from '../helpers/gateway.js';
import { runSsh } from '../helpers/openssh.js';

/**
 * `sshAlgorithms` against the real peers: OpenSSH's client on the agents' side, OpenSSH's sshd
 * upstream. The test sshd accepts one cipher only, so whether the upstream hop honours the
 * setting shows in whether a command gets through.
 */
const ONLY = 'aes256-gcm@openssh.com';
let sshd: SshdHandle;
const gateways: GatewayHandle[] = [];

before(async () => {
  sshd = await startSshd([`Ciphers ${ONLY}`]);
});
after(async () => {
  for (const gw of gateways) await gw.stop();
  await sshd?.stop();
});

async function gatewayWith(ciphers: string | null): Promise<GatewayHandle> {
  const gw = await startGateway({ sshd, topYaml: ciphers ? `sshAlgorithms:\n  cipher: [${ciphers}]\n` : '' });
  gateways.push(gw);
  return gw;
}

test('the agents side offers only the listed ciphers: OpenSSH negotiates one of them, and a client insisting on another is refused', async () => {
  const gw = await gatewayWith(ONLY);
  const token = await gw.token();
  const ok = await runSsh({ port: gw.sshPort, knownHostsFile: gw.knownHostsFile, target: 'local', token, command: 'echo hi', extra: ['-T', '-v'] });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout.toString(), 'hi\n');
  // OpenSSH's client lists chacha20-poly1305 first; the gateway did not offer it.
  assert.match(ok.stderr, new RegExp(`kex: server->client cipher: ${ONLY.replace('.', '\\.')}`));
  const refused = await runSsh({ port: gw.sshPort, knownHostsFile: gw.knownHostsFile, target: 'local', token, command: 'echo hi', extra: ['-T', '-c', 'chacha20-poly1305@openssh.com'] });
  assert.equal(refused.code, 255);
  assert.match(refused.stderr, /no matching cipher found/);
  assert.equal(refused.stdout.length, 0);
});

test('the upstream hop offers only the listed ciphers too: a target that accepts none of them is unreachable, with the reason', async () => {
  const token = async (gw: GatewayHandle) => gw.token();
  // The default list includes the one cipher this sshd accepts: the command runs.
  const plain = await gatewayWith(null);
  const r = await runSsh({ port: plain.sshPort, knownHostsFile: plain.knownHostsFile, target: 'web-1', token: await token(plain), command: 'echo upstream' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.toString(), 'upstream\n');
  // Narrowed to another cipher: the agent still connects (its client has it), the upstream cannot.
  const narrow = await gatewayWith('aes128-gcm@openssh.com');
  const n = await runSsh({ port: narrow.sshPort, knownHostsFile: narrow.knownHostsFile, target: 'web-1', token: await token(narrow), command: 'echo upstream' });
  assert.equal(n.code, 255, n.stderr);
  assert.equal(n.stdout.length, 0);
  assert.match(n.stderr, /^shellgate: .*cipher/m);
});
