import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PolicyError } from '../../src/errors.js';
import { decideLine, initPolicyEngine, loadPolicyDir, loadPolicyFile } from '../../src/policy/index.js';
import { ctx, tmp, writePolicy } from './helpers.js';

/** Loads YAML expecting a PolicyError; returns its message. */
async function problem(yaml: string): Promise<{ message: string; file: string }> {
  await initPolicyEngine();
  const file = writePolicy(yaml);
  try {
    loadPolicyFile(file);
  } catch (err) {
    assert.ok(err instanceof PolicyError, `PolicyError, got ${String(err)}`);
    assert.equal((err as PolicyError).code, 'ERR_POLICY');
    return { message: (err as Error).message, file };
  }
  assert.fail('the policy was accepted');
}

test('errors name the file, the line, the rule and the problem', async () => {
  const { message, file } = await problem(`version: 1
default: deny
rules:
  - id: ok
    decision: allow
    match: [ls]
  - id: broken
    decision: allow
    match: ["ls; rm -rf /"]
`);
  assert.ok(message.startsWith(`${file}:9: `), message);
  assert.match(message, /rule broken/);
  assert.match(message, /operator/);
});

test('unknown keys are errors that name the key (top level, rule, masking)', async () => {
  let r = await problem('version: 1\ndefault: deny\ndefualt: allow\n');
  assert.match(r.message, /:3: unknown key "defualt"/);
  r = await problem('version: 1\nrules:\n  - id: a\n    decision: allow\n    match: [ls]\n    subject: [x]\n');
  assert.match(r.message, /:6: rule a: unknown key "subject"/);
  r = await problem('version: 1\nmasking:\n  add: [x]\n  remove: [y]\n');
  assert.match(r.message, /:4: masking: unknown key "remove"/);
});

test('bad values are rejected with their line', async () => {
  const cases: [string, RegExp][] = [
    ['version: 2\n', /:1: version: must be 1/],
    ['default: deny\n', /version: missing/],
    ['version: 1\ndefault: allow\n', /:2: default: must be deny or approve/],
    ['version: 1\nunanalyzable: allow\n', /:2: unanalyzable: must be deny or approve/],
    ['version: 1\nshell: open\n', /:2: shell: must be guarded or passthrough or deny/],
    ['version: 1\nmaxLineBytes: -5\n', /:2: maxLineBytes/],
    ['version: 1\nrules:\n  - id: a\n    decision: maybe\n    match: [ls]\n', /:4: rule a: decision/],
    ['version: 1\nrules:\n  - id: a\n    decision: allow\n', /rule a: match: missing/],
    ['version: 1\nrules:\n  - id: a\n    decision: allow\n    match: []\n', /:5: rule a: match: needs at least one/],
    ['version: 1\nrules:\n  - id: a\n    decision: allow\n    match: [ls]\n  - id: a\n    decision: deny\n    match: [rm]\n', /:6: rule a: id: duplicate/],
    ['version: 1\nrules:\n  - decision: allow\n    match: [ls]\n', /rule \(without id\): id: missing/],
    ['version: 1\nrules:\n  - id: a\n    decision: allow\n    subjects: [agents]\n    match: [ls]\n', /:5: rule a: subjects: "agents" must be group:NAME or sub:NAME/],
    ['version: 1\nrules:\n  - id: a\n    decision: approve\n    approvers: 0\n    match: [ls]\n', /:5: rule a: approvers/],
    ['version: 1\nrules:\n  - id: a\n    decision: allow\n    interactive: yes please\n    match: [ls]\n', /:5: rule a: interactive/],
    ['version: 1\nrules:\n  - id: a\n    decision: allow\n    match: ["-rf"]\n', /:5: rule a: match: .*starts with an option/],
    ['version: 1\nmasking:\n  add: ["(unclosed"]\n', /:3: masking.add: invalid regular expression/],
    ['version: 1\nmasking:\n  disable: [vaulted-secret]\n', /:3: masking.disable: vaulted-secret cannot be disabled/],
    ['version: 1\nmasking:\n  disable: [us-ssn, no-such-detector]\n', /:3: masking.disable: unknown detector id "no-such-detector" \(known: vaulted-secret, /],
    ['version: 1\nrules: [\n', /invalid YAML/],
    ['- just\n- a list\n', /must be a mapping/],
  ];
  for (const [yaml, re] of cases) assert.match((await problem(yaml)).message, re, yaml);
});

test('a valid policy exposes its settings and rules', async () => {
  await initPolicyEngine();
  const yaml = `version: 1
default: approve
unanalyzable: deny
shell: passthrough
maxLineBytes: 100
masking:
  add: ['(?i)internal-ref-[0-9a-f]{16}']
  disable: [us-ssn]
rules:
  - id: restart
    decision: approve
    approvers: 2
    approverGroups: [sre]
    interactive: true
    match: ["systemctl restart *"]
`;
  const file = writePolicy(yaml, 'settings.yaml');
  const p = loadPolicyFile(file);
  assert.equal(p.name, 'settings');
  assert.equal(p.file, file);
  assert.match(p.version, /^[0-9a-f]{64}$/);
  assert.equal(p.default, 'approve');
  assert.equal(p.unanalyzable, 'deny');
  assert.equal(p.shell, 'passthrough');
  assert.equal(p.maxLineBytes, 100);
  assert.deepEqual(p.masking, { add: ['(?i)internal-ref-[0-9a-f]{16}'], disable: ['us-ssn'] });
  assert.deepEqual(p.rule('restart'), { id: 'restart', decision: 'approve', approvers: 2, approverGroups: ['sre'], interactive: true });
  assert.equal(p.rule('nope'), undefined);
  assert.equal(decideLine(p, 'echo ' + 'x'.repeat(100), ctx).decision, 'deny', 'maxLineBytes applies');
  // Defaults when optional keys are absent.
  const q = loadPolicyFile(writePolicy('version: 1\n'));
  assert.deepEqual([q.default, q.unanalyzable, q.shell, q.maxLineBytes], ['deny', 'deny', 'guarded', 16384]);
  assert.equal(decideLine(q, 'ls', ctx).decision, 'deny');
});

test('the version changes with the content, and the cache does not mix policies', async () => {
  await initPolicyEngine();
  const a = loadPolicyFile(writePolicy('version: 1\nrules:\n  - {id: a, decision: allow, match: [ls]}\n'));
  const b = loadPolicyFile(writePolicy('version: 1\nrules:\n  - {id: b, decision: deny, match: [ls]}\n'));
  assert.notEqual(a.version, b.version);
  assert.equal(decideLine(a, 'ls', ctx).decision, 'allow');
  assert.equal(decideLine(b, 'ls', ctx).decision, 'deny');
  assert.equal(decideLine(a, 'ls', ctx).decision, 'allow', 'cached answer per policy version');
  const first = decideLine(a, 'ls -l', ctx);
  assert.equal(decideLine(a, 'ls -l', ctx), first, 'a cached decision is reused');
  assert.ok(Object.isFrozen(first) && Object.isFrozen(first.commands[0]), 'cached decisions are frozen');
  assert.equal(decideLine(a, 'ls -l', { ...ctx, target: 'other' }).decision, 'allow');
});

test('loadPolicyDir loads every .yaml/.yml by basename', async () => {
  await initPolicyEngine();
  const dir = path.join(tmp, 'dir');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'agents.yaml'), 'version: 1\n');
  writeFileSync(path.join(dir, 'ops.yml'), 'version: 1\ndefault: approve\n');
  writeFileSync(path.join(dir, 'README.md'), 'not a policy');
  const m = loadPolicyDir(dir);
  assert.deepEqual([...m.keys()].sort(), ['agents', 'ops']);
  assert.equal(m.get('ops')!.default, 'approve');
  writeFileSync(path.join(dir, 'bad.yaml'), 'version: 1\nnope: 1\n');
  assert.throws(() => loadPolicyDir(dir), (e: Error) => e instanceof PolicyError && /bad\.yaml:2: unknown key "nope"/.test(e.message));
  assert.throws(() => loadPolicyFile(path.join(dir, 'missing.yaml')), PolicyError);
});

