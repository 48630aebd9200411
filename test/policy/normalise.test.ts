import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { argvs, decide } from './helpers.js';
import { initPolicyEngine } from '../../src/policy/index.js';
import { parseWithGrammar, plainWords } from '../../src/policy/parse-line.js';
import { decodeAnsiC, normalisePath } from '../../src/policy/words.js';

test('quotes and escapes are removed: r""m, \\rm, \'rm\', "rm" are all rm', async () => {
  for (const line of ['r""m -r /x', '\\rm -r /x', "'rm' -r /x", '"rm" -r /x', "r'm' -r /x", 'rm -\\r /x']) {
    assert.deepEqual((await argvs(line))[0], ['rm', '-r', '/x'], line);
    assert.equal((await decide(line)).decision, 'deny', line);
  }
});

test('ANSI-C quoting is decoded as bash does', async () => {
  assert.equal(decodeAnsiC("$'\\x72m'"), 'rm');
  assert.equal(decodeAnsiC("$'a\\nb\\tc'"), 'a\nb\tc');
  assert.equal(decodeAnsiC("$'\\162\\155'"), 'rm');
  assert.equal(decodeAnsiC("$'\\u0072m'"), 'rm');
  assert.equal(decodeAnsiC("$'a\\'b'"), "a'b");
  assert.equal(decodeAnsiC("$'\\cA'"), '\x01');
  assert.equal(decodeAnsiC("$'ab\\x00cd'"), 'ab', 'a NUL ends the string');
  assert.equal((await decide("$'\\x72\\x6d' -r /")).decision, 'deny');
  assert.equal((await decide("rm $'-r' /x")).decision, 'deny');
});

test('double-quoted escapes: only $ ` " \\ are escaped', async () => {
  assert.deepEqual((await argvs('echo "a\\"b" "c\\d" "\\$x"'))[0], ['echo', 'a"b', 'c\\d', '$x']);
});

test('leading assignments are dropped; dangerous ones are unanalyzable', async () => {
  assert.deepEqual(await argvs('FOO=1 BAR=two ls -la'), [['ls', '-la']]);
  assert.equal((await decide('FOO=1 ls')).decision, 'allow');
  for (const name of ['PATH', 'IFS', 'ENV', 'BASH_ENV', 'SHELLOPTS', 'BASHOPTS', 'PS4', 'PROMPT_COMMAND', 'LD_PRELOAD', 'LD_LIBRARY_PATH', 'BASH_FUNC_ls']) {
    const d = await decide(`${name}=/tmp/x ls`);
    assert.equal(d.decision, 'approve', name);
    assert.match(d.reason, new RegExp(`assignment to ${name.replace(/%/g, '.')}`), name);
  }
  assert.equal((await decide('env LD_PRELOAD=/tmp/x.so ls')).decision, 'approve', 'also after env');
  assert.equal((await decide("env 'BASH_FUNC_ls%%=() { :; }' ls")).decision, 'approve', 'env accepts any name');
  assert.equal((await decide('BASH_FUNC_ls%%=x ls')).decision, 'deny', 'not an assignment for bash: a command word');
  assert.equal((await decide('sudo PATH=/tmp ls')).decision, 'approve', 'also after sudo');
  assert.equal((await decide('PATH=/tmp; ls')).decision, 'approve', 'a bare assignment to PATH too');
  assert.equal((await decide('export PATH=/tmp')).decision, 'deny', 'export is a command (no rule) and PATH is unanalyzable');
  assert.equal((await decide('LD_PRELOAD=x rm -r /')).decision, 'deny', 'the command is still decided');
});

test('program name is its basename unless the pattern has a slash', async () => {
  assert.equal((await decide('/bin/rm -r /x')).decision, 'deny');
  assert.equal((await decide('./rm -r /x')).decision, 'deny');
  assert.equal((await decide('/usr/bin/ls /')).decision, 'allow');
  assert.equal((await decide('/usr/local/bin/danger')).decision, 'deny', 'full path pattern');
  assert.equal((await decide('/usr/local/bin/../bin/danger')).decision, 'deny', 'normalised');
  assert.equal((await decide('/opt/danger')).decision, 'deny', 'no rule: default');
  assert.equal((await decide('/opt/danger')).rule, null, 'a different full path does not match the path pattern');
  assert.equal((await decide('danger')).rule, 'destroy', 'a bare name may resolve to the denied path');
});

test('absolute paths are normalised lexically; relative paths are unknown against / patterns', async () => {
  assert.equal(normalisePath('/tmp/../etc/x'), '/etc/x');
  assert.equal(normalisePath('//etc/./x/'), '/etc/x');
  assert.equal(normalisePath('relative/../x'), 'relative/../x');
  assert.equal((await decide('echo x > /scratch/../etc/passwd')).decision, 'deny');
  assert.equal((await decide('echo x > //etc//motd')).decision, 'deny');
  assert.equal((await decide('echo x > /scratch/./a/b')).decision, 'allow');
  const rel = await decide('echo x > out.txt');
  assert.equal(rel.decision, 'deny', 'relative path never matches the allow glob /scratch/**');
  assert.equal(rel.rule, 'destroy', 'and may be under /etc: it matches the deny pattern');
  assert.equal((await decide('rm /scratch/x')).decision, 'allow');
  assert.equal((await decide('rm x')).decision, 'deny', 'relative: does not match allow /scratch/*');
});

