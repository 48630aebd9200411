/**
 * The agent's connection going away, for the channels that need to know while they run (one
 * waiting for an approval reads nothing, so ssh2 never emits its own 'close'). Each channel gets
 * its own, linked to the connection's while it runs and unlinked when it ends: a promise's `then`
 * on the connection would keep every finished command's closures (its channels, streams,
 * recorder, maskers) alive for as long as the connection lasts. Measured: ~16 kB of heap per
 * command on a persistent connection, 148 MB after 8,000 commands on 500 sessions.
 */
export class CloseSignal {
  private fns: Set<() => void> | null = new Set();

  /** Call `fn` once when the connection closes (at once if it has); returns the unsubscribe. */
  onClose(fn: () => void): () => void {
    const fns = this.fns;
    if (fns === null) {
      fn();
      return () => undefined;
    }
    fns.add(fn);
    return () => {
      fns.delete(fn);
    };
  }

  /** The connection closed: every subscriber, once; later subscribers run at once. */
  fire(): void {
    const fns = this.fns;
    if (fns === null) return;
    this.fns = null;
    for (const fn of fns) {
      try {
        fn();
      } catch {
        /* one channel's clean-up must not stop the others' */
      }
    }
  }

  /** Subscribers waiting (for leak checks). */
  get size(): number {
    return this.fns?.size ?? 0;
  }
}
