import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compileMasker } from '../../src/masking/index.js';
import { fake, loadCorpus, rand } from './fakes.js';
import { runChunks, splitAt } from './stream-util.js';

const cases = loadCorpus();
// A long idle timeout: the fuzz pauses are short, and a loaded machine must not make them look long.
const masker = compileMasker({ idleMs: 1000, vaulted: ['Vault-' + 'Pa55-' + 'wörd'] });

/** Inputs beyond the corpus: multi-byte UTF-8, ANSI sequences inside and around secrets, long lines, PEM. */
function extraInputs(): string[] {
  const key = fake.awsKeyId();
  const gh = fake.github();
  return [
    `\x1b[33m${key}\x1b[0m\n`,
    `x\x1b[1m${key}\x1b[0my ${key.slice(0, 9)}\x1b[31m${key.slice(9)} done\n`,
    `héllo wörld ✓ password=pässwörd-✓✓ naïve 🙂 ${gh} 🙂\n`,
    `\x1b]0;title ${key}\x07prompt$ echo ${gh}\r\n`,
    `passwd: foo\npasswd: foo bar\nAPI_TOKEN="abc def ghi jkl"\nAPI_TOKEN=12345678901\n`,
    `card ${fake.card().replace(/(\d{4})(?=\d)/g, '$1 ')} exp 12/29\nid ${fake.card()}-x\n`,
    `-----BEGIN OPENSSH PRIVATE KEY-----\n${'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW'}\n-----END OPENSSH PRIVATE KEY-----\nafter ${key}\n`,
    `note Vault-Pa55-wörd and ${Buffer.from('Vault-Pa55-wörd').toString('base64')} end\n`,
    'a'.repeat(300) + ' token=' + 'z'.repeat(40) + ' ' + 'b'.repeat(200) + '\n',
    `Authorization: Bearer ${fake.jwt()}\n{"password": "a b c d", "x": 1}\nssn ${fake.ssn()}`,
    // escape sequences that must not swallow the UTF-8 bytes after them
    'passwd: \x1b é\nx \x1b(é y \x1b\n\x1b[1é token=\x1b]0;ti✓tle\x1b\\' + fake.password() + '\n',
  ];
}

const inputs = [...cases.map((c) => c.input), ...extraInputs()];
const wholes = inputs.map((i) => Buffer.from(masker.maskText(i).text, 'utf8'));

test('one shot (maskText) equals the stream fed in one chunk', async () => {
  for (let i = 0; i < inputs.length; i++) {
    const out = await runChunks(masker.createStream(), [Buffer.from(inputs[i]!)]);
    assert.ok(out.equals(wholes[i]!), inputs[i]!.slice(0, 40));
  }
});

test('every two-way split at any byte offset gives the same bytes (inside UTF-8 and ANSI sequences too)', async () => {
  for (let i = 0; i < inputs.length; i++) {
    const buf = Buffer.from(inputs[i]!);
    for (let cut = 1; cut < buf.length; cut++) {
      const out = await runChunks(masker.createStream(), splitAt(buf, [cut]));
      if (!out.equals(wholes[i]!)) assert.fail(`input ${i} split at byte ${cut}: ${JSON.stringify(out.toString())} != ${JSON.stringify(wholes[i]!.toString())}`);
    }
  }
});

test('fuzz: random byte offsets and chunk sizes give byte-identical output', async () => {
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: inputs.length - 1 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 30 }), async (which, sizes) => {
      const buf = Buffer.from(inputs[which]!);
      const cuts: number[] = [];
      let at = 0;
      for (let k = 0; at < buf.length; k++) cuts.push((at += sizes[k % sizes.length]!));
      const out = await runChunks(masker.createStream(), splitAt(buf, cuts));
      assert.ok(out.equals(wholes[which]!), `input ${which}, sizes ${sizes.join(',')}`);
    }),
    { numRuns: 400 },
  );
});

test('fuzz: random splits with random short pauses (shorter than the idle timeout) give byte-identical output', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.nat({ max: inputs.length - 1 }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 8 }),
      async (which, fractions, pauses) => {
        const buf = Buffer.from(inputs[which]!);
        const cuts = fractions.map((f) => Math.floor(f * buf.length));
        const chunks = splitAt(buf, cuts);
        const out = await runChunks(masker.createStream(), chunks, chunks.map((_, k) => pauses[k % pauses.length]!));
        assert.ok(out.equals(wholes[which]!), `input ${which}, cuts ${cuts.join(',')}`);
      },
    ),
    { numRuns: 60 },
  );
});