test('output redirections become "> PATH"; /dev/null and descriptor duplications do not', async () => {
  assert.deepEqual(await argvs('echo a > /scratch/x'), [['echo', 'a'], ['>', '/scratch/x']]);
  for (const op of ['>', '>>', '>|', '&>', '&>>', '>&', '2>', '2>>', '1>']) {
    const d = await decide(`echo a ${op} /etc/motd`);
    assert.equal(d.decision, 'deny', op);
    assert.deepEqual(d.commands[1]?.argv, ['>', '/etc/motd'], op);
  }
  assert.deepEqual(await argvs('ls 2>/dev/null >/dev/null 2>&1 >&2 3>&-'), [['ls']]);
  assert.deepEqual(await argvs('ls < /etc/passwd'), [['ls']], 'input redirections run nothing');
  assert.deepEqual(await argvs('> /scratch/x'), [['>', '/scratch/x']], 'a redirection without a command');
  assert.deepEqual(await argvs('echo > /scratch/x hi'), [['echo', 'hi'], ['>', '/scratch/x']], 'words after the target belong to the command');
  assert.equal((await decide('{ ls; } > /etc/x')).decision, 'deny', 'redirection of a group');
  assert.equal((await decide('echo hi | tee /etc/x')).decision, 'deny', 'tee is a normal command (no rule here)');
});

test('compound commands: every simple command inside is decided, conditions included', async () => {
  assert.equal((await decide('if rm -r /x; then ls; fi')).decision, 'deny');
  assert.equal((await decide('if ls; then ls; elif cat x; then echo; else rm -r /; fi')).decision, 'deny');
  assert.equal((await decide('for f in a b; do echo $f; done')).decision, 'allow');
  assert.equal((await decide('for f in a b; do rm -r $f; done')).decision, 'deny');
  assert.equal((await decide('while ls; do dd; done')).decision, 'deny');
  assert.equal((await decide('until ls; do echo; done')).decision, 'allow');
  assert.equal((await decide('case $x in a) ls;; *) rm -r /;; esac')).decision, 'deny');
  assert.equal((await decide('! rm -r /x')).decision, 'deny');
  assert.equal((await decide('ls & rm -r /x')).decision, 'deny');
  assert.equal((await decide('ls || (cat x | { rm -r /; })')).decision, 'deny');
  assert.equal((await decide('[[ -f /x ]] && ls')).decision, 'deny', 'the [[ test has no rule here');
  assert.equal((await decide('for ((i=0; i<3; i++)); do ls; done')).decision, 'allow', 'a counter the loop sets to a number');
});

test('function definitions and select are unanalyzable; comments run nothing', async () => {
  assert.match((await decide('f() { ls; }')).reason, /function definition/);
  assert.equal((await decide('function f { ls; }')).decision, 'approve');
  assert.match((await decide('select x in a b; do ls; done')).reason, /select/);
  const c = await decide('# rm -rf /');
  assert.deepEqual([c.decision, c.rule, c.commands.length], ['allow', null, 0]);
  assert.equal((await decide('')).decision, 'allow');
  assert.equal((await decide('   ')).decision, 'allow');
  assert.equal((await decide('ls # ; rm -r /')).decision, 'allow');
  assert.equal((await decide('echo a#b; rm -r /')).decision, 'deny', 'a # inside a word is not a comment');
});

