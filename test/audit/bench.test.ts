import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runAuditBench } from '../../bench/audit.js';

test('audit benchmark (quick) runs, its chain verifies, and throughput is in the right range', async () => {
  const r = await runAuditBench({ quick: true });
  // Far below the goals (5,000 appends/s, 100,000 events/s) so a loaded CI machine does not flake;
  // without group commit 50 awaiting sessions would be fsync-bound well under this.
  assert.ok(r.appendsPerSec > 1000, `appends/s ${r.appendsPerSec}`);
  assert.ok(r.verifyEventsPerSec > 20_000, `verified events/s ${r.verifyEventsPerSec}`);
});
