import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startGateway, type GatewayHandle } from '../helpers/gateway.js';
import { ASKPASS, sshArgs } from '../helpers/openssh.js';
import { readEvents } from '../helpers/events.js';
import { cliPath } from '../helpers/paths.js';
import { rand } from '../helpers/tmp.js';
import { verifyWebhookSignature } from '../../src/approvals/index.js';

let gw: GatewayHandle;
let hook: { url: string; received: { headers: Record<string, string | string[] | undefined>; body: string }[]; close: () => void };
const WEBHOOK_SECRET = 'wh-' + rand(24);

before(async () => {
  const received: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.end('ok');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  hook = { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, received, close: () => server.close() };
  gw = await startGateway({ approvals: `  timeout: 20s\n  webhooks:\n    - url: ${hook.url}\n      secret: ${WEBHOOK_SECRET}\n` });
});
after(async () => {
  await gw?.stop();
  hook?.close();
});

/** Start an ssh command that needs an approval; resolves once the gateway printed the waiting line. */
async function waitingCommand(command: string, token: string) {
  const child = spawn('ssh', [...sshArgs(gw.sshPort, gw.knownHostsFile, ['-T']), 'local@127.0.0.1', command], {
    env: { ...process.env, SSH_ASKPASS: ASKPASS, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0', SHELLGATE_TOKEN: token },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  const closed = new Promise<number | null>((r) => child.once('close', (c) => r(c)));
  const id = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /shellgate: waiting for approval #(\S+) \(timeout (\d+)s\)/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    void closed.then((c) => reject(new Error(`ssh ended (${c}) without waiting: ${stderr}`)));
  });
  return { id, done: closed.then((code) => ({ code, stderr, stdout })) };
}

function approvals(...args: string[]) {
  return spawnSync(process.execPath, [cliPath, 'approvals', ...args, '--config', gw.configFile], { encoding: 'utf8', env: gw.env, timeout: 20_000 });
}

test('a command waits, is approved from the CLI and runs', async () => {
  const file = path.join(gw.dir, 'approved-' + rand(6));
  const w = await waitingCommand(`touch ${file}`, await gw.token('agent-1', ['agents']));
  assert.ok(!existsSync(file), 'ran before the approval');
  const list = JSON.parse(approvals('list', '--json').stdout) as { id: string; subject: string; target: string; command: string; rule: string; expiresAt: string }[];
  const req = list.find((r) => r.id === w.id);
  assert.ok(req, 'pending request listed');
  assert.equal(req.subject, 'agent-1');
  assert.equal(req.target, 'local');
  assert.equal(req.rule, 'restarts-need-a-human');
  const a = approvals('approve', w.id, '--as', 'alice');
  assert.equal(a.status, 0, a.stderr);
  const r = await w.done;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(file));
  const ev = readEvents(gw.dir);
  const decided = ev.find((e) => e.type === 'approval.decided' && e.body.approval === w.id);
  assert.ok(decided);
  assert.equal(decided.body.approver, 'alice');
  assert.equal(decided.body.via, 'cli');
  assert.ok(ev.some((e) => e.type === 'approval.requested' && e.body.approval === w.id));
});

test('denied: exit 126 with the approver and reason, no side effect', async () => {
  const file = path.join(gw.dir, 'denied-' + rand(6));
  const w = await waitingCommand(`touch ${file}`, await gw.token('agent-1', ['agents']));
  assert.equal(approvals('deny', w.id, '--as', 'bob', '--reason', 'not during the freeze').status, 0);
  const r = await w.done;
  assert.equal(r.code, 126);
  assert.match(r.stderr, /shellgate: denied by approver bob: not during the freeze/);
  assert.ok(!existsSync(file));
});

test('self-approval is refused; an approval is for that one request only', async () => {
  const file = path.join(gw.dir, 'self-' + rand(6));
  const w = await waitingCommand(`touch ${file}`, await gw.token('agent-1', ['agents']));
  const self = approvals('approve', w.id, '--as', 'agent-1');
  assert.equal(self.status, 1);
  assert.match(self.stderr, /own/i);
  assert.equal(approvals('approve', w.id, '--as', 'carol').status, 0);
  assert.equal((await w.done).code, 0);
  const again = approvals('approve', w.id, '--as', 'dave');
  assert.equal(again.status, 1, 'a decided request cannot be decided again');
});

test('a two-approver rule needs two different approvers', async () => {
  const dir = path.join(gw.dir, 'two-' + rand(6));
  const w = await waitingCommand(`mkdir ${dir}`, await gw.token('agent-2', ['agents']));
  assert.equal(approvals('approve', w.id, '--as', 'alice').status, 0);
  await new Promise((r) => setTimeout(r, 800));
  assert.ok(!existsSync(dir), 'one approver was enough');
  assert.equal(approvals('approve', w.id, '--as', 'alice').status, 1, 'the same approver twice');
  assert.equal(approvals('approve', w.id, '--as', 'bob').status, 0);
  const r = await w.done;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(dir));
});

test('webhook: signed delivery, and its approve URL works once and only once', async () => {
  const file = path.join(gw.dir, 'hook-' + rand(6));
  const w = await waitingCommand(`touch ${file}`, await gw.token('agent-1', ['agents']));
  const until = Date.now() + 10_000;
  let delivery;
  while (!(delivery = hook.received.find((d) => JSON.parse(d.body).id === w.id)) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  assert.ok(delivery, 'webhook delivered');
  const ts = String(delivery.headers['x-shellgate-timestamp']);
  const sig = String(delivery.headers['x-shellgate-signature']);
  assert.match(sig, /^sha256=[0-9a-f]{64}$/);
  assert.equal(delivery.headers['content-type'], 'application/json');
  assert.ok(verifyWebhookSignature(WEBHOOK_SECRET, ts, delivery.body, sig, Math.floor(Date.now() / 1000)));
  assert.ok(!verifyWebhookSignature('wrong-' + rand(20), ts, delivery.body, sig, Math.floor(Date.now() / 1000)));
  const body = JSON.parse(delivery.body) as Record<string, unknown>;
  for (const k of ['id', 'subject', 'groups', 'target', 'command', 'argv', 'rule', 'session', 'requestedAt', 'expiresAt', 'approveUrl', 'denyUrl']) assert.ok(k in body, `payload has ${k}`);
  const first = await fetch(String(body.approveUrl), { method: 'POST' });
  assert.equal(first.status, 200);
  const r = await w.done;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(file));
  const second = await fetch(String(body.approveUrl), { method: 'POST' });
  assert.ok(second.status === 409 || second.status === 410, `second use: ${second.status}`);
});

test('timeout: denied with exit 126', async () => {
  const short = await startGateway({ approvals: '  timeout: 2s\n' });
  try {
    const token = await short.token('agent-1', ['agents']);
    const child = spawnSync('ssh', [...sshArgs(short.sshPort, short.knownHostsFile, ['-T']), 'local@127.0.0.1', `touch ${path.join(short.dir, 'late')}`], {
      env: { ...process.env, SSH_ASKPASS: ASKPASS, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0', SHELLGATE_TOKEN: token },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(child.status, 126);
    assert.match(child.stderr, /shellgate: approval #\S+ timed out/);
    assert.ok(!existsSync(path.join(short.dir, 'late')));
  } finally {
    await short.stop();
  }
});
