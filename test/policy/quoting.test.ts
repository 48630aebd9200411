import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argvs, decide } from './helpers.js';
import { initPolicyEngine } from '../../src/policy/index.js';
import { lexWord } from '../../src/policy/lex-word.js';
import { analyseLine } from '../../src/policy/unwrap.js';

const none = new Map<number, number>();

/** The line is refused: invalid, or some part is always denied. */
async function refused(line: string): Promise<boolean> {
  await initPolicyEngine();
  const a = analyseLine(line);
  return a.invalid !== null || a.parts.some((p) => p.deny !== undefined);
}

test('lexWord reads one bash word: quotes, escapes, $\'…\' and "…"', () => {
  assert.deepEqual(lexWord("'a''b'", none), { ok: true, value: 'ab', sig: '\x01\x01', expansion: false });
  const cases: [string, string][] = [
    ['my\\ file', 'my file'],
    ['"a b"c', 'a bc'],
    ["$'x'\"/q \"\"\"", 'x/q '],
    ['"a\\"b"\'c\'', 'a"bc'],
    ['a\\\nb', 'ab'],
    ['"a\\\nb"', 'ab'],
    ['$"hi"', 'hi'],
    ["$'a\\'b'", "a'b"],
    ['x$', 'x$'],
  ];
  for (const [raw, value] of cases) {
    const r = lexWord(raw, none);
    assert.ok(r.ok, raw);
    assert.equal(r.value, value, raw);
    assert.equal(r.expansion, false, raw);
  }
  assert.equal((lexWord('"$x"', none) as { expansion: boolean }).expansion, true);
  assert.equal((lexWord('a$1', none) as { expansion: boolean }).expansion, true);
});

test('lexWord refuses text that is not exactly one bash word', () => {
  for (const raw of ["$'x'\"/q \"\"\"\nxz", 'a b', 'a;b', 'a|b', 'a>b', 'a)', "'open", '"open', "$'open", '"a""', 'a\tb', '$(ls)', '`id`', '"${x}"', '<(ls)']) {
    const r = lexWord(raw, none);
    assert.equal(r.ok, false, JSON.stringify(raw));
  }
  // A substitution the grammar found is skipped over (its commands are checked where they are walked).
  const r = lexWord('a$(ls -l)b', new Map([[1, 9]]));
  assert.ok(r.ok && r.expansion);
});

test('seed 50219: a command hidden behind `==` in the grammar\'s regex token is refused', async () => {
  const line = "{ v2='b c' q''q \"'={\t\"\"q*\n\" == $'x'\"/q \"\"\"\nv2='b c' 'xz'\n}";
  assert.ok(await refused(line));
  assert.equal((await decide('ls == $\'x\'"/q """\nrm -r /x')).decision, 'deny');
  assert.equal((await decide('ls =~ "a"\nrm -r /x')).decision, 'deny');
  assert.equal((await decide('ls == a\nrm -r /x')).decision, 'deny');
});

test('seed 78763: a word the grammar ends between a backslash and what it escapes is refused', async () => {
  assert.equal(lexWord("$' xt'\\", none).ok, false);
  assert.ok(await refused("(v1=a 'xz' == $' xt'\\ )"));
  assert.deepEqual(await argvs('echo a\\\\ b\\ c'), [['echo', 'a\\', 'b c']], 'an escaped backslash or blank is fine');
});

test('`==` and `=~` in a simple command are ordinary words for bash', async () => {
  assert.deepEqual(await argvs('echo == a b'), [['echo', '==', 'a', 'b']]);
  assert.deepEqual(await argvs('echo == "a b"c'), [['echo', '==', 'a bc']]);
  assert.deepEqual(await argvs("echo =~ $'x'\"/q \"\"\""), [['echo', '=~', 'x/q ']]);
  assert.deepEqual(await argvs('echo == a\nls'), [['echo', '==', 'a'], ['ls']]);
  assert.equal((await decide('echo == a; rm -r /x')).decision, 'deny');
});

