import { signWebhook } from './webhook-signature.js';

export interface WebhookLogger {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
}

export interface DeliveryOptions {
  url: string;
  secret: string;
  /** The JSON body, signed and sent byte for byte. */
  body: string;
  logger: WebhookLogger;
  /** Aborted when the broker stops. */
  signal: AbortSignal;
  /** False once the request is no longer pending: retrying is then pointless. */
  stillWanted: () => boolean;
  maxAttempts?: number;
  baseDelayMs?: number;
  attemptTimeoutMs?: number;
}

/** What a log line may say about a webhook: its origin only (chat webhook paths often embed a secret). */
export function webhookLabel(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    t.unref();
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/**
 * POST one signed notification, retrying with exponential backoff (a bounded number of times)
 * on network errors, 408, 429 and 5xx. Each attempt is signed with a fresh timestamp so that
 * late retries still pass the receiver's 5-minute window. Returns whether it was delivered.
 */
export async function deliverWebhook(o: DeliveryOptions): Promise<boolean> {
  const maxAttempts = o.maxAttempts ?? 5;
  const base = o.baseDelayMs ?? 500;
  const label = webhookLabel(o.url);
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    if (o.signal.aborted || !o.stillWanted()) return false;
    const ts = String(Math.floor(Date.now() / 1000));
    let retryable = true;
    try {
      const res = await fetch(o.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-shellgate-timestamp': ts,
          'x-shellgate-signature': signWebhook(o.secret, ts, o.body),
        },
        body: o.body,
        redirect: 'error',
        signal: AbortSignal.any([o.signal, AbortSignal.timeout(o.attemptTimeoutMs ?? 10_000)]),
      });
      await res.body?.cancel().catch(() => {});
      if (res.ok) {
        o.logger.info({ webhook: label, attempt, status: res.status }, 'approval webhook delivered');
        return true;
      }
      retryable = res.status === 408 || res.status === 429 || res.status >= 500;
      o.logger.warn({ webhook: label, attempt, status: res.status, retry: retryable && attempt < maxAttempts }, 'approval webhook failed');
    } catch (err) {
      if (o.signal.aborted) return false;
      const e = err as { name?: string; cause?: { code?: string } };
      o.logger.warn(
        { webhook: label, attempt, error: e.cause?.code ?? e.name ?? 'error', retry: attempt < maxAttempts },
        'approval webhook failed',
      );
    }
    if (!retryable) return false;
    if (attempt < maxAttempts) await sleep(Math.min(base * 2 ** (attempt - 1), 30_000), o.signal);
  }
  return false;
}
