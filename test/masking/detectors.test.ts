import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileMasker, DETECTOR_IDS } from '../../src/masking/index.js';
import { fake, rand } from './fakes.js';

const m = compileMasker();
const stars = (s: string) => s.replace(/[^\n\r]/gu, '*');

/** Mask `before + secret + after` and check that exactly the secret became stars, reported by `id`. */
function expectMasked(id: string, before: string, secret: string, after = '\n'): void {
  const r = m.maskText(before + secret + after);
  assert.equal(r.text, before + stars(secret) + after, `${id}: ${JSON.stringify(before)}…`);
  assert.ok(r.findings.some((f) => f.detector === id), `${id} should be reported, got ${r.findings.map((f) => f.detector).join(',')}`);
}

function expectUnchanged(text: string): void {
  const r = m.maskText(text);
  assert.equal(r.text, text);
  assert.deepEqual(r.findings, []);
}

test('DETECTOR_IDS lists the fifteen built-in detectors of the spec', () => {
  assert.deepEqual([...DETECTOR_IDS].sort(), [
    'aws-access-key-id', 'aws-secret-access-key', 'bearer-token', 'credit-card', 'github-token', 'gitlab-token', 'google-api-key', 'jwt',
    'password-assignment', 'private-key', 'slack-token', 'stripe-key', 'url-credentials', 'us-ssn', 'vaulted-secret',
  ]);
});

