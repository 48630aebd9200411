import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { startGateway, type GatewayHandle } from '../helpers/gateway.js';
import { runDirectSsh, runSsh } from '../helpers/openssh.js';
import { startOidcProvider, type OidcHandle } from '../helpers/oidc.js';
import { readEvents, waitForEvents } from '../helpers/events.js';
import { cliPath } from '../helpers/paths.js';
import { rand } from '../helpers/tmp.js';
import { asciinemaPlays } from '../helpers/asciinema.js';
import { fingerprint } from '../../src/upstream/fingerprint.js';

let sshd: SshdHandle;
let gw: GatewayHandle;
let oidc: OidcHandle;
let token: string;

before(async () => {
  sshd = await startSshd();
  oidc = await startOidcProvider([{ id: 'oidc-agent', groups: ['agents'] }]);
  gw = await startGateway({ sshd, issuers: [{ issuer: oidc.issuer, audience: oidc.audience }] });
  token = await gw.token('agent-1', ['agents']);
});

after(async () => {
  await gw?.stop();
  await sshd?.stop();
  await oidc?.stop();
});

const ssh = (target: string, command: string | undefined, opts: { token?: string; input?: string | Buffer; extra?: string[] } = {}) =>
  runSsh({ port: gw.sshPort, knownHostsFile: gw.knownHostsFile, target, token: opts.token ?? token, command, input: opts.input, extra: opts.extra });

test('output is byte-exact through the gateway: a few MB, same SHA-256 as a direct OpenSSH run', async () => {
  const file = path.join(sshd.dir, 'payload.txt');
  writeFileSync(file, randomBytes(3 * 1024 * 1024).toString('base64'));
  const via = await ssh('web-1', `cat ${file}`);
  const direct = await runDirectSsh({ port: sshd.port, keyFile: sshd.clientKeyFile, hostKeyPub: sshd.hostKeyPub, user: sshd.user, command: `cat ${file}`, dir: sshd.dir });
  assert.equal(via.code, 0, via.stderr);
  assert.equal(direct.code, 0, direct.stderr);
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  assert.equal(via.stdout.length, direct.stdout.length);
  assert.equal(sha(via.stdout), sha(direct.stdout));
  assert.equal(sha(via.stdout), sha(readFileSync(file)));
});

test('binary output passes unchanged', async () => {
  const file = path.join(sshd.dir, 'payload.bin');
  const data = randomBytes(256 * 1024);
  writeFileSync(file, data);
  const via = await ssh('web-1', `cat ${file}`);
  assert.equal(via.code, 0, via.stderr);
  assert.ok(via.stdout.equals(data), 'binary output changed');
});

test('stdin reaches the command and EOF ends it', async () => {
  const input = 'line one\nline two\n' + rand(1000);
  const r = await ssh('web-1', 'sha256sum', { input });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.toString().split(' ')[0], createHash('sha256').update(input).digest('hex'));
});

test('exit status and stderr pass through unchanged, on ssh and local targets', async () => {
  for (const target of ['web-1', 'local']) {
    const r = await ssh(target, "sh -c 'echo out; echo oops >&2; exit 7'");
    assert.equal(r.code, 7, `${target}: ${r.stderr}`);
    assert.equal(r.stdout.toString(), 'out\n');
    assert.match(r.stderr, /oops/);
    assert.doesNotMatch(r.stdout.toString(), /oops/, 'stderr must not be merged into stdout');
  }
});

