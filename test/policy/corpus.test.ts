import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { cliPath, corpusDir, repoRoot } from '../helpers/paths.js';
import { decideLine, initPolicyEngine, loadPolicyFile } from '../../src/policy/index.js';

interface Case { line: string; subject: string; groups: string[]; target: string; expect: string; why: string }

const policyFile = path.join(corpusDir, 'policy-public.yaml');
const cases: Case[] = readFileSync(path.join(corpusDir, 'policy-cases.public.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as Case);

test('public corpus: the engine decides every case as expected', async () => {
  await initPolicyEngine();
  const policy = loadPolicyFile(policyFile);
  assert.ok(cases.length >= 50, 'corpus loaded');
  const failures: string[] = [];
  for (const c of cases) {
    const d = decideLine(policy, c.line, { subject: c.subject, groups: c.groups, target: c.target });
    if (d.decision !== c.expect) failures.push(`${JSON.stringify(c.line)}: expected ${c.expect}, got ${d.decision} (${d.reason}) — ${c.why}`);
  }
  assert.deepEqual(failures, []);
});

/** Runs the CLI with stdin; resolves with stdout and the exit status. */
function runCli(args: string[], input: string): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, stderr, code }));
    child.stdin.end(input);
  });
}

test('public corpus through the CLI: --stdin --json, one output line per input line, per identity', async () => {
  const single = cases.filter((c) => !/[\r\n]/.test(c.line));
  // Group cases by identity/target: one CLI run per group, lines in order.
  const groups = new Map<string, Case[]>();
  for (const c of single) {
    const k = JSON.stringify([c.subject, c.groups, c.target]);
    groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  const failures: string[] = [];
  for (const group of groups.values()) {
    const { subject, groups: gs, target } = group[0]!;
    const args = ['policy', 'check', '--policy', policyFile, '--subject', subject, ...gs.flatMap((g) => ['--group', g]), '--target', target, '--stdin', '--json'];
    const { stdout, stderr, code } = await runCli(args, group.map((c) => c.line).join('\n') + '\n');
    assert.equal(code, 0, `--stdin exits 0 (stderr: ${stderr})`);
    const out = stdout.split('\n').filter((l, i, a) => i < a.length - 1 || l !== '');
    assert.equal(out.length, group.length, 'one output line per input line');
    group.forEach((c, i) => {
      const d = JSON.parse(out[i]!) as { decision: string; rule: string | null; reason: string; commands: unknown[] };
      assert.equal(typeof d.reason, 'string');
      assert.ok(Array.isArray(d.commands));
      if (d.decision !== c.expect) failures.push(`${JSON.stringify(c.line)}: expected ${c.expect}, got ${d.decision} — ${c.why}`);
    });
  }
  assert.deepEqual(failures, []);
});

test('public corpus through the CLI: lines holding a line break, single-line mode and exit status', () => {
  const multi = cases.filter((c) => /[\r\n]/.test(c.line));
  assert.ok(multi.length >= 2, 'the corpus has multi-line cases');
  const exit: Record<string, number> = { allow: 0, deny: 1, approve: 3 };
  for (const c of multi) {
    const args = ['policy', 'check', '--policy', policyFile, '--subject', c.subject, ...c.groups.flatMap((g) => ['--group', g]), '--target', c.target, '--json', '--', c.line];
    const r = spawnSync(process.execPath, [cliPath, ...args], { cwd: repoRoot, encoding: 'utf8' });
    const d = JSON.parse(r.stdout) as { decision: string };
    assert.equal(d.decision, c.expect, `${JSON.stringify(c.line)}: ${c.why}`);
    assert.equal(r.status, exit[c.expect], `${JSON.stringify(c.line)}: exit status`);
  }
});
