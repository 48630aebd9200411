import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readSync, statSync, truncateSync } from 'node:fs';
import path from 'node:path';
import type { Store } from '../store/open-store.js';
import type { AuditLog } from './audit-log.js';
import { SESSION_KEY } from './list-sessions.js';
import { hashFile } from './recorder.js';

/** How much of a recording's end is examined for a torn last line. */
const TAIL_BYTES = 4 << 20;

/** What a start recovered, and the recordings it could not seal (left for the next start). */
export interface Recovered {
  recordings: number;
  /** Commands (and shells) closed with a `command.result` (`shell.end`) saying the gateway stopped first. */
  commands: number;
  sessions: number;
  failed: { file: string; error: string }[];
}

/**
 * On gateway start: seal every recording that no `recording.sealed` event covers
 * (`recovered: true`, and `trimmed` bytes when a torn last line had to be cut so the file
 * plays), then end every session that has a `session.start` but no `session.end`, first
 * closing each of its commands that was allowed (or approved) but has no `command.result`: the
 * log then never leaves a command open (audit.md: every allowed command gets a result).
 * Run before the gateway accepts connections: a live recording would be sealed too early.
 *
 * A file is fsynced before its hash is logged: the earlier run may have died (or its seal
 * failed) before its data reached the disk, and the event must not vouch for bytes that are
 * only in the page cache. A file that cannot be trimmed, synced or read (a disk error) is
 * left unsealed and reported in `failed`; the next start tries again.
 */
export async function recoverUnsealed(db: Store, audit: AuditLog, recordingsDir: string): Promise<Recovered> {
  const sealed = new Set<string>();
  for (const row of db.prepare("SELECT body FROM audit_events WHERE type = 'recording.sealed'").iterate() as Iterable<{ body: string }>) {
    const file = (JSON.parse(row.body) as { file?: unknown }).file;
    if (typeof file === 'string') sealed.add(file);
  }
  // Each session's start, in log order: who and where for the recovered events (as the
  // gateway's own carry them), and the sessions to end below.
  const startOf = new Map<string, Record<string, unknown>>();
  for (const row of db.prepare("SELECT body FROM audit_events WHERE type = 'session.start' ORDER BY seq").iterate() as Iterable<{ body: string }>) {
    const body = JSON.parse(row.body) as Record<string, unknown>;
    if (typeof body.session === 'string' && !startOf.has(body.session)) startOf.set(body.session, body);
  }
  const who = (session: string) => {
    const start = startOf.get(session);
    return {
      ...(typeof start?.subject === 'string' ? { subject: start.subject } : {}),
      ...(typeof start?.target === 'string' ? { target: start.target } : {}),
    };
  };
  let recordings = 0;
  const failed: Recovered['failed'] = [];
  const names = existsSync(recordingsDir) ? readdirSync(recordingsDir).filter((n) => n.endsWith('.cast')).sort() : [];
  for (const name of names) {
    if (sealed.has(name)) continue;
    const file = path.join(recordingsDir, name);
    if (!statSync(file).isFile()) continue;
    let trimmed: number;
    let size: number;
    let sha256: string;
    try {
      trimmed = trimTornTail(file);
      syncFile(file);
      ({ size, sha256 } = hashFile(file));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      failed.push({ file: name, error: e.code ? `${e.code}: ${e.syscall ?? 'i/o'} failed` : String(e.message) });
      continue;
    }
    const dash = name.lastIndexOf('-');
    const session = dash > 0 ? name.slice(0, dash) : name.slice(0, -'.cast'.length);
    const channelText = dash > 0 ? name.slice(dash + 1, -'.cast'.length) : '';
    await audit.append({
      type: 'recording.sealed',
      session,
      ...who(session),
      ...(/^\d{1,9}$/.test(channelText) ? { channel: Number(channelText) } : {}),
      file: name,
      size,
      sha256,
      recovered: true,
      ...(trimmed > 0 ? { trimmed } : {}),
    });
    recordings++;
  }

  const ended = new Set<string>();
  for (const row of db.prepare("SELECT body FROM audit_events WHERE type = 'session.end'").iterate() as Iterable<{ body: string }>) {
    const body = JSON.parse(row.body) as Record<string, unknown>;
    if (typeof body.session === 'string') ended.add(body.session);
  }
  let sessions = 0;
  let commands = 0;
  const eventsOf = db.prepare(
    `SELECT type, body FROM audit_events WHERE ${SESSION_KEY} = ? AND type IN ('command.decision', 'command.result', 'approval.resolved', 'shell.start', 'shell.end') ORDER BY seq`,
  );
  for (const id of startOf.keys()) {
    if (ended.has(id)) continue;
    const open = openCommands(eventsOf.all(id) as { type: string; body: string }[]);
    for (const cmd of open.commands) {
      await audit.append({
        type: 'command.result',
        session: id,
        ...who(id),
        ...cmd,
        exit: null,
        signal: null,
        error: 'the gateway stopped before the command\'s result was logged: how it ended is unknown',
        recovered: true,
      });
      commands++;
    }
    for (const shell of open.shells) {
      await audit.append({ type: 'shell.end', session: id, ...who(id), ...shell, exit: null, signal: null, reason: 'gateway restarted', recovered: true });
      commands++;
    }
    await audit.append({
      type: 'session.end',
      session: id,
      ...who(id),
      reason: 'gateway restarted',
      recovered: true,
    });
    sessions++;
  }
  return { recordings, commands, sessions, failed };
}

