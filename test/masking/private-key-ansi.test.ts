import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compileMasker, type Finding } from '../../src/masking/index.js';
import { rand } from './fakes.js';
import { runChunks, splitAt } from './stream-util.js';

/*
 * A `-----BEGIN … PRIVATE KEY-----` marker immediately followed by an escape sequence (`ls --color`,
 * `bat`, `less -R`, `grep --color` output) gave a private-key finding whose start was after its end
 * when the body was empty, and a start that depended on where the chunks were cut. Markers are built
 * from parts at run time.
 */

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const begin = (label: string) => '-----' + 'BEGIN ' + label + '-----';
const end = (label: string) => '-----' + 'END ' + label + '-----';
const LABEL = 'RSA ' + 'PRIVATE' + ' KEY';

/** Input built from parts: `body` parts are the key body (masked, line breaks kept), `seq` and `keep` parts pass unchanged. */
type Part = { kind: 'keep' | 'seq' | 'body'; s: string };
const keep = (s: string): Part => ({ kind: 'keep', s });
const seq = (s: string): Part => ({ kind: 'seq', s });
const body = (s: string): Part => ({ kind: 'body', s });

function build(parts: Part[]): { input: string; want: string; bodyText: string[] } {
  return {
    input: parts.map((p) => p.s).join(''),
    want: parts.map((p) => (p.kind === 'body' ? p.s.replace(/[^\r\n]/g, '*') : p.s)).join(''),
    bodyText: parts.filter((p) => p.kind === 'body').flatMap((p) => p.s.split(/[\r\n]+/)).filter((x) => x.length >= 8),
  };
}

/** The one private-key finding must be a proper span, inside the block, covering every byte of the body. */
function checkFindings(parts: Part[], findings: Finding[], label: string): void {
  for (const f of findings) assert.ok(f.start <= f.end, `${label}: finding start ${f.start} > end ${f.end}`);
  const pk = findings.filter((f) => f.detector === 'private-key');
  assert.equal(pk.length, 1, `${label}: one private-key finding, got ${JSON.stringify(findings)}`);
  const f = pk[0]!;
  let at = 0;
  let markerEnd = -1;
  let endMarker = Infinity;
  for (const p of parts) {
    const len = Buffer.byteLength(p.s);
    if (p.kind === 'keep' && p.s.startsWith('-----' + 'BEGIN') && markerEnd < 0) markerEnd = at + len;
    if (p.kind === 'keep' && p.s.startsWith('-----' + 'END') && markerEnd >= 0 && endMarker === Infinity) endMarker = at;
    if (p.kind === 'body' && len > 0) assert.ok(f.start <= at && at + len <= f.end, `${label}: body bytes [${at}, ${at + len}) outside finding ${JSON.stringify(f)}`);
    at += len;
  }
  assert.ok(f.start >= markerEnd && f.end <= Math.min(endMarker, at), `${label}: finding ${JSON.stringify(f)} outside the block (${markerEnd}, ${endMarker})`);
}

function cases(): { name: string; parts: Part[] }[] {
  const l1 = rand(64, B64);
  const l2 = rand(64, B64);
  const l3 = rand(20, B64) + '==';
  return [
    { name: 'reset after BEGIN, body on the next lines', parts: [keep(begin(LABEL)), seq('\x1b[0m'), body(`\n${l1}\n${l2}\n${l3}\n`), keep(end(LABEL)), keep('\n')] },
    { name: 'empty body: END right after the sequence', parts: [keep(begin(LABEL)), seq('\x1b[0m'), keep(end(LABEL)), keep('\n')] },
    { name: 'empty body: input ends after the sequence', parts: [keep('$ cat k\n' + begin(LABEL)), seq('\x1b[0m')] },
    { name: 'empty body: several sequences, then END', parts: [keep(begin(LABEL)), seq('\x1b[0m'), seq('\x1b[K'), seq('\x1b]0;t\x07'), keep(end(LABEL))] },
    { name: 'body on the BEGIN line after the sequence', parts: [keep(begin(LABEL)), seq('\x1b[0m'), body(`${l1}\n`), keep(end(LABEL)), keep('\n')] },
    { name: 'no END: masked to the end', parts: [keep(begin('OPENSSH ' + 'PRIVATE KEY')), seq('\x1b[m'), seq('\x1b[K'), body(`\n${l1}\n${l2}`)] },
    {
      name: 'bat-like colouring of every line',
      parts: [
        seq('\x1b[38;5;231m'), keep(begin('EC ' + 'PRIVATE KEY')), seq('\x1b[0m'), body('\n'),
        seq('\x1b[38;5;231m'), body(l1), seq('\x1b[0m'), body('\n'),
        seq('\x1b[38;5;231m'), body(l3), seq('\x1b[0m'), body('\n'),
        seq('\x1b[38;5;231m'), keep(end('EC ' + 'PRIVATE KEY')), seq('\x1b[0m'), keep('\nafter\n'),
      ],
    },
    { name: 'CRLF and OSC 8 around the marker', parts: [seq('\x1b]8;;file:///k\x1b\\'), keep(begin(LABEL)), seq('\x1b]8;;\x1b\\'), body(`\r\n${l2}\r\n`), keep(end(LABEL)), keep('\r\n')] },
  ];
}

