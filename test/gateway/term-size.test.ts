import { test } from 'node:test';
import assert from 'node:assert/strict';
import { termSize } from '../../src/gateway/term-size.js';

test('termSize: zero and junk are unknown (fallback), sizes past the limits are cut', () => {
  assert.deepEqual(termSize({ cols: 120, rows: 40, width: 800, height: 600 }), { cols: 120, rows: 40, width: 800, height: 600 });
  assert.deepEqual(termSize({ cols: 0, rows: 0, width: 0, height: 0 }), { cols: 80, rows: 24, width: 0, height: 0 });
  assert.deepEqual(termSize({ cols: 2 ** 32 - 1, rows: 70_000, width: 2 ** 32 - 1, height: 1 }), { cols: 1000, rows: 1000, width: 65_535, height: 1 });
  assert.deepEqual(termSize({ cols: 1.5, rows: -3, width: NaN, height: '9' }), { cols: 80, rows: 24, width: 0, height: 0 });
  const current = { cols: 132, rows: 50, width: 640, height: 480 };
  assert.deepEqual(termSize({ cols: 0, rows: 0, width: 0, height: 0 }, current), current, 'a window-change of zeros keeps the size');
  assert.deepEqual(termSize({ cols: 100, rows: 0 }, current), { cols: 100, rows: 50, width: 640, height: 480 });
});
