import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import pty from 'node-pty';
import { ApprovalBroker, registerApprovalRoutes, type PendingSummary } from '../../src/approvals/index.js';
import { Router } from '../../src/web/router.js';
import { cliPath, repoRoot } from '../helpers/paths.js';
import { brokerFixture, FakeAudit, ListLogger, requestInput, startTestServer, until } from './helpers.js';

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliPath, ...args],
      { cwd: repoRoot, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeout: 20_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

test('CLI approve in another process: the broker picks the decision up from the store', async () => {
  const f = await brokerFixture();
  try {
    const p = await f.broker.request(requestInput());
    const r = await cli(['approvals', 'approve', p.id, '--db', f.dbFile, '--as', 'alice']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`#${p.id} approved`));
    assert.deepEqual(await p.wait(), { result: 'approved', approvers: ['alice'] });
    const [d] = f.audit.ofType('approval.decided', p.id);
    assert.equal(d!.via, 'cli');
    assert.equal(d!.approver, 'alice');
    assert.equal(f.audit.ofType('approval.resolved', p.id)[0]!.decision, 'approved');

    // decided now: a second decision is refused with one line and exit 1
    const again = await cli(['approvals', 'deny', `#${p.id.toUpperCase()}`, '--db', f.dbFile, '--as', 'bob']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already approved/);
    assert.equal(again.stderr.trim().split('\n').length, 1);
  } finally {
    await f.close();
  }
});

test('CLI refusals: own request, unknown id, wrong group; deny with a reason; --group; list', async () => {
  const f = await brokerFixture();
  try {
    const p = await f.broker.request(requestInput({ subject: 'alice' }));
    const self = await cli(['approvals', 'approve', p.id, '--db', f.dbFile, '--as', 'alice']);
    assert.equal(self.code, 1);
    assert.match(self.stderr, /own request/);
    await until(() => f.audit.ofType('approval.refused', p.id).length === 1, 5000, 'refusal audited by the broker');
    assert.equal(f.audit.ofType('approval.refused', p.id)[0]!.via, 'cli');

    const unknown = await cli(['approvals', 'approve', 'zzzzzzzz', '--db', f.dbFile, '--as', 'bob']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no approval request #zzzzzzzz/);

    const g = await f.broker.request(requestInput({ approverGroups: ['sre'] }));
    const list = await cli(['approvals', 'list', '--json', '--db', f.dbFile]);
    assert.equal(list.code, 0, list.stderr);
    const items = JSON.parse(list.stdout) as PendingSummary[];
    assert.deepEqual(items.map((i) => i.id).sort(), [p.id, g.id].sort());
    for (const i of items) for (const k of ['id', 'subject', 'target', 'command', 'rule', 'expiresAt']) assert.ok(k in i);
    const plain = await cli(['approvals', 'list', '--db', f.dbFile]);
    assert.match(plain.stdout, new RegExp(`#${g.id} .*web-1.*restarts-need-a-human`));

    const wrong = await cli(['approvals', 'approve', g.id, '--db', f.dbFile, '--as', 'bob']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /approver group/);
    const right = await cli(['approvals', 'deny', g.id, '--db', f.dbFile, '--as', 'bob', '--group', 'sre', '--reason', 'not now']);
    assert.equal(right.code, 0, right.stderr);
    assert.deepEqual(await g.wait(), { result: 'denied', approver: 'bob', reason: 'not now' });

    const usage = await cli(['approvals', 'approve', '--db', f.dbFile]);
    assert.equal(usage.code, 2);
  } finally {
    await f.close();
  }
});

test('CLI --url: decides through the API with a bearer token from the environment', async () => {
  const router = new Router();
  const token = 'adm_' + randomBytes(16).toString('hex');
  const http = await startTestServer(router, token);
  const f = await brokerFixture();
  registerApprovalRoutes(router, f.broker);
  try {
    const p = await f.broker.request(requestInput());
    const noToken = await cli(['approvals', 'list', '--url', http.url]);
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /SHELLGATE_ADMIN_TOKEN/);
    const bad = await cli(['approvals', 'list', '--url', http.url], { SHELLGATE_TOKEN: 'x' + token });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /401/);
    const list = await cli(['approvals', 'list', '--json', '--url', http.url], { SHELLGATE_ADMIN_TOKEN: token });
    assert.equal(list.code, 0, list.stderr);
    assert.equal((JSON.parse(list.stdout) as PendingSummary[])[0]!.id, p.id);
    const r = await cli(['approvals', 'approve', p.id, '--url', http.url, '--as', 'alice', '--token-env', 'MY_TOKEN'], { MY_TOKEN: token });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await p.wait(), { result: 'approved', approvers: ['alice'] });
    assert.equal(f.audit.ofType('approval.decided', p.id)[0]!.via, 'web');
  } finally {
    await f.close();
    await http.close();
  }
});

/** `shellgate approvals --db FILE --as bob` in a PTY: what it drew so far, typing, its exit. */
function prompt(dbFile: string): { screen(): string; write(text: string): void; exited: Promise<number>; close(): void } {
  const term = pty.spawn(process.execPath, [cliPath, 'approvals', '--db', dbFile, '--as', 'bob'], {
    name: 'xterm',
    cols: 120,
    rows: 30,
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
  });
  let screen = '';
  term.onData((d) => (screen += d));
  const exited = new Promise<number>((r) => term.onExit((e) => r(e.exitCode)));
  return {
    screen: () => screen,
    write: (text) => term.write(text),
    exited,
    close() {
      try {
        term.kill();
      } catch {
        /* already exited */
      }
    },
  };
}