test('unanalyzable constructs say which', async () => {
  const cases: [string, RegExp][] = [
    ['echo $(id)', /command substitution \$\(/],
    ['echo `id`', /command substitution `/],
    ['cat <(ls)', /process substitution <\(/],
    ['echo >(cat)', /process substitution >\(/],
    ['eval ls', /eval/],
    ['source x.sh', /source/],
    ['. x.sh', /\. \(runs a file\)/],
    ['$CMD -x', /variable \$CMD in command position/],
    ['${CMD} -x', /variable/],
    ['*sh -c x', /glob in command position/],
    ['cat <<EOF\n$HOME\nEOF', /here-document/],
  ];
  for (const [line, re] of cases) {
    const d = await decide(line);
    assert.equal(d.decision, 'approve', line);
    assert.equal(d.rule, null, line);
    assert.match(d.reason, re, line);
  }
  assert.equal((await decide("cat <<'EOF'\n$(rm -r /)\nEOF")).decision, 'allow', 'a quoted delimiter makes the body literal');
  assert.equal((await decide('cat <<EOF\nplain text\nEOF')).decision, 'allow');
  assert.equal((await decide('echo $(rm -r /)')).decision, 'deny', 'commands inside a substitution are decided too');
  assert.equal((await decide('echo $(id)')).decision, 'approve', 'no rule inside a substitution: unanalyzable, not default');
  assert.equal((await decide('eval "rm -r /"')).decision, 'deny', 'eval of a known string is decided too');
  assert.equal((await decide('rm -rf $(pwd)')).decision, 'deny', 'the command around a substitution is decided too');
  assert.equal((await decide('cat <<EOF | rm -r /x\nhi\nEOF')).decision, 'deny', 'a pipeline after a here-document');
});

test('expansions in argument position are unknown words, not unanalyzable', async () => {
  for (const line of ['ls $HOME', 'ls ${HOME}', 'ls $((1+2))', 'ls *.log', 'ls {a,b}', 'ls ~root', 'ls ~', 'ls file?.txt', 'ls [ab].txt']) {
    const d = await decide(line);
    assert.equal(d.decision, 'allow', line);
    assert.equal(d.commands[0]!.unknown?.[1], true, line);
  }
  assert.equal((await decide("ls '*.log'")).commands[0]!.unknown, undefined, 'a quoted glob is literal');
  assert.equal((await decide('ls \\*')).commands[0]!.unknown, undefined, 'an escaped glob is literal');
});

test('invalid shell, NUL bytes and over-long lines are always denied', async () => {
  for (const line of ['echo "abc', "echo 'abc", 'echo $(ls', 'echo `ls', 'ls |', 'ls &&', 'if true; then ls', '(ls', 'ls\0rm']) {
    const d = await decide(line);
    assert.equal(d.decision, 'deny', JSON.stringify(line));
    assert.equal(d.rule, null);
    assert.match(d.reason, /not valid shell|NUL/, JSON.stringify(line));
  }
  const long = await decide('echo ' + 'a'.repeat(20000));
  assert.equal(long.decision, 'deny');
  assert.match(long.reason, /maxLineBytes/);
  // Multibyte: 6000 three-byte characters are 18000 bytes > 16384.
  assert.equal((await decide('echo ' + '€'.repeat(6000))).decision, 'deny');
  assert.equal((await decide('echo ' + '€'.repeat(5000))).decision, 'allow');
});

test('grammar quirks that would hide a command are refused (found by the differential test)', async () => {
  const lines = [
    "echo $'\\\\' ; rm -r / ; echo '\\'", // tree-sitter reads $'\\' as not ended
    'v=""\\ls rm -r /', // assignment touching a word: bash runs rm
    'echo "a"\\; rm -r /x', // string touching an escape
    "echo 'a'\\ 'b'", // skipped escaped blank
    "echo 'a'\\$", // stray $ token
    'ls\n\\rm -r /x', // line break then backslash
    'r\\\nm -r /x', // continuation inside a word
    'ls2>/dev/null', // descriptor digit touching a word
    '- x=1', // the grammar drops the `-` program silently
    'echo ==\nrm -r /x', // the grammar carries a command on across a line break
    'echo =~\nrm -r /x',
  ];
  for (const line of lines) assert.equal((await decide(line)).decision, 'deny', JSON.stringify(line));
  assert.deepEqual((await argvs("echo $'\\\\'"))[0], ['echo', '\\'], 'alone it is read right');
  assert.equal((await decide("echo $'a\\'b'")).decision, 'allow', 'an escaped quote inside $\'…\' is fine');
  assert.equal((await decide('echo $"hello"')).decision, 'allow', 'translated strings are fine');
  assert.equal((await decide('ls \\\n  -la')).decision, 'allow', 'a continuation between words is fine');
});

test('the plain-word fast path agrees with the grammar', async () => {
  await initPolicyEngine();
  for (const line of ['ls -la /var/log', 'git log --oneline -n 5', 'a=b ls', 'if', 'ls a=b  c', ' x ', 'ls | grep x && wc -l; df &', 'ls;', 'ls &']) {
    const fast = plainWords(line);
    if (fast) assert.deepEqual(fast, parseWithGrammar(line), line);
  }
  assert.ok(plainWords('tail -n 5 /x | grep -c a'), 'pipelines take the fast path');
  for (const line of ['a=b ls', 'ls $x', 'ls |', 'ls ;; x', 'ls |& x', '| ls', 'ls && if', 'ls & ; x', '']) {
    assert.equal(plainWords(line), null, line);
  }
  const alphabet = fc.constantFrom(...'ab-/.=:, |&;'.split(''), 'ls', 'if', 'do', 'x=1');
  fc.assert(
    fc.property(fc.array(alphabet, { maxLength: 14 }).map((a) => a.join('')), (line) => {
      const fast = plainWords(line);
      if (!fast) return;
      const slow = parseWithGrammar(line);
      // Where the grammar refuses a plain line (it drops the `-` of `- x=1`), the fast path is right.
      if (slow.invalid || slow.items.some((i) => i.kind === 'deny')) return;
      assert.deepEqual(fast, slow, JSON.stringify(line));
    }),
    { numRuns: 3000 },
  );
});
