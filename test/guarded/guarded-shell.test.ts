import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { startGateway, type GatewayHandle } from '../helpers/gateway.js';
import { readEvents, waitForEvents } from '../helpers/events.js';
import { rand, tempDir } from '../helpers/tmp.js';
import { runSsh } from '../helpers/openssh.js';
import { spawnSync } from 'node:child_process';
import { cliPath } from '../helpers/paths.js';
import { PROMPT, sleep, Term } from './term.js';

/**
 * The guarded policy: deliberately allows the builtins a guarded shell must refuse anyway
 * (set, trap, exec, declare, bash, readonly…), to show the gate's own checks hold whatever the policy says.
 */
const POLICY = `version: 1
default: deny
unanalyzable: deny
shell: guarded
rules:
  - id: needs-a-human
    decision: approve
    match: ["mkdir **"]
  - id: pager
    decision: allow
    interactive: true
    match: ["less **", "head -n 1", "vim -Z **"]
  - id: inspection
    decision: allow
    match: [echo, printf, ls, cat, "true", "false", sleep, stty, "sh -c **", exit, wc, env, set, trap, exec, declare, readonly, bash, shopt, alias, hash, export, unset, setsid]
`;

let sshd: SshdHandle;
let gw: GatewayHandle;
let token: string;
const TARGETS = ['local', 'web-1'];

let scratch: { dir: string; cleanup: () => void };

before(async () => {
  sshd = await startSshd();
  // A "shell" that never runs the integration: the gateway must give up after its timeout.
  scratch = tempDir('shellgate-guarded-');
  const hangs = path.join(scratch.dir, 'hangs.sh');
  writeFileSync(hangs, '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
  gw = await startGateway({
    sshd,
    policy: POLICY,
    extraYaml:
      `  nobash:\n    kind: local\n    shell: /bin/false\n    policy: test\n` +
      `  hangs:\n    kind: local\n    shell: ${hangs}\n    policy: test\n`,
  });
  token = await gw.token('agent-1', ['agents']);
});

after(async () => {
  await gw?.stop();
  await sshd?.stop();
  scratch?.cleanup();
});

async function open(target: string, opts: { cols?: number; rows?: number } = {}): Promise<Term> {
  const t = new Term(gw, target, token, opts);
  await t.waitFor(PROMPT, 10_000);
  return t;
}

async function close(t: Term): Promise<void> {
  t.write('\x04');
  const code = await Promise.race([t.exited, sleep(5000).then(() => -1)]);
  if (code === -1) t.kill();
}

const sideFile = (tag: string) => path.join(gw.dir, `side-${tag}-${rand(6)}`);
const count = (hay: string, needle: string) => hay.split(needle).length - 1;

for (const target of TARGETS) {
  test(`${target}: an allowed line runs once, a denied line never reaches the shell, exit statuses are audited`, async () => {
    const t = await open(target);
    try {
      const a = rand(8);
      const out = await t.run(`printf '%s-%s\\n' ${a} done`);
      assert.equal(count(out, `${a}-done`), 1, `output must appear exactly once: ${JSON.stringify(out)}`);
      assert.equal(count(out, `printf '%s-%s\\n' ${a} done`), 1, 'the line is echoed once (locally), never echoed again by the shell');
      assert.doesNotMatch(out, /133;|\x1b\]/, 'markers are stripped');

      const side = sideFile('deny');
      const denied = await t.run(`touch ${side}`);
      assert.match(denied, /shellgate: denied by rule \(policy default\): touch .* matches no rule/);
      assert.match(denied, PROMPT, 'the prompt returns');
      assert.equal(existsSync(side), false, 'the denied line must not run');

      await t.run(`sh -c 'exit 3'`);
      await t.run('false');
      const ok = await t.run(`echo status-$?`);
      assert.match(ok, /status-1/, 'the shell keeps $? across lines');
      // Results are logged as each line ends: wait until the last line's result is in.
      const lastSession = (ev: Awaited<ReturnType<typeof waitForEvents>>) => ev.filter((e) => e.type === 'shell.start' && e.body.target === target && e.body.mode === 'guarded').pop()?.body.session;
      const events = await waitForEvents(gw.dir, (ev) => ev.some((e) => e.type === 'command.result' && e.body.session === lastSession(ev) && e.body.line === 5));
      const session = lastSession(events)!;
      const mine = events.filter((e) => e.body.session === session);
      const decisions = mine.filter((e) => e.type === 'command.decision');
      const results = mine.filter((e) => e.type === 'command.result');
      assert.deepEqual(decisions.map((e) => e.body.decision), ['allow', 'deny', 'allow', 'allow', 'allow']);
      assert.equal(decisions[1]!.body.command, `touch ${side}`);
      assert.deepEqual(results.map((e) => [e.body.line, e.body.exit]), [[1, 0], [3, 3], [4, 1], [5, 0]], 'one result per line that ran, with its exit status');
    } finally {
      await close(t);
    }
  });

  test(`${target}: window size and resizes reach the shell`, async () => {
    const t = await open(target, { cols: 90, rows: 33 });
    try {
      assert.match(await t.run('stty size'), /33 90/);
      t.proc.resize(120, 41);
      await sleep(300);
      assert.match(await t.run('stty size'), /41 120/);
    } finally {
      await close(t);
    }
  });
}

