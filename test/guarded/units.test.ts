import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MarkerFilter, type Marker } from '../../src/gateway/guarded/marker-filter.js';
import { LineEditor, type EditorEvent } from '../../src/gateway/guarded/line-editor.js';
import { guardLineText, MAX_GUARDED_LINE_BYTES } from '../../src/gateway/guarded/guard-line.js';
import { buildIntegration } from '../../src/gateway/guarded/integration.js';

const NONCE = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';

async function filterAll(chunks: (string | Buffer)[]): Promise<{ out: string; markers: Marker[]; forged: string[] }> {
  const markers: Marker[] = [];
  const forged: string[] = [];
  const f = new MarkerFilter(NONCE, (m) => markers.push(m), (r) => forged.push(r));
  f.discard = false;
  const parts: Buffer[] = [];
  f.on('data', (d: Buffer) => parts.push(d));
  for (const c of chunks) f.write(typeof c === 'string' ? Buffer.from(c, 'latin1') : c);
  f.end();
  await new Promise((r) => f.once('end', r));
  return { out: Buffer.concat(parts).toString('latin1'), markers, forged };
}

test('markers are stripped and reported in order, also when split at every byte', async () => {
  const stream = `out1\x1b]133;C;${NONCE}\x07hello\r\n\x1b]133;D;7;${NONCE}\x07\x1b]133;A;${NONCE}\x07u@h:~$ \x1b]133;B;${NONCE}\x07`;
  for (const chunks of [[stream], [...stream]]) {
    const r = await filterAll(chunks);
    assert.equal(r.out, 'out1hello\r\nu@h:~$ ');
    assert.deepEqual(r.markers, [{ kind: 'C' }, { kind: 'D', status: 7 }, { kind: 'A' }, { kind: 'B' }]);
    assert.deepEqual(r.forged, []);
  }
});

test('forged markers (wrong nonce, bad shape, ST-terminated) are stripped and not reported', async () => {
  const r = await filterAll([`a\x1b]133;D;0;deadbeef\x07b\x1b]133;A\x07c\x1b]133;B;0123\x1b\\d\x1b]133;D;x;${NONCE}\x07e`]);
  assert.equal(r.out, 'abcde');
  assert.deepEqual(r.markers, []);
  assert.equal(r.forged.length, 4);
  assert.ok(r.forged.every((f) => !f.includes(NONCE)), 'the nonce is not logged');
});

test('the nonce is hidden wherever else it appears, even split across chunks', async () => {
  const text = `PS1 is \\e]133;A;${NONCE}\\a and again ${NONCE}!`;
  for (const chunks of [[text], [text.slice(0, 20), text.slice(20, 30), text.slice(30)], [...text]]) {
    const r = await filterAll(chunks);
    assert.ok(!r.out.includes(NONCE), r.out);
    assert.equal(r.out.split('[hidden]').length - 1, 2);
  }
});

test('an unterminated opener longer than a marker is neutralised', async () => {
  const r = await filterAll([`x\x1b]133;${'z'.repeat(400)}`]);
  assert.ok(!r.out.includes('\x1b]133;'));
  assert.ok(r.out.startsWith('x'));
});

test('before the integration is established everything is dropped', async () => {
  const markers: Marker[] = [];
  const f = new MarkerFilter(NONCE, (m) => {
    markers.push(m);
    f.discard = false;
  }, () => undefined);
  const parts: Buffer[] = [];
  f.on('data', (d: Buffer) => parts.push(d));
  f.end(Buffer.from(`echoed setup ${NONCE}\r\n\x1b]133;D;0;${NONCE}\x07after`));
  await new Promise((r) => f.once('end', r));
  assert.equal(Buffer.concat(parts).toString(), 'after');
  assert.equal(markers.length, 1);
});

function feedAll(ed: LineEditor, input: string): { events: EditorEvent[]; echo: string; rest: string } {
  let echo = '';
  const r = ed.feed(input, (s) => (echo += s));
  return { events: r.events, echo, rest: r.rest };
}

