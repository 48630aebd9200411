import assert from 'node:assert/strict';
import type { MaskStream } from '../../src/masking/index.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Write `chunks` to a fresh stream (with optional pauses before each), end it, and return all output. */
export async function runChunks(stream: MaskStream, chunks: Buffer[], pauses?: number[]): Promise<Buffer> {
  const out: Buffer[] = [];
  stream.on('data', (d: Buffer) => out.push(d));
  const ended = new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  for (let i = 0; i < chunks.length; i++) {
    const p = pauses?.[i] ?? 0;
    if (p > 0) await sleep(p);
    stream.write(chunks[i]);
  }
  stream.end();
  await ended;
  return Buffer.concat(out);
}

/** Split `buf` at the given byte offsets. */
export function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const sorted = [...new Set(cuts.filter((c) => c > 0 && c < buf.length))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let prev = 0;
  for (const c of sorted) {
    parts.push(buf.subarray(prev, c));
    prev = c;
  }
  parts.push(buf.subarray(prev));
  return parts;
}

/**
 * Mask `text` through a stream cut into chunks of the cycling `sizes`, and check it gives the
 * one-shot result byte for byte, with the same findings.
 */
export async function assertChunkedMatchesOneShot(m: { maskText(t: string): { text: string; findings: unknown[] }; createStream(): MaskStream }, text: string, sizes: number[]): Promise<void> {
  const whole = m.maskText(text);
  const buf = Buffer.from(text);
  const cuts: number[] = [];
  for (let k = 0, at = 0; at < buf.length; k++) cuts.push((at += sizes[k % sizes.length]!));
  const s = m.createStream();
  const out = (await runChunks(s, splitAt(buf, cuts))).toString();
  assert.equal(out, whole.text, JSON.stringify({ text, sizes }));
  assert.deepEqual(s.findings(), whole.findings, JSON.stringify({ text, sizes }));
}
