import { type AnsiSeq, stripAnsi } from './ansi.js';
import type { CompiledDetectors } from './compiled.js';
import { anchoredLines } from './prefilter.js';
import { markerPrefixAtEnd } from './private-key.js';
import { scanSegment } from './scan-segment.js';
import type { Seg, Span } from './segment.js';

/** Where a secret was found: byte offsets in the input (ANSI sequences included), never the value. */
export interface Finding {
  detector: string;
  start: number;
  end: number;
}

/**
 * Output of the engine: masked text as strings (one char per byte), and input
 * bytes that pass unchanged as ranges [s, e) of input byte offsets, so a
 * stream can send its input buffers on without re-encoding them.
 */
export type Piece = string | { s: number; e: number };

/** Join pieces into a binary string, taking unchanged ranges from `input` (the whole input, one char per byte). */
export function renderPieces(pieces: readonly Piece[], input: string): string {
  let out = '';
  for (const p of pieces) out += typeof p === 'string' ? p : input.slice(p.s, p.e);
  return out;
}

/** Findings kept per stream for reports; counts go on after this. */
export const MAX_FINDINGS = 10_000;

const enum Mode {
  Chunk,
  Idle,
  End,
}

/**
 * The incremental masker behind both maskText and MaskStream. Works on
 * "binary" strings (one char per byte) so that chunk splits inside UTF-8
 * characters and invalid bytes need no special care and offsets are bytes.
 *
 * Invariant: `text` starts at the start of the current segment (a line, a
 * piece of an overlong line, or the text after an END marker) — or, inside a
 * private key, at the first byte not yet output. Everything before `emitted`
 * has been output and can no longer change.
 */
export class MaskEngine {
  private text = '';
  private seqs: AnsiSeq[] = [];
  private nextSeq = 0;
  private emitted = 0;
  private rawRest = '';
  private absBase = 0;
  /**
   * Inside a private key: the END marker looked for, and the finding's start. `start` is first the
   * end of the BEGIN marker, then, once a body byte is output, that byte's offset (after the
   * sequences before it): known only when the byte has arrived, so the same however the input is
   * chunked, and never after the finding's end (an empty body gives start = end).
   */
  private pem: { end: string; start: number; body: boolean } | null = null;
  /** Input byte offset of the next byte to output. */
  private outAbs = 0;
  readonly counts: Record<string, number> = {};
  readonly findings: Finding[] = [];

  constructor(private readonly d: CompiledDetectors) {}

  /** Input byte offset of the first byte not output yet: input before it is no longer needed. */
  outputPosition(): number {
    return this.outAbs;
  }

  /** Add a chunk (binary string); returns what can be output now. */
  write(chunk: string): Piece[] {
    this.take(this.rawRest + chunk, false);
    return this.run(Mode.Chunk);
  }

  /** Nothing arrived for a while: release the tail (still scanned). A private key stays masked. */
  idle(): Piece[] {
    this.take(this.rawRest, true);
    return this.run(Mode.Idle);
  }

  /** End of input: everything left, scanned as complete. */
  end(): Piece[] {
    this.take(this.rawRest, true);
    return this.run(Mode.End);
  }

  /** True when some input has not been output yet. */
  holding(): boolean {
    return this.emitted < this.text.length || this.rawRest.length > 0 || this.nextSeq < this.seqs.length;
  }

  private take(raw: string, final: boolean): void {
    this.rawRest = '';
    if (raw.length === 0) return;
    const st = stripAnsi(raw, final);
    this.rawRest = st.rest;
    const base = this.text.length;
    for (const q of st.seqs) this.seqs.push({ at: q.at + base, s: q.s });
    this.text += st.clean;
  }

