import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ApprovalBroker, ApprovalError } from '../../src/approvals/index.js';
import { openStore } from '../../src/store/open-store.js';
import { brokerFixture, FakeAudit, ListLogger, requestInput, tempDir } from './helpers.js';

const human = (name: string, groups: string[] = []) => ({ approver: name, approverGroups: groups, via: 'web' as const });

test('approve: one approver approves, events requested → decided → resolved', async () => {
  const f = await brokerFixture();
  try {
    const p = await f.broker.request(requestInput());
    assert.match(p.id, /^[0-9a-z]{8}$/);
    assert.ok(p.expiresAt.getTime() > Date.now() + 20_000);
    // approval.requested is durable before request() resolves
    const [req] = f.audit.ofType('approval.requested', p.id);
    assert.ok(req);
    assert.equal(req.command, 'systemctl restart nginx');
    assert.deepEqual(req.argv, [['systemctl', 'restart', 'nginx']]);
    assert.equal(req.rule, 'restarts-need-a-human');
    assert.equal(req.subject, 'deploy-bot');
    assert.equal(req.session, 'sess-1');
    assert.equal(req.expiresAt, p.expiresAt.toISOString());
    assert.equal(f.broker.listPending().length, 1);

    const r = await f.broker.decide(p.id, { ...human('alice'), decision: 'approve' });
    assert.equal(r.status, 'approved');
    assert.deepEqual(await p.wait(), { result: 'approved', approvers: ['alice'] });
    const decided = f.audit.ofType('approval.decided', p.id);
    assert.equal(decided.length, 1);
    assert.equal(decided[0]!.approver, 'alice');
    assert.equal(decided[0]!.via, 'web');
    assert.equal(decided[0]!.decision, 'approve');
    assert.equal(decided[0]!.command, 'systemctl restart nginx');
    assert.equal(decided[0]!.subject, 'deploy-bot', 'subject is the requester; the approver is in `approver`');
    const resolved = f.audit.ofType('approval.resolved', p.id);
    assert.deepEqual(resolved.map((e) => [e.decision, e.approvers]), [['approved', ['alice']]]);
    assert.deepEqual(f.audit.events.map((e) => e.type), ['approval.requested', 'approval.decided', 'approval.resolved']);
    assert.equal(f.broker.listPending().length, 0);
  } finally {
    await f.close();
  }
});

test('deny: outcome names the approver and the reason', async () => {
  const f = await brokerFixture();
  try {
    const p = await f.broker.request(requestInput());
    const r = await f.broker.decide(p.id, { ...human('bob'), decision: 'deny', reason: 'not during business hours' });
    assert.equal(r.status, 'denied');
    assert.deepEqual(await p.wait(), { result: 'denied', approver: 'bob', reason: 'not during business hours' });
    const [d] = f.audit.ofType('approval.decided', p.id);
    assert.equal(d!.decision, 'deny');
    assert.equal(d!.reason, 'not during business hours');
    const [res] = f.audit.ofType('approval.resolved', p.id);
    assert.equal(res!.decision, 'denied');
    assert.equal(res!.approver, 'bob');
  } finally {
    await f.close();
  }
});

test('timeout: unanswered request times out (audited as a deny via timeout); later decisions are refused', async () => {
  const f = await brokerFixture({ timeoutMs: 250 });
  try {
    const p = await f.broker.request(requestInput());
    const t0 = Date.now();
    assert.deepEqual(await p.wait(), { result: 'timeout' });
    assert.ok(Date.now() - t0 >= 200, 'not before the deadline');
    const [d] = f.audit.ofType('approval.decided', p.id);
    assert.equal(d!.via, 'timeout');
    assert.equal(d!.decision, 'deny');
    assert.equal(f.audit.ofType('approval.resolved', p.id)[0]!.decision, 'timeout');
    await assert.rejects(f.broker.decide(p.id, { ...human('alice'), decision: 'approve' }), (e: ApprovalError) => e.status === 409);
  } finally {
    await f.close();
  }
});

test('cancel: the agent closing the channel cancels the request', async () => {
  const f = await brokerFixture();
  try {
    const p = await f.broker.request(requestInput());
    p.cancel();
    assert.deepEqual(await p.wait(), { result: 'cancelled' });
    const [d] = f.audit.ofType('approval.decided', p.id);
    assert.equal(d!.via, 'cancel');
    assert.equal(f.audit.ofType('approval.resolved', p.id)[0]!.decision, 'cancelled');
    await assert.rejects(f.broker.decide(p.id, { ...human('alice'), decision: 'approve' }), (e: ApprovalError) => e.kind === 'decided');
    assert.equal(f.broker.listPending().length, 0);
  } finally {
    await f.close();
  }
});

