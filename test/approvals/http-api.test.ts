import assert from 'node:assert/strict';
import { test } from 'node:test';
import { registerApprovalRoutes, type PendingSummary } from '../../src/approvals/index.js';
import { Router } from '../../src/web/router.js';
import { brokerFixture, requestInput, startTestServer } from './helpers.js';

async function setup() {
  const router = new Router();
  const http = await startTestServer(router);
  const f = await brokerFixture();
  registerApprovalRoutes(router, f.broker);
  const call = async (method: string, path: string, opts: { auth?: string; body?: string } = {}) => {
    const headers: Record<string, string> = {};
    if (opts.auth) headers['x-test-auth'] = opts.auth;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(http.url + path, { method, headers, body: opts.body });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as unknown) : null };
  };
  return { f, call, close: async () => (await f.close(), await http.close()) };
}

test('GET /api/approvals: 401 without credentials, the pending list with them', async () => {
  const s = await setup();
  try {
    const p = await s.f.broker.request(requestInput({ approvers: 2, approverGroups: ['sre'] }));
    assert.equal((await s.call('GET', '/api/approvals')).status, 401);
    const r = await s.call('GET', '/api/approvals', { auth: 'oidc olga sre' });
    assert.equal(r.status, 200);
    const list = r.json as PendingSummary[];
    assert.equal(list.length, 1);
    const [x] = list;
    assert.equal(x!.id, p.id);
    assert.equal(x!.subject, 'deploy-bot');
    assert.equal(x!.target, 'web-1');
    assert.equal(x!.command, 'systemctl restart nginx');
    assert.equal(x!.rule, 'restarts-need-a-human');
    assert.equal(x!.expiresAt, p.expiresAt.toISOString());
    assert.deepEqual(x!.groups, ['agents']);
    assert.deepEqual(x!.argv, [['systemctl', 'restart', 'nginx']]);
    assert.equal(x!.session, 'sess-1');
    assert.equal(x!.approvers, 2);
    assert.equal(x!.approvals, 0);
    assert.ok(Date.parse(x!.requestedAt) <= Date.now());
  } finally {
    await s.close();
  }
});

test('POST /api/approvals/:id/approve|deny: 401, 404, 403, 400, 200, 409', async () => {
  const s = await setup();
  try {
    const p = await s.f.broker.request(requestInput({ subject: 'deploy-bot' }));
    const approve = `/api/approvals/${p.id}/approve`;
    const deny = `/api/approvals/${p.id}/deny`;

    assert.equal((await s.call('POST', approve, { body: '{}' })).status, 401);
    const unknown = await s.call('POST', '/api/approvals/zzzzzzzz/approve', { auth: 'admin', body: '{}' });
    assert.equal(unknown.status, 404);
    assert.match(String((unknown.json as { error: string }).error), /no approval request/);

    // the requester's own OIDC token
    const self = await s.call('POST', approve, { auth: 'oidc deploy-bot agents', body: '{}' });
    assert.equal(self.status, 403);
    assert.match(String((self.json as { error: string }).error), /own request/);
    // the admin token acting as the requester
    assert.equal((await s.call('POST', approve, { auth: 'admin', body: '{"as":"deploy-bot"}' })).status, 403);
    // an OIDC caller may not pretend to be someone else
    assert.equal((await s.call('POST', approve, { auth: 'oidc eve', body: '{"as":"alice"}' })).status, 403);

    for (const bad of ['{not json', '[]', '"yes"', '{"reason": 42}', '{"reasn": "typo"}', '{"as": ""}', '{"reason": "a\\nb"}']) {
      const r = await s.call('POST', deny, { auth: 'admin', body: bad });
      assert.equal(r.status, 400, `bad body ${bad}`);
    }
    assert.equal(s.f.broker.listPending().length, 1, 'nothing decided by refused calls');

    const ok = await s.call('POST', deny, { auth: 'oidc bob sre', body: JSON.stringify({ reason: 'change freeze' }) });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json, { id: p.id, decision: 'deny', status: 'denied' });
    assert.deepEqual(await p.wait(), { result: 'denied', approver: 'bob', reason: 'change freeze' });
    const [d] = s.f.audit.ofType('approval.decided', p.id);
    assert.equal(d!.via, 'web');
    assert.equal(d!.approver, 'bob');

    assert.equal((await s.call('POST', approve, { auth: 'admin', body: '{}' })).status, 409);
  } finally {
    await s.close();
  }
});

test('API: admin approves as a named approver; approverGroups use the OIDC groups', async () => {
  const s = await setup();
  try {
    const a = await s.f.broker.request(requestInput());
    const r = await s.call('POST', `/api/approvals/${a.id}/approve`, { auth: 'admin', body: '{"as":"alice"}' });
    assert.equal(r.status, 200);
    assert.deepEqual(await a.wait(), { result: 'approved', approvers: ['alice'] });

    const g = await s.f.broker.request(requestInput({ approverGroups: ['sre'] }));
    const wrong = await s.call('POST', `/api/approvals/${g.id}/approve`, { auth: 'oidc dave devs,qa' });
    assert.equal(wrong.status, 403);
    assert.match(String((wrong.json as { error: string }).error), /approver group/);
    const right = await s.call('POST', `/api/approvals/${g.id.toUpperCase()}/approve`, { auth: 'oidc erin qa,sre' });
    assert.equal(right.status, 200);
    assert.deepEqual(await g.wait(), { result: 'approved', approvers: ['erin'] });
  } finally {
    await s.close();
  }
});
