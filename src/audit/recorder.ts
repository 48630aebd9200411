import { closeSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { close as closeCb, fsync as fsyncCb, open as openCb } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { createHash, type Hash } from 'node:crypto';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { AuditError } from './errors.js';
import type { InlineGate } from './inline-gate.js';

export interface RecorderOptions {
  dir: string;
  session: string;
  channel: string | number;
  width: number;
  height: number;
  title?: string;
  env?: Record<string, string>;
  recordInput: boolean;
  /** The seal's fsync runs in place while this gate allows it, else on the thread pool (see InlineGate). */
  inline?: InlineGate;
}

export interface SealedRecording {
  file: string;
  size: number;
  sha256: string;
}

// The callback API on plain descriptors: lighter per call than FileHandle's promise methods,
// which cost a measurable share of the event loop at a thousand recordings a second.
const openAsync = promisify(openCb) as (file: string, flags: string, mode: number) => Promise<number>;
const fsyncAsync = promisify(fsyncCb);
const closeAsync = promisify(closeCb);

/** Session ids and channel names become file names: no separators, no dot-files, no `-` in the channel. */
const SESSION_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const CHANNEL_RE = /^[A-Za-z0-9_.]{1,32}$/;

export function recordingFileName(session: string, channel: string | number): string {
  if (!SESSION_RE.test(session)) throw new TypeError('recording session id must be [A-Za-z0-9_.-], not starting with . or -');
  const ch = String(channel);
  if (!CHANNEL_RE.test(ch)) throw new TypeError('recording channel must be [A-Za-z0-9_.]');
  return `${session}-${ch}.cast`;
}

/**
 * One asciicast v2 file per session channel. Every event is one whole JSON line written with a
 * single append write (no user-space buffer) before the bytes go on to the agent, so the file
 * is valid JSON lines after each call and a SIGKILL leaves a playable recording holding
 * everything the agent was sent. UTF-8 is decoded with a StringDecoder per direction so a
 * character split across chunks is written whole in the later event. Creating the file and the
 * seal's fsync run on libuv's thread pool: they are the slow calls (a file creation can wait
 * for the journal), and the gateway's event loop relays every other session meanwhile (while
 * the loop is quiet, an InlineGate lets the fsync run in place, saving the thread's wake-ups).
 * `syncAhead` starts that fsync early, while the program runs, so that the seal has less or
 * nothing left to sync. The SHA-256 is computed as lines are written.
 */
export class Recorder {
  readonly file: string;
  private fd: number | null;
  private readonly start = process.hrtime.bigint();
  private readonly out = new StringDecoder('utf8');
  private readonly inp = new StringDecoder('utf8');
  private readonly hash: Hash = createHash('sha256');
  private size = 0;
  /** Write calls made so far, the failed ones included (a short write is cut back, a change too). */
  private writes = 0;
  /** The early fsync: resolves to the write count it covers, rejects with its error. */
  private ahead: Promise<number> | null = null;
  private sealing: Promise<SealedRecording> | null = null;
  private writeErrorListener: ((err: Error) => void) | null = null;

  private constructor(
    file: string,
    private readonly fdOpen: number,
    private readonly recordInput: boolean,
    private readonly inline: InlineGate | undefined,
  ) {
    this.file = file;
    this.fd = fdOpen;
  }

  static async open(opts: RecorderOptions): Promise<Recorder> {
    const name = recordingFileName(opts.session, opts.channel);
    if (!Number.isInteger(opts.width) || opts.width < 1 || !Number.isInteger(opts.height) || opts.height < 1) {
      throw new TypeError('recording width and height must be positive integers');
    }
    const dir = path.resolve(opts.dir);
    const file = path.join(dir, name);
    let fd: number;
    try {
      // 'ax': never reopen (and so never alter) an existing, possibly sealed, recording.
      fd = await openAsync(file, 'ax', 0o600).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
        await mkdir(dir, { recursive: true, mode: 0o700 }); // only when missing: one call less per channel
        return await openAsync(file, 'ax', 0o600);
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new AuditError(`recording ${name} already exists`);
      throw err;
    }
    const header: Record<string, unknown> = {
      version: 2,
      width: opts.width,
      height: opts.height,
      timestamp: Math.floor(Date.now() / 1000),
    };
    if (opts.title !== undefined) header.title = opts.title;
    if (opts.env !== undefined) header.env = opts.env;
    const rec = new Recorder(file, fd, opts.recordInput, opts.inline);
    try {
      // Written here, like every event line: a small append to the page cache costs less than
      // a hand-off to the thread pool and back (measured on a 2-core VM: 11 µs against ~30 µs
      // of event-loop time plus the wake-ups).
      rec.line(JSON.stringify(header));
    } catch (err) {
      // Not even the header fits (a full disk): leave no half-written file behind.
      await closeAsync(fd).catch(() => {});
      await unlink(file).catch(() => {});
      throw err;
    }
    return rec;
  }

  /** Terminal output (already masked by the gateway). */
  output(data: Buffer | string): void {
    if (this.fd === null) return;
    const text = typeof data === 'string' ? data : this.out.write(data);
    if (text) this.event('o', text);
  }

  /**
   * Where a failed write of input, a resize or a marker is reported once a listener is set (they
   * come from event handlers, where a throw would take down the whole connection); without
   * one they throw, as output always does.
   */
  onWriteError(listener: (err: Error) => void): void {
    this.writeErrorListener = listener;
  }

  /** Terminal input: recorded only when the recorder was opened with recordInput. */
  input(data: Buffer | string): void {
    if (this.fd === null || !this.recordInput) return;
    const text = typeof data === 'string' ? data : this.inp.write(data);
    if (text) this.reported(() => this.event('i', text));
  }

  resize(cols: number, rows: number): void {
    if (this.fd === null) return;
    if (!Number.isInteger(cols) || !Number.isInteger(rows) || cols < 1 || rows < 1) return;
    this.reported(() => this.event('r', `${cols}x${rows}`));
  }

  marker(label: string): void {
    if (this.fd === null) return;
    this.reported(() => this.event('m', String(label)));
  }

  private reported(write: () => void): void {
    try {
      write();
    } catch (err) {
      if (!this.writeErrorListener) throw err;
      this.writeErrorListener(err as Error);
    }
  }

  /**
   * Start the fsync of what is written so far (the file's creation and its header) now, on the
   * thread pool, while the program runs. Measured on a 2-core VM: the fsync of a new file took
   * 0.6-0.8 ms at the seal, on the path to the agent's exit status; a seal with nothing written
   * since takes none, and one after an append 0.5-0.6 ms. For when the gateway is lightly
   * loaded: under load it is one more fsync per channel. Once only; no-op once sealing.
   */
  syncAhead(): void {
    if (this.fd === null || this.ahead) return;
    const covered = this.writes;
    this.ahead = fsyncAsync(this.fdOpen).then(() => covered);
    this.ahead.catch(() => undefined); // reported by the seal
  }

  /** Flush undecoded bytes, fsync, close; the file's size and SHA-256. Idempotent. */
  seal(): Promise<SealedRecording> {
    if (this.sealing) return this.sealing;
    let tail: Error | null = null;
    try {
      const restOut = this.out.end();
      if (restOut) this.event('o', restOut);
      if (this.recordInput) {
        const restIn = this.inp.end();
        if (restIn) this.event('i', restIn);
      }
    } catch (err) {
      tail = err as Error;
    }
    this.fd = null; // no more events
    const sealed = { file: path.basename(this.file), size: this.size, sha256: this.hash.digest('hex') };
    this.sealing = (async () => {
      try {
        // An early fsync that failed is the seal's failure: after a failed fsync Linux may
        // report the next one clean though the data never reached the disk.
        const covered = this.ahead ? await this.ahead : -1;
        if (tail) throw tail;
        // A completed fsync made every write before it durable (POSIX): none since, none to do.
        if (covered !== this.writes) {
          const gate = this.inline;
          if (gate?.allows()) gate.run(() => fsyncSync(this.fdOpen));
          else await fsyncAsync(this.fdOpen); // the slow call: on the thread pool
        }
      } finally {
        closeSync(this.fdOpen); // after fsync, nothing left to flush: cheap (6 µs measured)
      }
      return sealed;
    })();
    return this.sealing;
  }

  /**
   * Close and delete a recording opened for a command that then did not run (its decision
   * could not be made durable, or the agent left): nothing happened, so there is no evidence
   * to keep. A recording already sealed is never deleted.
   */
  async discard(): Promise<void> {
    if (this.sealing) return;
    this.fd = null;
    this.sealing = Promise.reject(new AuditError('recording discarded'));
    this.sealing.catch(() => undefined);
    // Not closed under a pending fsync: the descriptor's number could be reused meanwhile.
    await this.ahead?.catch(() => undefined);
    try {
      closeSync(this.fdOpen);
    } finally {
      await unlink(this.file).catch(() => undefined);
    }
  }

  private event(code: string, data: string): void {
    const t = Number(process.hrtime.bigint() - this.start) / 1e9;
    this.line(JSON.stringify([Math.round(t * 1e6) / 1e6, code, data]));
  }

  private line(text: string): void {
    const buf = encodeLine(text);
    this.writes += 1;
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(this.fd!, buf, off, buf.length - off);
    } catch (err) {
      // A short write (full disk): cut the partial line, so the file stays whole JSON lines
      // and matches the hash of what was written.
      if (off > 0) ftruncateSync(this.fd!, this.size);
      throw err;
    }
    this.hash.update(buf);
    this.size += buf.length;
  }
}

