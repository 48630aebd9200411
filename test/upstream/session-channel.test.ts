import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import ssh2, { type Client, type ClientChannel } from 'ssh2';
import { openSessionChannel, startProgram } from '../../src/upstream/session-channel.js';
import { startSshd } from '../helpers/sshd.js';
import { startProbeUpstream } from '../helpers/probe-upstream.js';
import { newSshKeyFile } from '../helpers/keys.js';
import { tempDir } from '../helpers/tmp.js';

async function connect(port: number, username: string, privateKey: Buffer): Promise<Client> {
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({ host: '127.0.0.1', port, username, privateKey });
  });
  return client;
}

/** Output and exit status of a started channel. */
function collect(ch: ClientChannel): Promise<{ out: string; code: number | null }> {
  return new Promise((resolve) => {
    let out = '';
    let code: number | null = null;
    ch.on('data', (d: Buffer) => (out += d));
    ch.stderr.on('data', (d: Buffer) => (out += d));
    ch.on('exit', (c: number | null) => (code = c));
    ch.on('close', () => resolve({ out, code }));
  });
}

test('a session channel opened ahead runs nothing until its exec request, then runs with its environment and terminal', async () => {
  const sshd = await startSshd(['AcceptEnv SG_PROBE']);
  const { dir, cleanup } = tempDir();
  const client = await connect(sshd.port, sshd.user, sshd.clientKey);
  try {
    const marker = path.join(dir, 'ran');
    const value = 'v' + Date.now();
    const ch = await openSessionChannel(client, { pty: { term: 'xterm', rows: 33, cols: 101, width: 0, height: 0 }, env: { SG_PROBE: value } });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(existsSync(marker), false, 'the command ran before its exec request');
    const result = collect(ch);
    await startProgram(client, ch, `touch ${marker}; echo "env=$SG_PROBE"; stty size; tty`);
    const { out, code } = await result;
    assert.equal(code, 0, out);
    assert.equal(existsSync(marker), true);
    assert.match(out, new RegExp(`env=${value}`));
    assert.match(out, /33 101/);
    assert.match(out, /\/dev\/pts\/\d+/);
  } finally {
    client.end();
    cleanup();
    await sshd.stop();
  }
});

test('a channel opened ahead starts the shell when the program is null', async () => {
  const sshd = await startSshd();
  const client = await connect(sshd.port, sshd.user, sshd.clientKey);
  try {
    const ch = await openSessionChannel(client, { pty: null, env: {} });
    const result = collect(ch);
    await startProgram(client, ch, null);
    ch.end('echo shell-$((40 + 2)); exit 3\n');
    const { out, code } = await result;
    assert.equal(out, 'shell-42\n');
    assert.equal(code, 3);
  } finally {
    client.end();
    await sshd.stop();
  }
});

test('a terminal the upstream refuses fails the open with a clear error', async () => {
  const sshd = await startSshd(['PermitTTY no']);
  const client = await connect(sshd.port, sshd.user, sshd.clientKey);
  try {
    await assert.rejects(openSessionChannel(client, { pty: { term: 'xterm', rows: 24, cols: 80, width: 0, height: 0 }, env: {} }), /refused a pseudo-terminal/);
    // The connection is still good for the next channel.
    const ch = await openSessionChannel(client, { pty: null, env: {} });
    const result = collect(ch);
    await startProgram(client, ch, 'echo still-up');
    assert.deepEqual(await result, { out: 'still-up\n', code: 0 });
  } finally {
    client.end();
    await sshd.stop();
  }
});

test('a refused exec request rejects; requests whose connection dies reject instead of waiting forever, with one close listener for all', async () => {
  const probe = await startProbeUpstream();
  const keys = tempDir();
  const keyFile = path.join(keys.dir, 'client_ed25519');
  const client = await connect(probe.port, 'probe', newSshKeyFile(keyFile));
  client.on('error', () => undefined);
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    probe.answer = 'refuse';
    const refused = await openSessionChannel(client, { pty: null, env: {} });
    await assert.rejects(startProgram(client, refused, 'true'), /refused the command/);
    probe.answer = 'ignore';
    // Twelve requests waiting on one connection: one 'close' listener for all (a listener each
    // passed Node's limit of ten and warned), and each still rejects when the connection dies.
    const listeners = client.listenerCount('close');
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 12; i++) pending.push(startProgram(client, await openSessionChannel(client, { pty: null, env: {} }), 'true'));
    pending.forEach((p) => p.catch(() => undefined));
    await probe.until((e) => e.filter((x) => /^exec \d+ true$/.test(x)).length === 13);
    assert.ok(client.listenerCount('close') <= listeners + 1, `close listeners: ${client.listenerCount('close')}`);
    await probe.close();
    for (const p of pending) await assert.rejects(p, /connection closed while waiting for the command/);
    assert.deepEqual(warnings.map((w) => w.name), []);
  } finally {
    process.off('warning', onWarning);
    client.end();
    await probe.close(); // again after the test's own close: a no-op, unless an assertion came first
    keys.cleanup();
  }
});
