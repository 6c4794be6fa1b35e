import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  FRAME_RATES,
  offsetToFrames,
  formatTimecode,
  framesToTimecode,
  parseTimecode,
  framesTable,
  frameRateKeyFor,
  describeOffset,
} from './frames.ts';
import { FRAME_RATE_KEYS } from './result.ts';
import { createRng } from './prng.ts';

describe('FRAME_RATES', () => {
  test('covers every result key with exact rationals', () => {
    for (const key of FRAME_RATE_KEYS) {
      const r = FRAME_RATES[key];
      assert.equal(r.key, key);
      assert.equal(r.fps, r.num / r.den);
      assert.ok(Math.abs(r.fps - r.nominal) / r.nominal < 0.0011, key);
    }
    assert.equal(FRAME_RATES['23.976'].fps, 24000 / 1001);
    assert.equal(FRAME_RATES['29.97'].fps, 30000 / 1001);
    assert.equal(FRAME_RATES['59.94'].fps, 60000 / 1001);
    const df = FRAME_RATE_KEYS.filter((k) => FRAME_RATES[k].dropFrame);
    assert.deepEqual(df, ['29.97df']);
  });
});

describe('offsetToFrames', () => {
  test('signed, fractional', () => {
    assert.equal(offsetToFrames(1, '25'), 25);
    assert.equal(offsetToFrames(-1.5, '24'), -36);
    assert.ok(Math.abs(offsetToFrames(1.234, '23.976') - (1.234 * 24000) / 1001) < 1e-12);
    assert.ok(Math.abs(offsetToFrames(0.02, '25') - 0.5) < 1e-12);
  });
});

describe('formatTimecode', () => {
  test('known values', () => {
    assert.equal(formatTimecode(1, '25'), '+00:00:01:00');
    assert.equal(formatTimecode(-1.5, '24'), '-00:00:01:12');
    assert.equal(formatTimecode(0, '25'), '+00:00:00:00');
    assert.equal(formatTimecode(-0.001, '25'), '+00:00:00:00', 'rounds to zero frames: no minus sign');
    assert.equal(formatTimecode(0.02, '25'), '+00:00:00:01', '0.5 frame rounds up');
    assert.equal(formatTimecode(3723.5, '50'), '+01:02:03:25');
    assert.equal(formatTimecode(-0.5, '60'), '-00:00:00:30');
    assert.equal(formatTimecode(90000, '25'), '+25:00:00:00', 'hours do not wrap');
  });

  test('29.97 drop-frame: one hour is 107892 frames = 01:00:00;00', () => {
    const fps = 30000 / 1001;
    assert.equal(Math.round(3600 * fps), 107892);
    assert.equal(formatTimecode(3600, '29.97df'), '+01:00:00;00');
    assert.equal(framesToTimecode(107892, '29.97df'), '01:00:00;00');
    assert.equal(formatTimecode(-3600, '29.97df'), '-01:00:00;00');
  });

  test('29.97 drop-frame: ten minutes and minute boundaries', () => {
    assert.equal(formatTimecode(600, '29.97df'), '+00:10:00;00'); // 17982 frames
    assert.equal(framesToTimecode(17982, '29.97df'), '00:10:00;00');
    assert.equal(framesToTimecode(1799, '29.97df'), '00:00:59;29');
    assert.equal(framesToTimecode(1800, '29.97df'), '00:01:00;02');
    assert.equal(formatTimecode((1800 * 1001) / 30000, '29.97df'), '+00:01:00;02');
    assert.equal(framesToTimecode(1800 + 1797, '29.97df'), '00:01:59;29');
    assert.equal(framesToTimecode(1800 + 1798, '29.97df'), '00:02:00;02');
    assert.equal(framesToTimecode(17981, '29.97df'), '00:09:59;29');
    assert.equal(framesToTimecode(17982 + 1800, '29.97df'), '00:11:00;02');
  });

  test('29.97 and 23.976 non-drop count real frames with the nominal base', () => {
    // 3600 s at 29.97 = 107892 frames; labelled at 30/s that is 00:59:56;12 -> NDF 00:59:56:12
    assert.equal(formatTimecode(3600, '29.97'), '+00:59:56:12');
    assert.equal(formatTimecode(1, '23.976'), '+00:00:01:00'); // 23.976 frames rounds to 24
    assert.equal(formatTimecode(0.95, '23.976'), '+00:00:00:23');
    assert.equal(formatTimecode(1.5, '23.976'), '+00:00:01:12');
  });

  test('59.94: non-drop, and drop-frame (4 per minute) on request', () => {
    assert.equal(formatTimecode(0.98, '59.94'), '+00:00:00:59');
    assert.equal(framesToTimecode(3600, '59.94', { dropFrame: true }), '00:01:00;04');
    assert.equal(framesToTimecode(3599, '59.94', { dropFrame: true }), '00:00:59;59');
    assert.equal(formatTimecode(3600, '59.94', { dropFrame: true }), '+01:00:00;00'); // 215784 frames
    assert.equal(Math.round(3600 * (60000 / 1001)), 215784);
    assert.throws(() => formatTimecode(1, '25', { dropFrame: true }), RangeError);
  });

  test('rejects non-finite input', () => {
    assert.throws(() => formatTimecode(Number.NaN, '25'), RangeError);
    assert.throws(() => framesToTimecode(-1, '25'), RangeError);
    assert.throws(() => framesToTimecode(1.5, '25'), RangeError);
  });
});