test('an exit signal passes through like a direct connection', async () => {
  const cmd = "sh -c 'kill -TERM $$'";
  const via = await ssh('web-1', cmd);
  const direct = await runDirectSsh({ port: sshd.port, keyFile: sshd.clientKeyFile, hostKeyPub: sshd.hostKeyPub, user: sshd.user, command: cmd, dir: sshd.dir });
  assert.equal(via.code, direct.code);
  // And shellgate's own client sees the signal itself.
  const hostKey = fingerprint(Buffer.from(gw.hostKeyPub.split(/\s+/)[1]!, 'base64'));
  const r = spawnSync(process.execPath, [cliPath, 'ssh', 'web-1', '--host', '127.0.0.1', '--port', String(gw.sshPort), '--host-key', hostKey, '--', cmd], {
    env: { ...process.env, SHELLGATE_TOKEN: token },
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 128 + 15, r.stderr);
});

test('a denied command never reaches the target: exit 126, one line naming the rule', async () => {
  const victim = path.join(sshd.dir, 'victim-' + rand(6));
  mkdirSync(victim);
  writeFileSync(path.join(victim, 'keep'), 'x');
  for (const [target, cmd] of [
    ['web-1', `rm -rf ${victim}`],
    ['web-1', `echo ok; sudo rm -r ${victim}`],
    ['local', `rm -r ${victim}`],
  ] as const) {
    const r = await ssh(target, cmd);
    assert.equal(r.code, 126, `${cmd}: ${r.stderr}`);
    assert.match(r.stderr, /^shellgate: denied by rule no-destructive: .+$/m);
    assert.equal(r.stdout.length, 0, 'nothing ran, not even the allowed part of the line');
    assert.ok(existsSync(path.join(victim, 'keep')), 'the side effect happened');
  }
  const side = '/tmp/shellgate-side-effect-' + rand(8);
  const r = await ssh('web-1', `echo pwned > ${side}`);
  assert.equal(r.code, 126);
  assert.ok(!existsSync(side));
  // Default deny (no rule): the message says so.
  const d = await ssh('web-1', 'python3 -c "print(1)"');
  assert.equal(d.code, 126);
  assert.match(d.stderr, /denied/);
});

test('every decision is in the audit log, durable, with subject, target, argv, rule and reason', async () => {
  const marker = 'marker-' + rand(8);
  const r = await ssh('web-1', `echo ${marker}`);
  assert.equal(r.code, 0);
  const ev = await waitForEvents(gw.dir, (e) => e.some((x) => x.type === 'command.result' && x.body.exit === 0));
  const dec = ev.find((e) => e.type === 'command.decision' && e.body.command === `echo ${marker}`);
  assert.ok(dec, 'decision event');
  assert.equal(dec.body.subject, 'agent-1');
  assert.equal(dec.body.target, 'web-1');
  assert.equal(dec.body.decision, 'allow');
  assert.equal(dec.body.rule, 'inspection');
  assert.deepEqual(dec.body.argv, [['echo', marker]]);
  const denied = ev.find((e) => e.type === 'command.decision' && e.body.decision === 'deny');
  assert.ok(denied && typeof denied.body.reason === 'string');
  assert.ok(ev.some((e) => e.type === 'session.start' && e.body.subject === 'agent-1' && typeof e.body.client === 'string'));
});

test('interactive shell under a PTY (policy shell: passthrough), on the local and ssh targets', async () => {
  for (const target of ['local', 'web-1']) {
    const r = await ssh(target, undefined, { extra: ['-tt'], input: 'echo hello-$((6*7))\nexit 3\n' });
    assert.match(r.stdout.toString(), /hello-42/, target);
    assert.equal(r.code, 3, `${target}: ${r.stderr}`);
  }
});

test('a token from a real OIDC provider logs in; a ticket works once', async () => {
  const oidcToken = await oidc.clientToken('oidc-agent');
  const r = await ssh('web-1', 'id -un', { token: oidcToken });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.toString().trim(), sshd.user);
  const res = await fetch(`http://127.0.0.1:${gw.httpPort}/api/tickets`, { method: 'POST', headers: { authorization: `Bearer ${oidcToken}` } });
  assert.equal(res.status, 201);
  const { ticket } = (await res.json()) as { ticket: string };
  assert.ok(ticket.length < 64);
  const first = await ssh('local', 'echo via-ticket', { token: ticket });
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout.toString(), 'via-ticket\n');
  const second = await ssh('local', 'echo via-ticket', { token: ticket });
  assert.equal(second.code, 255);
  assert.match(second.stderr, /ticket unknown, used or expired/);
  const noAuth = await fetch(`http://127.0.0.1:${gw.httpPort}/api/tickets`, { method: 'POST' });
  assert.equal(noAuth.status, 401);
});

