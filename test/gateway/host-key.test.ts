import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import ssh2 from 'ssh2';
import { encodeOpenSSHEd25519 } from '../../src/gateway/encode-openssh-key.js';
import { loadOrCreateHostKey } from '../../src/gateway/host-key.js';
import { fingerprint } from '../../src/upstream/fingerprint.js';
import { ed25519KeyFromSeed, ed25519PrivateJwk, newEd25519Key } from '../../src/util/new-ed25519-key.js';
import { newEs256Pair } from '../helpers/keys.js';
import { startGateway } from '../helpers/gateway.js';
import { runSsh } from '../helpers/openssh.js';
import { tempDir } from '../helpers/tmp.js';

function rawPublic(key: KeyObject): Buffer {
  return Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x!, 'base64url');
}

/** A fresh key whose public key starts with a zero byte (one in 256): the case ssh2's generator got wrong. */
function keyWithLeadingZero(): KeyObject {
  for (;;) {
    const k = ed25519KeyFromSeed(randomBytes(32));
    if (rawPublic(k)[0] === 0) return k;
  }
}

/** ssh-keygen, bounded: stdin closed, never waiting for a passphrase, 20 s at most. */
function keygen(args: string[]): string {
  return execFileSync('ssh-keygen', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
}

function checkParses(key: KeyObject, enc: { private: string; public: string }): void {
  const parsed = ssh2.utils.parseKey(enc.private);
  assert.ok(!(parsed instanceof Error), parsed instanceof Error ? parsed.message : '');
  assert.equal(parsed.type, 'ssh-ed25519');
  const blob = parsed.getPublicSSH();
  assert.equal(enc.public.split(' ')[1], blob.toString('base64'));
  assert.deepEqual(blob.subarray(blob.length - 32), rawPublic(key));
  // The parsed private key signs what the original public key verifies.
  const data = randomBytes(40);
  assert.ok(verify(null, data, createPublicKey(key), parsed.sign(data)));
  const pub = ssh2.utils.parseKey(enc.public);
  assert.ok(!(pub instanceof Error), pub instanceof Error ? pub.message : '');
}

test('OpenSSH ed25519 encoding: a public key starting with a zero byte stays 32 bytes; ssh2 and ssh-keygen read it', { timeout: 60_000 }, () => {
  const { dir, cleanup } = tempDir('shellgate-hostkey-');
  try {
    for (const key of [keyWithLeadingZero(), keyWithLeadingZero(), newEd25519Key()]) {
      const enc = encodeOpenSSHEd25519(key, 'shellgate host key');
      checkParses(key, enc);
      const file = path.join(dir, 'k' + randomBytes(4).toString('hex'));
      writeFileSync(file, enc.private, { mode: 0o600 });
      // ssh-keygen derives the same public key line from the private file, and the same fingerprint.
      const derived = keygen(['-y', '-P', '', '-f', file]).trim().split(/\s+/).slice(0, 2).join(' ');
      assert.equal(derived, enc.public.split(' ').slice(0, 2).join(' '));
      writeFileSync(file + '.pub', enc.public + '\n');
      const fp = keygen(['-l', '-E', 'sha256', '-f', file + '.pub']).split(/\s+/)[1];
      assert.equal(fp, fingerprint(Buffer.from(enc.public.split(' ')[1]!, 'base64')));
    }
  } finally {
    cleanup();
  }
});

test('OpenSSH ed25519 encoding: 2,000 random keys all parse and sign (ssh2 generator failed ~8 of these)', { timeout: 60_000 }, () => {
  for (let i = 0; i < 2000; i++) {
    const key = newEd25519Key();
    const enc = encodeOpenSSHEd25519(key, i % 2 ? '' : 'c'.repeat(i % 17));
    const parsed = ssh2.utils.parseKey(enc.private);
    assert.ok(!(parsed instanceof Error), `key ${i}: ${parsed instanceof Error ? parsed.message : ''}`);
    const data = Buffer.from([i & 255]);
    assert.ok(verify(null, data, createPublicKey(key), parsed.sign(data)), `key ${i} does not sign`);
  }
  assert.throws(() => encodeOpenSSHEd25519(newEs256Pair().privateKey, ''), TypeError);
  assert.equal(sign(null, Buffer.alloc(1), keyWithLeadingZero()).length, 64);
});

test('new Ed25519 keys: imported from 32 random bytes, all different, their JWK signs what the key verifies', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const key = newEd25519Key();
    assert.equal(key.asymmetricKeyType, 'ed25519');
    const jwk = ed25519PrivateJwk(key);
    assert.equal(Buffer.from(jwk.d, 'base64url').length, 32);
    assert.ok(!seen.has(jwk.d), 'a seed came out twice');
    seen.add(jwk.d);
    const data = randomBytes(16);
    assert.ok(verify(null, data, createPublicKey(key), sign(null, data, ed25519KeyFromSeed(Buffer.from(jwk.d, 'base64url')))));
  }
  assert.throws(() => ed25519KeyFromSeed(randomBytes(31)), TypeError);
  assert.throws(() => ed25519PrivateJwk(newEs256Pair().privateKey), TypeError);
});

test('host key: created 0600 on first start and reused; a group-readable or unparseable file is refused by name', { timeout: 60_000 }, () => {
  const { dir, cleanup } = tempDir('shellgate-hostkey-');
  try {
    const file = path.join(dir, 'data', 'host_ed25519');
    const first = loadOrCreateHostKey(file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(!(ssh2.utils.parseKey(first) instanceof Error));
    assert.match(readFileSync(file + '.pub', 'utf8'), /^ssh-ed25519 [A-Za-z0-9+/]+=* shellgate host key\n$/);
    assert.deepEqual(loadOrCreateHostKey(file), first, 'the same key on the next start');

    chmodSync(file, 0o640);
    assert.throws(() => loadOrCreateHostKey(file), /readable by group or others/);
    chmodSync(file, 0o600);

    // A key file cut short (as ssh2's generator wrote one in 256): named, with what to do, no key bytes in the message.
    const broken = path.join(dir, 'broken', 'host_ed25519');
    mkdirSync(path.dirname(broken));
    const text = first.toString('utf8');
    const lines = text.trim().split('\n');
    const cut = [lines[0], ...lines.slice(1, -1).map((l) => l.slice(0, 20)), lines.at(-1)].join('\n') + '\n';
    writeFileSync(broken, cut, { mode: 0o600 });
    assert.throws(
      () => loadOrCreateHostKey(broken),
      (e: Error) => e.message.includes(broken) && /cannot be used/.test(e.message) && /remove it/.test(e.message) && !lines.slice(1, -1).some((l) => e.message.includes(l.slice(0, 20))),
    );
  } finally {
    cleanup();
  }
});

test('a gateway whose host key starts with a zero byte starts, and OpenSSH connects pinned to it', { timeout: 90_000 }, async () => {
  const { dir, cleanup } = tempDir('shellgate-gw-');
  const key = keyWithLeadingZero();
  const enc = encodeOpenSSHEd25519(key, 'shellgate host key');
  mkdirSync(path.join(dir, 'data'), { mode: 0o700 });
  writeFileSync(path.join(dir, 'data', 'host_ed25519'), enc.private, { mode: 0o600 });
  writeFileSync(path.join(dir, 'data', 'host_ed25519.pub'), enc.public + '\n');
  const gw = await startGateway({ dir });
  try {
    const r = await runSsh({ port: gw.sshPort, knownHostsFile: gw.knownHostsFile, target: 'local', token: await gw.token(), command: 'echo pinned-ok' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'pinned-ok\n');
  } finally {
    await gw.stop();
    cleanup();
  }
});
