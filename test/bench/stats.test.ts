import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuSeconds, quantile, threadCpuSeconds } from '../../bench/stats.js';

test('threadCpuSeconds reads the main thread alone, in seconds', () => {
  const main0 = threadCpuSeconds(process.pid);
  const proc0 = cpuSeconds(process.pid);
  const usage0 = process.cpuUsage();
  // Burn CPU on this (the main) thread until the process has used 200 ms more.
  let x = 0;
  while (process.cpuUsage(usage0).user < 200_000) for (let i = 0; i < 1e5; i++) x += Math.sqrt(i);
  assert.ok(x > 0);
  const main = threadCpuSeconds(process.pid) - main0;
  const proc = cpuSeconds(process.pid) - proc0;
  // The burn ran on the main thread: most of the process's CPU is there, and never more than it
  // (the process figure counts in 10 ms ticks, hence the margin).
  assert.ok(main >= 0.15, `main thread ${main} s`);
  assert.ok(main <= proc + 0.05, `main thread ${main} s > process ${proc} s`);
});

test('threadCpuSeconds fails loudly for a thread that does not exist', () => {
  assert.throws(() => threadCpuSeconds(process.pid, 2 ** 30), /ENOENT/);
});

test('quantile is nearest-rank', () => {
  assert.equal(quantile([5, 1, 4, 2, 3], 0.5), 3);
  assert.equal(quantile([1, 2, 3, 4], 0.99), 4);
  assert.ok(Number.isNaN(quantile([], 0.5)));
});
