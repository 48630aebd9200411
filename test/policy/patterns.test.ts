import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideLine, type CompiledPolicy } from '../../src/policy/index.js';
import { compilePattern } from '../../src/policy/compile-pattern.js';
import { globToRegExp } from '../../src/policy/glob.js';
import { ctx, policyFrom } from './helpers.js';

function rule(decision: string, ...match: string[]): string {
  return `version: 1\ndefault: deny\nunanalyzable: approve\nrules:\n  - id: r\n    decision: ${decision}\n    match: ${JSON.stringify(match)}\n`;
}

async function matches(decision: 'allow' | 'deny' | 'approve', pattern: string, line: string): Promise<boolean> {
  const p: CompiledPolicy = await policyFrom(rule(decision, pattern));
  const d = decideLine(p, line, ctx);
  return d.commands.some((c) => c.rule === 'r');
}

test('option words: short clusters, one-dash words, long options and abbreviations', async () => {
  const yes: [string, string][] = [
    ['rm -r', 'rm -r x'], ['rm -r', 'rm -rf x'], ['rm -r', 'rm -fr x'], ['rm -r', 'rm -f -r x'],
    ['find -delete', 'find . -delete'], ['rm --recursive', 'rm --recursive x'], ['rm --recursive', 'rm --recursive=yes x'],
    ['rm --recursive', 'rm --rec x'], ['rm --recursive', 'rm --r x'], ['find -d', 'find . -delete'],
    ['git push --force **', 'git push --force origin'], ['git push --force', 'git push -f --force'], ['git --output=*', 'git log --output=/x'],
  ];
  for (const [pat, line] of yes) assert.equal(await matches('deny', pat, line), true, `${pat} ~ ${line}`);
  const no: [string, string][] = [
    ['rm -r', 'rm -f x'], ['rm -r', 'rm --recursive x'], ['find -delete', 'find . -del'], ['rm --recursive', 'rm --recursiveness x'],
    ['rm --recursive', 'rm --force x'], ['rm -r', 'rm -- -r'], ['rm -r', 'rm x -- -rf'],
  ];
  for (const [pat, line] of no) assert.equal(await matches('deny', pat, line), false, `${pat} !~ ${line}`);
  // Abbreviations count in deny/approve rules only.
  assert.equal(await matches('approve', 'rm --recursive', 'rm --recu x'), true);
  assert.equal(await matches('allow', 'rm --recursive', 'rm --recu x'), false);
  assert.equal(await matches('allow', 'rm --recursive', 'rm --recursive=1 x'), true);
});

test('options in the command that the pattern does not name are ignored; -- ends options', async () => {
  assert.equal(await matches('allow', 'git status', 'git status --short -b'), true);
  assert.equal(await matches('allow', 'git status', 'git status -- x'), false, 'after -- x is an argument');
  assert.equal(await matches('allow', 'grep -- -v', 'grep -- -v'), true);
});

test('non-option words: literal, *, **, in-word globs', async () => {
  const cases: [string, string, boolean][] = [
    ['systemctl status *', 'systemctl status nginx', true],
    ['systemctl status *', 'systemctl status', false],
    ['systemctl status *', 'systemctl status a b', false],
    ['git log **', 'git log', true],
    ['git log **', 'git log a b c', true],
    ['git status', 'git status .', false],
    ['rm -r', 'rm -rf /tmp/x', true],
    ['cp * /backup/**', 'cp a /backup/x/y', true],
    ['ls /tmp/*', 'ls /tmp/a', true],
    ['ls /tmp/*', 'ls /tmp/a/b', false],
    ['ls /etc/**', 'ls /etc/a/b/c', true],
    ['ls /etc/**', 'ls /etc/../root', false],
    ['ls file?.txt', 'ls file1.txt', true],
    ['ls file?.txt', 'ls file12.txt', false],
    ['ls [ab].txt', 'ls a.txt', true],
    ['ls [!ab].txt', 'ls a.txt', false],
    ['mkfs*', 'mkfs.ext4 /dev/sda', true],
    ['python*', 'python3 -c x', true],
    ['a ** b', 'a x y b', true],
    ['a ** b', 'a b', true],
    ['a ** b', 'a x y', false],
    ["ls '*'", 'ls x', false],
    ["ls '*'", "ls '*'", true],
    ["ls '[ab].txt'", 'ls a.txt', false],
    ["ls '[ab].txt'", "ls '[ab].txt'", true],
  ];
  for (const [pat, line, want] of cases) assert.equal(await matches('allow', pat, line), want, `${pat} ~ ${line}`);
  assert.equal(globToRegExp('/tmp/*').test('/tmp/a/b'), false);
  assert.equal(globToRegExp('/tmp/**').test('/tmp/a/b'), true);
});

