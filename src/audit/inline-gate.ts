import { performance } from 'node:perf_hooks';

export interface InlineGateOptions {
  /**
   * Writes run in place only while the event loop was busy less than this share of the last
   * window, writes in place included (excluding them would let them feed on themselves: under
   * load an fsync slows down, displaces other work and makes the loop look idler than it is).
   */
  maxUtilization: number;
  /** How often the loop's utilisation is sampled, in ms. */
  windowMs: number;
  /** A write in place that took longer than this (ms) means a slow disk... */
  slowMs: number;
  /** ...and keeps writes off the loop for this many times its duration. */
  backoff: number;
  /**
   * Also quiet whatever the utilisation when this says so (the gateway: at most one channel is
   * running, so no other session waits behind the write).
   */
  alone?: () => boolean;
  /**
   * ...but only while the loop was busy less than this share: past it, arrivals keep the loop
   * busy even when few channels run at a time, and a write in place takes capacity from them.
   */
  aloneMaxUtilization: number;
  /**
   * Also quiet whatever the utilisation when this says so (the gateway: one agent session has
   * had it to itself for a while, so its own commands are all that waits).
   */
  solo?: () => boolean;
}

const DEFAULTS: InlineGateOptions = { maxUtilization: 0.2, aloneMaxUtilization: 0.5, windowMs: 50, slowMs: 20, backoff: 50 };

/**
 * Whether a durable write (a commit, an fsync) may run on the event loop now instead of being
 * handed to another thread. A hand-off wakes a thread that, on a quiet machine, sleeps on an
 * idle vCPU: measured on a 2-core VM with 10 ms between commits, a commit took 0.9-1.1 ms on
 * the audit writer thread against 0.4 ms in place, and an append + fsync 0.7-0.8 ms on libuv's
 * thread pool against 0.2 ms. While the loop is mostly idle nobody waits behind a synchronous
 * write, so it runs in place; once the loop is busy (many sessions), the hand-off keeps it
 * relaying meanwhile and group commit batches the load.
 *
 * Two limits: load (the loop's utilisation over the last window; `alone()`, sessions that would
 * wait behind the write, with a looser limit; `solo()`, one agent working by itself), and the
 * disk's speed (one slow write in place, say 100 ms, keeps writes off the loop for the next 5 s;
 * this VM's disk takes 5-15 ms for an odd fsync).
 */
export class InlineGate {
  private readonly opts: InlineGateOptions;
  private offUntil = 0;
  private elu = performance.eventLoopUtilization();
  private sampledAt = performance.now();
  private utilization = 0;
  /** Writes made in place and handed off, and the in-place writes that were slow and closed the gate (diagnostics and tests). */
  readonly counts = { inline: 0, handedOff: 0, slow: 0 };

  constructor(opts: Partial<InlineGateOptions> = {}) {
    this.opts = { ...DEFAULTS, ...opts };
    for (const k of ['alone', 'solo'] as const) {
      if (this.opts[k] !== undefined && typeof this.opts[k] !== 'function') throw new TypeError(`InlineGate ${k} must be a function`);
    }
    for (const k of ['maxUtilization', 'aloneMaxUtilization', 'windowMs', 'slowMs', 'backoff'] as const) {
      if (!(Number.isFinite(this.opts[k]) && this.opts[k] >= 0)) throw new TypeError(`InlineGate ${k} must be a non-negative number`);
    }
  }

  /** Whether a write may run in place now: a light load and a disk not slow lately. Counts a hand-off when not. */
  allows(): boolean {
    const ok = performance.now() >= this.offUntil && this.lightlyLoaded();
    if (!ok) this.counts.handedOff += 1;
    return ok;
  }

  /**
   * The load half of the gate, uncounted: the loop is quiet, or busy with room and nobody else
   * would wait, or one session has it to itself. Also asked by work that pays off only while
   * the gateway is lightly loaded (the upstream channel opened ahead): the disk's speed is no
   * part of that.
   */
  lightlyLoaded(): boolean {
    const now = performance.now();
    if (now - this.sampledAt >= this.opts.windowMs) {
      const next = performance.eventLoopUtilization();
      this.utilization = performance.eventLoopUtilization(next, this.elu).utilization;
      this.elu = next;
      this.sampledAt = now;
    }
    const u = this.utilization;
    return u < this.opts.maxUtilization || (u < this.opts.aloneMaxUtilization && this.opts.alone?.() === true) || this.opts.solo?.() === true;
  }

  /** Run a synchronous write in place; a slow one (also when it throws) closes the gate for a while. */
  run<T>(fn: () => T): T {
    const t0 = performance.now();
    this.counts.inline += 1;
    try {
      return fn();
    } finally {
      const t1 = performance.now();
      if (t1 - t0 > this.opts.slowMs) {
        this.counts.slow += 1;
        this.offUntil = Math.max(this.offUntil, t1 + (t1 - t0) * this.opts.backoff);
      }
    }
  }
}
