import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { detectHead, headMask } from './head.ts';
import type { HeadFinding, HeadReport } from './result.ts';
import { HeadReport as HeadReportSchema } from './result.ts';
import { createRng } from './prng.ts';
import type { Rng } from './prng.ts';

const SR = 8000;
const dbToAmp = (db: number): number => Math.pow(10, db / 20);

// ---- signal builders ----
function silence(seconds: number, sr = SR): Float32Array {
  return new Float32Array(Math.round(seconds * sr));
}

/** A sine at `peakDbfs` peak level; optional gaps (zeroed) or dips (level changes) given in seconds. */
function tone(seconds: number, hz: number, peakDbfs: number, sr = SR, phase = 0): Float32Array {
  const out = new Float32Array(Math.round(seconds * sr));
  const a = dbToAmp(peakDbfs);
  for (let i = 0; i < out.length; i++) out[i] = a * Math.sin((2 * Math.PI * hz * i) / sr + phase);
  return out;
}

/** Programme: a noise bed plus changing chords (with harmonics) and noise bursts. */
function programme(seconds: number, rng: Rng, sr = SR, bedDbfs = -40): Float32Array {
  const n = Math.round(seconds * sr);
  const out = new Float32Array(n);
  const bed = dbToAmp(bedDbfs);
  for (let i = 0; i < n; i++) out[i] = bed * rng.gaussian();
  const seg = Math.round(0.3 * sr);
  for (let s = 0; s < n; s += seg) {
    const notes = [0, 1, 2].map(() => rng.uniform(150, 900));
    const amp = rng.uniform(0.03, 0.1);
    for (let i = s; i < Math.min(n, s + seg); i++) {
      const t = (i - s) / sr;
      const env = Math.exp(-t * 4);
      let v = 0;
      for (const f0 of notes) for (let h = 1; h <= 4; h++) v += Math.sin(2 * Math.PI * f0 * h * (i / sr)) / h;
      out[i]! += amp * env * v;
    }
    if (rng.next() < 0.5) {
      const start = s + rng.int(seg);
      const len = Math.round(rng.uniform(0.05, 0.2) * sr);
      const g = rng.uniform(0.05, 0.2);
      for (let i = start; i < Math.min(n, start + len); i++) out[i]! += g * rng.gaussian();
    }
  }
  return out;
}