test('unknown words match any deny/approve word, and only * or ** in allow patterns', async () => {
  assert.equal(await matches('deny', 'rm -r **', 'rm $FLAGS x'), true, 'unknown may be -r');
  assert.equal(await matches('deny', 'rm -r /', 'rm $F /'), true, 'unknown used as the option is not also an argument');
  assert.equal(await matches('deny', 'rm -r / /etc', 'rm -r $ARGS'), true, 'an unquoted variable may be several words');
  assert.equal(await matches('deny', 'rm --recursive', 'rm $F'), true, 'unknown may be a long option');
  assert.equal(await matches('deny', 'cat /etc/shadow', 'cat $F'), true);
  assert.equal(await matches('deny', 'cat /etc/shadow', 'cat /etc/*'), true, 'an unquoted glob is unknown');
  assert.equal(await matches('approve', 'systemctl restart *', 'systemctl restart $U'), true);
  assert.equal(await matches('allow', 'systemctl status *', 'systemctl status $U'), true);
  assert.equal(await matches('allow', 'cat /tmp/*', 'cat $F'), false);
  assert.equal(await matches('allow', 'cat **', 'cat $F'), true);
  assert.equal(await matches('allow', 'tar -c **', 'tar $F x'), false, 'never an allow option word');
  assert.equal(await matches('deny', 'rm -r', '"rm" -- $X'), false, 'after -- an unknown word is no option');
  assert.equal(await matches('deny', 'cat /etc/**', 'cat x'), true, 'a relative path may be anywhere');
  assert.equal(await matches('allow', 'cat /etc/**', 'cat x'), false);
});

test('program patterns with a slash compare the full path', async () => {
  assert.equal(await matches('allow', '/usr/bin/ls', '/usr/bin/ls'), true);
  assert.equal(await matches('allow', '/usr/bin/ls', '/bin/ls'), false);
  assert.equal(await matches('allow', '/usr/bin/ls', 'ls'), false, 'where ls resolves is unknown: never allowed');
  assert.equal(await matches('deny', '/usr/bin/ls', 'ls'), true, 'but may be denied');
  assert.equal(await matches('deny', '/usr/bin/ls', 'cat'), false);
  assert.equal(await matches('allow', '/opt/*/bin/tool', '/opt/x/bin/tool'), true);
});

test('redirection patterns match only the > pseudo-command', async () => {
  assert.equal(await matches('allow', '> /scratch/**', 'echo a > /scratch/x/y'), true);
  assert.equal(await matches('allow', '> /scratch/*', 'echo a > /scratch/x/y'), false);
  assert.equal(await matches('allow', '> /scratch/**', "'>' /scratch/x"), false, 'a program named > is not a redirection');
});

test('subjects and targets restrict where a rule applies', async () => {
  const p = await policyFrom(`version: 1
default: deny
rules:
  - id: deployers
    decision: allow
    subjects: ["group:deploy*", "sub:bot-?"]
    targets: ["web-*", db-1]
    match: [uptime]
`);
  const d = (subject: string, groups: string[], target: string) => decideLine(p, 'uptime', { subject, groups, target }).decision;
  assert.equal(d('x', ['deployers'], 'web-1'), 'allow');
  assert.equal(d('x', ['deploy'], 'db-1'), 'allow');
  assert.equal(d('bot-1', [], 'web-2'), 'allow');
  assert.equal(d('bot-12', [], 'web-2'), 'deny');
  assert.equal(d('deployers', [], 'web-1'), 'deny', 'a subject named like the group is not the group');
  assert.equal(d('x', ['deployers'], 'db-2'), 'deny');
});

test('precedence: deny, then approve, then allow, whatever the file order; the strictest part decides', async () => {
  const p = await policyFrom(`version: 1
default: approve
unanalyzable: deny
rules:
  - id: a
    decision: allow
    match: ["rm **", ls]
  - id: b
    decision: approve
    match: ["rm -f **"]
  - id: c
    decision: deny
    match: ["rm -r **"]
`);
  const d = (line: string) => decideLine(p, line, ctx);
  assert.deepEqual([d('rm -rf x').decision, d('rm -rf x').rule], ['deny', 'c']);
  assert.deepEqual([d('rm -f x').decision, d('rm -f x').rule], ['approve', 'b']);
  assert.deepEqual([d('rm x').decision, d('rm x').rule], ['allow', 'a']);
  assert.deepEqual([d('cat x').decision, d('cat x').rule], ['approve', null], 'default decides: rule null');
  assert.deepEqual([d('echo $(x)').decision, d('echo $(x)').rule], ['deny', null], 'unanalyzable decides');
  const mixed = d('ls; rm -f a; cat b; rm -f c');
  assert.equal(mixed.decision, 'approve');
  assert.equal(mixed.rule, 'b', 'the first part with the line decision names the rule');
  assert.equal(mixed.reason, 'rm -f ** matches b');
});

test('compilePattern rejects what is not a pattern', () => {
  assert.throws(() => compilePattern(''), /empty/);
  assert.throws(() => compilePattern('ls; rm'), /operator/);
  assert.throws(() => compilePattern('ls | rm'), /operator/);
  assert.throws(() => compilePattern('-r'), /option/);
  assert.throws(() => compilePattern('>'), /path/);
  assert.doesNotThrow(() => compilePattern('> /tmp/**'));
});
