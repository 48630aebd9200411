/** What a watcher of a running session receives: masked output, as recorded. */
export interface LiveEvent {
  channel: number;
  kind: 'o' | 'end';
  /** Masked output (UTF-8 text) for 'o'. */
  data?: string;
}

export interface LiveSessionInfo {
  session: string;
  subject: string;
  target: string;
  startedAt: string;
  client: string;
}

/**
 * The control surface the web console uses for running sessions: list them, watch one
 * (read-only: the masked output stream, exactly what the recording gets), terminate one.
 */
export interface GatewayControl {
  liveSessions(): LiveSessionInfo[];
  /** Subscribe to a running session's output; null when the session is not running. */
  subscribe(session: string, fn: (ev: LiveEvent) => void): (() => void) | null;
  /** End a running session (its SSH connection), recorded as a `session.terminated` audit event. */
  terminate(session: string, actor: string, reason: string): Promise<boolean>;
}

/** Fan-out of masked output to watchers; bounded: a watcher is a callback, nothing is queued here. */
export class LiveHub {
  private subs = new Map<string, Set<(ev: LiveEvent) => void>>();

  subscribe(session: string, fn: (ev: LiveEvent) => void): () => void {
    let set = this.subs.get(session);
    if (!set) this.subs.set(session, (set = new Set()));
    set.add(fn);
    return () => {
      set!.delete(fn);
      if (set!.size === 0) this.subs.delete(session);
    };
  }

  hasWatchers(session: string): boolean {
    return this.subs.has(session);
  }

  publish(session: string, ev: LiveEvent): void {
    const set = this.subs.get(session);
    if (!set) return;
    for (const fn of set) {
      try {
        fn(ev);
      } catch {
        /* a broken watcher must not break the session */
      }
    }
  }
}
