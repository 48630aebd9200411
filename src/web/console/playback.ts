import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { HttpError } from '../router.js';
import type { AuditRow } from './session-data.js';
import { isSaneSize, MAX_COLS, MAX_ROWS } from '../../gateway/term-size.js';

/** A sealed recording of one session channel, as its `recording.sealed` event names it. */
export interface SessionRecording {
  file: string;
  channel: number | null;
  size: number | null;
  sha256: string | null;
  seq: number;
}

/** One recording placed on the session's playback timeline. */
export interface Segment extends SessionRecording {
  /** Seconds from the start of the merged playback. */
  offset: number;
  duration: number;
  label: string;
}

export interface Playback {
  width: number;
  height: number;
  segments: Segment[];
  /** asciicast v2 lines after the header: [time, code, data]. */
  events: [number, string, string][];
  /** Indexes in `events` of the prompt lines added for the viewer (search skips them). */
  banners: Set<number>;
  duration: number;
}

/** Pause between two channels' recordings in the merged playback, so each command starts visibly. */
const GAP = 0.5;
const MAX_PLAYBACK_BYTES = 64 * 1024 * 1024;

/** Recordings of the session, in the order they were sealed; names are checked, never taken as paths. */
export function sessionRecordings(events: AuditRow[], session: string): SessionRecording[] {
  const out: SessionRecording[] = [];
  for (const e of events) {
    if (e.type !== 'recording.sealed') continue;
    const file = e.body.file;
    if (typeof file !== 'string' || !isRecordingName(file, session) || out.some((r) => r.file === file)) continue;
    out.push({
      file,
      channel: typeof e.body.channel === 'number' ? e.body.channel : null,
      size: typeof e.body.size === 'number' ? e.body.size : null,
      sha256: typeof e.body.sha256 === 'string' ? e.body.sha256 : null,
      seq: e.seq,
    });
  }
  return out;
}

export function isRecordingName(file: string, session: string): boolean {
  return file === path.basename(file) && file.startsWith(session + '-') && /^[A-Za-z0-9_][A-Za-z0-9_.-]*\.cast$/.test(file) && !file.includes('..');
}

/** The absolute path of a checked recording name inside the recordings folder. */
export function recordingPath(dir: string, file: string): string {
  const p = path.resolve(dir, file);
  if (path.dirname(p) !== path.resolve(dir)) throw new HttpError(400, 'invalid recording name');
  return p;
}

type CastLine = [number, string, string];

function parseCast(text: string): { width: number; height: number; events: CastLine[] } {
  const lines = text.split('\n');
  let width = 80;
  let height = 24;
  const events: CastLine[] = [];
  try {
    const h = JSON.parse(lines[0] ?? '{}') as { width?: unknown; height?: unknown };
    if (typeof h.width === 'number' && h.width > 0 && h.width <= MAX_COLS) width = Math.floor(h.width);
    if (typeof h.height === 'number' && h.height > 0 && h.height <= MAX_ROWS) height = Math.floor(h.height);
  } catch {
    /* a damaged header: defaults */
  }
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (!l) continue;
    try {
      const ev = JSON.parse(l) as unknown;
      if (Array.isArray(ev) && typeof ev[0] === 'number' && typeof ev[1] === 'string' && typeof ev[2] === 'string') events.push([ev[0], ev[1], ev[2]]);
    } catch {
      /* a torn last line after a crash: skip */
    }
  }
  return { width, height, events };
}

/**
 * The session's recordings as one asciicast timeline: each channel's recording in sealing
 * order, separated by a short gap, with an `m` marker (the command) where each begins.
 * Output and resize events only (input is never replayed to the viewer).
 */
