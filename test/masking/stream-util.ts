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
