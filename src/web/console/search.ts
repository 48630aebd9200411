import { recentSessionIds, summarizeSession } from '../../audit/index.js';
import type { Store } from '../../store/open-store.js';
import { HttpError } from '../router.js';
import { buildPlayback, eventTimes, stripAnsi } from './playback.js';
import { sessionEvents } from './session-data.js';

export interface SearchHit {
  session: string;
  subject: string | null;
  target: string | null;
  kind: 'command' | 'output';
  /** Seconds into the session's playback: the link is /sessions/:id?t=time. */
  time: number;
  /** The matched line (masked, as recorded), trimmed around the match. */
  text: string;
}

const MAX_SESSIONS = 500;
const MAX_HITS = 100;
const HITS_PER_SESSION = 10;

export function parseQuery(q: string | null): string {
  if (q === null || q.trim() === '') throw new HttpError(400, 'q is required');
  if (q.length > 200 || /[\u0000-\u001f]/.test(q)) throw new HttpError(400, 'q must be at most 200 characters, without control characters');
  return q.trim();
}

/**
 * Case-insensitive substring search over the masked command lines of the audit log and the
 * masked output text of recordings, newest sessions first (bounded: the newest 500).
 */
export function searchSessions(db: Store, recordingsDir: string, query: string): SearchHit[] {
  const needle = query.toLowerCase();
  const hits: SearchHit[] = [];
  let seen = 0;
  for (const id of recentSessionIds(db)) {
    if (hits.length >= MAX_HITS || ++seen > MAX_SESSIONS) break;
    const events = sessionEvents(db, id);
    const s = summarizeSession(id, events);
    let p;
    try {
      p = buildPlayback(events, s.id, recordingsDir);
    } catch {
      continue; // too large to merge: skipped by search
    }
    const times = eventTimes(events, p);
    let n = 0;
    const push = (kind: SearchHit['kind'], time: number, text: string) => {
      if (n >= HITS_PER_SESSION || hits.length >= MAX_HITS) return;
      n++;
      hits.push({ session: s.id, subject: s.subject, target: s.target, kind, time, text });
    };
    for (const e of events) {
      if (e.type === 'command.decision' && typeof e.body.command === 'string' && e.body.command.toLowerCase().includes(needle)) {
        push('command', times.get(e.seq) ?? 0, e.body.command.slice(0, 300));
      }
    }
    // Output: each line of the terminal text with the time its first character appeared.
    let line = '';
    let lineTime = 0;
    const flush = () => {
      const i = line.toLowerCase().indexOf(needle);
      if (i >= 0) push('output', lineTime, snippet(line, i, needle.length));
      line = '';
    };
    for (const [i, [t, code, data]] of p.events.entries()) {
      if (code !== 'o' || p.banners.has(i)) continue;
      for (const part of stripAnsi(data).split(/(\n)/)) {
        if (part === '\n') flush();
        else if (part) {
          if (line === '') lineTime = t;
          line += part;
          if (line.length > 4000) flush();
        }
      }
    }
    flush();
  }
  return hits;
}

function snippet(line: string, at: number, len: number): string {
  const start = Math.max(0, at - 80);
  return (start > 0 ? '…' : '') + line.slice(start, at + len + 120);
}
