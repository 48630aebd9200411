import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compileMasker } from '../../src/masking/index.js';
import { fake, rand } from './fakes.js';
import { assertChunkedMatchesOneShot, runChunks, splitAt } from './stream-util.js';

/*
 * A secret inside an escape sequence's string payload (an OSC window title, an OSC 8 hyperlink,
 * OSC 52 clipboard data, DCS/APC/PM strings) reached the agent and the recording unmasked: the
 * stripper set whole sequences aside and they went out untouched, so
 * `printf '\e]0;%s\a' "$STRIPE_KEY"` walked past the masker. Payloads are now masked in place;
 * the framing (ESC ], the terminator) and sequences without secrets stay byte for byte.
 */

const stars = (s: string) => '*'.repeat(s.length);

test('a secret in an OSC title, OSC 8 link, DCS, APC or PM payload is masked; the framing stays', () => {
  const m = compileMasker({});
  const cases: ((s: string) => string)[] = [
    (s) => `\x1b]0;${s}\x07`, // title, BEL-terminated
    (s) => `\x1b]2;deploy ${s}\x1b\\`, // title, ST-terminated
    (s) => `\x1b]8;;https://example.test/?k=${s}\x1b\\link\x1b]8;;\x1b\\`, // hyperlink
    (s) => `\x1bP;${s}\x1b\\`, // DCS
    (s) => `\x1b_${s}\x1b\\`, // APC
    (s) => `\x1b^${s}\x1b\\`, // PM
    (s) => `before \x1b]0;${s}\x07 after\n`,
    (s) => `\x1b[1m\x1b]0;${s}\x07\x1b[0m`,
  ];
  for (const make of cases) {
    for (const secret of [fake.stripe(), fake.github(), fake.awsKeyId(), fake.slack()]) {
      const input = make(secret);
      const r = m.maskText(input);
      assert.equal(r.text, input.replace(secret, stars(secret)), JSON.stringify(input));
      assert.equal(r.findings.length, 1, JSON.stringify({ input, findings: r.findings }));
      const at = input.indexOf(secret);
      assert.equal(r.findings[0]!.start, at, 'findings point at the secret in the input');
      assert.equal(r.findings[0]!.end, at + secret.length);
    }
  }
});

test('sequences without secrets pass byte for byte (titles, links, colours, an unterminated string)', () => {
  const m = compileMasker({});
  for (const input of [
    '\x1b]0;user@host: ~/src\x07$ ',
    '\x1b]8;;https://example.test/docs\x1b\\docs\x1b]8;;\x1b\\\n',
    '\x1b]7;file://host/home/user\x1b\\',
    '\x1b[32mok\x1b[0m\n',
    '\x1bPq#0;2;0;0;0#1;2;100;100;0\x1b\\',
    '\x1b]0;ab\x07',
    '\x1b]0;an unterminated title then a new sequence\x1b[0m text\n',
  ]) {
    const r = m.maskText(input);
    assert.equal(r.text, input, JSON.stringify(input));
    assert.equal(r.findings.length, 0);
  }
});

test('a password assignment and a private key header in a title are masked as in plain text', () => {
  const m = compileMasker({});
  const pw = fake.password();
  const r = m.maskText(`\x1b]0;DB_PASSWORD=${pw}\x07`);
  assert.equal(r.text, `\x1b]0;DB_PASSWORD=${stars(pw)}\x07`);
  const body = rand(40);
  const pem = `\x1b]0;-----BEGIN PRIVATE KEY-----${body}\x07after\n`;
  const rp = m.maskText(pem);
  assert.ok(!rp.text.includes(body), 'the key body in the title is masked');
  assert.ok(rp.text.startsWith('\x1b]0;') && rp.text.endsWith('\x07after\n'), 'the title ends where it did; text after it is untouched');
});

test('a secret in a title split at every byte offset is masked as in one chunk', async () => {
  const m = compileMasker({ idleMs: 10_000 });
  const secret = fake.stripe();
  const text = `$ make\n\x1b]0;building with ${secret}\x07done\n`;
  const want = text.replace(secret, stars(secret));
  assert.equal(m.maskText(text).text, want);
  const buf = Buffer.from(text);
  for (let cut = 1; cut < buf.length; cut++) {
    const s = m.createStream();
    assert.equal((await runChunks(s, splitAt(buf, [cut]))).toString(), want, `split at ${cut}`);
    assert.deepEqual(s.findings(), m.maskText(text).findings, `split at ${cut}`);
  }
});

test('fuzz: secrets inside and outside string sequences, random chunk sizes, give the one-shot bytes and never show a secret', async () => {
  const m = compileMasker({ idleMs: 10_000 });
  const filler = ['\n', ' ', 'ok', '\x1b[36m', '\x1b[0m', 'é', '\x1b]0;', '\x07', '\x1b\\', '\x1b]8;;', () => rand(12)];
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.oneof(fc.constant(-1), fc.constant(-2), fc.nat({ max: filler.length - 1 })), { minLength: 1, maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 48 }), { minLength: 1, maxLength: 20 }),
      async (parts, sizes) => {
        const secrets: string[] = [];
        const text = parts
          .map((k) => {
            if (k < 0) {
              const sec = fake.github();
              secrets.push(sec);
              // -1: a whole title holding the secret; -2: the secret in plain text
              return k === -1 ? `\x1b]2;${sec}\x07` : ` ${sec} `;
            }
            const f = filler[k]!;
            return typeof f === 'function' ? f() : f;
          })
          .join('');
        const whole = m.maskText(text);
        for (const sec of secrets) assert.ok(!whole.text.includes(sec), JSON.stringify(text));
        assert.equal(Buffer.byteLength(whole.text), Buffer.byteLength(text), 'masking keeps the length');
        await assertChunkedMatchesOneShot(m, text, sizes);
      },
    ),
    { numRuns: 300 },
  );
});
