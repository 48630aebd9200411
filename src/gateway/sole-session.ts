import { performance } from 'node:perf_hooks';
import type { LiveChannel } from './context.js';

/**
 * Whether one agent session has had the gateway to itself for `forMs`: exactly one channel is
 * running, and it belongs to the session seen at every check since. One agent's back-to-back
 * commands keep the event loop more than half busy (measured on a 2-core VM against a fast
 * upstream), yet nobody else waits behind a write made in place; a stream of sessions with one
 * channel each at a time does wait, and changes the session seen almost at every check.
 */
export function soleSession(live: ReadonlySet<LiveChannel>, forMs = 100): () => boolean {
  let seen: string | null = null;
  let since = 0;
  return () => {
    if (live.size !== 1) {
      if (live.size > 1) seen = null;
      return false;
    }
    const [only] = live;
    const now = performance.now();
    if (only!.session !== seen) {
      seen = only!.session;
      since = now;
      return false;
    }
    return now - since >= forMs;
  };
}
