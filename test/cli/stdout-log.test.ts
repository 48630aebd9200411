import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { StdoutLog } from '../../src/cli/stdout-log.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * A FIFO whose reading end this test holds without reading until it chooses to: the writing
 * end, non-blocking like a gateway's stdout pipe, fills up as behind a stalled reader.
 */
function fifo(dir: string) {
  const file = path.join(dir, 'fifo');
  execFileSync('mkfifo', [file]);
  const rfd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  const wfd = openSync(file, constants.O_WRONLY | constants.O_NONBLOCK);
  const chunks: Buffer[] = [];
  let reading: NodeJS.Timeout | null = null;
  const readNow = () => {
    const buf = Buffer.alloc(1 << 16);
    for (;;) {
      try {
        const n = readSync(rfd, buf, 0, buf.length, null);
        if (n <= 0) return;
        chunks.push(Buffer.from(buf.subarray(0, n)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return;
        throw err;
      }
    }
  };
  return {
    wfd,
    startReading: () => (reading = setInterval(readNow, 5)),
    /** Everything read, after the last writes (stops reading). */
    text() {
      if (reading) clearInterval(reading);
      readNow();
      return Buffer.concat(chunks).toString('utf8');
    },
    close() {
      if (reading) clearInterval(reading);
      closeSync(wfd);
      closeSync(rfd);
    },
  };
}

test('StdoutLog: a reader that stops reading gets at most maxBytes waiting; the rest is dropped, counted, and the log says so', async (t) => {
  const d = tempDir();
  t.after(d.cleanup);
  const pipe = fifo(d.dir);
  t.after(() => pipe.close());
  const log = new StdoutLog(pipe.wfd, 256 * 1024); // more than the FIFO holds (64 KiB)
  const line = (i: number) => JSON.stringify({ i, pad: 'p'.repeat(1000) }) + '\n';
  for (let i = 0; i < 2000; i++) log.write(line(i));
  assert.equal(await log.drain(300), false, 'the reader is not reading: not drained by the deadline');
  const dropped = log.droppedTotal;
  assert.ok(dropped > 1000, `most of 2 MB dropped, not buffered (${dropped} dropped)`);

  pipe.startReading();
  log.write(line(2000)); // the next line after the drops: preceded by a note saying how many
  assert.equal(await log.drain(10_000), true);
  const lines = pipe.text().trimEnd().split('\n').map((l) => JSON.parse(l) as { i?: number; dropped?: number; msg?: string });
  const note = lines.at(-2)!;
  assert.equal(note.dropped, dropped);
  assert.match(String(note.msg), /log lines dropped/);
  assert.equal(lines.at(-1)!.i, 2000);
  const kept = lines.slice(0, -2).map((l) => l.i);
  assert.deepEqual(kept, Array.from({ length: kept.length }, (_, i) => i), 'what was kept is whole, in order, from the start');
  assert.equal(kept.length + dropped, 2000, 'every line either written or counted');
});

test('StdoutLog: lines reach a reader in order, batched; drain resolves once written', async (t) => {
  const d = tempDir();
  t.after(d.cleanup);
  const pipe = fifo(d.dir);
  t.after(() => pipe.close());
  pipe.startReading();
  const log = new StdoutLog(pipe.wfd);
  for (let i = 0; i < 5000; i++) log.write(`{"i":${i}}\n`);
  assert.equal(await log.drain(10_000), true);
  const got = pipe.text().trimEnd().split('\n').map((l) => (JSON.parse(l) as { i: number }).i);
  assert.deepEqual(got, Array.from({ length: 5000 }, (_, i) => i));
  assert.equal(log.droppedTotal, 0);
});
