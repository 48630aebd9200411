import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { cliPath } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';
import { runSsh } from '../helpers/openssh.js';

test('shellgate demo: writes its config, listens, and a token from `shellgate token` runs a command through OpenSSH', async () => {
  const t = tempDir('shellgate-demo-');
  const env = { ...process.env };
  delete env.SHELLGATE_TOKEN;
  const proc = spawn(process.execPath, [cliPath, 'demo', '--ssh', '127.0.0.1:0', '--http', '127.0.0.1:0'], { cwd: t.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let stderr = '';
    proc.stderr.on('data', (d) => (stderr += d));
    const listening = await new Promise<Record<string, string>>((resolve, reject) => {
      createInterface({ input: proc.stdout }).on('line', (l) => {
        try {
          const o = JSON.parse(l);
          if (o.msg === 'listening') resolve(o);
        } catch {
          /* not JSON */
        }
      });
      proc.once('exit', (c) => reject(new Error(`demo exited ${c}: ${stderr}`)));
    });
    assert.match(stderr, /wrote the demo config to .*shellgate\.yaml/);
    assert.match(stderr, /token --sub demo-agent --group agents/);
    assert.match(stderr, /SSH_ASKPASS=/);
    assert.ok(existsSync(path.join(t.dir, 'shellgate.yaml')));
    assert.ok(existsSync(path.join(t.dir, 'data', 'host_ed25519')));
    const port = Number(listening.ssh!.split(':').pop());

    const tok = spawnSync(process.execPath, [cliPath, 'token', '--sub', 'demo-agent', '--group', 'agents'], { cwd: t.dir, encoding: 'utf8' });
    assert.equal(tok.status, 0, tok.stderr);
    const token = tok.stdout.trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'the token alone on stdout');

    const kh = path.join(t.dir, 'known_hosts');
    writeFileSync(kh, `[127.0.0.1]:${port} ${readFileSync(path.join(t.dir, 'data', 'host_ed25519.pub'), 'utf8').split(/\s+/).slice(0, 2).join(' ')}\n`);
    const r = await runSsh({ port, knownHostsFile: kh, target: 'local', token, command: 'uptime' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /load average/);
    const denied = await runSsh({ port, knownHostsFile: kh, target: 'local', token, command: 'rm -rf /tmp/nothing-here' });
    assert.equal(denied.code, 126);
    assert.match(denied.stderr, /denied/);

    // The other subcommands find the config the demo wrote.
    const verify = spawnSync(process.execPath, [cliPath, 'audit', 'verify'], { cwd: t.dir, encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  } finally {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
    assert.equal(proc.exitCode, 0, 'SIGTERM ends the demo cleanly');
    t.cleanup();
  }
});

test('--help everywhere, one-line errors, exit 2 for usage', () => {
  const top = spawnSync(process.execPath, [cliPath, '--help'], { encoding: 'utf8' });
  assert.equal(top.status, 0);
  for (const cmd of ['serve', 'demo', 'token', 'ticket', 'ssh', 'approvals', 'policy check', 'mask', 'audit verify', 'audit export', 'audit pubkey', 'vault', 'sessions', 'replay']) {
    assert.ok(top.stdout.includes(cmd), `top-level help lists ${cmd}`);
    const h = spawnSync(process.execPath, [cliPath, ...cmd.split(' '), '--help'], { encoding: 'utf8' });
    assert.equal(h.status, 0, `${cmd} --help`);
    assert.match(h.stdout, /usage:/, `${cmd} --help shows usage`);
  }
  const bad = spawnSync(process.execPath, [cliPath, 'token', '--nope'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  const unknown = spawnSync(process.execPath, [cliPath, 'frobnicate'], { encoding: 'utf8' });
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
});

test('-h and --help after -- belong to the command line, not to shellgate', (t) => {
  const d = tempDir();
  t.after(d.cleanup);
  const policy = path.join(d.dir, 'p.yaml');
  writeFileSync(policy, 'version: 1\ndefault: deny\nrules:\n  - id: look\n    decision: allow\n    match: ["ls **", "df **"]\n');
  for (const flag of ['-h', '--help']) {
    const r = spawnSync(process.execPath, [cliPath, 'policy', 'check', '--policy', policy, '--json', '--', 'df', flag], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { decision: string; rule: string };
    assert.deepEqual([out.decision, out.rule], ['allow', 'look'], `df ${flag} was decided`);
  }
  const help = spawnSync(process.execPath, [cliPath, 'policy', 'check', '--help', '--', 'df', '-h'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /usage:/, 'before --, --help is shellgate\'s');
});
