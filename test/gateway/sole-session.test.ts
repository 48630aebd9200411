import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LiveChannel } from '../../src/gateway/context.js';
import { soleSession } from '../../src/gateway/sole-session.js';

const channel = (session: string): LiveChannel => ({ session, done: Promise.resolve(), terminate: () => undefined });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('soleSession: one agent session with the gateway to itself for forMs', async () => {
  const live = new Set<LiveChannel>();
  const solo = soleSession(live, 30);
  assert.equal(solo(), false, 'no channel running');
  const a1 = channel('A');
  live.add(a1);
  assert.equal(solo(), false, 'first sight of A');
  await sleep(40);
  assert.equal(solo(), true, 'A alone for 30 ms');
  live.delete(a1);
  assert.equal(solo(), false, 'between two commands: nothing running');
  live.add(channel('A'));
  assert.equal(solo(), true, "A's next command: still the same session");
});

test('soleSession: another session, or a second channel, starts the wait again', async () => {
  const live = new Set<LiveChannel>();
  const solo = soleSession(live, 30);
  const a = channel('A');
  live.add(a);
  solo();
  await sleep(40);
  assert.equal(solo(), true);
  // Many sessions with one channel each at a time: the session seen changes at every check.
  live.clear();
  for (const s of ['B', 'C', 'D', 'B']) {
    live.add(channel(s));
    assert.equal(solo(), false, `session ${s}`);
    live.clear();
  }
  live.add(a);
  assert.equal(solo(), false, 'A again, but others were seen since');
  await sleep(40);
  assert.equal(solo(), true);
  const a2 = channel('A');
  live.add(a2);
  assert.equal(solo(), false, 'two channels running');
  live.delete(a2);
  assert.equal(solo(), false, 'a second channel resets the wait, even of the same session');
  await sleep(40);
  assert.equal(solo(), true);
});
