import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argvs, decide } from './helpers.js';
import { analyseLine } from '../../src/policy/unwrap.js';

/** [line, expected parts (argv lists)] — the wrapper's own words, then the wrapped command. */
const STRUCTURE: [string, string[][]][] = [
  ['sudo du -sh', [['sudo'], ['du', '-sh']]],
  ['sudo -u www-data -g web cat /x', [['sudo', '-u', 'www-data', '-g', 'web'], ['cat', '/x']]],
  ['sudo -uroot -E --preserve-env=A,B -- ls', [['sudo', '-uroot', '-E', '--preserve-env=A,B', '--'], ['ls']]],
  ['sudo --user=root ls', [['sudo', '--user=root'], ['ls']]],
  ['sudo --us root ls', [['sudo', '--us', 'root'], ['ls']]],
  ['sudo -s', [['sudo', '-s'], ['sh']]],
  ['sudo -i', [['sudo', '-i'], ['sh']]],
  ['sudo -e /etc/hosts', [['sudo', '-e'], ['sudoedit', '/etc/hosts']]],
  ['doas -u root ls', [['doas', '-u', 'root'], ['ls']]],
  ['doas -s', [['doas', '-s'], ['sh']]],
  ['env -i A=1 -u B ls', [['env', '-i', 'A=1'], ['-u', 'B', 'ls']]],
  ['env -i -u B A=1 ls -l', [['env', '-i', '-u', 'B', 'A=1'], ['ls', '-l']]],
  ['env -C /tmp --unset=X ls', [['env', '-C', '/tmp', '--unset=X'], ['ls']]],
  ['env - ls', [['env', '-'], ['ls']]],
  ["env -S 'ls -l' /x", [['env', '-S', 'ls -l'], ['ls', '-l', '/x']]],
  ["env --split-string='-i ls' /x", [['env', '--split-string=-i ls', '-i'], ['ls', '/x']]],
  ['nice -n 5 ls', [['nice', '-n', '5'], ['ls']]],
  ['nice -5 ls', [['nice', '-5'], ['ls']]],
  ['nice --adjustment=3 ls', [['nice', '--adjustment=3'], ['ls']]],
  ['ionice -c 2 -n 7 ls', [['ionice', '-c', '2', '-n', '7'], ['ls']]],
  ['ionice -p 1234', [['ionice', '-p', '1234']]],
  ['nohup ls', [['nohup'], ['ls']]],
  ['timeout 5 ls', [['timeout', '5'], ['ls']]],
  ['timeout -k 1 -s KILL --foreground 5s ls', [['timeout', '-k', '1', '-s', 'KILL', '--foreground', '5s'], ['ls']]],
  ['time -p ls', [['time', '-p'], ['ls']]],
  ['stdbuf -oL -e 0 ls', [['stdbuf', '-oL', '-e', '0'], ['ls']]],
  ['setsid -f ls', [['setsid', '-f'], ['ls']]],
  ['chrt -f 10 ls', [['chrt', '-f', '10'], ['ls']]],
  ['chrt -p 1234', [['chrt', '-p', '1234']]],
  ['taskset -c 0-3 ls', [['taskset', '-c', '0-3'], ['ls']]],
  ['taskset 0x3 ls', [['taskset', '0x3'], ['ls']]],
  ['taskset -p 1234', [['taskset', '-p', '1234']]],
  ['command -p ls', [['command', '-p'], ['ls']]],
  ['command -v rm', [['command', '-v', 'rm']]],
  ['builtin echo hi', [['builtin'], ['echo', 'hi']]],
  ['exec -a name ls', [['exec', '-a', 'name'], ['ls']]],
  ['xargs -0 -n 1 ls -l', [['xargs', '-0', '-n', '1'], ['ls', '-l', '…']]],
  ['xargs', [['xargs'], ['echo', '…']]],
  ['xargs -I{} cp {} /x', [['xargs', '-I{}'], ['cp', '{}', '/x', '…']]],
  ['watch -n 5 ls -l', [['watch', '-n', '5'], ['ls', '-l']]],
  ['watch -x ls -l', [['watch', '-x'], ['ls', '-l']]],
  ['flock /tmp/l ls', [['flock', '/tmp/l'], ['ls']]],
  ['flock -w 5 /tmp/l -c "ls; cat x"', [['flock', '-w', '5', '/tmp/l', '-c', 'ls; cat x'], ['ls'], ['cat', 'x']]],
  ['su', [['su'], ['sh']]],
  ['su -', [['su', '-'], ['sh']]],
  ['su - bob', [['su', '-', 'bob'], ['sh']]],
  ['su -c ls bob', [['su', '-c', 'ls', 'bob'], ['ls']]],
  ['su bob -c "cat /x"', [['su', '-c', 'cat /x', 'bob'], ['cat', '/x']]],
  ['runuser -l bob', [['runuser', '-l', 'bob'], ['sh']]],
  ['runuser -u bob -- ls', [['runuser', '-u', 'bob', '--'], ['ls']]],
  ['runuser -l bob -c ls', [['runuser', '-l', '-c', 'ls', 'bob'], ['ls']]],
  ['busybox ls -l', [['busybox'], ['ls', '-l']]],
  ['busybox --list', [['busybox', '--list']]],
  ['sudo nice -n 5 timeout 5 ls', [['sudo'], ['nice', '-n', '5'], ['timeout', '5'], ['ls']]],
  ['sh -c "ls; cat x"', [['sh', '-c', 'ls; cat x'], ['ls'], ['cat', 'x']]],
  ['bash -lc "ls"', [['bash', '-lc', 'ls'], ['ls']]],
  ['bash -o pipefail -c "ls | cat"', [['bash', '-o', 'pipefail', '-c', 'ls | cat'], ['ls'], ['cat']]],
  ['bash script.sh', [['bash', 'script.sh']]],
  ['find . -name x -exec grep -l a {} +', [['find', '.', '-name', 'x', '-exec', 'grep', '-l', 'a', '{}', '+'], ['grep', '-l', 'a', '{}']]],
  ['find . -execdir cat {} ";" -ok ls \\;', [['find', '.', '-execdir', 'cat', '{}', ';', '-ok', 'ls', ';'], ['cat', '{}'], ['ls']]],
];