test('ordinary quoting keeps working after the cross-check', async () => {
  assert.deepEqual(await argvs("echo 'a''b' my\\ file \"a b\"c"), [['echo', 'ab', 'my file', 'a bc']]);
  assert.deepEqual(await argvs('echo "é" ü\\ ö'), [['echo', 'é', 'ü ö']]);
  assert.deepEqual(await argvs("cat $'a\\tb' \"\"x ''"), [['cat', 'a\tb', 'x', '']]);
  assert.equal((await decide('echo "$HOME" "${x:-a b}" "é$(id)"')).decision, 'approve', 'substitution: unanalyzable');
  assert.deepEqual((await argvs('echo "a$(ls -l)b"')).slice(-1), [['ls', '-l']], 'the inner command is still decided');
  assert.deepEqual(await argvs('for v in a "b c"; do ls; done'), [['ls']]);
  assert.deepEqual(await argvs('[[ $x =~ ^a(b|c)$ ]] && ls').then((a) => a.at(-1)), ['ls']);
  assert.equal(await refused('a=(1 "2 3") ls'), false, 'array elements are words');
});

test('$"…" is read as bash reads it; a lone `$` or `$$` is a word', async () => {
  // The grammar splits `$` from the string; bash reads a$"x" as `ax`.
  assert.deepEqual(await argvs('echo a$"x" $"a b" $"a"""c'), [['echo', 'ax', 'a b', 'ac']]);
  assert.deepEqual(await argvs('echo $"a" $ "b" c $'), [['echo', 'a', '$', 'b', 'c', '$']]);
  assert.equal((await decide('rm -r x$$')).decision, 'deny');
  await initPolicyEngine();
  const words = analyseLine('echo x$$ $$').parts[0]!.words;
  assert.deepEqual(words.map((w) => w.unknown), [false, true, true], '$$ is the PID: unknown');
});

test('seed 13494: words after a redirection behind `!` or a pipeline are refused, not split off', async () => {
  // bash runs `rm -r /x` here; the grammar closed the command before `-r /x`.
  assert.ok(await refused('! rm < /dev/null -r /x'));
  assert.ok(await refused('ls | rm < /dev/null -r /x'));
  assert.equal((await decide('ls | rm < /dev/null -r /x')).decision, 'deny');
  // A redirection first, or one with no words after it, is read as bash does.
  assert.deepEqual(await argvs('< /dev/null rm -r /x'), [['rm', '-r', '/x']]);
  assert.deepEqual(await argvs('! < /dev/null ls -l'), [['ls', '-l']]);
  assert.deepEqual(await argvs('ls | grep a > /scratch/o'), [['ls'], ['grep', 'a'], ['>', '/scratch/o']]);
});

test('words after a here-document delimiter are arguments of the command', async () => {
  assert.deepEqual(await argvs('cat <<EOF -n /etc/x\nhi\nEOF'), [['cat', '-n', '/etc/x']]);
  assert.equal((await decide('rm <<EOF -r /x\nhi\nEOF')).decision, 'deny', 'rm -r is decided with its arguments');
  assert.ok(await refused('ls | rm <<EOF -r /x\nhi\nEOF'), 'behind a pipeline: refused');
  assert.deepEqual(await argvs('cat <<EOF\nhi\nEOF'), [['cat']]);
});

test('escapes inside `…` (bash removes them before parsing) are refused', async () => {
  // bash runs `rm -r /x` here; the grammar would read the words "-r" and "/x" with their quotes.
  assert.ok(await refused('echo "`rm \\"-r\\" \\"/x\\"`"'));
  assert.ok(await refused('echo `echo \\`rm -r /x\\``'));
  assert.equal((await decide('echo `ls -l`')).decision, 'approve', 'a plain `…` is unanalyzable, not refused');
  assert.deepEqual((await argvs('echo "`ls -l`"')).at(-1), ['ls', '-l']);
});
