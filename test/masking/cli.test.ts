import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { run } from '../../src/cli/mask.js';
import { cliPath } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';
import { fake } from './fakes.js';

function cli(args: string[], input: string, cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [cliPath, ...args], { encoding: 'utf8', cwd }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    child.stdin!.end(input);
  });
}

test('--policy applies the masking section (add, disable) read from the policy YAML', async () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(
      path.join(dir, 'p.yaml'),
      `version: 1\ndefault: deny\nrules: []\nmasking:\n  add: ['(?i)internal-ref-[0-9a-f]{16}']\n  disable: [us-ssn]\n`,
    );
    const ref = 'Internal-Ref-' + fake.hex(16);
    const ssn = fake.ssn();
    const r = await cli(['mask', '--policy', 'p.yaml'], `ssn ${ssn} ${ref}\n`, dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `ssn ${ssn} ${'*'.repeat(ref.length)}\n`);
  } finally {
    cleanup();
  }
});

test('bad detector id, bad regex, unreadable policy, vaulted-secret disabled: one line, exit 2', async () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(path.join(dir, 'bad-re.yaml'), `masking:\n  add: ['(oops']\n`);
    writeFileSync(path.join(dir, 'bad-id.yaml'), `masking:\n  disable: [credit-cards]\n`);
    writeFileSync(path.join(dir, 'vault.yaml'), `masking:\n  disable: [vaulted-secret]\n`);
    writeFileSync(path.join(dir, 'bad-yaml.yaml'), `masking: [\n`);
    const cases: [string[], RegExp][] = [
      [['mask', '--detectors', 'jwt,nope'], /--detectors: unknown detector id 'nope'/],
      [['mask', '--policy', 'bad-re.yaml'], /bad-re\.yaml: masking\.add\[0\]: invalid regular expression/],
      [['mask', '--policy', 'bad-id.yaml'], /masking\.disable: unknown detector id 'credit-cards'/],
      [['mask', '--policy', 'vault.yaml'], /'vaulted-secret' cannot be turned off/],
      [['mask', '--policy', 'missing.yaml'], /cannot read policy .*missing\.yaml/],
      [['mask', '--policy', 'bad-yaml.yaml'], /invalid YAML/],
      [['mask', '--nope'], /nope/],
    ];
    for (const [args, re] of cases) {
      const r = await cli(args, 'x\n', dir);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
      assert.equal(r.stdout, '');
    }
  } finally {
    cleanup();
  }
});

test('--detectors limits masking to the given built-in detectors', async () => {
  const key = fake.awsKeyId();
  const r = await cli(['mask', '--detectors', 'us-ssn'], `ssn ${fake.ssn()} ${key}\n`);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `ssn *********** ${key}\n`);
});

test('run() in-process streams stdin to stdout through the masker', async () => {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks: Buffer[] = [];
  const errs: Buffer[] = [];
  stdout.on('data', (d: Buffer) => chunks.push(d));
  stderr.on('data', (d: Buffer) => errs.push(d));
  const tok = fake.github();
  const done = run(['--report'], { stdin, stdout, stderr, env: {}, cwd: process.cwd() });
  stdin.write(`export GITHUB_TOKEN=${tok.slice(0, 10)}`);
  stdin.end(`${tok.slice(10)}\nok\n`);
  assert.equal(await done, 0);
  assert.equal(Buffer.concat(chunks).toString(), `export GITHUB_TOKEN=${'*'.repeat(tok.length)}\nok\n`);
  const report = JSON.parse(Buffer.concat(errs).toString()) as { counts: Record<string, number> };
  assert.equal(report.counts['github-token'], 1);
});
