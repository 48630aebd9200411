/**
 * Arithmetic contexts evaluate the value of a variable they name as an expression, and a
 * subscript in that value runs command substitutions: a line with no `$(` can run a command.
 * Each hazard is first shown to run a command in real bash, then must be unanalyzable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decide } from './helpers.js';
import { namesVariable } from '../../src/policy/arithmetic-hazards.js';
import { initPolicyEngine } from '../../src/policy/index.js';
import { parseWithGrammar } from '../../src/policy/parse-line.js';

// Each line runs `touch MARK` through the value of x (or y), set on the line itself.
const HAZARDS = [
  `echo $((x))`,
  `echo "$(( x + 1 ))"`,
  `echo $[x]`,
  `(( x > 1 )); echo done`,
  `for ((i=x; i<1; i++)); do echo $i; done`,
  `for ((i=0; i<1; i++)); do i=$x; done`,
  `echo \${a[y]}`,
  `a[y]=1`,
  `echo \${z:y}`,
  `echo \${z:0:y}`,
  `echo \${!x}`,
  `[[ y -eq 0 ]] && echo eq`,
];

test('each hazard runs a command in real bash, and the engine calls it unanalyzable', async (t) => {
  await initPolicyEngine();
  const dir = mkdtempSync(path.join(tmpdir(), 'shellgate-arith-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [i, h] of HAZARDS.entries()) {
    const mark = path.join(dir, `m${i}`);
    const setup = `x='a[$(touch ${mark})]'; y=x; z=hello; `;
    const r = spawnSync('bash', ['-c', setup + h], { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 10_000 });
    assert.ok(existsSync(mark), `bash did not run the hidden command for: ${h} (${r.stderr})`);
    const d = await decide(setup.replace(/\$\(touch [^)]*\)/, '$(true)').replace('$(true)', 'b') + h);
    assert.notEqual(d.decision, 'allow', h);
    // `[[` has no rule in the unit policy (deny outranks the unanalyzable approve): look at the parts.
    const why = h.startsWith('[[') ? parseWithGrammar(h).items.map((it) => ('reason' in it ? it.reason : '')).join(' ') : d.reason;
    if (!h.startsWith('[[')) assert.equal(d.decision, 'approve', `${h}: ${d.reason}`); // the unit policy's unanalyzable
    assert.match(why, /naming a variable \(bash evaluates its value, which may run commands\)/, h);
  }
});

test('a hazard inside a nested shell string is found too', async () => {
  const d = await decide(`sh -c 'echo $((x))'`);
  assert.equal(d.decision, 'approve');
  assert.match(d.reason, /arithmetic expansion naming a variable/);
});

test('arithmetic on numbers and loop counters stays analysable', async () => {
  for (const line of [
    'echo $((1 + 2)) $((0x1F)) $((16#ff)) $((2#1010))',
    '(( 3 > 2 )) && ls',
    'echo ${a[0]} ${a[@]} ${a[*]} ${#a[@]}',
    'echo ${x:1:2} ${x:-default} ${x:=v} ${x:+alt}',
    'for ((i=0; i<3; i++)); do echo $i ${i}; done',
    'for ((i=0, j=5; i<j; i++)); do ls; done',
  ]) {
    const d = await decide(line);
    assert.equal(d.decision, 'allow', `${line}: ${d.reason}`);
  }
});

test('namesVariable: number literals are not names', () => {
  assert.equal(namesVariable('1 + 0x1f * 16#ff - 64#_@'), false);
  assert.equal(namesVariable('i + 1'), true);
  assert.equal(namesVariable('$n'), true);
  assert.equal(namesVariable('1e3'), true, '1e3 is not a bash number: e3 is a name');
  assert.equal(namesVariable('i < 3', new Set(['i'])), false);
  assert.equal(namesVariable('i < n', new Set(['i'])), true);
});
