import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { compileMasker, type MaskerOptions } from '../../src/masking/index.js';
import { fake, rand } from './fakes.js';
import { assertGateMatchesFullScan } from './gate-property.js';
import { runChunks, splitAt } from './stream-util.js';

/*
 * The prefilter looks for word and token anchors (`pass`, `token`, `ghp_`…) only on lines holding a
 * gate character (`=`, `:`, blank, `-`, `_`, `.`), since every match of their detectors holds one.
 * A policy regex makes the engine scan every line with every detector: that is the reference here
 * (gate-property.ts).
 */

/** `n` lines of base64 as `base64` prints it (76 columns): no gate character anywhere. */
function base64Lines(n: number): string {
  return (randomBytes(57 * n).toString('base64').match(/.{1,76}/g) ?? []).join('\n') + '\n';
}

/** Chunks of `size` bytes, as a `cat` through the gateway would deliver them. */
function chunks(text: string, size: number): Buffer[] {
  const buf = Buffer.from(text);
  const cuts: number[] = [];
  for (let i = size; i < buf.length; i += size) cuts.push(i);
  return splitAt(buf, cuts);
}

test('gate: keywords on lines without a gate character pass unchanged, with no findings', async () => {
  const m = compileMasker();
  const lines = [
    'passwordhunter2Xy',
    'PWDabcdefgh12345678',
    'tokenABCDEFGHIJKLMNOP',
    'BearerABCDEFGHIJKLMNOPQRST0123',
    'AuthorizationBasicQWxhZGRpbjpvcGVu',
    'aws' + 'secretaccesskey' + rand(40),
    'ghp' + rand(36),
    'eyJhbGciOiJIUzI1NiJ9eyJzdWIiOiJ4In0',
    base64Lines(1).trim().slice(0, 30) + 'pwd' + 'PaSs' + 'tOkEn' + 'Secret',
  ];
  const text = base64Lines(40) + lines.join('\n') + '\n' + base64Lines(40);
  const r = m.maskText(text);
  assert.equal(r.text, text);
  assert.deepEqual(r.findings, []);
  assert.equal((await runChunks(m.createStream(), chunks(text, 1000))).toString(), text);
});

test('gate: a secret line inside long runs of base64 is masked, one shot and in chunks of any size', async () => {
  const m = compileMasker();
  const pw = fake.password();
  const key = fake.awsKeyId();
  const tok = rand(40);
  // gated lines far apart: the gated anchors go over little more than those lines
  const text =
    base64Lines(300) + `db_password=${pw}\n` + base64Lines(100) + `Authorization: Bearer ${tok}\n` + base64Lines(3) + `${key}\n` + base64Lines(300) + `--password ${pw}`;
  const want = text.replaceAll(pw, '*'.repeat(pw.length)).replace(tok, '*'.repeat(tok.length)).replace(key, '*'.repeat(key.length));
  assert.equal(m.maskText(text).text, want);
  assert.deepEqual(
    m.maskText(text).findings.map((f) => f.detector),
    ['password-assignment', 'bearer-token', 'aws-access-key-id', 'password-assignment'],
  );
  for (const size of [1, 7, 76, 77, 4096, 32 * 1024]) {
    assert.equal((await runChunks(m.createStream(), chunks(text, size))).toString(), want, `chunks of ${size}`);
  }
});

test('fuzz: secret lines at any distance from each other among base64 lines are all masked', () => {
  const m = compileMasker();
  const kinds = [
    (v: string) => `Bearer ${v}`,
    (v: string) => `PASSWORD '${v}'`,
    (v: string) => `x_api_key=${v}`,
    (v: string) => `${'gh' + 'p_'}${v}${v}${v}`,
  ];
  fc.assert(
    fc.property(fc.array(fc.record({ gap: fc.nat({ max: 3000 }), kind: fc.nat({ max: kinds.length - 1 }) }), { minLength: 1, maxLength: 12 }), (parts) => {
      let text = '';
      const secrets: string[] = [];
      for (const { gap, kind } of parts) {
        const v = rand(16);
        secrets.push(v);
        text += (randomBytes(gap).toString('base64').slice(0, gap).match(/.{1,76}/g) ?? []).join('\n') + '\n' + kinds[kind]!(v) + '\n';
      }
      const r = m.maskText(text);
      for (const v of secrets) assert.ok(!r.text.includes(v), JSON.stringify({ parts, v }));
      assert.equal(r.findings.length, secrets.length);
    }),
    { numRuns: 300 },
  );
});

test('gate: the only gate character of a line may sit thousands of bytes from the anchor', () => {
  const hook = 'hooks.slack.com/services/T0123ABC/B0456DEF/' + rand(24);
  // the anchor is `token` at the start; the dots of the webhook gate the line 3000 bytes later
  const text = base64Lines(50) + 'token' + rand(3000) + hook + '\n' + base64Lines(50);
  for (const only of [undefined, ['slack-token', 'password-assignment']]) {
    const r = compileMasker({ only }).maskText(text);
    assert.ok(!r.text.includes(hook.slice(-24)));
    assert.deepEqual(r.findings.map((f) => f.detector), ['slack-token']);
  }
});