test('self-approval is refused (403) and recorded; the request stays pending', async () => {
  const f = await brokerFixture();
  try {
    const p = await f.broker.request(requestInput({ subject: 'alice' }));
    await assert.rejects(
      f.broker.decide(p.id, { ...human('alice'), decision: 'approve' }),
      (e: ApprovalError) => e instanceof ApprovalError && e.status === 403 && e.kind === 'self' && /own request/.test(e.message),
    );
    // case variants of the same name are the same person
    await assert.rejects(f.broker.decide(p.id, { ...human('Alice'), decision: 'approve' }), (e: ApprovalError) => e.kind === 'self');
    const refused = f.audit.ofType('approval.refused', p.id);
    assert.equal(refused.length, 2);
    assert.equal(refused[0]!.approver, 'alice');
    assert.match(String(refused[0]!.reason), /own request/);
    assert.equal(f.audit.ofType('approval.decided', p.id).length, 0);
    assert.equal(f.broker.listPending()[0]?.id, p.id);
    // someone else may still approve
    assert.equal((await f.broker.decide(p.id, { ...human('bob'), decision: 'approve' })).status, 'approved');
    assert.deepEqual(await p.wait(), { result: 'approved', approvers: ['bob'] });
  } finally {
    await f.close();
  }
});

test('approvers: 2 needs two different approvers; the same approver twice does not count', async () => {
  const f = await brokerFixture();
  try {
    const p = await f.broker.request(requestInput({ approvers: 2 }));
    assert.equal((await f.broker.decide(p.id, { ...human('alice'), decision: 'approve' })).status, 'pending');
    await assert.rejects(
      f.broker.decide(p.id, { ...human('alice'), decision: 'approve' }),
      (e: ApprovalError) => e.kind === 'duplicate' && e.status === 409,
    );
    const pending = f.broker.listPending();
    assert.equal(pending.length, 1);
    assert.equal(pending[0]!.approvals, 1);
    assert.equal(pending[0]!.approvers, 2);
    assert.deepEqual(pending[0]!.approvedBy, ['alice']);
    let settled = false;
    void p.wait().then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(settled, false, 'one approver is not enough');
    assert.equal((await f.broker.decide(p.id, { ...human('carol'), decision: 'approve' })).status, 'approved');
    assert.deepEqual(await p.wait(), { result: 'approved', approvers: ['alice', 'carol'] });
    assert.deepEqual(f.audit.ofType('approval.decided', p.id).map((e) => e.approver), ['alice', 'carol']);
  } finally {
    await f.close();
  }
});

test('approvers: 2 — a deny by any allowed approver denies', async () => {
  const f = await brokerFixture();
  try {
    const p = await f.broker.request(requestInput({ approvers: 2 }));
    await f.broker.decide(p.id, { ...human('alice'), decision: 'approve' });
    assert.equal((await f.broker.decide(p.id, { ...human('carol'), decision: 'deny' })).status, 'denied');
    assert.deepEqual(await p.wait(), { result: 'denied', approver: 'carol', reason: 'no reason given' });
  } finally {
    await f.close();
  }
});

test('approverGroups: only members of a listed group may decide', async () => {
  const f = await brokerFixture();
  try {
    const p = await f.broker.request(requestInput({ approverGroups: ['sre', 'oncall'] }));
    await assert.rejects(
      f.broker.decide(p.id, { ...human('mallory', ['devs']), decision: 'approve' }),
      (e: ApprovalError) => e.kind === 'group' && e.status === 403,
    );
    await assert.rejects(f.broker.decide(p.id, { ...human('nobody', []), decision: 'deny' }), (e: ApprovalError) => e.kind === 'group');
    assert.equal(f.audit.ofType('approval.refused', p.id).length, 2);
    assert.equal(f.broker.listPending().length, 1);
    assert.equal((await f.broker.decide(p.id, { ...human('olga', ['devs', 'oncall']), decision: 'approve' })).status, 'approved');
    assert.deepEqual(await p.wait(), { result: 'approved', approvers: ['olga'] });
  } finally {
    await f.close();
  }
});

test('no reuse: an approval is valid for its one request only', async () => {
  const f = await brokerFixture();
  try {
    const a = await f.broker.request(requestInput());
    await f.broker.decide(a.id, { ...human('alice'), decision: 'approve' });
    assert.equal((await a.wait()).result, 'approved');
    // the same command again is a new request, with a new id, pending until decided anew
    const b = await f.broker.request(requestInput());
    assert.notEqual(b.id, a.id);
    assert.deepEqual(f.broker.listPending().map((x) => x.id), [b.id]);
    await assert.rejects(f.broker.decide(a.id, { ...human('bob'), decision: 'approve' }), (e: ApprovalError) => e.status === 409);
    await assert.rejects(f.broker.decide('zzzzzzzz', { ...human('bob'), decision: 'approve' }), (e: ApprovalError) => e.status === 404);
    b.cancel();
    assert.equal((await b.wait()).result, 'cancelled');
  } finally {
    await f.close();
  }
});

