import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSegmentOptions, speechSegments } from './vad-postprocess.ts';

// 100 frames of 10 samples at 1 kHz: one frame = 10 ms, so times read easily.
const FRAME = 10;
const RATE = 1000;
const probsOf = (spans: [from: number, to: number, p: number][], n = 100, base = 0.05): Float64Array => {
  const a = new Float64Array(n).fill(base);
  for (const [from, to, p] of spans) a.fill(p, from, to);
  return a;
};
const seg = (probs: ArrayLike<number>, opts = {}) =>
  speechSegments(probs, FRAME, RATE, probs.length * FRAME, { speechPadMs: 0, ...opts }).map((s) => [round(s.start), round(s.end), round(s.prob)]);
const round = (x: number): number => Math.round(x * 1000) / 1000;

test('a run of frames above threshold is one segment, with its mean probability', () => {
  assert.deepEqual(seg(probsOf([[20, 50, 0.9]])), [[0.2, 0.5, 0.9]]);
});

test('hysteresis: dips between negThreshold and threshold do not end speech; below negThreshold for minSilence does', () => {
  // 0.4 is between 0.35 and 0.5: speech continues through it.
  assert.deepEqual(seg(probsOf([[20, 30, 0.9], [30, 40, 0.4], [40, 50, 0.9]])), [[0.2, 0.5, round((10 * 0.9 + 10 * 0.4 + 10 * 0.9) / 30)]]);
  // 0.4 never starts speech on its own.
  assert.deepEqual(seg(probsOf([[20, 60, 0.4]])), []);
  // A 50 ms dip to 0.1 is shorter than minSilence 100 ms: one segment. 150 ms: two.
  assert.equal(seg(probsOf([[20, 40, 0.9], [45, 70, 0.9]])).length, 1);
  assert.deepEqual(seg(probsOf([[10, 40, 0.9], [55, 85, 0.9]])), [[0.1, 0.4, 0.9], [0.55, 0.85, 0.9]]);
  // Custom thresholds move the decision.
  assert.deepEqual(seg(probsOf([[20, 60, 0.4]]), { threshold: 0.3, negThreshold: 0.2 }), [[0.2, 0.6, 0.4]]);
});

test('segments shorter than minSpeech are dropped; speech running to the end closes at the end', () => {
  assert.deepEqual(seg(probsOf([[20, 40, 0.9]])), []); // 200 ms < 250 ms
  assert.deepEqual(seg(probsOf([[20, 40, 0.9]]), { minSpeechMs: 150 }), [[0.2, 0.4, 0.9]]);
  assert.deepEqual(seg(probsOf([[70, 100, 0.9]])), [[0.7, 1, 0.9]]);
});

test('padding widens segments, clamps at the ends and splits a gap smaller than twice the pad', () => {
  const probs = probsOf([[0, 30, 0.9], [45, 75, 0.9], [88, 100, 0.9]], 100);
  const out = speechSegments(probs, FRAME, RATE, 1000, { speechPadMs: 30, minSpeechMs: 100 }).map((s) => [round(s.start), round(s.end)]);
  // [0, .3] pads to [0 (clamped), .33]; gap .3-.45 = 150 ms >= 60 ms pads both sides;
  // gap .75-.88 = 130 ms too; the last clamps at 1.0.
  assert.deepEqual(out, [[0, 0.33], [0.42, 0.78], [0.85, 1]]);
  const close = probsOf([[10, 40, 0.9], [52, 80, 0.9]], 100);
  // Gap 400-520 ms = 120 ms >= minSilence: two segments; 120 < 2 * 80 ms pad: split at 460 ms.
  const split = speechSegments(close, FRAME, RATE, 1000, { speechPadMs: 80 }).map((s) => [round(s.start), round(s.end)]);
  assert.deepEqual(split, [[0.02, 0.46], [0.46, 0.88]]);
});

test('options are validated', () => {
  const o = resolveSegmentOptions({ threshold: 0.6 });
  assert.ok(Math.abs(o.negThreshold - 0.45) < 1e-9);
  assert.deepEqual({ ...o, negThreshold: 0 }, { threshold: 0.6, negThreshold: 0, minSpeechMs: 250, minSilenceMs: 100, speechPadMs: 30 });
  assert.throws(() => resolveSegmentOptions({ threshold: 1.2 }), RangeError);
  assert.throws(() => resolveSegmentOptions({ threshold: 0.5, negThreshold: 0.6 }), RangeError);
  assert.throws(() => resolveSegmentOptions({ minSpeechMs: -1 }), RangeError);
});
