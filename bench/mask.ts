/**
 * Masking throughput: MB/s of the streaming masker on generated log-like
 * text, with one secret per ~10 KB and without secrets, and on base64 (the
 * gateway's throughput test cats such a file).
 * `npm run bench:mask [-- --quick]`
 */
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { compileMasker } from '../src/masking/index.js';

const CHUNK = 64 * 1024;

function rand(n: number, alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'): string {
  const b = randomBytes(n);
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[b[i]! % alphabet.length];
  return s;
}

const LEVELS = ['INFO', 'DEBUG', 'WARN', 'ERROR'];
const PATHS = ['/api/v1/users', '/healthz', '/api/v1/orders/42', '/static/app.js', '/login'];

/** One log-like line: timestamp, level, request fields, a hex id, durations. */
function logLine(i: number): string {
  const ts = new Date(1_700_000_000_000 + i * 137).toISOString();
  const lvl = LEVELS[i % LEVELS.length];
  const path = PATHS[i % PATHS.length];
  return `${ts} ${lvl} [worker-${i % 8}] GET ${path} status=${200 + (i % 5)} bytes=${(i * 7919) % 100000} dur=${(i % 997) / 10}ms req=${(i * 2654435761 >>> 0).toString(16)} user=alice@example.com msg="request handled"\n`;
}

function fakeSecret(i: number): string {
  switch (i % 4) {
    case 0: return `aws key ${'AK' + 'IA'}${rand(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}\n`;
    case 1: return `export GITHUB_TOKEN=${'gh' + 'p_'}${rand(36)}\n`;
    case 2: return `db_password=${rand(20)}\n`;
    default: return `Authorization: Bearer ${rand(40)}\n`;
  }
}

/** ~`bytes` of log text; a secret line every ~10 KB when `secrets`. */
export function generateLog(bytes: number, secrets: boolean): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let size = 0;
  let nextSecret = 10_000;
  let i = 0;
  while (size < bytes) {
    const line = secrets && size >= nextSecret ? fakeSecret(i) : logLine(i);
    if (secrets && size >= nextSecret) nextSecret += 10_000;
    size += out.write(line, size, 'latin1');
    i++;
  }
  return out.subarray(0, size);
}

/** ~`bytes` of base64 of random bytes in 76-column lines, as `base64` prints it. */
export function generateBase64(bytes: number): Buffer {
  const b64 = randomBytes(Math.ceil((bytes * 57) / 77)).toString('base64');
  return Buffer.from((b64.match(/.{1,76}/g) ?? []).join('\n') + '\n', 'latin1');
}

/** Collect the generator's garbage before timing, so it is not billed to the masker. */
function collectGarbage(): void {
  try {
    v8.setFlagsFromString('--expose-gc');
    (vm.runInNewContext('gc') as () => void)();
  } catch {
    // best effort
  }
}

/**
 * MB/s of one run. `cpu` divides by the CPU time the process used (one core's
 * throughput, unaffected by other load on the machine); `wall` by elapsed time.
 */
async function measure(data: Buffer): Promise<{ cpu: number; wall: number }> {
  const masker = compileMasker();
  let outBytes = 0;
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  await pipeline(
    Readable.from((function* () {
      for (let i = 0; i < data.length; i += CHUNK) yield data.subarray(i, i + CHUNK);
    })()),
    masker.createStream(),
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        outBytes += chunk.length;
        cb();
      },
    }),
  );
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuSecs = (cpu.user + cpu.system) / 1e6;
  if (outBytes === 0) throw new Error('no output');
  return { cpu: data.length / 1e6 / cpuSecs, wall: data.length / 1e6 / secs };
}

let lastCpu = { withSecretsMBps: 0, withoutSecretsMBps: 0, base64MBps: 0 };

export async function runMaskBench(opts: { quick: boolean }): Promise<{ withSecretsMBps: number; withoutSecretsMBps: number; base64MBps: number }> {
  const size = opts.quick ? 10_000_000 : 100_000_000;
  const withSecrets = generateLog(size, true);
  const withoutSecrets = generateLog(size, false);
  const base64 = generateBase64(size);
  await measure(generateLog(4_000_000, true)); // warm-up: JIT and regex tier-up
  await measure(generateBase64(4_000_000));
  collectGarbage();
  const a = await measure(withSecrets);
  collectGarbage();
  const b = await measure(withoutSecrets);
  collectGarbage();
  const c = await measure(base64);
  lastCpu = { withSecretsMBps: a.cpu, withoutSecretsMBps: b.cpu, base64MBps: c.cpu };
  // wall clock on the one thread the masker runs on (CPU time also counts V8's parallel GC threads)
  return { withSecretsMBps: a.wall, withoutSecretsMBps: b.wall, base64MBps: c.wall };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  const r = await runMaskBench({ quick });
  process.stdout.write(
    `mask: ${quick ? 10 : 100} MB log-like text, one secret per ~10 KB: ${r.withSecretsMBps.toFixed(0)} MB/s; without secrets: ${r.withoutSecretsMBps.toFixed(0)} MB/s;` +
      ` base64: ${r.base64MBps.toFixed(0)} MB/s (wall clock; per process CPU-second incl. GC threads:` +
      ` ${lastCpu.withSecretsMBps.toFixed(0)} / ${lastCpu.withoutSecretsMBps.toFixed(0)} / ${lastCpu.base64MBps.toFixed(0)} MB/s)\n`,
  );
}
