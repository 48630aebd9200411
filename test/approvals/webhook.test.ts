import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { registerApprovalRoutes, signWebhook, verifyWebhookSignature } from '../../src/approvals/index.js';
import { Router } from '../../src/web/router.js';
import { brokerFixture, requestInput, startTestServer, until, type Fixture } from './helpers.js';

interface Received {
  headers: IncomingHttpHeaders;
  raw: string;
}

/** A loopback webhook receiver; `failFirst` answers 500 to that many deliveries first. */
async function receiver(failFirst = 0) {
  const got: Received[] = [];
  let failures = failFirst;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (failures > 0) {
        failures--;
        res.writeHead(500).end();
        return;
      }
      got.push({ headers: req.headers, raw: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/${randomBytes(6).toString('hex')}`;
  return { got, url, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function setup(opts: { timeoutMs?: number; failFirst?: number } = {}) {
  const secret = randomBytes(24).toString('hex');
  const hook = await receiver(opts.failFirst ?? 0);
  const router = new Router();
  const http = await startTestServer(router);
  const f: Fixture = await brokerFixture({
    webhooks: [{ url: hook.url, secret }],
    publicUrl: http.url + '/',
    timeoutMs: opts.timeoutMs ?? 30_000,
    webhookRetry: { maxAttempts: 4, baseDelayMs: 40 },
  });
  registerApprovalRoutes(router, f.broker);
  return {
    secret,
    hook,
    http,
    f,
    close: async () => {
      await f.close();
      await http.close();
      await hook.close();
    },
  };
}

const post = (url: string, headers: Record<string, string> = {}) => fetch(url, { method: 'POST', headers });

test('webhook: signed delivery; its approve URL decides once and only once; GET never decides', async () => {
  const s = await setup();
  try {
    const p = await s.f.broker.request(requestInput());
    const [msg] = await until(() => (s.hook.got.length ? s.hook.got : null), 5000, 'webhook');
    assert.equal(msg!.headers['content-type'], 'application/json');
    const ts = String(msg!.headers['x-shellgate-timestamp']);
    const sig = String(msg!.headers['x-shellgate-signature']);
    assert.match(sig, /^sha256=[0-9a-f]{64}$/);
    assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 10);
    assert.equal(verifyWebhookSignature(s.secret, ts, msg!.raw, sig, Math.floor(Date.now() / 1000)), true);

    const body = JSON.parse(msg!.raw) as Record<string, unknown>;
    for (const k of ['id', 'subject', 'groups', 'target', 'command', 'argv', 'rule', 'session', 'requestedAt', 'expiresAt', 'approveUrl', 'denyUrl']) {
      assert.ok(k in body, `payload has ${k}`);
    }
    assert.equal(body.id, p.id);
    assert.equal(body.subject, 'deploy-bot');
    assert.deepEqual(body.groups, ['agents']);
    assert.equal(body.expiresAt, p.expiresAt.toISOString());
    assert.match(String(body.requestedAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    const approveUrl = String(body.approveUrl);
    const denyUrl = String(body.denyUrl);
    assert.ok(approveUrl.startsWith(s.http.url + '/approvals/decide/'), approveUrl);
    assert.notEqual(approveUrl, denyUrl);

    // a chat tool's link preview: GET shows a confirm form and decides nothing
    const page = await fetch(approveUrl);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    const html = await page.text();
    assert.match(html, /<form method="post"/);
    assert.match(html, /systemctl restart nginx/);
    assert.equal(s.f.broker.listPending().length, 1);

    const first = await post(approveUrl);
    assert.equal(first.status, 200);
    assert.deepEqual(await first.json(), { id: p.id, decision: 'approve', approver: 'webhook', status: 'approved' });
    assert.deepEqual(await p.wait(), { result: 'approved', approvers: ['webhook'] });
    const [d] = s.f.audit.ofType('approval.decided', p.id);
    assert.equal(d!.via, 'webhook');
    assert.equal(d!.approver, 'webhook');

    const again = await post(approveUrl);
    assert.equal(again.status, 409);
    assert.equal((await post(denyUrl)).status, 409);
    assert.equal((await fetch(approveUrl)).status, 409);
    assert.equal(s.f.audit.ofType('approval.decided', p.id).length, 1);

    // a forged or tampered token is refused
    const sigStart = approveUrl.lastIndexOf('.') + 1;
    const flipped = approveUrl.slice(0, sigStart) + (approveUrl[sigStart] === 'A' ? 'B' : 'A') + approveUrl.slice(sigStart + 1);
    assert.equal((await post(flipped)).status, 403);
    assert.equal((await post(approveUrl.replace(p.id, 'aaaaaaaa'))).status, 403);
    assert.equal((await post(s.http.url + '/approvals/decide/nonsense')).status, 403);
  } finally {
    await s.close();
  }
});

test('webhook: deny URL with ?as=NAME records that name; ?as= the requester is refused', async () => {
  const s = await setup();
  try {
    const p = await s.f.broker.request(requestInput({ subject: 'deploy-bot', command: 'kill -HUP "$(cat /run/<b>x</b>.pid)"' }));
    const [msg] = await until(() => (s.hook.got.length ? s.hook.got : null), 5000, 'webhook');
    const body = JSON.parse(msg!.raw) as { denyUrl: string };
    // the confirmation page escapes what the agent controls, and keeps ?as= in the form's action
    const page = await (await fetch(body.denyUrl + '?as=carol')).text();
    assert.equal(page.includes('<b>x</b>'), false);
    assert.match(page, /&lt;b&gt;x&lt;\/b&gt;/);
    assert.match(page, /action="[^"]*\?as=carol"/);
    assert.match(page, /Deny as carol/);
    assert.equal((await post(body.denyUrl + '?as=deploy-bot')).status, 403);
    assert.equal(s.f.audit.ofType('approval.refused', p.id)[0]?.approver, 'deploy-bot');
    const r = await post(body.denyUrl + '?as=carol', { accept: 'text/html' });
    assert.equal(r.status, 200);
    assert.match(await r.text(), /denied by carol/);
    assert.deepEqual(await p.wait(), { result: 'denied', approver: 'carol', reason: 'no reason given' });
  } finally {
    await s.close();
  }
});

test('webhook: rules with approvers: 2 or approverGroups get no URLs', async () => {
  const s = await setup();
  try {
    await s.f.broker.request(requestInput({ approvers: 2 }));
    await s.f.broker.request(requestInput({ approverGroups: ['sre'] }));
    const msgs = await until(() => (s.hook.got.length >= 2 ? s.hook.got : null), 5000, 'two webhooks');
    for (const m of msgs) {
      const b = JSON.parse(m.raw) as Record<string, unknown>;
      assert.equal('approveUrl' in b, false);
      assert.equal('denyUrl' in b, false);
      assert.ok(typeof b.id === 'string');
    }
  } finally {
    await s.close();
  }
});

test('webhook: failed deliveries are retried with backoff and logged without the secret or the URL path', async () => {
  const s = await setup({ failFirst: 2 });
  try {
    await s.f.broker.request(requestInput());
    const [msg] = await until(() => (s.hook.got.length ? s.hook.got : null), 5000, 'delivery after retries');
    assert.equal(verifyWebhookSignature(s.secret, String(msg!.headers['x-shellgate-timestamp']), msg!.raw, String(msg!.headers['x-shellgate-signature'])), true);
    const warns = s.f.logger.lines.filter((l) => l.level === 'warn' && l.m === 'approval webhook failed');
    assert.equal(warns.length, 2);
    const logged = JSON.stringify(s.f.logger.lines);
    assert.equal(logged.includes(s.secret), false);
    assert.equal(logged.includes(new URL(s.hook.url).pathname), false);
  } finally {
    await s.close();
  }
});

test('webhook: a link used after the request expired answers 410', async () => {
  const s = await setup({ timeoutMs: 300 });
  try {
    const p = await s.f.broker.request(requestInput());
    const [msg] = await until(() => (s.hook.got.length ? s.hook.got : null), 5000, 'webhook');
    assert.deepEqual(await p.wait(), { result: 'timeout' });
    const body = JSON.parse(msg!.raw) as { approveUrl: string };
    assert.equal((await post(body.approveUrl)).status, 410);
  } finally {
    await s.close();
  }
});

test('verifyWebhookSignature rejects a bad signature, a tampered body and an old timestamp', () => {
  const secret = randomBytes(16).toString('hex');
  const now = 1_800_000_000;
  const raw = JSON.stringify({ id: 'abcdefgh', command: 'systemctl restart nginx' });
  const ts = String(now);
  const good = signWebhook(secret, ts, raw);
  assert.equal(verifyWebhookSignature(secret, ts, raw, good, now), true);
  assert.equal(verifyWebhookSignature(secret, ts, Buffer.from(raw), good, now + 299), true);
  assert.equal(verifyWebhookSignature('other' + secret, ts, raw, good, now), false, 'wrong secret');
  assert.equal(verifyWebhookSignature(secret, ts, raw.replace('nginx', 'sshd'), good, now), false, 'tampered body');
  assert.equal(verifyWebhookSignature(secret, ts, raw, good, now + 301), false, 'older than 5 minutes');
  assert.equal(verifyWebhookSignature(secret, ts, raw, good, now - 301), false, 'from the future');
  assert.equal(verifyWebhookSignature(secret, String(now + 1), raw, good, now), false, 'timestamp not the signed one');
  assert.equal(verifyWebhookSignature(secret, ts, raw, good.toUpperCase(), now), false, 'not lowercase hex');
  assert.equal(verifyWebhookSignature(secret, ts, raw, good.slice(0, -2), now), false, 'truncated');
  assert.equal(verifyWebhookSignature(secret, ts, raw, undefined, now), false, 'missing header');
  assert.equal(verifyWebhookSignature(secret, 'abc', raw, good, now), false, 'bad timestamp');
});
