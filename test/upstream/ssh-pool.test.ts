import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pino from 'pino';
import type { SshTargetConfig } from '../../src/config/types.js';
import { SshPool } from '../../src/upstream/ssh-pool.js';
import type { UpstreamProcess } from '../../src/upstream/types.js';
import { Vault } from '../../src/vault/vault.js';
import { startProbeUpstream, type ProbeUpstream } from '../helpers/probe-upstream.js';
import { newSshKeyFile } from '../helpers/keys.js';
import { tempDir } from '../helpers/tmp.js';

/** A pool with a fresh vault holding one client key, and a target on the probe upstream. */
function poolFor(probe: ProbeUpstream, quiet: () => boolean): { pool: SshPool; target: SshTargetConfig; cleanup: () => void } {
  const t = tempDir();
  const keyFile = path.join(t.dir, 'client_ed25519');
  const vault = Vault.open(path.join(t.dir, 'vault.json'), randomBytes(32));
  vault.add('probe-key', 'private-key', newSshKeyFile(keyFile));
  const target: SshTargetConfig = {
    kind: 'ssh',
    name: 'probe',
    policy: 'test',
    allowForwarding: false,
    allowAgentForwarding: false,
    allowX11: false,
    allowSubsystems: [],
    envAllow: [],
    host: '127.0.0.1',
    port: probe.port,
    user: 'probe',
    credential: 'probe-key',
    hostKey: probe.fingerprint,
    maxChannelsPerConnection: 10,
  };
  const pool = new SshPool(vault, pino({ level: 'silent' }), 60_000, quiet);
  return { pool, target, cleanup: () => { pool.closeAll(); t.cleanup(); } };
}

async function output(up: UpstreamProcess): Promise<string> {
  let out = '';
  up.stdout.on('data', (d: Buffer) => (out += d));
  await up.done;
  return out;
}

test('the pool opens a channel ahead only while the gateway is quiet; a busy gateway opens each command its own', async () => {
  const probe = await startProbeUpstream();
  let quiet = false;
  const { pool, target, cleanup } = poolFor(probe, () => quiet);
  try {
    // Busy: the connection comes up with no channel on it, and a command opens its own.
    pool.warm(target);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(pool.connectionCount(), 1);
    assert.equal(probe.events.length, 0);
    assert.equal(await output(await pool.prepare(target, { pty: null, env: {} }).run('echo busy')), 'busy\n');
    assert.deepEqual(probe.events.slice(0, 2), ['open 1', 'exec 1 echo busy']);
    await probe.until((e) => e.includes('close 1'));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(probe.events.filter((e) => e.startsWith('open')).length, 1, probe.events.join(', '));
    // Quiet: the next command's end opens one ahead, and the command after that uses it.
    quiet = true;
    assert.equal(await output(await pool.prepare(target, { pty: null, env: {} }).run('echo quiet')), 'quiet\n');
    await probe.until((e) => e.includes('open 3'));
    assert.equal(await output(await pool.prepare(target, { pty: null, env: {} }).run('echo ahead')), 'ahead\n');
    assert.ok(probe.events.includes('exec 3 echo ahead'), probe.events.join(', '));
    // A prepared channel discarded: closed with nothing sent on it.
    await probe.until((e) => e.includes('open 4'));
    pool.prepare(target, { pty: null, env: {} }).discard();
    await probe.until((e) => e.includes('close 4'));
    assert.equal(probe.events.filter((e) => e.startsWith('exec 4')).length, 0);
  } finally {
    cleanup();
    await probe.close();
  }
});
