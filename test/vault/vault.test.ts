import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Vault } from '../../src/vault/vault.js';
import { VaultError } from '../../src/errors.js';
import { tempDir, rand } from '../helpers/tmp.js';

test('credentials round-trip, are encrypted at rest (0600) and never stored in clear', () => {
  const t = tempDir();
  try {
    const file = path.join(t.dir, 'vault.json');
    const v = Vault.open(file, randomBytes(32));
    const secret = 'pw-' + rand(24);
    v.add('db', 'password', Buffer.from(secret));
    assert.equal(v.get('db').value.toString(), secret);
    assert.equal(v.get('db').kind, 'password');
    assert.ok(!readFileSync(file, 'utf8').includes(secret));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(v.list().map((e) => e.name), ['db']);
    assert.ok(v.remove('db'));
    assert.throws(() => v.get('db'), VaultError);
  } finally {
    t.cleanup();
  }
});

test('a wrong master key or a tampered or swapped entry cannot be decrypted, and the error holds no value', () => {
  const t = tempDir();
  try {
    const file = path.join(t.dir, 'vault.json');
    const key = randomBytes(32);
    const secret = 'pw-' + rand(24);
    const v = Vault.open(file, key);
    v.add('a', 'password', Buffer.from(secret));
    v.add('b', 'password', Buffer.from('other-' + rand(8)));
    assert.throws(() => Vault.open(file, randomBytes(32)).get('a'), (e: Error) => e instanceof VaultError && !e.message.includes(secret));
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    // Swap entries: the name is authenticated data, so b's ciphertext under a's name fails.
    [doc.entries.a, doc.entries.b] = [doc.entries.b, doc.entries.a];
    writeFileSync(file, JSON.stringify(doc));
    assert.throws(() => v.get('a'), /cannot be decrypted/);
    assert.throws(() => Vault.open(file, null), /no vault master key/);
  } finally {
    t.cleanup();
  }
});

test('shellgate vault add / list / remove never print a value', async () => {
  const { spawnSync } = await import('node:child_process');
  const { cliPath } = await import('../helpers/paths.js');
  const t = tempDir();
  try {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(path.join(t.dir, 'policies'));
    writeFileSync(path.join(t.dir, 'policies', 'default.yaml'), 'version: 1\nrules: []\n');
    const cfg = path.join(t.dir, 'shellgate.yaml');
    writeFileSync(cfg, 'identity:\n  devIssuer: true\nvault:\n  masterKey: ${MK}\n');
    const env = { ...process.env, MK: randomBytes(32).toString('base64') };
    const secret = 'pw-' + rand(20);
    const run = (args: string[], input?: string) => spawnSync(process.execPath, [cliPath, 'vault', ...args, '--config', cfg], { env, input, encoding: 'utf8' });
    const add = run(['add', 'db', '--password-stdin'], secret + '\n');
    assert.equal(add.status, 0, add.stderr);
    const keyFile = path.join(t.dir, 'k');
    writeFileSync(keyFile, 'key-material-' + rand(30));
    assert.equal(run(['add', 'web-key', '--key', keyFile]).status, 0);
    const list = run(['list', '--json']);
    assert.equal(list.status, 0);
    assert.deepEqual(JSON.parse(list.stdout).map((e: { name: string; kind: string }) => [e.name, e.kind]), [['db', 'password'], ['web-key', 'private-key']]);
    for (const r of [add, list]) assert.ok(!(r.stdout + r.stderr).includes(secret));
    assert.equal(run(['remove', 'db']).status, 0);
    assert.equal(run(['remove', 'db']).status, 1);
    assert.equal(run(['add', 'x']).status, 2, 'needs --key or --password-stdin');
    const wrongKey = spawnSync(process.execPath, [cliPath, 'vault', 'list', '--config', cfg], { env: { ...env, MK: 'short' }, encoding: 'utf8' });
    assert.equal(wrongKey.status, 2);
    assert.match(wrongKey.stderr, /vault\.masterKey: must be 32 bytes/);
  } finally {
    t.cleanup();
  }
});