test('the decision cache is a bounded LRU; decideLine fails closed on misuse', async () => {
  const { LruCache } = await import('../../src/policy/decision-cache.js');
  const c = new LruCache<number>(2);
  c.set('a', 1);
  c.set('b', 2);
  assert.equal(c.get('a'), 1); // a is now most recent
  c.set('c', 3); // evicts b
  assert.equal(c.get('b'), undefined);
  assert.deepEqual([c.get('a'), c.get('c'), c.size], [1, 3, 2]);
  assert.throws(() => new LruCache(0), TypeError);
  const d = decideLine({} as never, 'ls', ctx);
  assert.equal(d.decision, 'deny');
  assert.match(d.reason, /internal error/);
});

test('cache keys cannot be forged by names holding separators', async () => {
  const { cacheKey } = await import('../../src/policy/decision-cache.js');
  const a = cacheKey('v', 'ls', 'admin', ['ops'], 't');
  const b = cacheKey('v', 'ls', 'admin|3:ops', [], 't');
  const c = cacheKey('v', 'ls', 'admin\u0000ops', [], 't');
  assert.notEqual(a, b);
  assert.notEqual(a, c);
  assert.notEqual(cacheKey('v', 'x', 'a', ['b', 'c'], 't'), cacheKey('v', 'x', 'a', ['b|1:c'], 't'));
  const p = await (await import('./helpers.js')).policyFrom('version: 1\nrules:\n  - {id: ops, decision: allow, subjects: ["group:ops"], match: [ls]}\n');
  assert.equal(decideLine(p, 'ls', { subject: 'admin', groups: ['ops'], target: 't' }).decision, 'allow');
  assert.equal(decideLine(p, 'ls', { subject: 'admin|3:ops', groups: [], target: 't' }).decision, 'deny');
});
