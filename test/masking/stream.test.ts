import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { compileMasker, MaskStream } from '../../src/masking/index.js';
import { fake, rand } from './fakes.js';
import { runChunks, sleep } from './stream-util.js';

/** A stream whose output is collected as it comes, to look at what was released when. */
function open(opts: Parameters<typeof compileMasker>[0] = {}) {
  const s = compileMasker(opts).createStream();
  const got: Buffer[] = [];
  s.on('data', (d: Buffer) => got.push(d));
  return { s, out: () => Buffer.concat(got).toString() };
}

test('createStream returns a MaskStream (a Transform) and counts matches per detector', async () => {
  const m = compileMasker();
  const s = m.createStream();
  assert.ok(s instanceof MaskStream);
  const key = fake.awsKeyId();
  const out = await runChunks(s, [Buffer.from(`a ${key}\nb ${fake.github()}\nc ${fake.awsKeyId()}\n`)]);
  assert.ok(!out.toString().includes(key));
  assert.deepEqual(s.counts(), { 'aws-access-key-id': 2, 'github-token': 1 });
  assert.equal(s.findings().length, 3);
  assert.equal(s.findings()[0]!.start, 2);
  assert.equal(s.findings()[0]!.end, 22);
});

test('output that cannot be a secret passes at once; only a possible secret prefix is held', async () => {
  const { s, out } = open({ idleMs: 10_000 });
  s.write('$ ls -la\r\nhello world');
  await sleep(5);
  assert.equal(out(), '$ ls -la\r\nhello world');
  s.write(' id ' + 'AK' + 'IA');
  await sleep(5);
  assert.equal(out(), '$ ls -la\r\nhello world id ');
  // No vowels, P, W or D: random letters spelling `pwd`, `pass` or `token` would start a
  // password assignment whose value ` done` may still continue, and rightly be held.
  s.write(rand(16, 'BCFGHJKLMNQRVXZ') + ' done');
  await sleep(5);
  assert.equal(out(), '$ ls -la\r\nhello world id ' + '*'.repeat(20) + ' done');
  s.end();
});

test('idle timeout: a held partial prefix is released (and still scanned) when nothing follows', async () => {
  const { s, out } = open({ idleMs: 30 });
  s.write('prompt AK' + 'IA12');
  await sleep(5);
  assert.equal(out(), 'prompt ');
  await sleep(120);
  assert.equal(out(), 'prompt AKIA12');
  // a complete secret released by the idle timer is masked
  const key = fake.awsKeyId();
  s.write(' ' + key);
  await sleep(120);
  assert.equal(out(), 'prompt AKIA12 ' + '*'.repeat(20));
  s.end();
});

test('a private key stays masked from its BEGIN line to its END line whatever the pauses', async () => {
  const { s, out } = open({ idleMs: 20 });
  const lines = [rand(64), rand(64), rand(30)];
  s.write('-----BEGIN OPENSSH PRIVATE KEY-----\n' + lines[0]!.slice(0, 10));
  await sleep(80);
  s.write(lines[0]!.slice(10) + '\n' + lines[1]);
  await sleep(80);
  s.write('\n' + lines[2] + '\n-----EN');
  await sleep(80);
  const mid = out();
  for (const l of lines) assert.ok(!mid.includes(l.slice(0, 8)), 'no body bytes leak during pauses');
  assert.ok(mid.endsWith('*'.repeat(30) + '\n'), 'the possible END line is held back');
  s.write('D OPENSSH PRIVATE KEY-----\nAK' + 'IA');
  await sleep(80);
  assert.equal(
    out(),
    '-----BEGIN OPENSSH PRIVATE KEY-----\n' + lines.map((l) => '*'.repeat(l.length)).join('\n') + '\n-----END OPENSSH PRIVATE KEY-----\nAKIA',
  );
  s.end();
  assert.equal(s.counts()['private-key'], 1);
});

test('a PEM block longer than maxSecretLength is masked from BEGIN to END', () => {
  const body = Array.from({ length: 300 }, () => rand(64)).join('\n');
  const m = compileMasker({ maxSecretLength: 1024 });
  const r = m.maskText(`-----BEGIN RSA PRIVATE KEY-----\n${body}\n-----END RSA PRIVATE KEY-----\nok\n`);
  assert.equal(r.text, `-----BEGIN RSA PRIVATE KEY-----\n${body.replace(/[^\n]/g, '*')}\n-----END RSA PRIVATE KEY-----\nok\n`);
});

test('memory per stream is bounded by maxSecretLength on an endless line', async () => {
  const s = compileMasker({ maxSecretLength: 1024 }).createStream();
  const held = () => (s as unknown as { engine: { text: string } }).engine.text.length; // white-box: the retained text
  let outBytes = 0;
  s.on('data', (d: Buffer) => (outBytes += d.length));
  const chunk = Buffer.from(('x'.repeat(99) + 'Z').repeat(10)); // no whitespace, no newline
  let maxHeld = 0;
  for (let i = 0; i < 500; i++) {
    s.write(chunk);
    maxHeld = Math.max(maxHeld, held());
  }
  assert.ok(maxHeld <= 1024, `held ${maxHeld} chars`);
  assert.ok(outBytes >= 500 * 1000 - 1024);
  s.end();
});

test('back-pressure: a slow consumer throttles the producer instead of filling memory', async () => {
  const m = compileMasker();
  const line = Buffer.from(`GET /api status=200 token=${rand(20)} ok\n`.repeat(200));
  let produced = 0;
  let maxAhead = 0;
  let consumed = 0;
  const source = new Readable({
    read() {
      if (produced >= 400) return this.push(null);
      produced++;
      this.push(line);
    },
  });
  const sink = new Writable({
    highWaterMark: 1024,
    write(chunk: Buffer, _enc, cb) {
      consumed += chunk.length;
      maxAhead = Math.max(maxAhead, produced * line.length - consumed);
      setTimeout(cb, 1);
    },
  });
  await pipeline(source, m.createStream(), sink);
  assert.ok(consumed > 0);
  // the whole input is ~5 MB; at most a few chunks may be in flight
  assert.ok(maxAhead < 20 * line.length, `producer ran ${maxAhead} bytes ahead`);
});

test('stream.pipeline end to end: the same bytes as maskText', async () => {
  const m = compileMasker();
  const text = `${fake.jwt()} and ${fake.gitlab()}\n`.repeat(50);
  const chunks: Buffer[] = [];
  await pipeline(
    Readable.from([Buffer.from(text)]),
    m.createStream(),
    new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(c);
        cb();
      },
    }),
  );
  assert.equal(Buffer.concat(chunks).toString(), m.maskText(text).text);
});
