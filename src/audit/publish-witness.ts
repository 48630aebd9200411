import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

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
 * failure to reach it is logged, not fatal: the chain itself is already committed.
 * The file gets one whole line per append (a single write), so a crash cannot leave half a line.
 */
export function publishWitness(
  entry: WitnessEntry,
  file: string | null,
  url: string | null,
  logger: Logger | undefined,
): Promise<void> | null {
  const line = JSON.stringify({ seq: entry.seq, hash: entry.hash, jws: entry.jws }) + '\n';
  if (file) {
    try {
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      appendFileSync(file, line, { mode: 0o600 });
    } catch (err) {
      logger?.warn({ file, seq: entry.seq, err: (err as Error).message }, 'could not write audit checkpoint to the witness file');
    }
  }
  if (!url) return null;
  return fetch(url, {
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
  );
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
