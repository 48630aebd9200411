import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CloseSignal } from '../../src/gateway/close-signal.js';

test('CloseSignal: subscribers run once on fire; unsubscribed ones do not; late ones at once', () => {
  const s = new CloseSignal();
  const calls: string[] = [];
  s.onClose(() => calls.push('a'));
  const offB = s.onClose(() => calls.push('b'));
  s.onClose(() => {
    throw new Error('one broken clean-up');
  });
  s.onClose(() => calls.push('c'));
  assert.equal(s.size, 4);
  offB();
  assert.equal(s.size, 3, 'unsubscribing releases the callback');
  s.fire();
  assert.deepEqual(calls, ['a', 'c'], 'b unsubscribed; a throwing subscriber does not stop the others');
  assert.equal(s.size, 0, 'nothing kept after firing');
  s.fire();
  assert.deepEqual(calls, ['a', 'c'], 'fires once');
  const off = s.onClose(() => calls.push('late'));
  assert.deepEqual(calls, ['a', 'c', 'late'], 'a subscriber after the close runs at once');
  off();
});
