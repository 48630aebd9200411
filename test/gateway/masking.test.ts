import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { newEd25519Key } from '../../src/util/new-ed25519-key.js';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { startGateway, type GatewayHandle } from '../helpers/gateway.js';
import { runSsh } from '../helpers/openssh.js';
import { waitForEvents } from '../helpers/events.js';
import { rand } from '../helpers/tmp.js';

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

const UP = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** Fake secrets of the right shapes, built at run time (never literal in the repo). */
function fakeSecrets() {
  const pem = newEd25519Key().export({ type: 'pkcs8', format: 'pem' }).toString();
  return {
    aws: 'AKIA' + rand(16, UP),
    github: 'ghp' + '_' + rand(36),
    stripe: 'sk_' + 'live_' + rand(24),
    password: 'pw-' + rand(14),
    pem,
    pemBody: pem.split('\n').slice(1, -2).join('\n'),
  };
}

test('cat of a file with secrets through the gateway shows none of them, and neither does the recording', async () => {
  const s = fakeSecrets();
  const file = path.join(sshd.dir, 'secrets.env');
  const text = [
    `aws_access_key_id = ${s.aws}`,
    `GITHUB_TOKEN=${s.github}`,
    `stripe: ${s.stripe}`,
    `password=${s.password}`,
    '\x1b[32m' + s.aws + '\x1b[0m coloured',
    s.pem.trimEnd(),
    'an ordinary line: 2026-11-22T05:00:00Z commit 3f2a9c1b7d4e5f60718293a4b5c6d7e8f9012345',
    '',
  ].join('\n');
  writeFileSync(file, text);
  const token = await gw.token('agent-1', ['agents']);
  const r = await runSsh({ port: gw.sshPort, knownHostsFile: gw.knownHostsFile, target: 'web-1', token, command: `cat ${file}` });
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.toString('utf8');
  for (const [name, secret] of Object.entries({ aws: s.aws, github: s.github, stripe: s.stripe, password: s.password, pemBody: s.pemBody }))
    assert.ok(!out.includes(secret), `${name} reached the agent`);
  for (const line of s.pemBody.split('\n')) assert.ok(!out.includes(line), 'a line of the private key reached the agent');
  // Layout is kept: same number of characters, labels and ordinary text untouched.
  assert.equal([...out].length, [...text].length);
  assert.match(out, /password=\*{17}/);
  assert.match(out, /-----BEGIN PRIVATE KEY-----/);
  assert.match(out, /commit 3f2a9c1b7d4e5f60718293a4b5c6d7e8f9012345/);
  assert.match(out, /\x1b\[32m\*{20}\x1b\[0m coloured/);

  const ev = await waitForEvents(gw.dir, (e) => e.some((x) => x.type === 'recording.sealed' && e.some((y) => y.type === 'command.result' && (y.body.detectors as Record<string, number>)?.['aws-access-key-id'])));
  const result = ev.filter((e) => e.type === 'command.result').pop()!;
  const detectors = result.body.detectors as Record<string, number>;
  assert.equal(detectors['aws-access-key-id'], 2);
  assert.ok(detectors['private-key']! >= 1);
  const sealed = ev.filter((e) => e.type === 'recording.sealed').pop()!;
  const cast = readFileSync(path.join(gw.dir, 'recordings', String(sealed.body.file)), 'utf8');
  const recorded = cast
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => JSON.parse(l) as [number, string, string])
    .filter((e) => e[1] === 'o')
    .map((e) => e[2])
    .join('');
  assert.equal(recorded, out, 'the recording holds exactly what the agent saw');
  for (const secret of [s.aws, s.github, s.stripe, s.password]) assert.ok(!cast.includes(secret));
  const allEvents = JSON.stringify(ev);
  for (const secret of [s.aws, s.github, s.stripe, s.password]) assert.ok(!allEvents.includes(secret), 'a secret in the audit log');
});

test('a secret in the command line itself is masked in the audit log and in the logs', async () => {
  const pw = 'pw-' + rand(14);
  const token = await gw.token('agent-1', ['agents']);
  const r = await runSsh({ port: gw.sshPort, knownHostsFile: gw.knownHostsFile, target: 'local', token, command: `echo PGPASSWORD=${pw}` });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.toString(), `PGPASSWORD=${'*'.repeat(pw.length)}\n`);
  const ev = await waitForEvents(gw.dir, (e) => e.some((x) => x.type === 'command.decision' && String(x.body.command).startsWith('echo PGPASSWORD=')));
  assert.ok(!JSON.stringify(ev).includes(pw), 'secret in the audit log');
  // The log is written in batches (up to 100 ms late): once the command's last line is in, every
  // line about it is, in order.
  await gw.waitForLog((l) => l.msg === 'command finished' && l.exit === 0 && gw.logs.some((d) => d.session === l.session && d !== l && JSON.stringify(d).includes('PGPASSWORD=')));
  assert.ok(!JSON.stringify(gw.logs).includes(pw), 'secret in the gateway log');
});

test('the vaulted credential itself is masked if it ever shows up in output', async () => {
  const token = await gw.token('agent-1', ['agents']);
  const r = await runSsh({ port: gw.sshPort, knownHostsFile: gw.knownHostsFile, target: 'web-1', token, command: `cat ${sshd.clientKeyFile}` });
  assert.equal(r.code, 0, r.stderr);
  const key = readFileSync(sshd.clientKeyFile, 'utf8');
  const body = key.split('\n').filter((l) => l && !l.startsWith('-----'));
  for (const line of body) assert.ok(!r.stdout.toString().includes(line), 'vaulted key material reached the agent');
});