test('fuzz: random log-like text with embedded secrets, random splits', async () => {
  const words = ['ok', 'GET', '/api', 'status=200', 'héllo', '✓', '2024-11-22T03:21:45Z', 'password:', 'token=', '\x1b[32m', '\x1b[0m', '\n', ' ', '  ', '4111', '-', '://', 'user:pw@host'];
  const secretGen = [fake.awsKeyId, fake.github, fake.gitlab, fake.jwt, fake.card, fake.ssn, () => 'password=' + fake.password()];
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.oneof(fc.constantFrom(...words), fc.nat({ max: secretGen.length - 1 }).map((k) => secretGen[k]!())), { minLength: 1, maxLength: 40 }),
      fc.array(fc.nat({ max: 2000 }), { maxLength: 12 }),
      async (parts, cutsRaw) => {
        const text = parts.join(' ');
        const buf = Buffer.from(text);
        const whole = Buffer.from(masker.maskText(text).text);
        const out = await runChunks(masker.createStream(), splitAt(buf, cutsRaw.map((c) => c % (buf.length + 1))));
        assert.ok(out.equals(whole), JSON.stringify(text));
      },
    ),
    { numRuns: 300 },
  );
});

test('fuzz: token soup (partial anchors, sequences, PEM markers, long lines) under several configurations, every split', async () => {
  const configs = [
    compileMasker({ idleMs: 1000, maxSecretLength: 256, vaulted: ['correct' + ' horse', 'Zq9-' + 'vault'] }),
    compileMasker({ idleMs: 1000, add: ['(?i)ref-[0-9]{4}', 'x y+z'] }),
    compileMasker({ idleMs: 1000, only: ['credit-card', 'private-key', 'password-assignment'], vaulted: ['long vaulted value 0123456789 xyz'] }),
  ];
  const pieces: (string | (() => string))[] = [
    ' ', '\n', '\r\n', '\t', 'ok', 'é', '🙂', '\x1b[31m', '\x1b[0m', '\x1b]0;t\x07', '\x1b', '"', "'", '=', ': ', ',', '-', '.', '/', '@', '://',
    'password', 'passwd: ', 'token=', 'API_KEY: ', '--password ', 'Authorization: Bearer ', 'AK' + 'IA', 'gh' + 'p_', 'eyJ',
    '-----BEGIN RSA PRIVATE KEY-----', '-----END RSA PRIVATE KEY-----', '-----BEGIN PRIVATE KEY-----\n', '-----END PRIVATE KEY-----',
    'correct', 'horse', 'Zq9-', 'vault', 'REF-', '1234', '4111 ', 'x y', 'yyz', 'long vaulted ', 'value 0123456789', ' xyz',
    fake.awsKeyId, fake.github, fake.card, () => fake.card().replace(/(\d{4})(?=\d)/g, '$1 '), () => rand(5, '0123456789'), () => rand(300), () => 'a'.repeat(260),
  ];
  const text = fc.array(fc.nat({ max: pieces.length - 1 }), { minLength: 1, maxLength: 50 }).map((ix) =>
    ix.map((i) => { const p = pieces[i]!; return typeof p === 'function' ? p() : p; }).join(''),
  );
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: configs.length - 1 }), text, fc.array(fc.nat({ max: 5000 }), { maxLength: 20 }), async (ci, t, rawCuts) => {
      const m = configs[ci]!;
      const buf = Buffer.from(t);
      const whole = Buffer.from(m.maskText(t).text);
      const out = await runChunks(m.createStream(), splitAt(buf, rawCuts.map((c) => c % (buf.length + 1))));
      assert.ok(out.equals(whole), JSON.stringify({ ci, t, rawCuts }));
      if (buf.length < 300) {
        const bytewise = await runChunks(m.createStream(), splitAt(buf, Array.from({ length: buf.length }, (_, i) => i)));
        assert.ok(bytewise.equals(whole), JSON.stringify({ ci, t, bytewise: true }));
      }
    }),
    { numRuns: 300 },
  );
});