test('restart: pending requests of an earlier run are expired as denied, never allowed', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const dbFile = path.join(dir, 'shellgate.db');
    const db = openStore(dbFile);
    const audit1 = new FakeAudit();
    const mk = (audit: FakeAudit) =>
      new ApprovalBroker({ db, audit, timeoutMs: 60_000, webhooks: [], publicUrl: null, dataDir: dir, logger: new ListLogger(), pollMs: 50 });
    const b1 = mk(audit1);
    await b1.start();
    const p = await b1.request(requestInput({ approvers: 2 }));
    await b1.decide(p.id, { ...human('alice'), decision: 'approve' });
    await b1.stop();
    assert.deepEqual(await p.wait(), { result: 'cancelled' }, 'waits end when the broker stops');

    const audit2 = new FakeAudit();
    const b2 = mk(audit2);
    await b2.start();
    assert.equal(b2.listPending().length, 0);
    const row = db.prepare('SELECT status, outcome_reason FROM approval_requests WHERE id = ?').get(p.id) as { status: string; outcome_reason: string };
    assert.equal(row.status, 'denied');
    assert.match(row.outcome_reason, /restart/);
    const [d] = audit2.ofType('approval.decided', p.id);
    assert.equal(d!.decision, 'deny');
    assert.equal(audit2.ofType('approval.resolved', p.id)[0]!.decision, 'denied');
    await assert.rejects(b2.decide(p.id, { ...human('carol'), decision: 'approve' }), (e: ApprovalError) => e.status === 409);
    await b2.stop();
    db.close();
  } finally {
    cleanup();
  }
});

test('crash between a decision\'s audit event and its row being marked: audited once after the restart', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = openStore(path.join(dir, 'shellgate.db'));
    const mk = (audit: FakeAudit) =>
      new ApprovalBroker({ db, audit, timeoutMs: 60_000, webhooks: [], publicUrl: null, dataDir: dir, logger: new ListLogger(), pollMs: 50 });
    const audit1 = new FakeAudit();
    const b1 = mk(audit1);
    await b1.start();
    const p = await b1.request(requestInput({ approvers: 2 }));
    const q = await b1.request(requestInput({ approvers: 2 }));
    await b1.decide(p.id, { ...human('alice'), decision: 'approve' });
    await b1.decide(q.id, { ...human('bob'), decision: 'approve' });
    await b1.stop();
    const rows = db.prepare('SELECT seq, approval FROM approval_decisions ORDER BY seq').all() as { seq: number; approval: string }[];
    assert.equal(rows.length, 2);
    const [pd] = audit1.ofType('approval.decided', p.id);
    assert.equal(pd!.decisionRow, rows[0]!.seq, 'the event names its decision row');
    // The crash: both rows left unmarked; p's event had been committed, q's had not.
    db.prepare('UPDATE approval_decisions SET applied = 0').run();
    const audit2 = new FakeAudit();
    audit2.events = audit1.events.filter((e) => !(e.type === 'approval.decided' && e.approval === q.id));
    const b2 = mk(audit2);
    await b2.start();
    assert.equal(audit2.ofType('approval.decided', p.id).filter((e) => e.approver === 'alice').length, 1, 'not audited twice');
    assert.equal(audit2.ofType('approval.decided', q.id).filter((e) => e.approver === 'bob').length, 1, 'the lost event is written again');
    const unapplied = db.prepare('SELECT count(*) AS n FROM approval_decisions WHERE applied = 0').get() as { n: number };
    assert.equal(unapplied.n, 0);
    await b2.stop();
    db.close();
  } finally {
    cleanup();
  }
});

test('fail closed: when the audit log cannot record the outcome, an approval becomes a denial', async () => {
  const f = await brokerFixture();
  try {
    const p = await f.broker.request(requestInput());
    f.audit.fail = (e) => e.type === 'approval.resolved' && e.decision === 'approved';
    await f.broker.decide(p.id, { ...human('alice'), decision: 'approve' });
    const out = await p.wait();
    assert.equal(out.result, 'denied');
    // and a request whose approval.requested cannot be written is refused outright
    f.audit.fail = () => true;
    await assert.rejects(f.broker.request(requestInput()), /audit/);
    assert.equal(f.broker.listPending().length, 0);
  } finally {
    await f.close();
  }
});

test('the link-signing key is created 0600 in the data dir', async () => {
  const f = await brokerFixture();
  try {
    const st = statSync(path.join(f.dir, 'approval-links.key'));
    assert.equal(st.mode & 0o777, 0o600);
  } finally {
    await f.close();
  }
});