test('refused logins: expired token, garbage, unknown target — logged with a reason, never the token', async () => {
  // 30 s of clock skew is allowed, so the expired token is a minute past its expiry.
  const { loadDevIssuer } = await import('../../src/identity/dev-issuer.js');
  const dev = await loadDevIssuer(path.join(gw.dir, 'data'));
  const old = await dev.mint({ sub: 'agent-1', ttlSeconds: -60 });
  const r1 = await ssh('local', 'true', { token: old });
  assert.equal(r1.code, 255);
  assert.match(r1.stderr, /token rejected: token expired/);
  const r2 = await ssh('local', 'true', { token: 'garbage' });
  assert.equal(r2.code, 255);
  assert.match(r2.stderr, /token rejected/);
  const r3 = await ssh('no-such-target', 'true');
  assert.equal(r3.code, 255);
  assert.match(r3.stderr, /unknown target "no-such-target"/);
  // The log is written in batches (up to 100 ms late): the last refusal's line, in order, means
  // the earlier ones are in too.
  await gw.waitForLog((l) => l.msg === 'login failed' && l.target === 'no-such-target');
  const failures = gw.logs.filter((l) => l.msg === 'login failed');
  assert.ok(failures.length >= 3);
  assert.ok(failures.some((l) => l.reason === 'token expired'));
  const allLogs = JSON.stringify(gw.logs);
  for (const t of [old, token]) assert.ok(!allLogs.includes(t), 'a token appears in the logs');
});

test('upstream host key mismatch refuses the session and is logged', async () => {
  const bad = await startGateway({ sshd, upstreamHostKey: 'SHA256:' + randomBytes(32).toString('base64').replace(/=+$/, '') });
  try {
    const t = await bad.token();
    const r = await runSsh({ port: bad.sshPort, knownHostsFile: bad.knownHostsFile, target: 'web-1', token: t, command: 'echo should-not-run' });
    assert.equal(r.code, 255);
    assert.match(r.stderr, /host key of target web-1 does not match the pinned fingerprint/);
    assert.equal(r.stdout.length, 0);
    await bad.waitForLog((l) => l.msg === 'upstream host key mismatch: refusing the target');
  } finally {
    await bad.stop();
  }
});

test('forwarding, agent forwarding and subsystems are refused and audited', async () => {
  const fwd = await ssh('local', 'true', { extra: ['-T', '-o', 'ExitOnForwardFailure=yes', '-R', '0:127.0.0.1:9'] });
  assert.equal(fwd.code, 255);
  assert.match(fwd.stderr, /forwarding failed/i);
  const w = await ssh('local', undefined, { extra: ['-W', '127.0.0.1:22'] });
  assert.notEqual(w.code, 0);
  const sftp = await ssh('local', 'sftp', { extra: ['-T', '-s'] });
  assert.notEqual(sftp.code, 0);
  const ev = await waitForEvents(gw.dir, (e) => e.filter((x) => x.type === 'channel.refused').length >= 3);
  const kinds = ev.filter((e) => e.type === 'channel.refused').map((e) => e.body.kind);
  assert.ok(kinds.includes('tcpip-forward'), JSON.stringify(kinds));
  assert.ok(kinds.includes('direct-tcpip'), JSON.stringify(kinds));
  assert.ok(kinds.includes('subsystem'), JSON.stringify(kinds));
});

test('the audit chain verifies and every recording plays with asciinema', async () => {
  const r = spawnSync(process.execPath, [cliPath, 'audit', 'verify', '--config', gw.configFile, '--json'], { encoding: 'utf8', env: { ...process.env, SHELLGATE_MASTER_KEY: randomBytes(32).toString('base64'), SHELLGATE_ADMIN_TOKEN: 'x'.repeat(32) } });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const result = JSON.parse(r.stdout);
  assert.equal(result.ok, true);
  const casts = readdirSync(path.join(gw.dir, 'recordings')).filter((f) => f.endsWith('.cast'));
  assert.ok(casts.length > 5);
  for (const f of casts) {
    const p = asciinemaPlays(path.join(gw.dir, 'recordings', f));
    assert.equal(p.status, 0, `${f}: ${p.stderr}`);
  }
  const sealed = readEvents(gw.dir).filter((e) => e.type === 'recording.sealed');
  assert.ok(sealed.length >= casts.length - 2);
});