test('wrappers: own words and the wrapped command are separate parts', async () => {
  for (const [line, parts] of STRUCTURE) assert.deepEqual(await argvs(line), parts, line);
});

test('every wrapper: a wrapped destructive command is denied', async () => {
  const prefixes = [
    'sudo', 'sudo -u root', 'doas', 'env', 'env -i', 'nice', 'nice -n 5', 'ionice -c 3', 'nohup', 'timeout 5',
    'timeout -s KILL 5', 'time', 'stdbuf -oL', 'setsid', 'chrt -r 5', 'taskset 1', 'command', 'builtin', 'exec',
    'xargs', 'watch -x', 'flock /tmp/l', 'runuser -u bob --', 'busybox', 'sudo env nice',
  ];
  for (const p of prefixes) {
    const d = await decide(`${p} rm -r /x`);
    assert.equal(d.decision, 'deny', p);
    assert.equal(d.commands.at(-1)!.rule, 'destroy', p);
  }
  for (const line of ["watch 'rm -r /x'", "su -c 'rm -r /x'", "su - root -c 'rm -r /x'", "flock /l -c 'rm -r /x'", "runuser -l bob -c 'rm -r /x'", "env -S 'rm -r /x'", "env --split-string='rm -r' /x"]) {
    assert.equal((await decide(line)).decision, 'deny', line);
  }
});

test('shell strings are decided recursively; nesting is bounded', async () => {
  for (const sh of ['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash']) {
    assert.equal((await decide(`${sh} -c 'ls; rm -r /x'`)).decision, 'deny', sh);
  }
  assert.equal((await decide(`bash -c 'ls; cat /x'`)).decision, 'allow');
  assert.equal((await decide(`bash -c "bash -c 'rm -r /x'"`)).decision, 'deny');
  assert.equal((await decide(`bash -c 'echo "unterminated'`)).decision, 'deny', 'an invalid string is denied');
  assert.equal((await decide('bash -c $CMD')).decision, 'approve', 'an unknown string is unanalyzable');
  assert.ok((await decide('bash $OPTS x')).commands.some((c) => c.decision === 'approve' && /cannot tell bash's options/.test(c.reason)), 'an unknown option word hides where -c is');
  // 10 levels of sh -c (quoting grows ~3^n, so not more): denied with a reason, no crash.
  let line = 'ls';
  for (let i = 0; i < 10; i++) line = `sh -c ${shq(line)}`;
  const parts = analyseLine(line).parts;
  assert.ok(parts.some((p) => p.deny && /nested deeper/.test(p.deny)), 'the nesting limit is reported');
  let shallow = 'ls';
  for (let i = 0; i < 5; i++) shallow = `sh -c ${shq(shallow)}`;
  assert.equal((await decide(shallow)).decision, 'allow', '5 levels are fine');
  // watch passes its words to sh -c: nesting without quoting.
  const d = await decide('watch '.repeat(40) + 'ls');
  assert.equal(d.decision, 'deny');
  assert.match(d.reason, /nested deeper/);
  // A chain of many wrappers is bounded too.
  const chain = await decide('sudo '.repeat(200) + 'ls');
  assert.equal(chain.decision, 'deny');
  assert.match(chain.reason, /nested deeper/);
});

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

test('wrapper options that cannot be told apart are unanalyzable', async () => {
  for (const line of ['sudo $OPTS ls', 'sudo --frobnicate ls', 'timeout $D $CMD', 'env -P /tmp ls', 'su -s /bin/rm bob', 'busybox $APPLET', 'xargs $CMD']) {
    const d = await decide(line);
    assert.equal(d.decision, 'approve', line);
    assert.equal(d.rule, null, line);
  }
  assert.equal((await decide('timeout 5 $CMD')).decision, 'approve');
});

test('find -exec commands are decided; {} is an unknown path that is never an option', async () => {
  assert.equal((await decide('find /x -exec rm -r {} \\;')).decision, 'deny');
  assert.equal((await decide('find /x -exec grep a {} +')).decision, 'allow');
  const d = await decide('find /x -exec rm {} \\;');
  assert.equal(d.commands[1]!.rule, null, 'rm {} does not match rm -r: {} cannot be -r');
  assert.equal((await decide('find /x -delete')).decision, 'deny');
  assert.equal((await decide('find / -fprint /etc/x')).decision, 'deny', '-fprint writes a file');
  assert.equal((await decide('find . -exec sh -c "rm {}" \\;')).decision, 'approve', '{} inside a shell string is unknown text');
});

test('xargs adds one unknown word that may be an option', async () => {
  assert.equal((await decide('ls | xargs rm')).decision, 'deny', 'the input may hold -r');
  assert.equal((await decide('ls | xargs cat')).decision, 'allow');
});
