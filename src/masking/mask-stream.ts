import { Transform, type TransformCallback } from 'node:stream';
import type { CompiledDetectors } from './compiled.js';
import { MaskEngine, type Finding, type Piece } from './mask-engine.js';

/**
 * The streaming masker: Buffer in, Buffer out. Holds back only a tail that
 * could still be (part of) a secret, at most maxSecretLength bytes plus one
 * chunk; back-pressure is the Transform's own (nothing is queued here).
 * Unchanged bytes go out as slices of the input buffers (no re-encoding).
 */
export class MaskStream extends Transform {
  private readonly engine: MaskEngine;
  private timer: NodeJS.Timeout | null = null;
  private readonly idleMs: number;
  /** Input buffers from the first byte not yet output on, with their input offsets. */
  private kept: { start: number; buf: Buffer }[] = [];
  private inBytes = 0;

  constructor(d: CompiledDetectors) {
    super();
    this.engine = new MaskEngine(d);
    this.idleMs = d.idleMs;
  }

  /** Detector id → number of matches so far. */
  counts(): Record<string, number> {
    return { ...this.engine.counts };
  }

  /** Where secrets were found so far (byte offsets in the input, at most 10 000 kept). */
  findings(): Finding[] {
    return this.engine.findings.slice();
  }

  override _transform(chunk: Buffer | string, _enc: BufferEncoding, cb: TransformCallback): void {
    this.clearTimer();
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (buf.length > 0) {
      this.kept.push({ start: this.inBytes, buf });
      this.inBytes += buf.length;
    }
    try {
      this.output(this.engine.write(buf.toString('latin1')));
    } catch (err) {
      cb(err as Error);
      return;
    }
    if (this.engine.holding()) {
      this.timer = setTimeout(() => this.onIdle(), this.idleMs);
      this.timer.unref();
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    this.clearTimer();
    try {
      this.output(this.engine.end());
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    this.clearTimer();
    this.kept = [];
    cb(err);
  }

  private onIdle(): void {
    this.timer = null;
    if (this.destroyed || this.writableFinished) return;
    this.output(this.engine.idle());
  }

  /** Push the pieces: strings re-encoded, unchanged ranges sliced from the kept input. */
  private output(pieces: Piece[]): void {
    const parts: Buffer[] = [];
    for (const p of pieces) {
      if (typeof p === 'string') parts.push(Buffer.from(p, 'latin1'));
      else this.slice(p.s, p.e, parts);
    }
    // input wholly before the next byte to output is no longer needed
    const pos = this.engine.outputPosition();
    let drop = 0;
    while (drop < this.kept.length && this.kept[drop]!.start + this.kept[drop]!.buf.length <= pos) drop++;
    if (drop > 0) this.kept = this.kept.slice(drop);
    if (parts.length === 1) this.push(parts[0]);
    else if (parts.length > 1) this.push(Buffer.concat(parts));
  }

  private slice(s: number, e: number, parts: Buffer[]): void {
    for (const k of this.kept) {
      const kEnd = k.start + k.buf.length;
      if (kEnd <= s) continue;
      if (k.start >= e) break;
      parts.push(k.buf.subarray(Math.max(s, k.start) - k.start, Math.min(e, kEnd) - k.start));
    }
  }

  private clearTimer(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
