// Unit tests of the ratio + segment model on synthetic measurements.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fitModel, STANDARD_RATIOS, type MeasuredPoint } from './model.ts';
import { createRng } from './prng.ts';

const params = { tolerance: 0.012, minRun: 2, strongPoint: 15, freeRatioMinEffect: 0.02, freeRatioSigmas: 8 };

function points(fn: (t: number) => number | null, seconds = 1800, hop = 7.5, noise = 0.0002, seed = 1): MeasuredPoint[] {
  const rng = createRng(seed);
  const out: MeasuredPoint[] = [];
  for (let t = 7.5; t < seconds; t += hop) {
    const d = fn(t);
    if (d !== null) out.push({ masterTime: t, dubTime: d + noise * rng.gaussian(), weight: 20 });
  }
  return out;
}

describe('fitModel', () => {
  for (const s of STANDARD_RATIOS) {
    test(`snaps to ${s.name} from noisy measurements`, () => {
      const m = fitModel(points((t) => s.value * t + 0.25), 1, params);
      assert.equal(m.ratio, s.value);
      assert.equal(m.standard, s.name === '1/1' ? null : s.name);
      assert.equal(m.segments.length, 1);
      assert.ok(Math.abs(m.segments[0]!.intercept - 0.25) < 0.001);
    });
  }
  test('keeps a free ratio when the evidence is strong', () => {
    const m = fitModel(points((t) => 1.0002 * t), 1, params);
    assert.equal(m.standard, null);
    assert.ok(Math.abs(m.ratio - 1.0002) < 2e-6, `ratio ${m.ratio}`);
  });
  test('a tiny slope that moves the offset by less than the minimum effect snaps to 1', () => {
    const m = fitModel(points((t) => (1 + 5e-6) * t, 1800), 1, params);
    assert.equal(m.ratio, 1);
  });
  test('edits give one segment per intercept, outliers are dropped', () => {
    const rng = createRng(9);
    const pts = points((t) => (t < 600 ? t + 1 : t < 1200 ? t - 9 : t + 3)).map((p) =>
      rng.next() < 0.1 ? { ...p, dubTime: p.dubTime + rng.uniform(-30, 30), weight: 6 } : p,
    );
    const m = fitModel(pts, 1, params);
    assert.equal(m.ratio, 1);
    assert.deepEqual(m.segments.map((s) => Math.round(s.intercept)), [1, -9, 3]);
    assert.ok(m.outliers.length > 0);
  });
  test('drift and edits together', () => {
    const r = 25 / 24;
    const m = fitModel(points((t) => (t < 900 ? r * t + 0.5 : r * t - 20)), 1, params);
    assert.equal(m.standard, '25/24');
    assert.equal(m.segments.length, 2);
  });
  test('one strong measurement opens a segment by itself; a weak one does not', () => {
    const strong = points((t) => (t < 10 ? t - 2.5 : t + 10.5), 90);
    const m = fitModel(strong, 1, params);
    assert.deepEqual(m.segments.map((s) => +s.intercept.toFixed(2)), [-2.5, 10.5]);
    const weak = strong.map((p) => (p.masterTime < 10 ? { ...p, weight: 6 } : p));
    assert.deepEqual(fitModel(weak, 1, params).segments.map((s) => +s.intercept.toFixed(2)), [10.5]);
  });
  test('no consistent points: no segments', () => {
    const rng = createRng(3);
    // Chance matches have a low peak-to-noise.
    const pts = points(() => rng.uniform(-100, 100), 600).map((p) => ({ ...p, weight: 6 }));
    const m = fitModel(pts, 1, params);
    assert.equal(m.segments.length, 0);
  });
});