/**
 * A session's commands that may have run but have no `command.result`, as `{channel[, mode,
 * line]}` (how results name them): allowed ones, and approved ones (a decision `approve`, then
 * its request's `approval.resolved` approved, matched by command text in order: the request
 * names no channel). An approval denied or timed out means the command never ran. A
 * passthrough shell (`shell.start`) ends with a `command.result` like a command; a guarded
 * one with a `shell.end`: those without theirs are returned too.
 */
function openCommands(rows: { type: string; body: string }[]): { commands: Record<string, unknown>[]; shells: Record<string, unknown>[] } {
  const open = new Map<string, Record<string, unknown>>();
  const shells = new Map<string, Record<string, unknown>>();
  const awaiting: { key: string; command: unknown; fields: Record<string, unknown> }[] = [];
  for (const row of rows) {
    const b = JSON.parse(row.body) as Record<string, unknown>;
    const fields: Record<string, unknown> = {
      ...(b.channel !== undefined ? { channel: b.channel } : {}),
      ...(b.mode !== undefined ? { mode: b.mode } : {}),
      ...(b.line !== undefined ? { line: b.line } : {}),
    };
    const key = `${String(b.channel)}:${String(b.line ?? '')}`;
    switch (row.type) {
      case 'command.decision':
        if (b.decision === 'allow') open.set(key, fields);
        else if (b.decision === 'approve') awaiting.push({ key, command: b.command, fields });
        break;
      case 'command.result': {
        open.delete(key);
        const i = awaiting.findIndex((a) => a.key === key);
        if (i >= 0) awaiting.splice(i, 1);
        break;
      }
      case 'approval.resolved': {
        const i = awaiting.findIndex((a) => a.command === b.command);
        if (i < 0) break;
        const [a] = awaiting.splice(i, 1);
        if (b.decision === 'approved') open.set(a!.key, a!.fields);
        break;
      }
      case 'shell.start':
        if (b.mode === 'guarded') shells.set(String(b.channel), { channel: b.channel, mode: 'guarded' });
        else open.set(key, { ...(b.channel !== undefined ? { channel: b.channel } : {}) });
        break;
      case 'shell.end':
        shells.delete(String(b.channel));
        break;
    }
  }
  return { commands: [...open.values()], shells: [...shells.values()] };
}

function syncFile(file: string): void {
  const fd = openSync(file, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Cut a torn end (a partial line, or trailing lines that are not JSON, e.g. zeros after an
 * OS crash) so the recording plays. Returns the number of bytes removed.
 */
export function trimTornTail(file: string): number {
  const size = statSync(file).size;
  if (size === 0) return 0;
  const len = Math.min(size, TAIL_BYTES);
  const start = size - len;
  const tail = Buffer.alloc(len);
  const fd = openSync(file, 'r');
  try {
    let off = 0;
    while (off < len) {
      const n = readSync(fd, tail, off, len - off, start + off);
      if (n === 0) break;
      off += n;
    }
  } finally {
    closeSync(fd);
  }
  let cut = len;
  while (cut > 0) {
    if (tail[cut - 1] !== 0x0a) {
      const nl = tail.lastIndexOf(0x0a, cut - 1);
      if (nl < 0 && start > 0) return 0; // a partial line longer than the tail: leave it to the auditor
      cut = nl + 1; // drop the partial line
      continue;
    }
    const lineStart = tail.lastIndexOf(0x0a, cut - 2) + 1;
    if (lineStart === 0 && start > 0) break; // the line begins before the examined tail: keep it
    if (isJsonLine(tail.subarray(lineStart, cut - 1))) break;
    cut = lineStart;
  }
  if (cut === len) return 0;
  truncateSync(file, start + cut);
  return len - cut;
}

function isJsonLine(line: Buffer): boolean {
  try {
    JSON.parse(line.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}
