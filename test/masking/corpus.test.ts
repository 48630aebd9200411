import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { compileMasker } from '../../src/masking/index.js';
import { cliPath } from '../helpers/paths.js';
import { grade, loadCorpus } from './fakes.js';
import { runChunks, splitAt } from './stream-util.js';

const cases = loadCorpus();

function cli(args: string[], input: string | Buffer): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [cliPath, ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    child.stdin!.end(input);
  });
}

test('public corpus: every case passes through maskText', () => {
  assert.ok(cases.length >= 40);
  const m = compileMasker();
  const failures: string[] = [];
  for (const c of cases) {
    const problems = grade(c, m.maskText(c.input).text);
    if (problems.length) failures.push(`${c.detector} (${c.why}): ${problems.join('; ')}`);
  }
  assert.deepEqual(failures, []);
});

test('public corpus: each positive case reports its detector, false-positive probes report nothing', () => {
  const m = compileMasker();
  for (const c of cases) {
    const found = m.maskText(c.input).findings.map((f) => f.detector);
    if (c.detector === 'none') assert.deepEqual(found, [], c.why);
    else assert.ok(found.includes(c.detector), `${c.why}: ${found.join(',')}`);
  }
});

test('public corpus: small chunks through the stream give the same bytes as one shot', async () => {
  const m = compileMasker();
  for (const c of cases) {
    const whole = Buffer.from(m.maskText(c.input).text);
    const buf = Buffer.from(c.input);
    for (const size of [1, 2, 3, 7]) {
      const cuts: number[] = [];
      for (let i = size; i < buf.length; i += size) cuts.push(i);
      const out = await runChunks(m.createStream(), splitAt(buf, cuts));
      assert.ok(out.equals(whole), `${c.why}: chunk size ${size}`);
    }
  }
});

test('public corpus: every case passes through the real CLI (shellgate mask)', async () => {
  const failures: string[] = [];
  // a few at a time: 40 node processes
  for (let i = 0; i < cases.length; i += 8) {
    const batch = cases.slice(i, i + 8);
    const results = await Promise.all(batch.map((c) => cli(['mask'], c.input)));
    results.forEach((r, k) => {
      const c = batch[k]!;
      if (r.code !== 0) failures.push(`${c.why}: exit ${r.code} ${r.stderr}`);
      const problems = grade(c, r.stdout);
      if (problems.length) failures.push(`${c.detector} (${c.why}): ${problems.join('; ')}`);
    });
  }
  assert.deepEqual(failures, []);
});

test('CLI --report: JSON on stderr with detector ids, counts and byte offsets, never the secret', async () => {
  const c = cases.find((x) => x.detector === 'password-assignment' && x.input.startsWith('password='))!;
  const r = await cli(['mask', '--report'], c.input);
  assert.equal(r.code, 0);
  const report = JSON.parse(r.stderr.trim()) as { total: number; counts: Record<string, number>; findings: { detector: string; start: number; end: number }[] };
  assert.equal(report.counts['password-assignment'], 1);
  assert.equal(report.total, 1);
  const f = report.findings[0]!;
  assert.equal(f.detector, 'password-assignment');
  const bytes = Buffer.from(c.input);
  assert.equal(bytes.subarray(f.start, f.end).toString(), c.secrets[0]);
  for (const s of c.secrets) assert.ok(!r.stderr.includes(s), 'the report must not contain the secret');
});

test('public corpus: a colour code inserted anywhere inside a secret does not stop masking, and passes through', () => {
  const m = compileMasker();
  const failures: string[] = [];
  for (const c of cases) {
    for (const s of c.secrets) {
      const at = c.input.indexOf(s);
      for (const k of [1, Math.floor(s.length / 2), s.length - 1]) {
        const seq = k % 2 ? '\x1b[1;32m' : '\x1b]8;;https://x\x1b\\';
        const input = c.input.slice(0, at + k) + seq + c.input.slice(at + k);
        const out = m.maskText(input).text;
        if (!out.includes(seq)) failures.push(`${c.why}: sequence lost`);
        const problems = grade(c, out.replace(seq, ''));
        if (problems.length) failures.push(`${c.why} @${k}: ${problems.join('; ')}`);
      }
    }
  }
  assert.deepEqual(failures, []);
});