test('interactive prompt in a PTY: shows the request, y approves, n denies with a reason, q quits', async () => {
  const f = await brokerFixture();
  const p = await f.broker.request(requestInput());
  const term = prompt(f.dbFile);
  try {
    await until(() => term.screen().includes(`approve #${p.id}?`), 10_000, 'the prompt');
    assert.match(term.screen(), /deploy-bot \(agents\) → web-1/);
    assert.match(term.screen(), /systemctl restart nginx/);
    assert.match(term.screen(), /restarts-need-a-human/);
    assert.match(term.screen(), /\d+s left/);
    term.write('y\r');
    assert.deepEqual(await p.wait(), { result: 'approved', approvers: ['bob'] });
    await until(() => term.screen().includes(`#${p.id} approved`), 5000, 'confirmation');

    const q = await f.broker.request(requestInput({ command: 'kill -9 1234', argv: [['kill', '-9', '1234']] }));
    await until(() => term.screen().includes(`approve #${q.id}?`), 10_000, 'the second request');
    term.write('n\r');
    await until(() => term.screen().includes('reason (optional)'), 5000, 'reason question');
    term.write('wrong pid\r');
    assert.deepEqual(await q.wait(), { result: 'denied', approver: 'bob', reason: 'wrong pid' });
    await until(() => term.screen().includes('waiting for approval requests'), 5000, 'idle');
    term.write('q\r');
    assert.equal(await term.exited, 0);
  } finally {
    term.close();
    await f.close();
  }
});

test('interactive prompt: the words approve, deny, skip and quit work as their letters do', async () => {
  const f = await brokerFixture();
  const p = await f.broker.request(requestInput());
  const q = await f.broker.request(requestInput({ command: 'kill -9 1234', argv: [['kill', '-9', '1234']] }));
  const term = prompt(f.dbFile);
  try {
    // Both were requested in the same instant: either may be asked first.
    await until(() => term.screen().includes(`approve #${p.id}?`) || term.screen().includes(`approve #${q.id}?`), 10_000, 'the first prompt');
    const [first, second] = term.screen().includes(`approve #${p.id}?`) ? [p, q] : [q, p];
    term.write('Skip\r');
    await until(() => term.screen().includes(`skipped #${first.id}`) && term.screen().includes(`approve #${second.id}?`), 5000, 'skipped, then the other request');
    term.write('deny\r');
    await until(() => term.screen().includes('reason (optional)'), 5000, 'reason question');
    term.write('\r');
    assert.deepEqual(await second.wait(), { result: 'denied', approver: 'bob', reason: 'no reason given' });
    await until(() => term.screen().includes('waiting for approval requests'), 5000, 'idle: the skipped one is not asked again');
    term.write('quit\r');
    assert.equal(await term.exited, 0);
  } finally {
    term.close();
    await f.close();
  }
  // And `approve` approves (a fresh prompt: the skipped request is asked again).
  const g = await brokerFixture();
  const r = await g.broker.request(requestInput());
  const term2 = prompt(g.dbFile);
  try {
    await until(() => term2.screen().includes(`approve #${r.id}?`), 10_000, 'the prompt');
    term2.write('APPROVE\r');
    assert.deepEqual(await r.wait(), { result: 'approved', approvers: ['bob'] });
    term2.write('q\r');
    assert.equal(await term2.exited, 0);
  } finally {
    term2.close();
    await g.close();
  }
});

test('CLI with no gateway running: the decision is recorded but reported as not applied; a restart expires the request as denied', async () => {
  const f = await brokerFixture();
  try {
    const p = await f.broker.request(requestInput());
    await f.broker.stop();
    const r = await cli(['approvals', 'approve', p.id, '--db', f.dbFile, '--as', 'alice']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no running gateway has picked it up/);
    const audit = new FakeAudit();
    const b2 = new ApprovalBroker({ db: f.db, audit, timeoutMs: 1000, webhooks: [], publicUrl: null, dataDir: f.dir, logger: new ListLogger() });
    await b2.start();
    assert.deepEqual(
      audit.events.map((e) => [e.type, e.approver ?? null, e.decision]),
      [
        ['approval.decided', 'alice', 'approve'],
        ['approval.decided', 'shellgate', 'deny'],
        ['approval.resolved', 'shellgate', 'denied'],
      ],
    );
    assert.equal((f.db.prepare('SELECT status FROM approval_requests WHERE id = ?').get(p.id) as { status: string }).status, 'denied');
    await b2.stop();
  } finally {
    await f.close();
  }
});

test('CLI --config: the store comes from the gateway config file', async () => {
  const f = await brokerFixture();
  try {
    const p = await f.broker.request(requestInput());
    const cfgDir = path.join(f.dir, 'cfg');
    mkdirSync(path.join(cfgDir, 'policies'), { recursive: true });
    writeFileSync(path.join(cfgDir, 'policies', 'default.yaml'), 'version: 1\ndefault: deny\nunanalyzable: deny\nrules: []\n');
    writeFileSync(
      path.join(cfgDir, 'shellgate.yaml'),
      `listen:\n  ssh: 127.0.0.1:0\nstore: ${JSON.stringify(f.dbFile)}\nidentity:\n  devIssuer: true\ntargets:\n  local:\n    kind: local\n    shell: /bin/sh\n    policy: default\n`,
    );
    const r = await cli(['approvals', 'list', '--json', '--config', path.join(cfgDir, 'shellgate.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as PendingSummary[]).map((x) => x.id), [p.id]);
  } finally {
    await f.close();
  }
});
