import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decide, unitPolicy, ctx } from './helpers.js';
import { decideLine } from '../../src/policy/index.js';

const DECISIONS = new Set(['allow', 'deny', 'approve']);

function checkShape(line: string, d: ReturnType<typeof decideLine>): void {
  assert.ok(DECISIONS.has(d.decision), `decision for ${JSON.stringify(line)}`);
  assert.equal(typeof d.reason, 'string');
  assert.ok(!/[\n\r]/.test(d.reason), `one-line reason for ${JSON.stringify(line)}`);
  assert.ok(d.rule === null || typeof d.rule === 'string');
  for (const c of d.commands) assert.ok(DECISIONS.has(c.decision) && Array.isArray(c.argv));
}

const SHELLISH = [...'abc rm-/\\\'"$`(){}[]<>|&;*?~#=!\n\t%^,.:@+0123456789'];

test('the engine never throws and always decides (arbitrary strings, shell-ish strings, bytes)', async () => {
  const policy = await unitPolicy();
  const run = (line: string) => {
    const d = decideLine(policy, line, ctx);
    checkShape(line, d);
  };
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), run), { numRuns: 400 });
  fc.assert(fc.property(fc.string({ unit: fc.constantFrom(...SHELLISH), maxLength: 120 }), run), { numRuns: 1500 });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      run(Buffer.from(bytes).toString('utf8'));
      run(Buffer.from(bytes).toString('latin1'));
    }),
    { numRuns: 300 },
  );
});

/** Commands the unit policy denies by rule: words (re-quotable) and an optional redirection. */
const DENIED: { words: string[]; redirect?: string }[] = [
  { words: ['rm', '-r', '/x'] },
  { words: ['rm', '-rf', '/tmp/y'] },
  { words: ['rm', '--recursive', 'z'] },
  { words: ['dd', 'if=/dev/zero', 'of=/dev/sda'] },
  { words: ['mkfs.ext4', '/dev/sdb'] },
  { words: ['find', '/', '-delete'] },
  { words: ['echo', 'x'], redirect: '/etc/passwd' },
];
const ALLOWED = ['ls', 'ls -la /var/log', 'cat /etc/hostname', 'echo hi', 'grep -c a /x', 'true_but_ls() { :; } 2>/dev/null || ls'.slice(-2)];

/** One equivalent spelling of a word: quotes, escapes, ANSI-C. */
const requote = (w: string) =>
  fc.constantFrom<(s: string) => string>(
    (s) => s,
    (s) => `'${s}'`,
    (s) => `"${s}"`,
    (s) => `\\${s}`,
    (s) => (s.length > 1 ? `${s[0]}''${s.slice(1)}` : s),
    (s) => (s.length > 1 ? `${s.slice(0, 1)}""${s.slice(1)}` : s),
    (s) => `$'${[...s].map((c) => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0')).join('')}'`,
  ).map((f) => f(w));

const WRAPPERS = ['sudo', 'sudo -u root', 'env', 'env -i', 'nice -n 5', 'timeout 5', 'nohup', 'ionice -c 3', 'stdbuf -oL', 'setsid', 'command', 'time', 'doas', 'busybox', 'xargs', 'chrt -f 1', 'taskset 3', 'flock /tmp/l', 'watch -x', 'exec'];

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

const deniedLine = fc
  .record({
    cmd: fc.constantFrom(...DENIED),
    seed: fc.array(fc.nat(), { minLength: 6, maxLength: 6 }),
    wrappers: fc.array(fc.constantFrom(...WRAPPERS), { maxLength: 3 }),
    viaShell: fc.constantFrom(null, 'sh -c', 'bash -c', 'su -c'),
  })
  .chain(({ cmd, wrappers, viaShell }) =>
    fc.tuple(...cmd.words.map(requote), cmd.redirect ? requote(cmd.redirect) : fc.constant('')).map((ws) => {
      const redirect = cmd.redirect ? ` > ${ws[ws.length - 1]}` : '';
      let line = ws.slice(0, cmd.words.length).join(' ') + redirect;
      if (wrappers.length) line = `${wrappers.join(' ')} ${line}`;
      if (viaShell) line = `${viaShell} ${shq(line)}`;
      return line;
    }),
  );

const composed = fc
  .record({
    denied: deniedLine,
    before: fc.array(fc.constantFrom(...ALLOWED), { maxLength: 2 }),
    after: fc.array(fc.constantFrom(...ALLOWED), { maxLength: 2 }),
    op: fc.constantFrom('; ', ' && ', ' || ', ' | ', ' & ', '\n'),
    shape: fc.constantFrom('plain', 'subshell', 'group', 'if', 'while', 'substitution'),
  })
  .map(({ denied, before, after, op, shape }) => {
    const inner = [...before, denied, ...after].join(op);
    switch (shape) {
      case 'subshell': return `(${inner})`;
      case 'group': return `{ ${inner}; }`;
      case 'if': return `if ls; then ${inner}; fi`;
      case 'while': return `while ls; do ${inner}; done`;
      case 'substitution': return `echo "$(${inner})"`;
      default: return inner;
    }
  });

test('a denied command stays denied under re-quoting, wrappers and composition', async () => {
  await unitPolicy();
  const failures: string[] = [];
  for (const line of fc.sample(composed, { numRuns: 1500, seed: 4242 })) {
    const d = await decide(line);
    if (d.decision !== 'deny') failures.push(`${JSON.stringify(line)} → ${d.decision}: ${d.reason}`);
  }
  assert.deepEqual(failures.slice(0, 5), []);
  // And with fresh random seeds each run:
  await fc.assert(
    fc.asyncProperty(composed, async (line) => {
      assert.equal((await decide(line)).decision, 'deny', line);
    }),
    { numRuns: 500 },
  );
});

test('re-quoting an allowed command keeps it allowed (quote removal is exact)', async () => {
  const allowed = fc
    .constantFrom(['ls', '-la', '/var/log'], ['cat', '/etc/hostname'], ['grep', '-c', 'ERROR', '/x'], ['systemctl', 'status', 'nginx'])
    .chain((ws) => fc.tuple(...ws.map(requote)));
  await fc.assert(
    fc.asyncProperty(allowed, async (ws) => {
      const line = ws.join(' ');
      assert.equal((await decide(line)).decision, 'allow', line);
    }),
    { numRuns: 300 },
  );
});
