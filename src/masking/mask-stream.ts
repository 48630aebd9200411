import { Transform, type TransformCallback } from 'node:stream';
import type { CompiledDetectors } from './compiled.js';
import { MaskEngine, type Finding } from './mask-engine.js';

/**
 * The streaming masker: Buffer in, Buffer out. Holds back only a tail that
 * could still be (part of) a secret, at most maxSecretLength bytes plus one
 * chunk; back-pressure is the Transform's own (nothing is queued here).
 */
export class MaskStream extends Transform {
  private readonly engine: MaskEngine;
  private timer: NodeJS.Timeout | null = null;
  private readonly idleMs: number;

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
    let out: string;
    try {
      out = this.engine.write(buf.toString('latin1'));
    } catch (err) {
      cb(err as Error);
      return;
    }
    if (out.length > 0) this.push(Buffer.from(out, 'latin1'));
    if (this.engine.holding()) {
      this.timer = setTimeout(() => this.onIdle(), this.idleMs);
      this.timer.unref();
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    this.clearTimer();
    try {
      const out = this.engine.end();
      if (out.length > 0) this.push(Buffer.from(out, 'latin1'));
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    this.clearTimer();
    cb(err);
  }

  private onIdle(): void {
    this.timer = null;
    if (this.destroyed || this.writableFinished) return;
    const out = this.engine.idle();
    if (out.length > 0) this.push(Buffer.from(out, 'latin1'));
  }

  private clearTimer(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