  private run(mode: Mode): Piece[] {
    const out: Piece[] = [];
    const L = this.d.maxLen;
    for (;;) {
      const t = this.text;
      const n = t.length;
      if (this.pem) {
        const idx = t.indexOf(this.pem.end);
        if (idx >= 0) {
          const after = idx + this.pem.end.length;
          this.pemBody(idx);
          this.emit(out, after, [{ s: 0, e: idx, id: 'private-key' }], false);
          this.addFinding('private-key', this.pem.start, this.absEnd(idx));
          this.pem = null;
          this.trim(after);
          continue;
        }
        if (mode === Mode.End) {
          this.pemBody(n);
          this.emit(out, n, [{ s: 0, e: n, id: 'private-key' }], false);
          this.addFinding('private-key', this.pem.start, this.absEnd(n));
          this.pem = null;
          this.trim(n);
          break;
        }
        const safe = n - markerPrefixAtEnd(t, this.pem.end);
        this.pemBody(safe);
        this.emit(out, safe, [{ s: 0, e: safe, id: 'private-key' }], false);
        this.trim(safe);
        break;
      }
      const spans: Span[] = [];
      const completeEnd = t.lastIndexOf('\n') + 1;
      let pem = completeEnd > 0 ? this.scanComplete(completeEnd, spans) : null;
      let a = completeEnd;
      while (!pem && n - a > L) {
        pem = scanSegment(this.d, this.seg(a, a + L, false), a, spans).pem;
        a += L;
      }
      let to = n;
      if (!pem && (a < n || mode !== Mode.Chunk)) {
        const r = scanSegment(this.d, this.seg(a, n, mode === Mode.Chunk), a, spans);
        pem = r.pem;
        if (!pem && mode === Mode.Chunk) to = a + r.hold;
      }
      if (pem) {
        this.emit(out, pem.at, spans, true);
        // not absStart(pem.at): a sequence right after the marker may not have arrived yet, and with
        // an empty body (END or end of input right after that sequence) the start would pass the end
        this.pem = { end: pem.end, start: this.absEnd(pem.at), body: false };
        this.trim(pem.at);
        continue;
      }
      this.emit(out, to, spans, true);
      this.trim(mode === Mode.End ? n : a);
      break;
    }
    return out;
  }

  /** Inside a private key, text[0, bodyEnd) is about to be output as body: its first byte starts the finding. */
  private pemBody(bodyEnd: number): void {
    const pem = this.pem!;
    if (pem.body || bodyEnd <= 0) return;
    pem.start = this.absStart(0); // text[0] is the first body byte: every sequence before it has arrived
    pem.body = true;
  }

  /** Complete lines [0, end): only lines with a prefilter hit are scanned (all lines when policy regexes exist). */
  private scanComplete(end: number, spans: Span[]): { at: number; end: string } | null {
    const t = this.text;
    const L = this.d.maxLen;
    let lines: number[]; // line starts, ascending
    if (this.d.custom.length > 0) {
      lines = [0];
      for (let i = t.indexOf('\n'); i >= 0 && i + 1 < end; i = t.indexOf('\n', i + 1)) lines.push(i + 1);
    } else {
      lines = anchoredLines(this.d.prefilter, t, end);
      if (this.d.longNeedles) this.d.longNeedles.scan(t, end, (at) => lines.push(at === 0 ? 0 : t.lastIndexOf('\n', at - 1) + 1));
      if (lines.length === 0) return null;
      lines.sort((x, y) => x - y);
    }
    let prev = -1;
    for (const ls of lines) {
      if (ls === prev) continue;
      prev = ls;
      const le = t.indexOf('\n', ls);
      for (let s = ls; s < le; s += L) {
        const r = scanSegment(this.d, this.seg(s, Math.min(s + L, le), false), s, spans);
        if (r.pem) return r.pem;
      }
    }
    return null;
  }

  private seg(a: number, b: number, partial: boolean): Seg {
    let bounds: Set<number> | null = null;
    for (let i = this.nextSeqAt(a); i < this.seqs.length; i++) {
      const at = this.seqs[i]!.at;
      if (at >= b) break;
      if (at > a) (bounds ??= new Set()).add(at - a);
    }
    return { text: this.text.slice(a, b), bounds, partial };
  }