test('line editor: editing keys, Enter stops at the line, the rest waits', () => {
  const ed = new LineEditor();
  assert.deepEqual(feedAll(ed, 'echo ac\x1b[Db\x1b[C\x7fc\rnext').events, [{ kind: 'line', line: 'echo abc' }]);
  assert.equal(feedAll(ed, 'touch x\x15ls\r').events[0]!.kind, 'line');
  assert.deepEqual(feedAll(ed, 'a b c\x17\x17d\r').events, [{ kind: 'line', line: 'a d' }]);
  assert.deepEqual(feedAll(ed, 'rm\x03').events, [{ kind: 'interrupt' }]);
  assert.deepEqual(feedAll(ed, 'x\x00\x16\x07\x1b[2~\x1bOPy\r').events, [{ kind: 'line', line: 'xy' }]);
  assert.deepEqual(feedAll(ed, '\x04').events, [{ kind: 'eof' }]);
  const r = feedAll(ed, 'ls\r\nrest');
  assert.deepEqual(r.events, [{ kind: 'line', line: 'ls' }]);
  assert.equal(r.rest, '\nrest', 'CR LF: the LF is consumed with the next feed');
  assert.deepEqual(feedAll(ed, '\n').events, [], 'the LF of a CR LF pair is not a second Enter');
});

test('line editor: bracketed paste is one edit; several lines are refused', () => {
  const ed = new LineEditor();
  assert.deepEqual(feedAll(ed, '\x1b[200~echo one\x1b[201~\r').events, [{ kind: 'line', line: 'echo one' }]);
  assert.deepEqual(feedAll(ed, '\x1b[200~echo one\rrm -rf x\r\x1b[201~').events, [{ kind: 'paste-refused' }]);
});

test('line editor: history recalls allowed lines', () => {
  const ed = new LineEditor();
  feedAll(ed, 'first\r');
  ed.remember('first');
  feedAll(ed, 'second\r');
  ed.remember('second');
  assert.deepEqual(feedAll(ed, '\x1b[A\r').events, [{ kind: 'line', line: 'second' }]);
  ed.remember('second');
  assert.deepEqual(feedAll(ed, '\x1b[A\x1b[A\r').events, [{ kind: 'line', line: 'first' }]);
});

test('guard: the terminal line limit, control characters, integration names, here-docs, arithmetic', () => {
  const p = '__sgdeadbeef';
  assert.equal(guardLineText('ls -l /tmp', p), null);
  assert.equal(guardLineText('echo "$HOME" | wc -c', p), null);
  assert.match(guardLineText('x'.repeat(MAX_GUARDED_LINE_BYTES + 1), p)!, /longer/);
  assert.match(guardLineText('ls\x1b[A', p)!, /control/);
  assert.match(guardLineText(`${p}_pc`, p)!, /integration/);
  assert.match(guardLineText('echo $PROMPT_COMMAND', p)!, /PROMPT_COMMAND/);
  assert.match(guardLineText('cat <<EOF', p)!, /here-doc/);
  assert.equal(guardLineText('cat <<< word', p), null);
  assert.match(guardLineText('echo ${x[0]}', p)!, /arithmetic/);
  assert.match(guardLineText('[[ $a -eq 1 ]]', p)!, /arithmetic/);
  assert.match(guardLineText('f() { ls; }', p)!, /function/);
});

test('integration: per-session nonce and names, one line within the terminal limit', () => {
  const a = buildIntegration();
  const b = buildIntegration();
  assert.notEqual(a.nonce, b.nonce);
  assert.notEqual(a.prefix, b.prefix);
  assert.match(a.nonce, /^[0-9a-f]{32}$/);
  assert.equal(a.setupLine.indexOf('\n'), a.setupLine.length - 1, 'a single line');
  assert.ok(Buffer.byteLength(a.setupLine) < 4000);
  assert.ok(a.syncLine.startsWith('\n') && a.syncLine.includes(a.nonce));
});
