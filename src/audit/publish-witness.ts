import { constants } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import type { Store } from '../store/open-store.js';
import { describeError } from './describe-error.js';

type Logger = { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };

export interface WitnessEntry {
  seq: number;
  hash: string;
  jws: string;
}

/** Only http(s) URLs may receive checkpoints; anything else is a configuration mistake. */
export function checkWitnessUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError('audit witnessUrl is not a URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new TypeError('audit witnessUrl must be http(s)');
}

/**
 * Publish one checkpoint to the witnesses. A witness is a second copy outside the store, so a
 * failure to reach it is logged, not fatal: the chain itself is already committed. The file's
 * line is appended and fsynced on the thread pool (a checkpoint's witness must outlive a power
 * cut, as the log does; the event loop does not wait for the disk). The returned promise settles
 * once every witness is done (never rejects): the log's close waits for it.
 */
export function publishWitness(
  entry: WitnessEntry,
  file: string | null,
  url: string | null,
  logger: Logger | undefined,
): Promise<void> | null {
  const line = JSON.stringify({ seq: entry.seq, hash: entry.hash, jws: entry.jws }) + '\n';
  const tasks: Promise<void>[] = [];
  if (file) {
    tasks.push(
      appendDurable(file, line).catch((err: unknown) => {
        logger?.warn({ file, seq: entry.seq, err: describeError(err) }, 'could not write audit checkpoint to the witness file');
      }),
    );
  }
  if (url) {
    tasks.push(
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: line,
        signal: AbortSignal.timeout(10_000),
      }).then(
        async (res) => {
          await res.arrayBuffer().catch(() => undefined);
          if (!res.ok) logger?.warn({ url: redact(url), status: res.status, seq: entry.seq }, 'audit witness refused the checkpoint');
        },
        (err: unknown) => {
          logger?.warn({ url: redact(url), seq: entry.seq, err: (err as Error).message }, 'could not post audit checkpoint to the witness');
        },
      ),
    );
  }
  if (tasks.length === 0) return null;
  return Promise.all(tasks).then(() => undefined);
}

/**
 * At start: append to the witness file the checkpoints the log holds beyond its last line. The
 * line of a checkpoint is written after the checkpoint's commit, so a gateway stopped in between
 * (killed, a power cut, a disk error since mended) leaves the witness behind the log; this brings
 * it level. Only ever appends, and only checkpoints after the witness's highest seq. A witness
 * whose last line cannot be read is left alone (logged): `audit verify` reports what is wrong
 * with it. Returns how many lines were appended.
 */
export async function catchUpWitness(db: Store, file: string, logger: Logger | undefined): Promise<number> {
  let last: number;
  try {
    last = await lastWitnessSeq(file);
  } catch (err) {
    logger?.warn({ file, err: describeError(err) }, 'witness file left as it is: its last line cannot be read');
    return 0;
  }
  const rows = db.prepare("SELECT seq, body FROM audit_events WHERE type = 'checkpoint' AND seq > ? ORDER BY seq").all(last + 1) as { seq: number; body: string }[];
  let added = 0;
  for (const row of rows) {
    const body = JSON.parse(row.body) as { head?: { seq?: unknown; hash?: unknown }; jws?: unknown };
    if (typeof body.head?.seq !== 'number' || typeof body.head.hash !== 'string' || typeof body.jws !== 'string') continue;
    const line = JSON.stringify({ seq: body.head.seq, hash: body.head.hash, jws: body.jws }) + '\n';
    try {
      await appendDurable(file, line);
    } catch (err) {
      logger?.warn({ file, seq: body.head.seq, err: describeError(err) }, 'could not write audit checkpoint to the witness file');
      break;
    }
    added += 1;
  }
  if (added > 0) logger?.info({ file, checkpoints: added }, 'witness file caught up with the log');
  return added;
}

/** The seq of the witness file's last line; 0 for a missing or empty file. Reads only its tail. */
async function lastWitnessSeq(file: string): Promise<number> {
  const fh = await open(file, 'r').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (fh === null) return 0;
  try {
    const { size } = await fh.stat();
    if (size === 0) return 0;
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, size - len);
    const text = buf.toString('utf8');
    if (!text.endsWith('\n')) throw new Error('the witness file does not end with a whole line');
    const lineStart = text.lastIndexOf('\n', text.length - 2) + 1;
    if (lineStart === 0 && len < size) throw new Error('the witness file\'s last line is too long');
    const seq = (JSON.parse(text.slice(lineStart)) as { seq?: unknown }).seq;
    if (!Number.isSafeInteger(seq) || (seq as number) < 1) throw new Error('the witness file\'s last line has no seq');
    return seq as number;
  } finally {
    await fh.close();
  }
}

/** Per witness file, the append under way: lines go to the file in the order they were published. */
const tails = new Map<string, Promise<void>>();

function appendDurable(file: string, line: string): Promise<void> {
  const next = (tails.get(file) ?? Promise.resolve()).then(() => appendAndSync(file, line));
  const tail = next.catch(() => undefined);
  tails.set(file, tail);
  void tail.then(() => {
    if (tails.get(file) === tail) tails.delete(file);
  });
  return next;
}

/**
 * One whole line per append (a single write to an O_APPEND descriptor, so a crash cannot leave
 * half a line), then fsync. A file this call creates also gets its folder fsynced: a new file's
 * name is durable only once its directory is (fsync(2)).
 */
async function appendAndSync(file: string, line: string): Promise<void> {
  const APPEND = constants.O_WRONLY | constants.O_APPEND;
  let created = false;
  let fh = await open(file, APPEND).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    created = true;
    return await open(file, APPEND | constants.O_CREAT | constants.O_EXCL, 0o600).catch((again: NodeJS.ErrnoException) => {
      if (again.code !== 'EEXIST') throw again;
      created = false; // another writer created it first
      return open(file, APPEND);
    });
  });
  try {
    const buf = Buffer.from(line, 'utf8');
    const { bytesWritten } = await fh.write(buf, 0, buf.length, null);
    if (bytesWritten !== buf.length) throw Object.assign(new Error('short write to the witness file'), { code: 'EIO' });
    await fh.sync();
  } finally {
    await fh.close();
  }
  if (created) {
    fh = await open(path.dirname(file), 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}


/** A witness URL may carry a token in its query or userinfo: log only origin and path. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    return u.origin + u.pathname;
  } catch {
    return '(invalid url)';
  }
}