  /** Index of the first sequence at or after clean index `a`. */
  private nextSeqAt(a: number): number {
    const s = this.seqs;
    if (s.length === 0 || s[s.length - 1]!.at < a) return s.length;
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (s[mid]!.at < a) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Output text[emitted, to) with spans masked, and the sequences up to `to`. */
  /** Append unchanged input bytes (merged with the previous range when adjacent). */
  private raw(out: Piece[], len: number): void {
    if (len <= 0) return;
    const last = out.length > 0 ? out[out.length - 1] : undefined;
    if (last !== undefined && typeof last !== 'string' && last.e === this.outAbs) last.e += len;
    else out.push({ s: this.outAbs, e: this.outAbs + len });
    this.outAbs += len;
  }

  /**
   * An escape sequence goes out unchanged, except a secret in the payload of a string sequence
   * (OSC: window title, OSC 8 link, OSC 52 clipboard; DCS, APC, PM): that payload is output
   * the agent and the recording receive like any other, so it is masked in place, the
   * sequence's framing kept. The spec's "sequences pass through unchanged" is read as applying
   * to their control function, never as a way around masking (docs/masking.md).
   */
  private rawSeq(out: Piece[], q: AnsiSeq): void {
    const m = maskStringSeq(this.d, q.s);
    if (m === null) return this.raw(out, q.s.length);
    out.push(m.text);
    for (const f of m.findings) this.addFinding(f.detector, this.outAbs + f.start, this.outAbs + f.end);
    this.outAbs += q.s.length;
  }

  private masked(out: Piece[], t: string, x: number, y: number): void {
    if (y <= x) return;
    out.push(stars(t, x, y));
    this.outAbs += y - x;
  }

  private emit(out: Piece[], to: number, spans: Span[], record: boolean): void {
    const from = this.emitted;
    if (to < from) to = from;
    const rel = spans.filter((sp) => sp.e > from && sp.s < to);
    if (record && rel.length > 0) this.record(rel);
    // merged mask intervals within [from, to)
    rel.sort((x, y) => x.s - y.s);
    const iv: number[] = [];
    for (const sp of rel) {
      const s = Math.max(sp.s, from);
      const e = Math.min(sp.e, to);
      if (e <= s) continue;
      if (iv.length && s <= iv[iv.length - 1]!) iv[iv.length - 1] = Math.max(iv[iv.length - 1]!, e);
      else iv.push(s, e);
    }
    const t = this.text;
    let pos = from;
    let k = 0;
    const pushText = (x: number, y: number) => {
      // interleave the sequences that sit inside [x, y)
      while (this.nextSeq < this.seqs.length && this.seqs[this.nextSeq]!.at < y) {
        const q = this.seqs[this.nextSeq++]!;
        const at = Math.max(q.at, x);
        if (at > x) {
          if (masked) this.masked(out, t, x, at);
          else this.raw(out, at - x);
        }
        this.rawSeq(out, q);
        x = at;
      }
      if (y > x) {
        if (masked) this.masked(out, t, x, y);
        else this.raw(out, y - x);
      }
    };
    let masked = false;
    while (pos < to) {
      if (k < iv.length && iv[k]! <= pos) {
        masked = true;
        const e = iv[k + 1]!;
        pushText(pos, e);
        pos = e;
        k += 2;
      } else {
        masked = false;
        const e = k < iv.length ? iv[k]! : to;
        pushText(pos, e);
        pos = e;
      }
    }
    // sequences sitting right at `to` go out now: they are not text
    while (this.nextSeq < this.seqs.length && this.seqs[this.nextSeq]!.at <= to) this.rawSeq(out, this.seqs[this.nextSeq++]!);
    this.emitted = to;
  }

  private record(rel: Span[]): void {
    const pr = this.d.priority;
    const sorted = [...rel].sort((x, y) => x.s - y.s || (pr.get(x.id) ?? 99) - (pr.get(y.id) ?? 99) || y.e - x.e);
    let coverS = -1;
    let coverE = -1;
    for (const sp of sorted) {
      if (sp.s >= coverS && sp.e <= coverE) continue; // already reported by a detector with priority
      this.addFinding(sp.id, this.absStart(sp.s), this.absEnd(sp.e));
      if (sp.e > coverE) {
        coverS = sp.s;
        coverE = sp.e;
      }
    }
  }

  private addFinding(detector: string, start: number, end: number): void {
    this.counts[detector] = (this.counts[detector] ?? 0) + 1;
    if (this.findings.length >= MAX_FINDINGS) return;
    // In input order, however the input was chunked: a sequence's payload findings are added when
    // the sequence goes out, which may be after the text findings around it were recorded.
    let i = this.findings.length;
    while (i > 0 && this.findings[i - 1]!.start > start) i--;
    this.findings.splice(i, 0, { detector, start, end });
  }

  /** Input byte offset of text[i] (sequences before it included). */
  private absStart(i: number): number {
    let off = this.absBase + i;
    for (const q of this.seqs) {
      if (q.at > i) break;
      off += q.s.length;
    }
    return off;
  }

  /** Input byte offset just after text[e - 1]. */
  private absEnd(e: number): number {
    let off = this.absBase + e;
    for (const q of this.seqs) {
      if (q.at >= e) break;
      off += q.s.length;
    }
    return off;
  }

  /** Forget text[0, k) (already output). */
  private trim(k: number): void {
    if (k <= 0) return;
    let drop = 0;
    let extra = 0;
    while (drop < this.seqs.length && this.seqs[drop]!.at < k) extra += this.seqs[drop++]!.s.length;
    this.absBase += k + extra;
    if (drop > 0) this.seqs = this.seqs.slice(drop);
    for (const q of this.seqs) q.at -= k;
    this.nextSeq = Math.max(0, this.nextSeq - drop);
    this.emitted -= k;
    this.text = this.text.slice(k);
  }
}

/**
 * The sequence `seq` with secrets in its string payload masked, or null when it is not a string
 * sequence or holds no secret. The payload is complete (the stripper holds a sequence until its
 * terminator), so it is scanned in one piece; it holds no ESC, so this never recurses further.
 */
function maskStringSeq(d: CompiledDetectors, seq: string): { text: string; findings: Finding[] } | null {
  const kind = seq.charCodeAt(1);
  if (seq.charCodeAt(0) !== 0x1b || (kind !== 0x5d && kind !== 0x50 && kind !== 0x5f && kind !== 0x5e)) return null;
  let end = seq.length;
  if (seq.charCodeAt(end - 1) === 0x07) end -= 1; // BEL
  else if (end >= 4 && seq.charCodeAt(end - 2) === 0x1b && seq.charCodeAt(end - 1) === 0x5c) end -= 2; // ST
  if (end - 2 < 4) return null; // no secret is that short
  const payload = seq.slice(2, end);
  const engine = new MaskEngine(d);
  const pieces = [...engine.write(payload), ...engine.end()];
  if (Object.keys(engine.counts).length === 0) return null; // counts every finding, even past the findings cap
  const masked = renderPieces(pieces, payload);
  return {
    text: seq.slice(0, 2) + masked + seq.slice(end),
    findings: engine.findings.map((f) => ({ detector: f.detector, start: f.start + 2, end: f.end + 2 })),
  };
}

/** One `*` per code point; line breaks kept; UTF-8 continuation bytes vanish into their character's star. */
function stars(t: string, x: number, y: number): string {
  let plain = true;
  for (let i = x; i < y; i++) {
    const c = t.charCodeAt(i);
    if (c === 0x0a || c === 0x0d || c >= 0x80) { plain = false; break; }
  }
  if (plain) return '*'.repeat(y - x);
  let s = '';
  for (let i = x; i < y; i++) {
    const c = t.charCodeAt(i);
    if (c === 0x0a || c === 0x0d) s += t[i];
    else if (c < 0x80 || c > 0xbf) s += '*';
  }
  return s;
}
