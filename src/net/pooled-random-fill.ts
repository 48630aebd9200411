import { randomFillSync } from 'node:crypto';

/** Requests up to this size are served from the pool; larger ones go straight to OpenSSL. */
const MAX_POOLED = 256;

export interface PooledRandomFill {
  <T extends NodeJS.ArrayBufferView>(buf: T, offset?: number, size?: number): T;
  /** Requests served from the pool, and refills of the pool (for tests and metrics). */
  stats(): { pooled: number; refills: number };
}

/**
 * A drop-in `crypto.randomFillSync` that serves small requests from a pool of CSPRNG bytes
 * refilled `poolBytes` at a time. Every byte handed out comes from `randomFillSync` and is
 * handed out once. Node's call costs ~4 µs on this kind of VM whatever the size (OpenSSL 3's
 * RAND_bytes), and ssh2 makes one per SSH packet for its padding (RFC 4253 §6: random padding,
 * sent encrypted): a thousand commands a second made it 9 % of the gateway's event loop.
 * Anything the pool does not serve (not a Uint8Array, out-of-range or non-integer arguments,
 * more than 256 bytes) is passed to the real function, which validates and throws as usual.
 */
export function pooledRandomFill(poolBytes = 4096): PooledRandomFill {
  if (!Number.isInteger(poolBytes) || poolBytes < MAX_POOLED) throw new TypeError(`poolBytes must be an integer >= ${MAX_POOLED}`);
  const pool = Buffer.allocUnsafeSlow(poolBytes);
  let pos = poolBytes; // empty: the first request fills it
  let pooled = 0;
  let refills = 0;
  const fill = function <T extends NodeJS.ArrayBufferView>(buf: T, offset?: number, size?: number): T {
    if (buf instanceof Uint8Array) {
      const off = offset === undefined ? 0 : offset;
      const n = size === undefined ? buf.length - off : size;
      if (Number.isInteger(off) && Number.isInteger(n) && off >= 0 && n >= 0 && n <= MAX_POOLED && off + n <= buf.length) {
        if (pos + n > poolBytes) {
          randomFillSync(pool);
          pos = 0;
          refills++;
        }
        pool.copy(buf, off, pos, pos + n);
        pool.fill(0, pos, pos + n); // handed out: nothing of it stays behind
        pos += n;
        pooled++;
        return buf;
      }
    }
    return randomFillSync(buf, offset, size);
  } as PooledRandomFill;
  fill.stats = () => ({ pooled, refills });
  return fill;
}