test('gate: a keyword ending one chunk, its separator starting the next', async () => {
  const m = compileMasker({ idleMs: 10_000 });
  const pw = rand(12); // no gate character in the value: the line's gate is the separator
  const tok = rand(32);
  const b = base64Lines(20);
  // the first chunk's last line holds no gate character: the separator arrives with the next chunk
  const cases: [string, string][] = [
    [b + 'APITOKEN', `=${pw}\n` + b],
    [b + 'PWD', `=${pw}\n`],
    [b + 'Authorization', `: Bearer ${tok}\n` + b],
    [b + 'Authorization:', ` Bearer ${tok}\n`],
    [b + 'Bearer', ` ${tok}\n`],
    [b + 'PASSWORD', ` '${pw}';\n`],
    [b + '{"password"', `: "${pw}"}\n`],
  ];
  for (const [a, c] of cases) {
    const whole = m.maskText(a + c).text;
    assert.ok(!whole.includes(pw) && !whole.includes(tok), JSON.stringify(a.slice(-20) + c));
    const out = await runChunks(m.createStream(), [Buffer.from(a), Buffer.from(c)]);
    assert.equal(out.toString(), whole, JSON.stringify(a.slice(-20) + c));
  }
});

test('gate: every split of base64 around a gated line gives the one-shot bytes', async () => {
  const m = compileMasker({ idleMs: 10_000 });
  const text = base64Lines(2) + `x Secret_Token: ${fake.password()}\n` + base64Lines(1) + `pwd${base64Lines(1).slice(0, 20)}\n`;
  const whole = Buffer.from(m.maskText(text).text);
  const buf = Buffer.from(text);
  for (let cut = 1; cut < buf.length; cut++) {
    assert.ok((await runChunks(m.createStream(), splitAt(buf, [cut]))).equals(whole), `split at ${cut}`);
  }
});

test('fuzz: with the gate, the prefilter masks exactly what scanning every line masks', () => {
  const configs: MaskerOptions[] = [
    {},
    { maxSecretLength: 256 },
    { only: ['password-assignment'] },
    { only: ['bearer-token', 'jwt', 'aws-access-key-id'] },
    { disable: ['credit-card', 'us-ssn'], vaulted: ['Zq9-' + 'vault'] },
  ];
  const pieces: (string | (() => string))[] = [
    '\n', '\n', ' ', '\t', '=', ':', '-', '_', '.', '"', "'", '/', '+', '\x1b[31m', 'é',
    'pass', 'PWD', 'password', 'Passwd', 'token', 'Secret', 'bearer', 'Authorization', 'api_key', 'private-key', 'credential',
    'aws_secret_access_key', '--password', 'basic', 'AK' + 'IA', 'AI' + 'za', 'gh' + 'p_', 'gl' + 'pat-', 'xo' + 'xb-', 'sk' + '_live_', 'eyJ', '://', 'user:', '@h',
    '-----BEGIN RSA PRIVATE KEY-----', 'Zq9-', 'vault', '4111', '123-45-6789',
    () => rand(8, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'),
    () => base64Lines(1),
    () => base64Lines(30), // a long stretch without a gate character
    () => rand(300),
    () => rand(40),
    fake.awsKeyId, fake.github, fake.jwt, fake.card,
  ];
  assertGateMatchesFullScan(configs, pieces, 60);
});

test('fuzz: text without any gate character: key anchors alone open the gate, as a full scan finds', async () => {
  // anchoredLines skips the gate's character class when the text holds none of its characters and
  // looks for the key anchors (AKIA…, AIza…) alone: the same hits, so the same output
  const configs: MaskerOptions[] = [
    {},
    { only: ['aws-access-key-id'] }, // key anchors and no gate character at all
    { only: ['google-api-key', 'password-assignment'] },
    { disable: ['aws-access-key-id', 'google-api-key'] }, // gate characters, no key anchor
    { vaulted: ['Zq9' + 'vaultX'] },
  ];
  const pieces: (string | (() => string))[] = [
    '\n', '\n', '/', '+', 'é', '\x1b[31m', // an escape sequence's `[` and digits: still no gate character
    'pass', 'PWD', 'token', 'Secret', 'bearer', 'Authorization', 'eyJ', 'AK' + 'IA', 'AS' + 'IA', 'AI' + 'za', 'Zq9', 'vaultX',
    '4111', '5500', () => rand(16, '0123456789'),
    () => rand(8, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'),
    () => base64Lines(1),
    () => base64Lines(20),
    fake.awsKeyId,
    () => 'AI' + 'za' + rand(35), // a Google key without `_` or `-`
  ];
  assertGateMatchesFullScan(configs, pieces, 40, 500);
  // and in a stream: key ids in base64, every chunk size, no gate character anywhere
  const keys = [fake.awsKeyId(), 'AI' + 'za' + rand(35)];
  const text = base64Lines(200) + keys[0] + '\n' + base64Lines(3) + `${fake.awsKeyId()}x\n` + base64Lines(100) + keys[1] + '\n' + base64Lines(50);
  assert.ok(!/[-:=_. \t]/.test(text));
  const m = compileMasker();
  const r = m.maskText(text);
  assert.deepEqual(r.findings.map((f) => f.detector), ['aws-access-key-id', 'google-api-key']); // not the one touching `x`
  assert.equal(r.text, text.replace(keys[0]!, '*'.repeat(20)).replace(keys[1]!, '*'.repeat(39)));
  for (const size of [1, 13, 77, 4096, 32 * 1024]) {
    assert.equal((await runChunks(m.createStream(), chunks(text, size))).toString(), r.text, `chunks of ${size}`);
  }
});