test('token detectors mask the whole token, in sentences, quotes and assignments', () => {
  expectMasked('aws-access-key-id', 'key ', fake.awsKeyId(), ' ok\n');
  expectMasked('aws-access-key-id', 'id="', 'AS' + 'IA' + rand(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'), '"\n');
  expectMasked('github-token', 'token ', fake.github());
  expectMasked('github-token', 'use ', fake.githubPat(), ' now\n');
  expectMasked('gitlab-token', 'x ', fake.gitlab());
  expectMasked('gitlab-token', 'x ', fake.gitlab() + '.01.' + rand(9), '.\n');
  expectMasked('slack-token', '', fake.slack(), ' sent\n');
  expectMasked('stripe-key', 'k=', fake.stripe());
  expectMasked('stripe-key', 'k=', 'rk' + '_live_' + rand(20));
  expectMasked('google-api-key', 'maps?key=', fake.google(), '&x=1\n');
  expectMasked('jwt', 'got ', fake.jwt(), '.\n');
});

test('tokens glued to letters or digits are not tokens', () => {
  expectUnchanged('x' + fake.awsKeyId() + '\n');
  expectUnchanged(fake.awsKeyId() + '9\n');
});

test('jwt: the first two segments must decode to JSON', () => {
  const notJson = 'eyJ' + rand(20) + '.' + 'eyJ' + rand(20) + '.' + rand(20);
  expectUnchanged(`value ${notJson}\n`);
  expectUnchanged('io.github.acme release.notes.md\n');
});

test('aws-secret-access-key: the 40-char value after its labels', () => {
  for (const label of ['aws_secret_access_key=', 'AWS_SECRET_ACCESS_KEY = ', '"SecretAccessKey": "']) {
    const secret = fake.awsSecret();
    const r = m.maskText(`${label}${secret}\n`);
    assert.equal(r.text, `${label}${stars(secret)}\n`);
    assert.ok(r.findings.some((f) => f.detector === 'aws-secret-access-key'), label);
  }
});

test('private-key: the body is masked across lines, BEGIN/END lines stay, line breaks kept', () => {
  const body = [rand(64, 'ABCDEFabcdef0123456789+/'), rand(64), rand(20) + '=='].join('\n');
  const text = `key:\n-----BEGIN EC PRIVATE KEY-----\n${body}\n-----END EC PRIVATE KEY-----\nafter\n`;
  const r = m.maskText(text);
  assert.equal(r.text, `key:\n-----BEGIN EC PRIVATE KEY-----\n${stars(body)}\n-----END EC PRIVATE KEY-----\nafter\n`);
  assert.deepEqual(r.findings.map((f) => f.detector), ['private-key']);
  // a key with no END masks to the end of the input (the safer reading)
  const open = m.maskText(`-----BEGIN PRIVATE KEY-----\n${body}\n`);
  assert.equal(open.text, `-----BEGIN PRIVATE KEY-----\n${stars(body)}\n`);
  // an END of another kind does not end the block
  const other = m.maskText(`-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\nBBBB\n-----END RSA PRIVATE KEY-----\nok\n`);
  assert.ok(!other.text.includes('BBBB') && !other.text.includes('AAAA') && other.text.endsWith('-----END RSA PRIVATE KEY-----\nok\n'));
  // a public key or certificate is not masked
  expectUnchanged(`-----BEGIN PUBLIC KEY-----\n${rand(64)}\n-----END PUBLIC KEY-----\n`);
});

test('password-assignment: exact key and value boundaries of the spec', () => {
  const v = () => rand(10) + '^' + rand(4);
  const masked: [string, string, string][] = [
    ['password=', v(), '\n'],
    ['passwd: ', v(), '\n'],
    ['PGPASSWORD=', v(), '\n'],
    ['MYSQL_PWD=', v(), '\n'],
    ['{"password": "', v(), '"}\n'],
    ['pg_dump --password ', v(), ' db\n'],
    ['mysql --password=', v(), ' db\n'],
    ['db_password=', 'x', '\n'], // strong key: any non-empty value
    ['mysql.pass: ', 'ab', '\n'],
    ['DB-PWD=', 'ab', '\n'],
    ['password=', v(), ', next\n'], // a trailing , is not part of the value
    ['password=', v(), '; next\n'],
    ['APP_SECRET=', v(), '\n'],
    ['SENTRY_AUTH_TOKEN: ', v(), '\n'],
    ['"client_secret": "', 'with spaces inside', '"\n'],
    ["export API_KEY='", v(), "'\n"],
    ['github_credential=', v(), '\n'],
    ['Password=', v(), '\n'],
    ["ALTER USER app WITH PASSWORD '", v(), "';\n"], // a quoted value after a password key
    ['password = ', v(), '\n'], // ini style
  ];
  for (const [before, value, after] of masked) expectMasked('password-assignment', before, value, after);
  for (const text of [
    'bypass=abcdefgh12\n', // not a password key
    'passwd: password updated successfully\n', // YAML form with more than one token
    'Your password must be at least 12 characters long.\n',
    'MAX_TOKENS=4096\n', // weak key, all digits
    'PASSWORD_MIN_LENGTH=12\n',
    'SECRET_ENABLED=true\n', // weak key, a word
    'token: null\n',
    'API_TOKEN=short\n', // weak key, under 8 characters
    'if password == null\n',
    'password=\n',
  ]) expectUnchanged(text);
});

test('url-credentials: only the password of scheme://user:password@host', () => {
  const pw = rand(8) + '~' + rand(6);
  expectMasked('url-credentials', 'postgres://app:', pw, '@db:5432/app\n');
  expectMasked('url-credentials', 'redis://:', pw, '@cache:6379\n');
  expectUnchanged('https://git@example.com/acme/repo.git\n');
  expectUnchanged('http://example.com:8080/path\n');
});

test('url-credentials: a password holding "@" runs to the last "@" before the host, as URL parsers read it', () => {
  const pw = rand(5) + '@' + rand(6);
  expectMasked('url-credentials', 'postgres://app:', pw, '@db:5432/app\n');
  expectMasked('url-credentials', 'redis://:', pw + '@' + rand(3), '@cache:6379\n');
  expectMasked('url-credentials', 'DATABASE_URL="mysql://u:', pw, '@db/x"\n');
  // An "@" after the host (a path, a query, the next JSON field) is not part of the password.
  const plain = rand(10);
  expectMasked('url-credentials', 'postgres://app:', plain, '@db/x@y\n');
  expectMasked('url-credentials', '{"url":"postgres://u:', plain, '@db","to":"a@b.example"}\n');
  expectUnchanged('http://localhost:8080/login?user=a@b.example\n');
  expectUnchanged('mailto://a@b.example and x://u:@@@@\n');
  // A password is at most 256 bytes: a long run of "a@" gives one bounded finding.
  const r = compileMasker({ only: ['url-credentials'] }).maskText('x://u:' + 'a@'.repeat(4000) + '\n');
  assert.equal(r.findings.length, 1);
  assert.ok(r.findings[0]!.end - r.findings[0]!.start <= 256);
});

test('slack webhook: the secret path segment', () => {
  const secret = rand(24);
  expectMasked('slack-token', 'url=https://hooks.slack.com/services/T' + rand(10, 'ABCDEFGH0123') + '/B' + rand(10, 'ABCDEFGH0123') + '/', secret);
});

test('bearer-token: the token after Authorization: Bearer / Basic', () => {
  const tok = rand(32);
  expectMasked('bearer-token', 'Authorization: Bearer ', tok);
  expectMasked('bearer-token', 'authorization: basic ', Buffer.from('ci:' + rand(12)).toString('base64'));
  expectMasked('bearer-token', 'curl -H "Authorization: Bearer ', tok, '" https://api\n');
});

test('credit-card: 13–19 digits, grouped by single spaces or dashes, Luhn, not touching letters/digits', () => {
  const card = fake.card();
  const spaced = card.replace(/(\d{4})(?=\d)/g, '$1 ');
  const dashed = card.replace(/(\d{4})(?=\d)/g, '$1-');
  expectMasked('credit-card', 'card ', card);
  expectMasked('credit-card', 'card ', spaced, ' exp 12/29\n');
  expectMasked('credit-card', 'pan=', dashed);
  expectUnchanged(`ref ${fake.badCard()}\n`);
  expectUnchanged(`ref ${fake.badCard().replace(/(\d{4})(?=\d)/g, '$1 ')}\n`);
  expectUnchanged(`x${card}\n`); // touching a letter
  expectUnchanged(`${card}7\n`.replace(/^/, '12345')); // part of a longer digit run
  expectUnchanged(`order ${card.slice(0, 8)}\n`);
});

test('us-ssn: valid numbers masked, invalid areas and zero groups kept', () => {
  for (let i = 0; i < 20; i++) expectMasked('us-ssn', 'ssn ', fake.ssn());
  expectMasked('us-ssn', 'SSN: ', fake.ssn(), '.\n');
  for (const bad of ['000-45-6789', '666-45-6789', '987-65-4321', '123-00-6789', '123-45-0000', '1123-45-6789', '123-45-67890']) expectUnchanged(`id ${bad}\n`);
});

test('false positives stay untouched: git SHAs, sha256 sums, UUIDs, timestamps, versions, numbers failing Luhn', () => {
  const lines = [
    `commit ${fake.hex(40)}`,
    `sha256:${fake.hex(64)}  file.tar.gz`,
    `${fake.hex(64)}  -`,
    `id=${fake.hex(8)}-${fake.hex(4)}-4${fake.hex(3)}-a${fake.hex(3)}-${fake.hex(12)}`,
    '2024-11-22T03:21:45.123Z 2024-11-22 03:21:45,123 [main] INFO started in 1234 ms',
    'shellgate v0.1.0 node v20.19.0 pid 12345 port 2222',
    'call +1 (415) 555-0199 or 555-123-4567',
    `ref ${fake.badCard()}`,
    'Your password must be at least 12 characters long.',
    'VGhpcyBpcyBqdXN0IHRleHQu',
    'bytes=1048576 total=18446744073709551615',
  ];
  for (const l of lines) expectUnchanged(l + '\n');
});

test('ANSI colour codes: around a key and inside a secret, sequences preserved', () => {
  const key = fake.awsKeyId();
  const r1 = m.maskText(`\x1b[32m${key}\x1b[0m\n`);
  assert.equal(r1.text, `\x1b[32m${stars(key)}\x1b[0m\n`);
  const r2 = m.maskText(`key ${key.slice(0, 7)}\x1b[1;31m${key.slice(7)}\x1b[0m!\n`);
  assert.equal(r2.text, `key ${stars(key.slice(0, 7))}\x1b[1;31m${stars(key.slice(7))}\x1b[0m!\n`);
  // a sequence at the edge counts as a word boundary
  const r3 = m.maskText(`x\x1b[33m${key}\x1b[0my\n`);
  assert.equal(r3.text, `x\x1b[33m${stars(key)}\x1b[0my\n`);
  // a colour code inside a password value
  const pw = rand(12);
  const r4 = m.maskText(`password=${pw.slice(0, 5)}\x1b[7m${pw.slice(5)}\x1b[0m\n`);
  assert.equal(r4.text, `password=*****\x1b[7m${stars(pw.slice(5))}\x1b[0m\n`);
  // OSC (title) sequences pass through unchanged
  const r5 = m.maskText(`\x1b]0;my title\x07hello ${key}\n`);
  assert.equal(r5.text, `\x1b]0;my title\x07hello ${stars(key)}\n`);
});

test('one * per Unicode code point, line breaks kept, findings are UTF-8 byte offsets', () => {
  const pw = 'pä' + 'ss🙂wörd';
  const input = `héllo password=${pw} ✓\n`;
  const r = m.maskText(input);
  assert.equal(r.text, `héllo password=${'*'.repeat(Array.from(pw).length)} ✓\n`);
  const f = r.findings[0]!;
  assert.equal(Buffer.from(input).subarray(f.start, f.end).toString(), pw);
  // a quoted multi-line-free value with a CR kept
  const r2 = m.maskText('password=abc\r\n');
  assert.equal(r2.text, 'password=***\r\n');
});

test('vaulted-secret: exact values and their base64 / PEM-body forms, always on', () => {
  const value = 'Vlt-' + rand(12) + '-ü';
  const other = 'x' + rand(70);
  const mv = compileMasker({ vaulted: [value, other], only: ['jwt'] });
  const b64 = Buffer.from(value).toString('base64');
  const r = mv.maskText(`a ${value} b ${b64} c ${Buffer.from(other).toString('base64').slice(0, 64)}\n`);
  assert.ok(!r.text.includes(value) && !r.text.includes(b64));
  assert.equal(Array.from(r.text).length, Array.from(`a ${value} b ${b64} c ${Buffer.from(other).toString('base64').slice(0, 64)}\n`).length);
  assert.deepEqual(r.findings.map((f) => f.detector), ['vaulted-secret', 'vaulted-secret', 'vaulted-secret']);
  // even glued to other text
  assert.equal(mv.maskText(`x${value}y`).text, `x${stars(value)}y`);
});

test('policy regexes: added rules mask their matches; (?i) is case-insensitive', () => {
  const mc = compileMasker({ add: ['(?i)internal-ref-[0-9a-f]{16}', 'acct#[0-9]{6}'] });
  const ref = 'INTERNAL-REF-' + fake.hex(16);
  const r = mc.maskText(`see ${ref} and acct#123456 not acct#12\n`);
  assert.equal(r.text, `see ${stars(ref)} and ${stars('acct#123456')} not acct#12\n`);
  assert.deepEqual(r.findings.map((f) => f.detector), ['custom:1', 'custom:2']);
});

test('disable and only switch built-in detectors off', () => {
  const ssn = fake.ssn();
  assert.equal(compileMasker({ disable: ['us-ssn'] }).maskText(`ssn ${ssn}\n`).text, `ssn ${ssn}\n`);
  const only = compileMasker({ only: ['us-ssn'] });
  assert.equal(only.maskText(`ssn ${ssn} password=abc\n`).text, `ssn *********** password=abc\n`);
});

test('vaulted-secret: a private key held in the vault is masked line by line and as one base64 string, anywhere', async () => {
  const { newEd25519Key } = await import('../../src/util/new-ed25519-key.js');
  const privateKey = newEd25519Key();
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const body = pem.split('\n').filter((l) => l && !l.startsWith('-----'));
  const mv = compileMasker({ vaulted: [pem] });
  // a body line printed without its BEGIN line (e.g. `tail -2 key`)
  const r1 = mv.maskText(`x ${body[0]} y\n`);
  assert.equal(r1.text, `x ${stars(body[0]!)} y\n`);
  // the whole PEM base64-encoded on one line, as in a Kubernetes secret
  const b64 = Buffer.from(pem).toString('base64');
  const r2 = mv.maskText(`ssh-privatekey: ${b64}\n`);
  assert.equal(r2.text, `ssh-privatekey: ${stars(b64)}\n`);
  assert.ok(r2.findings.some((f) => f.detector === 'vaulted-secret'));
  // split across chunks too
  const s = mv.createStream();
  const got: Buffer[] = [];
  s.on('data', (d: Buffer) => got.push(d));
  const input = Buffer.from(`k ${b64.slice(0, 30)}`);
  s.write(input);
  s.end(Buffer.from(`${b64.slice(30)} end\n`));
  await new Promise((r) => s.on('end', r));
  assert.equal(Buffer.concat(got).toString(), `k ${stars(b64)} end\n`);
});
