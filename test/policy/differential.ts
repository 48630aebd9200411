import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { initPolicyEngine } from '../../src/policy/index.js';
import { analyseLine } from '../../src/policy/unwrap.js';
import { tmp } from './helpers.js';

/**
 * Differential test against real bash: every command is "not found" (PATH is empty, and the
 * generated program names are no builtins), and command_not_found_handle prints its argv. The
 * simple commands bash would run must be exactly the ones the engine decides, in order.
 */
const BASH_SCRIPT = `
PATH=/nonexistent
command_not_found_handle() { local IFS=$'\\x1f'; printf '%s\\x1f\\x1e' "$*"; return 0; } # one write: jobs may run in parallel
while IFS= read -r -d '' l; do
  # A subshell per line: a generated line may define functions or variables that must not leak;
  # wait: a background job (an unquoted & in a generated line) must print before the marker.
  ( eval "$l"; s=$?; wait; exit $s ) 2>/dev/null
  printf '\\x1d%d\\x1d' "$?"
done < "$1"
`;

const plain = fc.string({ unit: fc.constantFrom(...'qxzw019-/.=,:+@_'), minLength: 1, maxLength: 4 });
const anyChar = fc.constantFrom(...'qx z;|&\n\t\'"\\$#()<>*?~{}=-/'.split(''));
const piece = fc.oneof(
  plain,
  fc.string({ unit: anyChar, maxLength: 5 }).map((s) => `'${s.replace(/'/g, '')}'`),
  fc.string({ unit: fc.constantFrom(...'qx z;|&\n\t\'#()<>*?~{}=-/\\'.split('')), maxLength: 5 }).map((s) => `"${s.replace(/\\/g, '\\\\')}"`),
  fc.string({ unit: fc.constantFrom(...'"$`\\'.split('')), maxLength: 3 }).map((s) => `"${[...s].map((c) => '\\' + c).join('')}"`),
  anyChar.map((c) => `\\${c}`),
  fc.string({ unit: fc.constantFrom(...'qxn t\\\'"'.split('')), maxLength: 4 }).map((s) => `$'${s.replace(/\\$/, '').replace(/(^|[^\\])'/g, "$1\\'")}'`),
);
const word = fc.array(piece, { minLength: 1, maxLength: 3 }).map((ps) => ps.join(''));
/** Program names: plain or quoted spellings of names bash has no builtin for. */
const program = fc.constantFrom('qq', 'xz', 'wq', 'zx9').chain((n) => fc.constantFrom(n, `'${n}'`, `"${n}"`, `\\${n}`, `${n[0]}''${n.slice(1)}`));
/**
 * Lines built from `words`. The default arbitrary is the one CI's seeds were found with; the
 * second one mixes in the tokens after which tree-sitter-bash lexes test-expression operands
 * (`==`, `=~`…), where it read a `regex` token across a line break (seed 50219).
 */
function linesOf(args: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const command = fc.tuple(fc.option(fc.constantFrom('v1=a ', "v2='b c' ")), program, fc.array(args, { maxLength: 4 })).map(
    ([assign, prog, args]) => `${assign ?? ''}${prog}${args.map((a) => ' ' + a).join('')}`,
  );
  const sep = fc.constantFrom('; ', ' && ', '\n', ' ;\n', ' \\\n ', '\t# note ; qq\n', ';');
  const list = fc.tuple(command, fc.array(fc.tuple(sep, command), { maxLength: 3 })).map(
    ([first, rest]) => first + rest.map(([s, c]) => s + c).join(''),
  );
  return fc.tuple(list, fc.constantFrom('plain', 'group', 'subshell', 'if', 'for', 'or', 'not')).map(([l, shape]) => {
    switch (shape) {
      case 'group': return `{ ${l}\n}`;
      case 'subshell': return `(${l})`;
      case 'if': return `if qq c; then ${l}\nelse xz e; fi`;
      case 'for': return `for v in 1; do ${l}\ndone`;
      case 'or': return `${l} || wq never`;
      case 'not': return `! ${l}`;
      default: return l;
    }
  });
}
const lineArb = linesOf(word);
const opLineArb = linesOf(fc.oneof(word, fc.constantFrom('==', '=~', '!=', '-eq', '-a', '!', '[[', ']]', '-f')));