describe('parseTimecode', () => {
  test('known values and invalid drop-frame labels', () => {
    assert.equal(parseTimecode('+01:00:00;00', '29.97df'), 107892);
    assert.equal(parseTimecode('00:01:00;02', '29.97df'), 1800);
    assert.equal(parseTimecode('-00:00:01:12', '24'), -36);
    assert.equal(parseTimecode('00:10:00;00', '29.97'), 17982, "';' implies drop-frame at 29.97");
    assert.throws(() => parseTimecode('00:01:00;00', '29.97df'), RangeError);
    assert.throws(() => parseTimecode('00:01:00;01', '29.97df'), RangeError);
    assert.equal(parseTimecode('00:10:00;00', '29.97df'), 17982, 'tenth minutes keep ;00');
    assert.throws(() => parseTimecode('00:00:00:25', '25'), RangeError);
    assert.throws(() => parseTimecode('garbage', '25'), RangeError);
  });

  test('every frame count round-trips through drop-frame labels (first 40 minutes)', () => {
    let prev = '';
    for (let n = 0; n < 17982 * 4; n++) {
      const tc = framesToTimecode(n, '29.97df');
      assert.notEqual(tc, prev);
      const back = parseTimecode(tc, '29.97df');
      if (back !== n) assert.fail(`frame ${n} -> ${tc} -> ${back}`);
      prev = tc;
    }
  });

  test('random offsets round-trip at every rate', () => {
    const rng = createRng(20240601);
    for (let i = 0; i < 3000; i++) {
      // log-uniform magnitudes from 1 ms to ~28 h, random sign
      const mag = Math.exp(rng.uniform(Math.log(0.001), Math.log(100000)));
      const s = rng.next() < 0.5 ? -mag : mag;
      for (const key of FRAME_RATE_KEYS) {
        const tc = formatTimecode(s, key);
        const frames = parseTimecode(tc, key);
        const expected = Math.round(Math.abs(s) * FRAME_RATES[key].fps);
        assert.equal(Math.abs(frames), expected, `${s} @ ${key}: ${tc}`);
        if (expected > 0) assert.equal(Math.sign(frames), Math.sign(s), `${s} @ ${key}: ${tc}`);
        // the parsed frame count is within half a frame of the exact fractional frames
        assert.ok(Math.abs(frames - offsetToFrames(s, key)) <= 0.5 + 1e-9, `${s} @ ${key}`);
      }
      const df = formatTimecode(s, '59.94', { dropFrame: true });
      assert.equal(Math.abs(parseTimecode(df, '59.94')), Math.round(mag * FRAME_RATES['59.94'].fps), df);
    }
  });
});

describe('framesTable', () => {
  test('one entry per key, consistent with the functions', () => {
    const t = framesTable(-1.25);
    assert.deepEqual(Object.keys(t).sort(), [...FRAME_RATE_KEYS].sort());
    for (const key of FRAME_RATE_KEYS) {
      assert.equal(t[key].frames, offsetToFrames(-1.25, key));
      assert.equal(t[key].timecode, formatTimecode(-1.25, key));
    }
    assert.equal(t['25'].timecode, '-00:00:01:06');
    assert.ok(t['29.97df'].timecode.includes(';'));
    assert.ok(!t['29.97'].timecode.includes(';'));
  });
});

describe('frameRateKeyFor', () => {
  test('nearest key within 0.01 fps', () => {
    assert.equal(frameRateKeyFor(23.976), '23.976');
    assert.equal(frameRateKeyFor(24000 / 1001), '23.976');
    assert.equal(frameRateKeyFor(24), '24');
    assert.equal(frameRateKeyFor(25.004), '25');
    assert.equal(frameRateKeyFor(29.97), '29.97');
    assert.equal(frameRateKeyFor(30000 / 1001, { dropFrame: true }), '29.97df');
    assert.equal(frameRateKeyFor(59.94), '59.94');
    assert.equal(frameRateKeyFor(60), '60');
    assert.equal(frameRateKeyFor(50), '50');
  });
  test('null when nothing is close', () => {
    assert.equal(frameRateKeyFor(null), null);
    assert.equal(frameRateKeyFor(12), null);
    assert.equal(frameRateKeyFor(24.5), null);
    assert.equal(frameRateKeyFor(23.99), null);
    assert.equal(frameRateKeyFor(0), null);
    assert.equal(frameRateKeyFor(Number.NaN), null);
  });
});

describe('describeOffset', () => {
  test('operator words', () => {
    assert.equal(describeOffset(1.234, '23.976'), 'dub is 1.234 s (29.6 frames @ 23.976) late');
    assert.equal(describeOffset(-0.02, '25'), 'dub is 0.020 s (0.5 frames @ 25) early');
    assert.equal(describeOffset(0, '25'), 'dub is in sync (0.000 s)');
    assert.equal(describeOffset(0.0004, '25'), 'dub is in sync (0.000 s)');
    assert.equal(describeOffset(-0.0004, '24'), 'dub is in sync (0.000 s)');
    assert.equal(describeOffset(0.0006, '25'), 'dub is 0.001 s (0.0 frames @ 25) late');
    assert.equal(describeOffset(2, '29.97df'), 'dub is 2.000 s (59.9 frames @ 29.97 DF) late');
  });
  test('random offsets: the words carry the sign, the seconds and the frames', () => {
    const rng = createRng(7);
    for (let i = 0; i < 500; i++) {
      const s = rng.uniform(-10, 10);
      if (Math.abs(s) < 0.001) continue;
      const text = describeOffset(s, '25');
      const m = /^dub is (\d+\.\d{3}) s \((\d+\.\d) frames @ 25\) (late|early)$/.exec(text);
      assert.ok(m, text);
      assert.equal(m[3], s > 0 ? 'late' : 'early');
      assert.ok(Math.abs(Number(m[1]) - Math.abs(s)) <= 0.0005 + 1e-12, text);
      assert.ok(Math.abs(Number(m[2]) - Math.abs(s) * 25) <= 0.05 + 1e-9, text);
    }
  });
});