test('private key: BEGIN marker followed by escape sequences, one shot: body masked, sequences kept, finding a proper span', () => {
  const m = compileMasker();
  for (const c of cases()) {
    const { input, want, bodyText } = build(c.parts);
    const r = m.maskText(input);
    assert.equal(r.text, want, c.name);
    for (const x of bodyText) assert.ok(!r.text.includes(x), `${c.name}: body leaked`);
    checkFindings(c.parts, r.findings, c.name);
  }
});

test('private key: BEGIN marker followed by escape sequences, every two-way split: same bytes and findings as one shot', async () => {
  const m = compileMasker({ idleMs: 10_000 });
  for (const c of cases()) {
    const { input, want } = build(c.parts);
    const one = m.maskText(input);
    const buf = Buffer.from(input);
    for (let cut = 1; cut < buf.length; cut++) {
      const s = m.createStream();
      const out = (await runChunks(s, splitAt(buf, [cut]))).toString();
      assert.equal(out, want, `${c.name}: split at ${cut}`);
      assert.deepEqual(s.findings(), one.findings, `${c.name}: split at ${cut}`);
    }
    // byte by byte: every sequence and the marker arrive in pieces
    const s = m.createStream();
    const out = (await runChunks(s, splitAt(buf, Array.from({ length: buf.length }, (_, i) => i)))).toString();
    assert.equal(out, want, `${c.name}: byte by byte`);
    assert.deepEqual(s.findings(), one.findings, `${c.name}: byte by byte`);
  }
});

test('fuzz: PEM blocks with escape sequences around markers and body, random chunks: exact output, proper findings', async () => {
  const m = compileMasker({ idleMs: 10_000 });
  const small = compileMasker({ idleMs: 10_000, maxSecretLength: 256 });
  const SEQS = ['\x1b[0m', '\x1b[m', '\x1b[K', '\x1b[1;31m', '\x1b[38;5;231m', '\x1b[38;2;10;20;30m', '\x1b]0;title\x07', '\x1b]8;;file:///k\x1b\\', '\x1b(B', '\x1b7'];
  const LABELS = ['RSA ' + 'PRIVATE KEY', 'PRIVATE' + ' KEY', 'EC ' + 'PRIVATE KEY', 'OPENSSH ' + 'PRIVATE KEY', 'ENCRYPTED ' + 'PRIVATE KEY'];
  const seqs = fc.array(fc.constantFrom(...SEQS), { maxLength: 3 }).map((xs) => xs.map(seq));
  const line = fc.tuple(seqs, fc.integer({ min: 0, max: 80 }), seqs, fc.constantFrom('\n', '\r\n')).map(([a, n, b, nl]) => [...a, body(rand(n, B64)), ...b, body(nl)]);
  const block = fc.record({
    prefix: fc.constantFrom('', '$ cat key.pem\n', 'ok ', 'key:\n'),
    before: seqs,
    label: fc.constantFrom(...LABELS),
    after: seqs,
    sameLine: fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }),
    lines: fc.array(line, { maxLength: 5 }),
    beforeEnd: seqs,
    closed: fc.boolean(),
    suffix: fc.constantFrom<[string, string][]>([], [['', '\n']], [['', '\nafter\n']], [['\x1b[0m', '\n$ ']]), // [sequence, text] pairs
  });
  await fc.assert(
    fc.asyncProperty(block, fc.array(fc.integer({ min: 1, max: 48 }), { minLength: 1, maxLength: 12 }), fc.boolean(), async (b, sizes, useSmall) => {
      const parts: Part[] = [keep(b.prefix), ...b.before, keep(begin(b.label)), ...b.after];
      if (b.sameLine !== undefined) parts.push(body(rand(b.sameLine, B64)));
      parts.push(...b.lines.flat(), ...b.beforeEnd);
      if (b.closed) parts.push(keep(end(b.label)));
      // without an END marker all text after BEGIN is body
      for (const [q, t] of b.suffix) parts.push(seq(q), b.closed ? keep(t) : body(t));
      const { input, want, bodyText } = build(parts);
      const mm = useSmall ? small : m;
      const one = mm.maskText(input);
      assert.equal(one.text, want, JSON.stringify(input));
      for (const x of bodyText) assert.ok(!one.text.includes(x), 'body leaked');
      checkFindings(parts, one.findings, JSON.stringify(input));
      const buf = Buffer.from(input);
      const cuts: number[] = [];
      for (let k = 0, at = 0; at < buf.length; k++) cuts.push((at += sizes[k % sizes.length]!));
      const s = mm.createStream();
      const out = (await runChunks(s, splitAt(buf, cuts))).toString();
      assert.equal(out, want, JSON.stringify({ input, sizes }));
      assert.deepEqual(s.findings(), one.findings, JSON.stringify({ input, sizes }));
    }),
    { numRuns: 500 },
  );
});