function bashRuns(lines: string[]): { status: number; argvs: string[][] }[] {
  const file = path.join(tmp, `diff-${process.pid}.bin`);
  writeFileSync(file, lines.map((l) => l + '\0').join(''));
  const out = spawnSync('bash', ['--norc', '--noprofile', '-c', BASH_SCRIPT, '_', file], { encoding: 'utf8', env: {}, timeout: 60_000, cwd: tmp });
  assert.equal(out.status, 0, out.stderr);
  const chunks = out.stdout.split('\x1d');
  const res: { status: number; argvs: string[][] }[] = [];
  for (let i = 0; i + 1 < chunks.length; i += 2) {
    const argvs = chunks[i]!.split('\x1e').filter((_, k, a) => k < a.length - 1).map((c) => c.split('\x1f').slice(0, -1));
    res.push({ status: Number(chunks[i + 1]), argvs });
  }
  return res;
}

/**
 * Seeds run in CI: fixed, so that a failure is reproducible. 50219 found a command hidden in the
 * `regex` token tree-sitter-bash reads after `==` in a simple command; add the seed of every
 * failure found by exploration here (78763: that token also ended inside an escape, `$' xt'\ `;
 * 13494: words after a redirection behind `!` or a pipeline, `! a < f x`, were split off).
 * Exploration: SHELLGATE_DIFF_SEEDS=random:N runs N random seeds instead (printed on failure);
 * SHELLGATE_DIFF_SEEDS=1,2,3 runs the listed seeds.
 */
const FIXED_SEEDS = [50219, 78763, 13494, 1, 7, 42, 1234, 9999, 31337, 65535, 77777, 99991];

function seedsToRun(): number[] {
  const env = process.env.SHELLGATE_DIFF_SEEDS?.trim();
  if (!env) return FIXED_SEEDS;
  const random = /^random:(\d+)$/.exec(env);
  if (random) return Array.from({ length: Number(random[1]) }, () => Math.floor(Math.random() * 100_000));
  const list = env.split(',').map((s) => Number(s.trim()));
  if (!list.length || list.some((n) => !Number.isInteger(n))) throw new TypeError('SHELLGATE_DIFF_SEEDS: random:N or a comma-separated list of integers');
  return list;
}

const TRICKY = [
  'qq a\\\n b', "qq 'a\nb' c", 'qq "a\\\nb"', "qq $'a\\nb' $'\\x71'", 'qq a#b #c\nxz', 'v1=a qq', 'qq ""', "qq '' x",
  // Found by seed 50219: the `regex` token after `==` ran past the line break and hid `xz`.
  "{ v2='b c' q''q \"'={\t\"\"q*\n\" == $'x'\"/q \"\"\"\nv2='b c' 'xz'\n}",
  "qq == $'x'\"/q \"\"\"\nxz", 'qq =~ "a"\nxz', 'qq == a b',
  // Found by seed 78763: the `regex` token ended between a backslash and the blank it escapes.
  "qq == $' xt'\\ )", "(xz == $' xt'\\ )", 'qq == a\\ b',
  // Found by seed 13494: bash gives `x` to the last simple command; the grammar split it off.
  '! qq < f x', 'qq | wq < /dev/null x', '! qq | wq > /dev/null x y', '< /dev/null qq x', '! < /dev/null qq x',
  // Found by hand: words after a here-document's delimiter were dropped.
  'wq <<EOF x\nhi\nEOF', 'wq a <<-EOF x y\nhi\nEOF', 'qq | wq <<EOF x\nhi\nEOF',
  // Found by hand: bash removes escapes inside `…` before parsing it; $"…" and $$.
  'qq "`wq \\"a\\"`"', 'qq `wq \\`xz\\``', 'qq a$"x" $"a"""c $ "b" $', 'qq x$$ $$',
];

