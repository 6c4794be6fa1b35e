import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linearScale, niceTicks, offsetRange, timeTicks } from './plot.ts';

test('nice ticks use 1/2/5 steps and cover the range', () => {
  assert.deepEqual(niceTicks(0, 10, 5), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(-45, 480, 5), [0, 200, 400]);
  assert.deepEqual(niceTicks(-0.3, 0.25, 5), [-0.2, 0, 0.2]);
  assert.deepEqual(niceTicks(-0.3, 0.25, 10), [-0.3, -0.2, -0.1, 0, 0.1, 0.2]);
  assert.deepEqual(niceTicks(3, 3), [3]);
});

test('time ticks step at operator-friendly intervals', () => {
  assert.deepEqual(timeTicks(25, 8), [0, 5, 10, 15, 20, 25]);
  assert.equal(timeTicks(7200, 8)[1], 900);
});

test('scales invert', () => {
  const s = linearScale(0, 40, 100, 500);
  assert.equal(s(20), 300);
  assert.equal(s.invert(300), 20);
});

test('the offset range is padded and never narrower than the minimum span', () => {
  const [lo, hi] = offsetRange([480, 481]);
  assert.ok(lo < 480 && hi > 481 && hi - lo >= 80);
  assert.deepEqual(offsetRange([]), [-40, 40]);
});
