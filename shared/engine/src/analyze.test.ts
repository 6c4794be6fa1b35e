// End-to-end engine tests on analytic programmes with known delays, speed ratios and edits.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { analyzePair } from './analyze.ts';
import { concat, mix, remix, synthBed, synthDialogue, toInt16, transform } from './testing/signals.ts';

const SR = 8000;
const bed = synthBed(150, SR, 1);
const master = mix(bed, synthDialogue(150, SR, 11));
/** The dub: the same bed remixed, with other "dialogue", then shifted/stretched. */
const dubOf = (offset: number, ratio = 1, seed = 3) => transform(mix(remix(bed, SR, seed), synthDialogue(150, SR, 12)), SR, offset, ratio);
const run = (dub: Float32Array | Int16Array, m: Float32Array | Int16Array = master) =>
  analyzePair({ master: { samples: m, sampleRate: SR }, dub: { samples: dub, sampleRate: SR } });

describe('offset and sign convention', () => {
  test('a dub that starts 2.5 s late reports +2.5 s, "late", verdict offset', () => {
    const r = run(dubOf(2.5));
    assert.equal(r.match, true);
    assert.equal(r.verdict, 'offset');
    assert.ok(Math.abs(r.offset_seconds! - 2.5) < 1e-4, `offset ${r.offset_seconds}`);
    assert.match(r.summary, /late/);
    assert.ok(r.frames!['25'].frames > 62 && r.frames!['25'].frames < 63);
    assert.ok(r.confidence > 0.9);
  });
  test('a dub that starts early reports a negative offset, "early"', () => {
    const r = run(dubOf(-0.7321));
    assert.ok(Math.abs(r.offset_seconds! + 0.7321) < 1e-4, `offset ${r.offset_seconds}`);
    assert.match(r.summary, /early/);
  });
  test('sub-sample offsets are measured to well under a millisecond (Int16 input)', () => {
    for (const off of [0.0137, 0.00006, -0.00431]) {
      const r = run(toInt16(dubOf(off)), toInt16(master));
      assert.ok(Math.abs(r.offset_seconds! - off) < 1e-4, `${off}: got ${r.offset_seconds}`);
      assert.equal(r.verdict, Math.abs(off) < 1 / 24 ? 'in_sync' : 'offset');
    }
  });
  test('an offset of minutes over the full overlap is found', () => {
    const long = mix(synthBed(300, SR, 5), synthDialogue(300, SR, 6));
    const dub = transform(mix(remix(long, SR, 2)), SR, -95.25).subarray(0, 200 * SR);
    const r = run(dub, long);
    assert.ok(Math.abs(r.offset_seconds! + 95.25) < 1e-3, `offset ${r.offset_seconds}`);
  });
});

describe('drift', () => {
  const cases: [string, number][] = [
    ['1001/1000', 1001 / 1000],
    ['1000/1001', 1000 / 1001],
    ['25/24', 25 / 24],
    ['24/25', 24 / 25],
    ['25/23.976', 25 / (24000 / 1001)],
    ['23.976/25', 24000 / 1001 / 25],
  ];
  for (const [name, ratio] of cases) {
    test(`recognises ${name}`, () => {
      const r = run(dubOf(0.4, ratio));
      assert.equal(r.drift?.standard, name);
      assert.ok(Math.abs(r.drift!.speed_ratio - ratio) < 1e-9);
      assert.equal(r.verdict, 'drift');
      assert.equal(r.drift!.direction, ratio > 1 ? 'late' : 'early');
      assert.ok(Math.abs(r.offset_seconds! - 0.4) < 1e-3, `offset ${r.offset_seconds}`);
    });
  }
  test('a free ratio is reported when the evidence is strong, with its ppm', () => {
    const ratio = 1 + 350e-6;
    const r = run(dubOf(0.1, ratio));
    assert.equal(r.drift?.standard, null);
    assert.ok(Math.abs(r.drift!.ppm - 350) < 5, `ppm ${r.drift!.ppm}`);
  });
  test('no drift: ratio exactly 1 and no standard named', () => {
    const r = run(dubOf(0.3));
    assert.equal(r.drift!.speed_ratio, 1);
    assert.equal(r.drift!.standard, null);
  });
});

describe('edits', () => {
  const dub = mix(remix(bed, SR, 3), synthDialogue(150, SR, 12));
  test('a scene cut from the dub is a removed gap with boundaries within 0.5 s', () => {
    const cut = concat(dub.subarray(0, 50 * SR), dub.subarray(75 * SR));
    const r = run(cut);
    assert.equal(r.verdict, 'edited');
    assert.equal(r.segments.length, 2);
    const gap = r.gaps.find((g) => g.kind === 'removed');
    assert.ok(gap, JSON.stringify(r.gaps));
    assert.ok(Math.abs(gap.master_start - 50) < 0.5 && Math.abs(gap.master_end - 75) < 0.5, JSON.stringify(gap));
    assert.ok(Math.abs(r.segments[1]!.offset_seconds + 25) < 1e-3);
  });
  test('material inserted in the dub is an inserted gap', () => {
    const ins = concat(dub.subarray(0, 80 * SR), synthBed(12, SR, 99), dub.subarray(80 * SR));
    const r = run(ins);
    assert.equal(r.verdict, 'edited');
    const gap = r.gaps.find((g) => g.kind === 'inserted');
    assert.ok(gap, JSON.stringify(r.gaps));
    assert.ok(Math.abs(gap.dub_start - 80) < 0.5 && Math.abs(gap.duration_seconds - 12) < 0.05, JSON.stringify(gap));
  });
  test('a break of silence inserted in the dub is an inserted gap', () => {
    const ins = concat(dub.subarray(0, 60 * SR), new Float32Array(5 * SR), dub.subarray(60 * SR));
    const r = run(ins);
    const gap = r.gaps.find((g) => g.kind === 'inserted');
    assert.ok(gap && Math.abs(gap.dub_start - 60) < 0.5 && Math.abs(gap.duration_seconds - 5) < 0.05, JSON.stringify(r.gaps));
  });
});

describe('no match', () => {
  test('unrelated content of the same style is no match, never a confident number', () => {
    for (const seed of [21, 22, 23]) {
      const other = mix(synthBed(150, SR, seed), synthDialogue(150, SR, seed + 100));
      const r = run(other);
      assert.equal(r.match, false, `seed ${seed}: ${r.summary}`);
      assert.equal(r.verdict, 'no_match');
      assert.equal(r.offset_seconds, null);
    }
  });
  test('a silent dub is no match with that reason', () => {
    const r = run(new Float32Array(60 * SR));
    assert.equal(r.verdict, 'no_match');
    assert.match(r.reasons.join(' '), /silent/);
  });
});

describe('property: random offsets and ratios', () => {
  test('offset within 1 ms and the ratio named for any offset in +-20 s and any standard ratio', () => {
    const ratios = [1, 1001 / 1000, 1000 / 1001, 25 / 24, 24 / 25];
    fc.assert(
      fc.property(fc.double({ min: -20, max: 20, noNaN: true }), fc.constantFrom(...ratios), (offset, ratio) => {
        const r = run(dubOf(offset, ratio));
        return r.match && Math.abs(r.offset_seconds! - offset) < 1e-3 && Math.abs(r.drift!.speed_ratio - ratio) < 1e-9;
      }),
      { numRuns: 12, seed: 4242 },
    );
  });
});
