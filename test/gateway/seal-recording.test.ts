import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { InlineGate, Recorder } from '../../src/audit/index.js';
import type { AuditEventInput } from '../../src/audit/index.js';
import { sealRecording } from '../../src/gateway/open-channel-io.js';
import type { GatewayDeps } from '../../src/gateway/context.js';
import { tmpDir } from '../audit/helpers.js';

/** An audit log that records what was appended and when each append settles (the test's own). */
function fakeAudit(failTypes: string[] = []) {
  const appended: AuditEventInput[] = [];
  const pending: { type: string; release(): void }[] = [];
  return {
    appended,
    pending,
    /** Commits are held until released, to see what the caller waits for. */
    audit: {
      append(e: AuditEventInput): Promise<{ seq: number; hash: string }> {
        appended.push(e);
        return new Promise((resolve, reject) => {
          pending.push({
            type: e.type,
            release: () => (failTypes.includes(e.type) ? reject(new Error(`cannot write ${e.type}`)) : resolve({ seq: appended.indexOf(e) + 1, hash: 'h' })),
          });
        });
      },
    },
  };
}

const base = { session: 'sess-1', subject: 'agent', target: 't', channel: 0 };
const errors: unknown[] = [];
const log = { error: (o: unknown) => errors.push(o) } as unknown as GatewayDeps['log'];

test("the closing event's commit runs alongside the recording's fsync; recording.sealed is queued only once both are durable", async (t) => {
  const dir = tmpDir(t);
  const rec = await Recorder.open({ dir, session: 'sess-1', channel: 0, width: 80, height: 24, recordInput: false });
  rec.output('hello\r\n');
  const a = fakeAudit();
  let settled = false;
  const done = sealRecording({ audit: a.audit, log } as unknown as GatewayDeps, base, rec, { type: 'command.result', ...base, exit: 0 }).then(() => (settled = true));
  // Before the seal's fsync has finished, the result is already on its way to the log.
  assert.deepEqual(a.appended.map((e) => e.type), ['command.result']);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(settled, false, 'the caller (and so the exit status) waits for the result to be durable');
  assert.deepEqual(a.appended.map((e) => e.type), ['command.result'], 'no recording.sealed before the result is committed');
  a.pending[0]!.release();
  await done;
  assert.deepEqual(a.appended.map((e) => e.type), ['command.result', 'recording.sealed']);
  const sealed = a.appended[1]!;
  const bytes = readFileSync(rec.file);
  assert.equal(sealed.file, path.basename(rec.file));
  assert.equal(sealed.size, bytes.length);
  assert.equal(sealed.sha256, createHash('sha256').update(bytes).digest('hex'));
  // Not awaited by the caller: its commit overlaps the agent reading its exit status.
  a.pending[1]!.release();
});

test('a recording that cannot be sealed: the result is committed all the same, recording.failed says why, and the caller hears of it', async (t) => {
  const dir = tmpDir(t);
  const rec = await Recorder.open({ dir, session: 'sess-1', channel: 1, width: 80, height: 24, recordInput: false });
  await rec.discard(); // sealing it now fails
  const a = fakeAudit();
  const done = sealRecording({ audit: a.audit, log } as unknown as GatewayDeps, base, rec, { type: 'command.result', ...base, exit: 0 });
  a.pending[0]!.release();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(a.appended.map((e) => e.type), ['command.result', 'recording.failed']);
  assert.equal(a.appended[1]!.file, 'sess-1-1.cast');
  assert.match(String(a.appended[1]!.error), /discarded/);
  a.pending[1]!.release();
  await assert.rejects(done, /discarded/);
});

test('a result that cannot be committed rejects, and the recording is still sealed in the log', async (t) => {
  const dir = tmpDir(t);
  const rec = await Recorder.open({ dir, session: 'sess-1', channel: 2, width: 80, height: 24, recordInput: false });
  const a = fakeAudit(['command.result']);
  const done = sealRecording({ audit: a.audit, log } as unknown as GatewayDeps, base, rec, { type: 'command.result', ...base, exit: 0 });
  a.pending[0]!.release();
  await assert.rejects(done, /cannot write command.result/);
  assert.deepEqual(a.appended.map((e) => e.type), ['command.result', 'recording.sealed']);
  a.pending[1]!.release();
});

test('offLoop: the seal never fsyncs on the event loop, even while the gate would allow it', async (t) => {
  const dir = tmpDir(t);
  const gate = new InlineGate({ alone: () => true });
  assert.equal(gate.allows(), true, 'a quiet gate');
  const inPlace = await Recorder.open({ dir, session: 'sess-2', channel: 0, width: 80, height: 24, recordInput: false, inline: gate });
  await inPlace.seal();
  assert.equal(gate.counts.inline, 1, 'without offLoop the quiet gate runs the fsync in place');
  const off = await Recorder.open({ dir, session: 'sess-2', channel: 1, width: 80, height: 24, recordInput: false, inline: gate });
  await off.seal({ offLoop: true });
  assert.equal(gate.counts.inline, 1, 'with offLoop it goes to the thread pool');
});
