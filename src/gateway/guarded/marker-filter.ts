import { Transform, type TransformCallback } from 'node:stream';

export type MarkerKind = 'A' | 'B' | 'C' | 'D' | 'P';

export interface Marker {
  kind: MarkerKind;
  /** Exit status for D. */
  status?: number;
}

const OPEN = Buffer.from('\x1b]133;');
const BEL = 0x07;
/** Longest OSC 133 sequence looked for; a longer one is not ours and its opener is dropped. */
const MAX_MARKER = 256;
const HIDDEN = Buffer.from('[hidden]');

/**
 * Upstream output → agent: removes every OSC 133 sequence (ours and forged ones alike), reports
 * the authentic ones (right nonce, well-formed) in stream order through `onMarker`, and replaces
 * the nonce wherever else it appears. A sequence or nonce split across chunks is held back until
 * it is complete (at most MAX_MARKER bytes). Text before a marker is pushed before the marker is
 * reported, so state changes line up with the output the agent has been sent.
 */
export class MarkerFilter extends Transform {
  private held: Buffer = Buffer.alloc(0);
  private readonly nonceBuf: Buffer;
  /** Text between A and B (the prompt), kept to redraw it after Ctrl-C or a refusal. */
  private promptParts: Buffer[] | null = null;
  lastPrompt = '';
  /** Until the integration is established everything upstream prints (the echoed setup line) is dropped. */
  discard = true;
  private idle: NodeJS.Timeout | null = null;
  private ended = false;

  constructor(
    private readonly nonce: string,
    private readonly onMarker: (m: Marker) => void,
    private readonly onForged: (raw: string) => void,
  ) {
    super();
    this.nonceBuf = Buffer.from(nonce);
  }

  /** Gateway text for the agent (echo, messages), ordered after all upstream output so far. */
  inject(text: string): void {
    if (text && !this.ended) this.push(Buffer.from(text, 'utf8'));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    let buf = this.held.length ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = Buffer.alloc(0);
    let i = 0;
    for (;;) {
      const at = buf.indexOf(OPEN, i);
      if (at < 0) break;
      const end = buf.indexOf(BEL, at + OPEN.length);
      const stEnd = buf.indexOf('\x1b\\', at + OPEN.length);
      let stop = end;
      let termLen = 1;
      if (stEnd >= 0 && (end < 0 || stEnd < end)) {
        stop = stEnd;
        termLen = 2;
      }
      if (stop < 0) {
        if (buf.length - at < MAX_MARKER) {
          // Possibly a marker split across chunks: hold it.
          this.emitText(buf.subarray(i, at));
          this.held = Buffer.from(buf.subarray(at));
          this.armIdle();
          cb();
          return;
        }
        // Too long to be ours: drop the opener only, so it cannot act later.
        this.emitText(buf.subarray(i, at));
        i = at + OPEN.length;
        continue;
      }
      this.emitText(buf.subarray(i, at));
      this.handle(buf.subarray(at + OPEN.length, stop).toString('latin1'));
      i = stop + termLen;
    }
    buf = buf.subarray(i);
    // Hold a tail that may be the start of an opener or of the nonce.
    const keep = Math.max(partialSuffix(buf, OPEN), partialSuffix(buf, this.nonceBuf));
    this.emitText(buf.subarray(0, buf.length - keep));
    if (keep) {
      this.held = Buffer.from(buf.subarray(buf.length - keep));
      this.armIdle();
    }
    cb();
  }

  /** A held tail that nothing completes within 30 ms is released: a bare opener is dropped, other text shown. */
  private armIdle(): void {
    this.idle = setTimeout(() => {
      this.idle = null;
      const h = this.held;
      this.held = Buffer.alloc(0);
      if (h.length >= OPEN.length && h.subarray(0, OPEN.length).equals(OPEN)) this.emitText(h.subarray(OPEN.length));
      else this.emitText(h);
    }, 30);
    this.idle.unref();
  }

  override _flush(cb: TransformCallback): void {
    if (this.idle) clearTimeout(this.idle);
    if (this.held.length) this.emitText(this.held);
    this.held = Buffer.alloc(0);
    this.ended = true;
    cb();
  }

  private handle(body: string): void {
    const parts = body.split(';');
    const kind = parts[0];
    const nonce = parts[parts.length - 1];
    const ok =
      nonce === this.nonce &&
      ((parts.length === 2 && (kind === 'A' || kind === 'B' || kind === 'C' || kind === 'P')) ||
        (parts.length === 3 && kind === 'D' && /^[0-9]{1,3}$/.test(parts[1]!)));
    if (!ok) {
      this.onForged(body.split(this.nonce).join('[hidden]').slice(0, 80));
      return;
    }
    if (kind === 'A') this.promptParts = [];
    if (kind === 'B' && this.promptParts) {
      this.lastPrompt = Buffer.concat(this.promptParts).toString('utf8');
      this.promptParts = null;
    }
    this.onMarker(kind === 'D' ? { kind, status: Number(parts[1]) } : { kind: kind as MarkerKind });
  }

  private emitText(b: Buffer): void {
    if (!b.length || this.discard) return;
    let out = b;
    if (b.indexOf(this.nonceBuf) >= 0) {
      const pieces: Buffer[] = [];
      let j = 0;
      for (let k = b.indexOf(this.nonceBuf); k >= 0; k = b.indexOf(this.nonceBuf, j)) {
        pieces.push(b.subarray(j, k), HIDDEN);
        j = k + this.nonceBuf.length;
      }
      pieces.push(b.subarray(j));
      out = Buffer.concat(pieces);
    }
    if (this.promptParts) this.promptParts.push(Buffer.from(out));
    this.push(Buffer.from(out));
  }
}

/** Length of the longest proper prefix of `needle` that `buf` ends with. */
function partialSuffix(buf: Buffer, needle: Buffer): number {
  const max = Math.min(buf.length, needle.length - 1);
  for (let n = max; n > 0; n--) {
    if (buf.subarray(buf.length - n).equals(needle.subarray(0, n))) return n;
  }
  return 0;
}