test('type-ahead while a command runs is decided at the next prompt, never read by the shell', async () => {
  const t = await open('web-1');
  try {
    const side = sideFile('ta');
    t.since();
    t.write('sleep 1\r');
    await sleep(200);
    t.write(`touch ${side}\recho after-${'ta'}\r`);
    const out = await t.waitFor(/after-ta\r\n[\s\S]*[$#] $/, 10_000);
    assert.match(out, /denied by rule \(policy default\): touch/);
    assert.equal(existsSync(side), false);
  } finally {
    await close(t);
  }
});

for (const target of TARGETS) test(`${target}: type-ahead left over by an interactive program is discarded, not run by the shell`, async () => {
  const t = await open(target);
  try {
    const side = sideFile('stale');
    t.since();
    t.write('head -n 1\r');
    await sleep(300);
    // head reads the first line and exits; the rest sits in the terminal queue.
    t.write(`first-line\rtouch ${side}\r`);
    await t.waitFor(PROMPT);
    await sleep(300);
    const out = await t.run('echo still-here');
    assert.match(out, /still-here/);
    assert.equal(existsSync(side), false, 'stale input must be dropped by the integration');
  } finally {
    await close(t);
  }
});

test('forged markers printed by a command or a background job change nothing', async () => {
  const t = await open('local');
  try {
    const side = sideFile('forge');
    // A fake "command ended" + "prompt" while the command keeps running.
    t.since();
    t.write(`printf '\\033]133;D;0;%s\\007\\033]133;A;%s\\007$ \\033]133;B;%s\\007' ff ff ff; sleep 1; echo forged-done\r`);
    await sleep(400);
    t.write(`touch ${side}\r`);
    const out = await t.waitFor(/denied by rule[^\n]*touch[\s\S]*[$#] $/, 10_000);
    assert.match(out, /forged-done/);
    assert.doesNotMatch(out, /\x1b\]133;/, 'forged markers are stripped from the output');
    assert.equal(existsSync(side), false);
    // A background job printing markers while the shell sits at its prompt.
    await t.run(`(sleep 0.3; printf '\\033]133;C;x\\007\\033]133;D;0;x\\007bg-printed\\n') &`);
    await sleep(700);
    t.write(`touch ${side}\r`);
    const later = await t.waitFor(/denied by rule[^\n]*touch[\s\S]*[$#] $/, 10_000);
    assert.doesNotMatch(t.output, /\x1b\]133;/);
    assert.match(t.output, /bg-printed/);
    assert.match(later, /denied/);
    assert.equal(existsSync(side), false);
    assert.match(await t.run('echo alive'), /alive/);
  } finally {
    await close(t);
  }
});

test('pasted multi-line text: a bracketed paste is refused whole, raw lines are decided one by one', async () => {
  const t = await open('local');
  try {
    const side = sideFile('paste');
    t.since();
    t.write(`\x1b[200~echo pasted-one\rtouch ${side}\r\x1b[201~`);
    await t.waitFor(/multi-line paste refused/);
    t.write('\r');
    await t.waitFor(PROMPT);
    assert.doesNotMatch(t.recent, /pasted-one\r\n/);
    t.since();
    t.write(`echo raw-one\rtouch ${side}\recho raw-two\r`);
    const out = await t.waitFor(/raw-two\r\n[\s\S]*[$#] $/);
    assert.match(out, /raw-one\r\n/);
    assert.match(out, /denied by rule \(policy default\): touch/);
    assert.equal(existsSync(side), false);
  } finally {
    await close(t);
  }
});

test('control and escape sequences edit the local line and never reach the shell', async () => {
  const t = await open('local');
  try {
    const side = sideFile('ctl');
    // Ctrl-U kills the line, Ctrl-C discards it, Ctrl-W a word; NUL, ^V and escape sequences are not inserted.
    let out = await t.run(`touch ${side}\x15echo after-ctrl-u`);
    assert.match(out, /after-ctrl-u\r\n/);
    t.since();
    t.write(`touch ${side}\x03`);
    await t.waitFor(/\^C\r\n[\s\S]*[$#] $/);
    out = await t.run(`echo keep touch\x17word\x00\x16\x1b[2~\x1bOP`);
    assert.match(out, /keep word\r\n/);
    // Arrows and backspace: "echo ac" ← "b" → "echo abc".
    out = await t.run('echo ac\x1b[Db\x1b[C\x7fc');
    assert.match(out, /\r\nabc\r\n/);
    // History: ↑ recalls the last allowed line.
    out = await t.run('\x1b[A');
    assert.match(out, /\r\nabc\r\n/);
    assert.equal(existsSync(side), false);
  } finally {
    await close(t);
  }
});

test('lines the shell would continue are refused before they reach it', async () => {
  const t = await open('web-1');
  try {
    for (const line of ['echo a \\', 'echo "unclosed', "echo 'unclosed", 'cat <<EOF', 'echo a |', 'if true; then echo x', 'echo $(']) {
      const out = await t.run(line);
      assert.match(out, /shellgate: denied by rule/, line);
    }
    assert.match(await t.run('echo after-continued'), /after-continued/);
  } finally {
    await close(t);
  }
});

test('changing the integration is denied, even where the policy allows the program', async () => {
  const t = await open('local');
  try {
    for (const line of [
      'PROMPT_COMMAND=',
      'PS1=x',
      'trap - INT',
      "trap 'echo' DEBUG",
      'exec bash',
      'exec >/dev/null',
      'set +o history',
      'set -x',
      'shopt -s promptvars',
      'declare -p',
      'declare -f',
      'readonly',
      'builtin trap',
      'command set +H',
      'alias ls=true',
      'hash -p /bin/true ls',
      'unset PS0',
      'export -n PS1',
      'echo "$PS1"',
      'echo ${!P*}',
      'echo "${PS0@P}"',
      'x=1; echo $((x))',
      'stty eol x',
      'stty echo',
      '/usr/bin/setsid sleep 1',
      'f() { ls; }',
    ]) {
      const out = await t.run(line);
      assert.match(out, /shellgate: denied by rule/, line);
    }
    assert.match(await t.run('echo integration-intact'), /integration-intact/);
    // Allowed programs that print their environment do not see the nonce (it is never exported).
    const env = await t.run('env');
    assert.match(env, /LESSSECURE=1/);
    assert.doesNotMatch(env, /SG[0-9a-f]{32}|133;/);
  } finally {
    await close(t);
  }
});

test('an interactive program works when its rule allows interaction, and cannot start a shell', async () => {
  const t = await open('local');
  try {
    const file = path.join(gw.dir, `pager-${rand(4)}.txt`);
    writeFileSync(file, Array.from({ length: 200 }, (_, i) => `pager line ${i}`).join('\n') + '\n');
    const side = sideFile('less');
    t.since();
    t.write(`less ${file}\r`);
    await t.waitFor('pager line 10');
    // less's own shell escape: LESSSECURE=1 is set (readonly) by the integration.
    t.write(`!touch ${side}\r`);
    await sleep(500);
    // less may show a message or its help for the refused command: quit until the prompt is back.
    for (let i = 0; i < 6 && !PROMPT.test(t.recent); i++) {
      t.since();
      t.write('q');
      await sleep(400);
    }
    await t.waitFor(PROMPT);
    assert.equal(existsSync(side), false, 'less must not run a shell command');
    // vim in restricted mode (-Z): editing works, shell commands do not.
    const side2 = sideFile('vim');
    const edited = path.join(gw.dir, `vim-${rand(4)}.txt`);
    t.since();
    t.write(`vim -Z -u NONE -i NONE -N ${edited}\r`);
    await sleep(800);
    t.write(`:!touch ${side2}\r`);
    await sleep(500);
    t.write('\x1biedited-in-vim\x1b:wq\r');
    await t.waitFor(PROMPT, 10_000);
    assert.equal(readFileSync(edited, 'utf8'), 'edited-in-vim\n');
    assert.equal(existsSync(side2), false, 'vim -Z must not run a shell command');
    // An interactive line reader gets what is typed.
    t.since();
    t.write('head -n 1\r');
    await sleep(300);
    t.write('typed-into-head\r');
    const out = await t.waitFor(/typed-into-head[\s\S]*[$#] $/);
    assert.match(out, /typed-into-head/);
  } finally {
    await close(t);
  }
});

test('a program without interaction gets no input (a spawned shell stays deaf), only signals', async () => {
  const t = await open('local');
  try {
    const side = sideFile('nested');
    t.since();
    t.write('bash --norc\r');
    await sleep(500);
    t.write(`touch ${side}\r`);
    await sleep(500);
    assert.equal(existsSync(side), false, 'a nested shell must not read agent input');
    // Ctrl-C reaches a non-interactive program as a signal.
    await close(t);
    const t2 = await open('local');
    try {
      t2.since();
      t2.write('sleep 30\r');
      await sleep(300);
      t2.write('\x03');
      await t2.waitFor(PROMPT, 5000);
      const ev = await waitForEvents(gw.dir, (e) => e.some((x) => x.type === 'command.result' && x.body.exit === 130));
      assert.ok(ev.length > 0);
    } finally {
      await close(t2);
    }
  } finally {
    t.kill();
  }
});

test('approval: the waiting message is shown, Ctrl-C cancels the request, an approved line runs', async () => {
  const t = await open('local');
  try {
    const dir = path.join(gw.dir, `approve-${rand(4)}`);
    t.since();
    t.write(`mkdir ${dir}\r`);
    await t.waitFor(/waiting for approval #\S+/);
    t.write('\x03');
    await t.waitFor(/cancelled[\s\S]*[$#] $/);
    assert.equal(existsSync(dir), false);
    // Approved from the CLI: the line runs, and only then.
    t.since();
    t.write(`mkdir ${dir}\r`);
    const waiting = await t.waitFor(/waiting for approval #(\S+)/);
    const id = /waiting for approval #(\S+)/.exec(waiting)![1]!;
    assert.equal(existsSync(dir), false, 'nothing runs before the approval');
    const a = spawnSync(process.execPath, [cliPath, 'approvals', 'approve', id, '--as', 'alice', '--config', gw.configFile], { encoding: 'utf8', env: gw.env, timeout: 20_000 });
    assert.equal(a.status, 0, a.stderr);
    await t.waitFor(PROMPT);
    assert.equal(existsSync(dir), true, 'the approved line ran');
  } finally {
    await close(t);
  }
});

test('Ctrl-D on an empty line ends the shell; the recording has a marker per line', async () => {
  const t = await open('local');
  const tag = rand(6);
  await t.run(`echo rec-${tag}`);
  await t.run(`touch /nonexistent-${tag}`);
  t.write('\x04');
  const code = await t.exited;
  assert.equal(code, 0);
  const events = await waitForEvents(gw.dir, (ev) => ev.some((e) => e.type === 'shell.end' && JSON.stringify(readEvents(gw.dir)).includes(tag)));
  const start = events.filter((e) => e.type === 'command.decision' && String(e.body.command).includes(`rec-${tag}`)).pop()!;
  const session = start.body.session;
  await waitForEvents(gw.dir, (ev) => ev.some((e) => e.type === 'recording.sealed' && e.body.session === session));
  const sealed = readEvents(gw.dir).find((e) => e.type === 'recording.sealed' && e.body.session === session)!;
  const cast = readFileSync(path.join(gw.dir, 'recordings', String(sealed.body.file)), 'utf8').trim().split('\n').slice(1).map((l) => JSON.parse(l) as [number, string, string]);
  const markers = cast.filter((e) => e[1] === 'm').map((e) => e[2]);
  assert.deepEqual(markers, [`$ echo rec-${tag}`, `refused: touch /nonexistent-${tag}`]);
  assert.ok(!cast.some((e) => e[1] === 'o' && e[2].includes('133;')), 'no marker bytes in the recording');
  assert.ok(readEvents(gw.dir).some((e) => e.type === 'shell.end' && e.body.session === session && e.body.exit === 0));
});

test('a target where the integration cannot start refuses the shell with a clear message', async () => {
  const t = new Term(gw, 'nobash', token);
  const hang = new Term(gw, 'hangs', token);
  const started = Date.now();
  assert.equal(await t.exited, 126);
  assert.match(t.output, /shellgate: the guarded shell could not be established on target nobash/);
  assert.equal(await hang.exited, 126);
  assert.ok(Date.now() - started >= 4500, 'the timeout is a few seconds');
  assert.match(hang.output, /shellgate: the guarded shell could not be established on target hangs within 5s/);
});

test('a guarded shell without a terminal is refused with a message', async () => {
  const r = await runSsh({ port: gw.sshPort, knownHostsFile: gw.knownHostsFile, target: 'local', token, extra: ['-T'] });
  assert.equal(r.code, 126);
  assert.match(r.stderr, /shellgate: interactive shells on target local are guarded and need a terminal \(ssh -t\)/);
});

test('a recording that cannot be created refuses the shell, and the log ends the shell it started', async () => {
  const rec = path.join(gw.dir, 'recordings');
  renameSync(rec, rec + '.away');
  writeFileSync(rec, 'not a folder\n');
  try {
    const t = new Term(gw, 'local', token);
    assert.equal(await t.exited, 126);
    assert.match(t.output, /shellgate: the recording cannot be written: shell refused/);
    const events = await waitForEvents(gw.dir, (ev) => ev.some((e) => e.type === 'shell.end' && /recording cannot be written/.test(String(e.body.reason))));
    const end = events.find((e) => e.type === 'shell.end' && /recording cannot be written/.test(String(e.body.reason)))!;
    const start = events.filter((e) => e.type === 'shell.start' && e.body.session === end.body.session && e.body.channel === end.body.channel);
    assert.equal(start.length, 1, 'the shell that was logged as started');
    assert.ok(start[0]!.seq < end.seq);
    assert.equal(end.body.exit, 126);
    assert.ok(!events.some((e) => e.type === 'recording.sealed' && e.body.session === end.body.session), 'no recording');
  } finally {
    unlinkSync(rec);
    renameSync(rec + '.away', rec);
  }
  // Recordings work again: the next shell starts.
  const again = await open('local');
  await close(again);
});