function concat(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const dur = (a: Float32Array, sr = SR): number => a.length / sr;
const ofKind = (r: HeadReport, k: HeadFinding['kind']): HeadFinding[] => r.findings.filter((f) => f.kind === k);
function near(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (±${tol})`);
}

describe('detectHead: line-up head', () => {
  test('tone, silence, 2-pop, silence, programme', () => {
    const rng = createRng(1);
    const toneLen = 60.013;
    const pop = 1 / 24;
    const parts = [tone(toneLen, 1000, -18), silence(1.0), tone(pop, 1000, -20), silence(2 - pop), programme(20, rng)];
    const x = concat(...parts);
    const r = detectHead(x, SR);
    HeadReportSchema.parse(r);
    const popStart = toneLen + 1.0;
    const progStart = popStart + 2;

    const tones = ofKind(r, 'bars_tone');
    assert.equal(tones.length, 1, JSON.stringify(r));
    near(tones[0]!.start, 0, 0.01, 'tone start');
    near(tones[0]!.end, toneLen, 0.01, 'tone end');
    near(tones[0]!.frequency_hz!, 1000, 2, 'tone frequency');

    const pops = ofKind(r, 'two_pop');
    assert.equal(pops.length, 1, JSON.stringify(r));
    near(pops[0]!.start, popStart, 0.006, 'pop start');
    near(pops[0]!.end, popStart + pop, 0.006, 'pop end');

    const sil = ofKind(r, 'silence');
    assert.equal(sil.length, 2, JSON.stringify(r));
    near(sil[0]!.start, toneLen, 0.01, 'silence 1 start');
    near(sil[0]!.end, popStart, 0.01, 'silence 1 end');
    near(sil[1]!.start, popStart + pop, 0.01, 'silence 2 start');
    near(sil[1]!.end, progStart, 0.01, 'silence 2 end');

    near(r.programme_start, progStart, 0.05, 'programme_start');
    near(r.programme_start, progStart, 0.01, 'programme_start (5 ms blocks)');
    assert.equal(r.tail_start, null);
  });

  test('same head as Int16Array, not frame-aligned, with a quiet noise floor in the silences', () => {
    const rng = createRng(2);
    const floor = (s: number): Float32Array => {
      const a = silence(s);
      for (let i = 0; i < a.length; i++) a[i] = dbToAmp(-75) * rng.gaussian();
      return a;
    };
    const lead = 0.537;
    const toneLen = 30.021;
    const parts = [floor(lead), tone(toneLen, 1000, -20), floor(0.777), tone(0.0334, 1000, -20), floor(1.9666), programme(10, rng)];
    const f = concat(...parts);
    const x = Int16Array.from(f, (v) => Math.round(v * 32767));
    const r = detectHead(x, SR);
    const progStart = lead + toneLen + 0.777 + 2;
    assert.deepEqual(r.findings.map((g) => g.kind), ['silence', 'bars_tone', 'silence', 'two_pop', 'silence']);
    near(r.findings[1]!.start, lead, 0.01, 'tone start');
    near(r.findings[1]!.end, lead + toneLen, 0.01, 'tone end');
    near(r.programme_start, progStart, 0.05, 'programme_start');
  });

  test('440 Hz tone at -20 dBFS', () => {
    const rng = createRng(3);
    const x = concat(tone(10, 440, -20), silence(1), programme(10, rng));
    const r = detectHead(x, SR);
    const tones = ofKind(r, 'bars_tone');
    assert.equal(tones.length, 1);
    near(tones[0]!.frequency_hz!, 440, 2, '440 Hz');
    near(tones[0]!.end, 10, 0.01, 'tone end');
    assert.equal(ofKind(r, 'two_pop').length, 0);
    near(r.programme_start, 11, 0.05, 'programme_start');
  });

  test('400 Hz tone at 48 kHz', () => {
    const rng = createRng(4);
    const sr = 48000;
    const x = concat(silence(2, sr), tone(5, 400, -18, sr), silence(0.8, sr), programme(4, rng, sr));
    const r = detectHead(x, sr);
    const tones = ofKind(r, 'bars_tone');
    assert.equal(tones.length, 1, JSON.stringify(r));
    near(tones[0]!.frequency_hz!, 400, 2, '400 Hz');
    near(r.programme_start, 7.8, 0.05, 'programme_start');
  });

  test('interrupted tone (EBU-style gaps, mono dips) is one finding', () => {
    const rng = createRng(5);
    const t = tone(12, 1000, -18);
    // a 250 ms gap every 3 s, and a 250 ms -6 dB dip (one channel off in a mono sum) after it
    for (let s = 2.5; s < 11; s += 3) {
      for (let i = Math.round(s * SR); i < Math.round((s + 0.25) * SR); i++) t[i] = 0;
      for (let i = Math.round((s + 0.5) * SR); i < Math.round((s + 0.75) * SR); i++) t[i]! *= 0.5;
    }
    const x = concat(t, silence(1), programme(8, rng));
    const r = detectHead(x, SR);
    const tones = ofKind(r, 'bars_tone');
    assert.equal(tones.length, 1, JSON.stringify(r));
    near(tones[0]!.start, 0, 0.01, 'start');
    near(tones[0]!.end, 12, 0.01, 'end');
    near(r.programme_start, 13, 0.05, 'programme_start');
  });

  test('a 1.5 s tone is too short for bars and tone', () => {
    const rng = createRng(6);
    const x = concat(silence(1), tone(1.5, 1000, -18), silence(1), programme(5, rng));
    const r = detectHead(x, SR);
    assert.equal(ofKind(r, 'bars_tone').length, 0, JSON.stringify(r));
  });

  test('head scan stops at maxHeadSeconds', () => {
    const rng = createRng(7);
    const x = concat(programme(5, rng), tone(10, 1000, -18), programme(5, rng));
    assert.equal(ofKind(detectHead(x, SR), 'bars_tone').length, 1);
    assert.equal(ofKind(detectHead(x, SR, { maxHeadSeconds: 4 }), 'bars_tone').length, 0);
  });
});

describe('detectHead: programme without a head', () => {
  test('programme only: programme_start 0, no findings', () => {
    const rng = createRng(10);
    const r = detectHead(programme(30, rng), SR);
    assert.deepEqual(r.findings, []);
    assert.equal(r.programme_start, 0);
    assert.equal(r.tail_start, null);
  });

  test('a sustained musical note mixed with noise is not bars and tone', () => {
    const rng = createRng(11);
    const n = 8 * SR;
    const note = new Float32Array(n);
    let phase = 0;
    for (let i = 0; i < n; i++) {
      const t = i / SR;
      const f0 = 440 + 4 * Math.sin(2 * Math.PI * 5 * t); // vibrato
      phase += (2 * Math.PI * f0) / SR;
      const v = Math.sin(phase) + 0.5 * Math.sin(2 * phase) + 0.3 * Math.sin(3 * phase) + 0.15 * Math.sin(4 * phase);
      note[i] = 0.1 * v + dbToAmp(-40) * rng.gaussian();
    }
    // a plain sine note with a piano-like decay (no harmonics, no vibrato)
    const decay = tone(6, 523.25, -12);
    for (let i = 0; i < decay.length; i++) decay[i]! *= Math.exp(-(i / SR) * 0.7);
    for (let i = 0; i < decay.length; i++) decay[i]! += dbToAmp(-50) * rng.gaussian();
    const x = concat(programme(3, rng), note, programme(3, rng), decay, programme(3, rng));
    const r = detectHead(x, SR);
    assert.equal(ofKind(r, 'bars_tone').length, 0, JSON.stringify(r));
    assert.equal(r.programme_start, 0);
  });

  test('a quiet but non-silent programme start is not silence', () => {
    const rng = createRng(12);
    const quiet = silence(3);
    for (let i = 0; i < quiet.length; i++) quiet[i] = dbToAmp(-52) * rng.gaussian(); // ~ -52 dBFS RMS
    const r = detectHead(concat(quiet, programme(10, rng)), SR);
    assert.deepEqual(r.findings, []);
    assert.equal(r.programme_start, 0);
  });

  test('leading silence then programme', () => {
    const rng = createRng(13);
    const r = detectHead(concat(silence(4.321), programme(10, rng)), SR);
    assert.equal(r.findings.length, 1);
    assert.equal(r.findings[0]!.kind, 'silence');
    near(r.findings[0]!.end, 4.321, 0.006, 'silence end');
    near(r.programme_start, 4.321, 0.05, 'programme_start');
  });

  test('a leading pause shorter than minSilenceSeconds is not a head', () => {
    const rng = createRng(14);
    const r = detectHead(concat(silence(0.3), programme(10, rng)), SR);
    assert.deepEqual(r.findings, []);
    assert.equal(r.programme_start, 0);
  });

  test('a 0.3 s beep between silences is not a 2-pop', () => {
    const rng = createRng(16);
    const x = concat(silence(1), tone(0.3, 1000, -20), silence(2), programme(5, rng));
    const r = detectHead(x, SR);
    assert.equal(ofKind(r, 'two_pop').length, 0, JSON.stringify(r));
    near(r.programme_start, 1, 0.05, 'programme starts at the beep');
  });

  test('a noise click between silences is not a 2-pop', () => {
    const rng = createRng(15);
    const click = new Float32Array(Math.round(0.04 * SR));
    for (let i = 0; i < click.length; i++) click[i] = 0.1 * rng.gaussian();
    const x = concat(silence(1), click, silence(2), programme(5, rng));
    const r = detectHead(x, SR);
    assert.equal(ofKind(r, 'two_pop').length, 0, JSON.stringify(r));
    near(r.programme_start, 1, 0.05, 'programme starts at the click');
  });
});

describe('detectHead: tail', () => {
  test('trailing silence', () => {
    const rng = createRng(20);
    const r = detectHead(concat(programme(10.123, rng), silence(3)), SR);
    assert.notEqual(r.tail_start, null);
    near(r.tail_start!, 10.123, 0.05, 'tail_start');
    near(r.tail_start!, 10.123, 0.01, 'tail_start (5 ms blocks)');
  });

  test('short trailing silence is no tail', () => {
    const rng = createRng(21);
    assert.equal(detectHead(concat(programme(10, rng), silence(0.6)), SR).tail_start, null);
  });

  test('all silence', () => {
    const r = detectHead(silence(5), SR);
    assert.equal(r.tail_start, 0);
    assert.equal(r.findings.length, 1);
    assert.equal(r.findings[0]!.kind, 'silence');
  });
});

describe('headMask', () => {
  test('head, findings and tail as merged ranges', () => {
    const rng = createRng(30);
    const x = concat(tone(5, 1000, -18), silence(1), programme(10, rng), silence(2));
    const r = detectHead(x, SR);
    const m = headMask(r, dur(x));
    assert.equal(m.length, 2, JSON.stringify(m));
    near(m[0]!.start, 0, 1e-9, 'head start');
    near(m[0]!.end, 6, 0.05, 'head end');
    near(m[1]!.start, 16, 0.05, 'tail start');
    near(m[1]!.end, dur(x), 1e-9, 'tail end');
    assert.equal(headMask(r)[1]!.end, Number.POSITIVE_INFINITY);
  });

  test('synthetic report: tone outside the contiguous head is masked too', () => {
    const report: HeadReport = {
      findings: [
        { kind: 'silence', start: 0, end: 2 },
        { kind: 'bars_tone', start: 30, end: 40, frequency_hz: 1000 },
        { kind: 'bars_tone', start: 39, end: 45, frequency_hz: 1000 },
      ],
      programme_start: 2,
      tail_start: null,
    };
    assert.deepEqual(headMask(report), [
      { start: 0, end: 2 },
      { start: 30, end: 45 },
    ]);
    assert.deepEqual(headMask({ findings: [], programme_start: 0, tail_start: null }), []);
  });
});
