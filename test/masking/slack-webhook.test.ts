import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { compileMasker, type MaskerOptions } from '../../src/masking/index.js';
import { fake, rand } from './fakes.js';
import { assertGateMatchesFullScan } from './gate-property.js';
import { assertChunkedMatchesOneShot, runChunks, splitAt } from './stream-util.js';

/*
 * A Slack incoming-webhook URL printed without its scheme (`hooks.slack.com/services/T…/B…/…`, as in a
 * config file or `echo $SLACK_WEBHOOK`) was not masked when nothing else on its line hit the prefilter:
 * the webhook had no anchor of its own (it relied on `://`). All fake URLs are built at run time.
 */

const stars = (s: string) => '*'.repeat(s.length);

/** `n` lines of base64 as `base64` prints it (76 columns): no gate character anywhere. */
function base64Lines(n: number): string {
  return (randomBytes(57 * n).toString('base64').match(/.{1,76}/g) ?? []).join('\n') + '\n';
}

/** Byte offsets of every occurrence of `needle` in `hay` (ASCII text). */
function offsets(hay: string, needle: string): number[] {
  const out: number[] = [];
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) out.push(i);
  return out;
}

test('slack webhook without a scheme, alone on its line or with harmless text, is masked (path secret only)', () => {
  for (const opts of [{}, { only: ['slack-token'] }] as MaskerOptions[]) {
    const m = compileMasker(opts);
    const layouts: ((u: string) => string)[] = [
      (u) => `${u}\n`,
      (u) => u, // end of input, no line break
      (u) => `webhook ${u} configured\n`,
      (u) => `SLACK_WEBHOOK_URL=${u}\n`,
      (u) => `{"url":"${u}","channel":"ops"}\n`,
      (u) => `  url: '${u}'\n`,
      (u) => `\x1b[32m${u}\x1b[0m\n`,
      (u) => `https://${u}\n`,
      (u) => `http://${u}\n`,
      (u) => `before\n${u}\r\nafter\n`,
    ];
    for (const layout of layouts) {
      const { url, prefix, secret } = fake.slackWebhook();
      const input = layout(url);
      const r = m.maskText(input);
      assert.equal(r.text, input.replace(secret, stars(secret)), JSON.stringify({ opts, input }));
      assert.ok(r.text.includes(prefix), 'the host, T… and B… parts stay');
      const at = input.indexOf(secret);
      assert.deepEqual(r.findings, [{ detector: 'slack-token', start: at, end: at + secret.length }], JSON.stringify(input));
    }
  }
});

test('slack webhook without a scheme among long runs of base64 (the prefilter gate) is masked', async () => {
  for (const opts of [{}, { only: ['slack-token'] }, { disable: ['jwt'] }] as MaskerOptions[]) {
    const m = compileMasker(opts);
    const hooks = [fake.slackWebhook(), fake.slackWebhook(), fake.slackWebhook()];
    const text = base64Lines(300) + hooks[0]!.url + '\n' + base64Lines(40) + hooks[1]!.url + '\n' + hooks[2]!.url + '\n' + base64Lines(300);
    let want = text;
    for (const h of hooks) want = want.replace(h.secret, stars(h.secret));
    const r = m.maskText(text);
    assert.equal(r.text, want, JSON.stringify(opts));
    assert.deepEqual(r.findings.map((f) => f.detector), ['slack-token', 'slack-token', 'slack-token']);
    for (const size of [1, 13, 76, 77, 4096, 64 * 1024]) {
      const buf = Buffer.from(text);
      const cuts: number[] = [];
      for (let i = size; i < buf.length; i += size) cuts.push(i);
      const s = m.createStream();
      assert.equal((await runChunks(s, splitAt(buf, cuts))).toString(), want, `chunks of ${size}`);
      assert.deepEqual(s.findings(), r.findings, `chunks of ${size}`);
    }
  }
});

test('slack webhook without a scheme split at every byte offset (two and three chunks) is masked as in one chunk', async () => {
  const m = compileMasker({ idleMs: 10_000 });
  const a = fake.slackWebhook();
  const b = fake.slackWebhook();
  const text = `$ cat notify.conf\n${a.url}\nurl ${b.url}`;
  const want = text.replace(a.secret, stars(a.secret)).replace(b.secret, stars(b.secret));
  assert.equal(m.maskText(text).text, want);
  const buf = Buffer.from(text);
  for (let cut = 1; cut < buf.length; cut++) {
    const s = m.createStream();
    const out = (await runChunks(s, splitAt(buf, [cut]))).toString();
    assert.equal(out, want, `split at ${cut}`);
    assert.deepEqual(s.findings(), m.maskText(text).findings, `split at ${cut}`);
  }
  // a chunk boundary on each side of the host name, the T…, the B… and inside the secret
  const marks = [...offsets(text, 'hooks.'), ...offsets(text, '.com/'), ...offsets(text, '/T'), ...offsets(text, '/B')];
  for (const x of marks) {
    for (let d = 1; d < 30; d += 3) {
      const out = (await runChunks(m.createStream(), splitAt(buf, [x, x + d]))).toString();
      assert.equal(out, want, `split at ${x} and ${x + d}`);
    }
  }
});

test('fuzz: slack webhooks without a scheme, random chunk sizes, give the one-shot bytes and never show the secret', async () => {
  const m = compileMasker({ idleMs: 10_000 });
  const filler = ['\n', ' ', 'ok', 'url=', '"', '\x1b[36m', '\x1b[0m', 'é', 'hooks.', '.com', 'services/', () => base64Lines(3), () => rand(20)];
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.oneof(fc.constant(-1), fc.nat({ max: filler.length - 1 })), { minLength: 1, maxLength: 25 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
      async (parts, sizes) => {
        const secrets: string[] = [];
        // a webhook is always followed by a blank, quote or line break: the secret ends there
        const text = parts
          .map((k) => {
            if (k < 0) {
              const h = fake.slackWebhook();
              secrets.push(h.secret);
              return h.url + ' ';
            }
            const f = filler[k]!;
            return typeof f === 'function' ? f() : f;
          })
          .join('');
        const whole = m.maskText(text);
        for (const sec of secrets) assert.ok(!whole.text.includes(sec), JSON.stringify(text));
        await assertChunkedMatchesOneShot(m, text, sizes);
      },
    ),
    { numRuns: 300 },
  );
});

test('fuzz: webhook fragments, the prefilter masks exactly what scanning every line masks', () => {
  const configs: MaskerOptions[] = [{}, { only: ['slack-token'] }, { only: ['slack-token', 'password-assignment'] }, { disable: ['jwt', 'url-credentials'] }];
  const pieces: (string | (() => string))[] = [
    '\n', ' ', '/', '.', '\x1b[1m', 'hooks', 'hooks.', 'slack', '.slack', 'slack.com', '.com/', 'services', '/services/', 'HOOKS.SLACK.COM/SERVICES/',
    'https://', '/T', '/B', 'T' + 'ABC012345', 'B' + 'XYZ987654', () => rand(9), () => rand(24), () => base64Lines(2), () => fake.slackWebhook().url,
    () => fake.slackWebhook().prefix,
  ];
  assertGateMatchesFullScan(configs, pieces, 40);
});
