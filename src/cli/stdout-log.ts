import { write, writeSync } from 'node:fs';

/** Bytes of log lines that may wait for the reader; beyond, lines are dropped and counted. */
export const LOG_BUFFER_BYTES = 8 << 20;
/** A write is started once this much waits, or after BATCH_MS. */
const BATCH_BYTES = 4096;
const BATCH_MS = 100;
/** While the reader's pipe is full (EAGAIN), try again this often. */
const RETRY_MS = 50;

/**
 * The gateway's operator log (pino's destination) on a file descriptor, stdout by default:
 *
 * - off the event loop: lines are written with `fs.write` on the thread pool, one write at a
 *   time, batched (4 KiB, or what waited 100 ms): under load a write per line was a thread-pool
 *   hand-off per line (2-4 % of the loop at 500 commands a second);
 * - bounded: a reader that stops reading (a stalled journald, a paused pager, a full pipe) must
 *   neither stop the gateway nor grow its memory without bound. At most `maxBytes` wait; lines
 *   beyond are dropped and counted, and once lines flow again the log says how many;
 * - never blocking: the descriptor is made non-blocking (for a pipe), so no thread-pool thread
 *   waits on a stuck reader, and no timer of ours keeps the process alive. `drain(ms)` at
 *   shutdown writes what it can within its deadline; pino's own stdout writer instead flushed
 *   synchronously at exit and, with a stuck reader, never exited after SIGTERM.
 *
 * The audit log, not this log, is the durable record.
 */
export class StdoutLog {
  private bufs: string[] = [];
  private waiting = 0;
  private inFlight = 0;
  private writing = false;
  private timer: NodeJS.Timeout | null = null;
  private idle: (() => void)[] = [];
  private broken = false;
  /** Lines dropped since the last note about drops was queued. */
  private dropped = 0;
  /** Lines dropped in all. */
  droppedTotal = 0;

  constructor(
    private readonly fd = 1,
    private readonly maxBytes = LOG_BUFFER_BYTES,
  ) {
    // Node opens stdout as a non-blocking socket or pipe when it is one (libuv sets O_NONBLOCK
    // on the descriptor); a full pipe then answers EAGAIN instead of blocking a pool thread.
    if (fd === 1) void process.stdout.fd;
    process.once('exit', () => this.flushAtExit());
  }

  /** pino's destination interface: one JSON line. */
  write(line: string): boolean {
    if (this.broken) return true;
    if (this.waiting + this.inFlight + line.length > this.maxBytes) {
      this.dropped++;
      this.droppedTotal++;
      return true;
    }
    if (this.dropped > 0) this.noteDrops();
    this.bufs.push(line);
    this.waiting += line.length;
    this.schedule();
    return true;
  }

  /** Resolves true once everything queued is written, false at the deadline (or if the reader is gone). */
  drain(timeoutMs: number): Promise<boolean> {
    this.flush();
    if (!this.writing && this.waiting === 0) return Promise.resolve(!this.broken);
    return new Promise((resolve) => {
      // Held (not unref'd): the caller waits for this, and the retries run meanwhile.
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idle.push(() => {
        clearTimeout(timer);
        resolve(!this.broken);
      });
    });
  }

  /** A line like pino's own saying how many lines were dropped, queued ahead of the next one. */
  private noteDrops(): void {
    const note = JSON.stringify({ level: 40, time: Date.now(), pid: process.pid, dropped: this.dropped, msg: "log lines dropped: the log's reader was not keeping up" }) + '\n';
    this.dropped = 0;
    this.bufs.push(note);
    this.waiting += note.length;
  }

  private schedule(): void {
    if (this.writing) return; // the write in flight starts the next one
    if (this.waiting >= BATCH_BYTES) return this.flush();
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), BATCH_MS);
      this.timer.unref();
    }
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.writing || this.waiting === 0 || this.broken) return;
    const data = Buffer.from(this.bufs.join(''), 'utf8');
    this.bufs = [];
    this.inFlight = this.waiting;
    this.waiting = 0;
    this.writing = true;
    this.writeOut(data);
  }

  private writeOut(data: Buffer): void {
    write(this.fd, data, 0, data.length, null, (err, n) => {
      if (err) {
        if (err.code === 'EAGAIN') {
          // The reader is behind: try again later, without keeping the process alive.
          setTimeout(() => this.writeOut(data), RETRY_MS).unref();
          return;
        }
        // EPIPE (the reader is gone) or anything else: stop writing, as pino does on EPIPE.
        this.broken = true;
        this.bufs = [];
        this.waiting = 0;
        return this.done();
      }
      if (n < data.length) return this.writeOut(data.subarray(n));
      this.done();
    });
  }

  private done(): void {
    this.writing = false;
    this.inFlight = 0;
    if (this.waiting >= BATCH_BYTES || (this.waiting > 0 && this.idle.length > 0)) return this.flush();
    if (this.waiting > 0) return this.schedule();
    for (const f of this.idle.splice(0)) f();
  }

  /** At exit: what still waits, if the reader takes it now; never waits for it. */
  private flushAtExit(): void {
    if (this.writing || this.broken || this.waiting === 0) return;
    const data = Buffer.from(this.bufs.join(''), 'utf8');
    this.bufs = [];
    this.waiting = 0;
    try {
      let off = 0;
      while (off < data.length) off += writeSync(this.fd, data, off, data.length - off);
    } catch {
      /* a full pipe (EAGAIN) or no reader: the rest is lost, the exit goes on */
    }
  }
}
