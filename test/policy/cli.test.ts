import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import path from 'node:path';
import { cliPath, corpusDir, repoRoot } from '../helpers/paths.js';
import { help, run } from '../../src/cli/policy-check.js';
import { writePolicy } from './helpers.js';

const policy = path.join(corpusDir, 'policy-public.yaml');

function cli(args: string[], input?: string) {
  return spawnSync(process.execPath, [cliPath, 'policy', 'check', ...args], { cwd: repoRoot, encoding: 'utf8', input: input ?? '' });
}

/** Runs the subcommand in-process with a given stdin. */
async function inProcess(args: string[], stdin: string | Buffer[]): Promise<{ code: number; out: string; err: string }> {
  const input = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const done = run(args, { stdin: input, stdout, stderr, env: {}, cwd: repoRoot });
  for (const chunk of typeof stdin === 'string' ? [Buffer.from(stdin)] : stdin) input.write(chunk);
  input.end();
  const code = await done;
  return { code, out, err };
}

test('single-line mode: exit status 0 allow, 1 deny, 3 approve; human and JSON output', () => {
  let r = cli(['--policy', policy, '--', 'ls -la']);
  assert.equal(r.status, 0);
  assert.equal(r.stdout.trim().split('\n').length, 1);
  assert.match(r.stdout, /^allow \(rule read-only\): /);
  r = cli(['--policy', policy, '--json', '--', 'rm -rf /tmp/x']);
  assert.equal(r.status, 1);
  const d = JSON.parse(r.stdout);
  assert.deepEqual([d.decision, d.rule, d.reason], ['deny', 'destructive', 'rm -r ** matches destructive']);
  assert.deepEqual(d.commands[0], { argv: ['rm', '-rf', '/tmp/x'], decision: 'deny', rule: 'destructive', reason: 'rm -r ** matches destructive' });
  r = cli(['--policy', policy, '--', 'systemctl', 'restart', 'nginx']);
  assert.equal(r.status, 3, 'words after -- are joined');
  r = cli(['--policy', policy, '--subject', 'dana', '--group', 'x', '--group', 'deployers', '--target', 'web-2', '--', 'git pull']);
  assert.equal(r.status, 0, 'repeatable --group');
});

test('usage and policy-file errors exit 2 with one clear line', () => {
  let r = cli(['--', 'ls']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--policy/);
  r = cli(['--policy', policy]);
  assert.equal(r.status, 2);
  r = cli(['--policy', policy, '--bogus', '--', 'ls']);
  assert.equal(r.status, 2);
  const bad = writePolicy('version: 1\nrules:\n  - id: x\n    decision: allow\n    match: ["a | b"]\n');
  r = cli(['--policy', bad, '--', 'ls']);
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.ok(r.stderr.includes(`${bad}:5: rule x: `), r.stderr);
  r = cli(['--policy', bad, '--stdin'], 'ls\n');
  assert.equal(r.status, 2, 'an invalid policy fails --stdin too');
  r = cli(['--help']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /--stdin/);
  assert.match(help, /--group G/);
});

test('--stdin: one JSON line per input line, in order, empty and invalid lines included', async () => {
  const input = 'ls\n\nrm -r /x\necho "unterminated\n\0\nsystemctl restart a\nlast-without-newline';
  const { code, out } = await inProcess(['--policy', policy, '--stdin'], input);
  assert.equal(code, 0);
  const lines = out.split('\n');
  assert.equal(lines.pop(), '', 'output ends with a newline');
  const ds = lines.map((l) => JSON.parse(l) as { decision: string; reason: string });
  assert.deepEqual(ds.map((d) => d.decision), ['allow', 'allow', 'deny', 'deny', 'deny', 'approve', 'deny']);
  assert.match(ds[3]!.reason, /unterminated/);
  assert.match(ds[4]!.reason, /NUL/);
});

test('--stdin: lines split across chunks (even inside a UTF-8 character) and over-long lines', async () => {
  const text = Buffer.from('echo héllo\nls -l\n' + 'echo ' + 'x'.repeat(40000) + '\nuptime\n');
  const chunks: Buffer[] = [];
  for (let i = 0; i < text.length; i += 7) chunks.push(text.subarray(i, i + 7));
  const { code, out } = await inProcess(['--policy', policy, '--stdin', '--json'], chunks);
  assert.equal(code, 0);
  const ds = out.trim().split('\n').map((l) => JSON.parse(l) as { decision: string; reason: string; commands: { argv: string[] }[] });
  assert.equal(ds.length, 4);
  assert.deepEqual(ds[0]!.commands[0]!.argv, ['echo', 'héllo']);
  assert.equal(ds[1]!.decision, 'allow');
  assert.equal(ds[2]!.decision, 'deny');
  assert.match(ds[2]!.reason, /maxLineBytes/);
  assert.equal(ds[3]!.decision, 'allow');
});
