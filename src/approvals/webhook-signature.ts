import { createHmac, timingSafeEqual } from 'node:crypto';

/** Receivers reject a timestamp further than this from their clock (older, or from the future). */
export const WEBHOOK_TOLERANCE_SEC = 300;

/** `sha256=<lowercase hex HMAC-SHA256(secret, timestamp + "." + raw body)>` */
export function signWebhook(secret: string, timestamp: string, rawBody: string | Buffer): string {
  const mac = createHmac('sha256', secret);
  mac.update(timestamp + '.');
  mac.update(rawBody);
  return 'sha256=' + mac.digest('hex');
}

/**
 * For receivers (chat bots, integrations): true only when `header` is the signature of
 * `timestamp + "." + rawBody` under `secret` and the timestamp is within 5 minutes of `nowSec`.
 * Pass the body exactly as received (bytes or string), before any JSON parsing.
 */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string | undefined,
  rawBody: string | Buffer,
  header: string | undefined,
  nowSec: number = Math.floor(Date.now() / 1000),
): boolean {
  if (typeof timestamp !== 'string' || !/^\d{1,12}$/.test(timestamp)) return false;
  if (typeof header !== 'string' || !/^sha256=[0-9a-f]{64}$/.test(header)) return false;
  if (Math.abs(nowSec - Number(timestamp)) > WEBHOOK_TOLERANCE_SEC) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, rawBody), 'latin1');
  const got = Buffer.from(header, 'latin1');
  return got.length === expected.length && timingSafeEqual(got, expected);
}
