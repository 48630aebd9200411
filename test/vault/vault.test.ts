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