export function buildPlayback(events: AuditRow[], session: string, recordingsDir: string): Playback {
  const recs = sessionRecordings(events, session);
  const commandOf = new Map<number, string>();
  for (const e of events) {
    if (e.type === 'command.decision' && typeof e.body.channel === 'number' && typeof e.body.command === 'string') commandOf.set(e.body.channel, e.body.command);
    if (e.type === 'shell.start' && typeof e.body.channel === 'number') commandOf.set(e.body.channel, '(interactive shell)');
  }
  let total = 0;
  let offset = 0;
  let width = 0;
  let height = 0;
  const segments: Segment[] = [];
  const out: CastLine[] = [];
  const banners = new Set<number>();
  for (const r of recs) {
    const file = recordingPath(recordingsDir, r.file);
    let text: string;
    try {
      total += statSync(file).size;
      if (total > MAX_PLAYBACK_BYTES) throw new HttpError(413, 'the session recordings are too large to merge: download them one by one');
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if (err instanceof HttpError) throw err;
      continue; // missing file: the evidence status says so
    }
    const cast = parseCast(text);
    width = Math.max(width, cast.width);
    height = Math.max(height, cast.height);
    const label = (r.channel !== null ? commandOf.get(r.channel) : undefined) ?? (r.channel !== null ? `channel ${r.channel}` : r.file);
    out.push([round(offset), 'm', label.slice(0, 120)]);
    banners.add(out.length);
    // A viewer's prompt line before each command (not part of the sealed recording).
    out.push([round(offset), 'o', (segments.length ? '\r\n' : '') + '\x1b[1;34m$ ' + label.replace(/[\x00-\x1f\x7f]/g, ' ').slice(0, 500) + '\x1b[0m\r\n']);
    let last = 0;
    for (const [t, code, data] of cast.events) {
      if (code !== 'o' && code !== 'r') continue;
      if (code === 'r' && !saneResize(data)) continue; // a size no screen has (older recordings kept the agent's)
      last = Math.max(last, t);
      out.push([round(offset + t), code, code === 'o' ? onlcr(data) : data]);
    }
    segments.push({ ...r, offset: round(offset), duration: round(last), label });
    offset += last + GAP;
  }
  return { width: width || 80, height: height || 24, segments, events: out, banners, duration: round(Math.max(0, offset - GAP)) };
}

export function playbackCast(p: Playback, title: string): string {
  const header = JSON.stringify({ version: 2, width: p.width, height: p.height, title });
  return [header, ...p.events.map((e) => JSON.stringify(e))].join('\n') + '\n';
}

function round(t: number): number {
  return Math.round(t * 1e6) / 1e6;
}

/** Terminal control sequences out, so search sees the text a viewer reads. */
export function stripAnsi(s: string): string {
  return s
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, '')
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '')
    .replace(/\x1b[@-Z\\-_]/g, '')
    .replace(/\r/g, '');
}

/** Where each timeline event sits in the merged playback (seconds), by its channel's segment. */
export function eventTimes(events: AuditRow[], p: Playback): Map<number, number> {
  const byChannel = new Map<number, Segment>();
  for (const s of p.segments) if (s.channel !== null) byChannel.set(s.channel, s);
  const times = new Map<number, number>();
  // Events of a channel without a recording (denied, waiting) sit where the next recording begins.
  let pending: number[] = [];
  let last = 0;
  for (const e of events) {
    const ch = typeof e.body.channel === 'number' ? e.body.channel : null;
    const seg = ch !== null ? byChannel.get(ch) : undefined;
    if (seg) {
      // A result sits just after the last output, so seeking there shows all of it.
      const t = e.type === 'command.result' || e.type === 'recording.sealed' ? seg.offset + seg.duration + 0.01 : seg.offset;
      for (const s of pending) times.set(s, seg.offset);
      pending = [];
      times.set(e.seq, round(t));
      last = Math.max(last, t);
    } else {
      pending.push(e.seq);
    }
  }
  for (const s of pending) times.set(s, round(last));
  return times;
}

/** A resize event `COLSxROWS` within what playback draws (the header's limits). */
function saneResize(data: string): boolean {
  const m = /^(\d{1,4})x(\d{1,4})$/.exec(data);
  return m !== null && isSaneSize(Number(m[1]), Number(m[2]));
}

/** Exec channels without a terminal send bare LF: shown as a new line, as a terminal with onlcr would. */
export function onlcr(text: string): string {
  return text.replace(/(?<!\r)\n/g, '\r\n');
}