/**
 * Register this file's share of the seeds: part `part` of `parts` (1-based). The fixed seeds are
 * dealt round-robin over the differential-N.test files so that each stays well inside the test
 * timeout (a seed forks a bash subshell per line: about 19 s on the 2-core CI machine, twelve in
 * one file came within seconds of the 240 s limit); seeds from SHELLGATE_DIFF_SEEDS all run in part 1.
 */
export function registerDifferentialTests(part: number, parts: number): void {
  const seeds = process.env.SHELLGATE_DIFF_SEEDS?.trim() ? (part === 1 ? seedsToRun() : []) : FIXED_SEEDS.filter((_, i) => i % parts === part - 1);
  for (const seed of seeds) registerSeed(seed);
}

function registerSeed(seed: number): void {
  test(`differential (seed ${seed}): the simple commands bash runs are exactly the parts the engine decides`, async () => {
    const probe = spawnSync('bash', ['-c', 'echo ok'], { encoding: 'utf8' });
    assert.equal(probe.stdout, 'ok\n', 'bash is available');
    await initPolicyEngine();
    const lines = [...fc.sample(lineArb, { numRuns: 1200, seed }), ...fc.sample(opLineArb, { numRuns: 400, seed }), ...TRICKY];
    // The generator must stay the one the seeds were found with.
    if (seed === 50219) assert.ok(lines.indexOf(TRICKY[8]!) < 1200, 'seed 50219 still generates the line CI found');
    const bash = bashRuns(lines);
    assert.equal(bash.length, lines.length, 'bash answered every line');
    const mismatches: string[] = [];
    let compared = 0;
    let exact = 0;
    let plainCompared = 0;
    lines.forEach((line, i) => {
      const b = bash[i]!;
      const mine = analyseLine(line);
      if (b.status !== 0) return; // bash refused the line: nothing runs
      if (mine.invalid || mine.parts.some((p) => p.deny)) return; // the engine refuses (deny): safe
      compared++;
      const ours = mine.parts.map((p) => JSON.stringify(p.words.map((w) => w.text)));
      // Safety: every command bash runs is decided by the engine, with these words (a word the
      // engine calls unknown stands for any word). bash may show fewer: in a pipeline the left
      // side's output goes into the pipe, `!`/`||`/else skip commands the engine still decides.
      const covers = (a: string[]) =>
        mine.parts.some((p) => p.words.length === a.length && p.words.every((w, k) => w.unknown || w.text === a[k]));
      const missing = b.argvs.filter((a) => !covers(a));
      if (missing.length) mismatches.push(`${JSON.stringify(line)}: bash ran ${JSON.stringify(missing)}; engine decided [${ours.join(', ')}]`);
      // Exactness only where bash runs every branch (no pipe, no else, no ||).
      if (!line.includes('|') && !line.includes('else') && !line.startsWith('!') && !line.includes('$')) {
        plainCompared++;
        if (JSON.stringify(b.argvs) === `[${ours.join(',')}]`) exact++;
        else if (process.env.SHOW_INEXACT) console.log(JSON.stringify(line), JSON.stringify(b.argvs), ours.join(' '));
      }
    });
    assert.ok(exact > plainCompared * 0.9, `lines without a pipe or untaken branch give exactly the same commands (${exact}/${plainCompared}, seed ${seed})`);
    // The generator favours odd escapes, some of which the engine refuses (deny): a third is plenty.
    assert.ok(compared > lines.length / 3, `enough lines compared (${compared}/${lines.length}, seed ${seed})`);
    assert.deepEqual(mismatches.slice(0, 5), [], `seed ${seed}`);
  });
}