/** Lines up to this size are encoded into one reused buffer; longer ones get their own. */
const SCRATCH_MAX = 1 << 20;
let scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * `text` + a newline as UTF-8, in a buffer valid until the next call. Bulk output is one event
 * per SSH packet: a fresh buffer per line (and the string concatenation that fed it) cost 0.47 ms
 * per MB recorded, against 0.08 ms for encoding in place (2-core VM, 32 kB base64 events). Safe
 * to share: every use (write, hash) is synchronous and done before the next line is encoded.
 */
function encodeLine(text: string): Buffer {
  const max = text.length * 3 + 1; // a UTF-16 code unit is at most 3 bytes of UTF-8
  let buf: Buffer;
  if (max <= scratch.length) buf = scratch;
  else if (max <= SCRATCH_MAX) buf = scratch = Buffer.allocUnsafe(Math.min(SCRATCH_MAX, Math.max(max, 2 * scratch.length)));
  else buf = Buffer.allocUnsafe(max);
  const n = buf.write(text, 0, 'utf8');
  buf[n] = 0x0a;
  return buf.subarray(0, n + 1);
}

/** Size and SHA-256 of a file, read in 1 MiB chunks (recordings can be large). */
export function hashFile(file: string): SealedRecording {
  const fd = openSync(file, 'r');
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  let size = 0;
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      size += n;
    }
  } finally {
    closeSync(fd);
  }
  return { file: path.basename(file), size, sha256: h.digest('hex') };
}
