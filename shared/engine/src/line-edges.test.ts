import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dialogueQc, type EditSpan, type SpeechSegment } from './dialogue.ts';
import { RemixModel, readSinc, separateSpeech } from './line-edges.ts';
import { readResampled } from './pcm.ts';

const SR = 8000;

/** Deterministic uniform noise in [-1, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

/** A music-and-effects bed: a few drifting partials, a pulse train and noise, with a slow swell. */
function bed(seconds: number, seed: number): Float64Array {
  const r = rng(seed);
  const n = Math.round(seconds * SR);
  const out = new Float64Array(n);
  const partials = Array.from({ length: 6 }, () => ({ f: 110 + r() * 60 + 200 * Math.abs(r()) * 5, ph: r() * Math.PI }));
  for (let i = 0; i < n; i++) {
    const t = i / SR;
    let x = 0;
    for (const p of partials) x += Math.sin(2 * Math.PI * p.f * t + p.ph);
    const beat = Math.exp(-((t * 2) % 1) * 12); // a hit every 0.5 s
    out[i] = 0.012 * x * (1 + 0.3 * Math.sin(2 * Math.PI * 0.2 * t)) + 0.03 * beat * r() + 0.004 * r();
  }
  return out;
}

/** A voiced line [start, end): harmonics of f0 under a syllable envelope, 10 ms ramps at the edges. */
function addLine(x: Float64Array, start: number, end: number, f0: number, syllableHz: number, gain: number): void {
  const i0 = Math.round(start * SR), i1 = Math.round(end * SR);
  const ramp = 0.01 * SR;
  for (let i = i0; i < i1 && i < x.length; i++) {
    const t = (i - i0) / SR;
    let v = 0;
    for (let h = 1; h * f0 < 3500; h++) v += Math.sin(2 * Math.PI * h * f0 * t + h) / h;
    const syl = 0.55 + 0.45 * Math.abs(Math.sin(Math.PI * syllableHz * t + 0.7));
    const edge = Math.min(1, (i - i0) / ramp, (i1 - 1 - i) / ramp);
    x[i] = (x[i] as number) + gain * syl * edge * v;
  }
}

/** One-pole low shelf-ish remix of the bed (EQ) and a gain: what a dub's M&E mix does. */
function remix(x: Float64Array, gain: number): Float64Array {
  const out = new Float64Array(x.length);
  let y = 0;
  for (let i = 0; i < x.length; i++) {
    y = 0.7 * y + 0.3 * (x[i] as number);
    out[i] = gain * (0.6 * (x[i] as number) + 0.5 * y);
  }
  return out;
}

function int16(x: Float64Array): Int16Array {
  return Int16Array.from(x, (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32768))));
}

/**
 * A master with one line at [lineStart, lineEnd) and a dub 0.5 s late overall whose line is
 * shifted by `shift` seconds, over the same bed remixed. The model's segments are deliberately
 * sloppy (a speech model's onset and release lag).
 */
function pair(shift: number, lineStart = 4, lineEnd = 6.2) {
  const b = bed(12, 3);
  const m = Float64Array.from(b);
  addLine(m, lineStart, lineEnd, 118, 3.7, 0.12);
  const offset = 0.5;
  const rb = remix(b, 0.8);
  const d = new Float64Array(b.length + offset * SR);
  d.set(rb, offset * SR);
  addLine(d, lineStart + offset + shift, lineEnd + offset + shift, 205, 4.6, 0.1);
  const spans: EditSpan[] = [{ master_start: 0, master_end: 12, dub_start: offset, dub_end: 12 + offset }];
  const masterSpeech: SpeechSegment[] = [{ start: lineStart + 0.06, end: lineEnd + 0.22, prob: 0.9 }];
  const dubSpeech: SpeechSegment[] = [{ start: lineStart + offset + shift - 0.03, end: lineEnd + offset + shift + 0.05, prob: 0.9 }];
  return { master: { samples: int16(m), sampleRate: SR }, dub: { samples: int16(d), sampleRate: SR }, spans, masterSpeech, dubSpeech };
}

test('a line in sync reads in sync on the waveforms, though the model edges are 60-220 ms off', () => {
  const p = pair(0);
  const r = dialogueQc({ masterSpeech: p.masterSpeech, dubSpeech: p.dubSpeech, spans: p.spans, frameRate: 25, masterPcm: p.master, dubPcm: p.dub });
  const l = r.lines[0]!;
  assert.ok(Math.abs(l.master_start - 4) < 0.015, `master start ${l.master_start}`);
  assert.ok(Math.abs(l.master_end - 6.2) < 0.015, `master end ${l.master_end}`);
  assert.ok(Math.abs(l.start_diff_ms!) < 15 && Math.abs(l.end_diff_ms!) < 15, `${l.start_diff_ms}/${l.end_diff_ms}`);
  assert.equal(l.flagged, false);
  assert.equal(l.review, false);
  assert.ok(Math.abs(l.dub_start! - 4.5) < 0.015, `dub start in dub time ${l.dub_start}`);
  // The model's edges alone call the same line 3+ frames early at the end.
  const model = dialogueQc({ masterSpeech: p.masterSpeech, dubSpeech: p.dubSpeech, spans: p.spans, frameRate: 25, masterPcm: p.master, dubPcm: p.dub, params: { edges: false } });
  assert.equal(model.lines[0]!.flagged, true);
});

for (const shift of [0.12, -0.12]) {
  test(`a dub line ${shift > 0 ? 'late' : 'early'} by 3 frames is flagged, both edge differences right within their uncertainty`, () => {
    const p = pair(shift);
    const r = dialogueQc({ masterSpeech: p.masterSpeech, dubSpeech: p.dubSpeech, spans: p.spans, frameRate: 25, masterPcm: p.master, dubPcm: p.dub });
    const l = r.lines[0]!;
    const want = shift * 1000;
    assert.equal(l.timing, 'waveform');
    // At each edge one file lies under the other's speech (late: the dub's start, the master's
    // end); its edge carries the uncertainty.
    const edges: [number, number][] = [[l.start_diff_ms!, l.start_uncertainty_ms!], [l.end_diff_ms!, l.end_uncertainty_ms!]];
    for (const [diff, unc] of edges) {
      assert.ok(Math.abs(diff - want) <= unc + 50, `${diff} +- ${unc} vs ${want}`);
      assert.ok(Math.sign(diff) === Math.sign(want), `${diff}: the shift's sign`);
      assert.ok(unc < Math.abs(want), `uncertainty ${unc} below the shift`);
    }
    assert.equal(l.flagged, true, `${l.start_diff_ms} +- ${l.start_uncertainty_ms} / ${l.end_diff_ms} +- ${l.end_uncertainty_ms}`);
    assert.ok(['start_and_end', shift > 0 ? 'late_start' : 'early_start', shift > 0 ? 'late_end' : 'early_end'].includes(String(l.issue)), String(l.issue));
  });
}

test('separation: each envelope holds its own file\'s line, the bed is cancelled', () => {
  const p = pair(0.3);
  const speech = [{ start: 4, end: 6.2 }, { start: 4.3, end: 6.5 }];
  const remix = RemixModel.build(p.master, p.dub, p.spans[0]!, speech);
  assert.ok(remix);
  const env = separateSpeech(remix, 3.4, 7.1, [{ start: 3.4, end: 7.1 }]);
  assert.ok(env);
  const at = (t: number) => Math.round((t - env.t0) / env.hop);
  const m = (t: number) => env.master[at(t)]!;
  const d = (t: number) => env.dub[at(t)]!;
  // 4.1-4.25: master speaks alone; 6.25-6.45: the dub alone; 3.5-3.8: the bed alone.
  assert.ok(m(4.15) - d(4.15) > 10, `master alone: ${m(4.15)} vs ${d(4.15)}`);
  assert.ok(d(6.35) - m(6.35) > 10, `dub alone: ${d(6.35)} vs ${m(6.35)}`);
  assert.ok(env.bed[at(3.6)]! - Math.max(m(3.6), d(3.6)) > 10, 'the bed is not speech');
  assert.ok(env.leak < -15, `cancellation leaves the bed ${env.leak.toFixed(1)} dB`);
});

test('no bed-only frames near a line (speech throughout): no separation, the model edges stand', () => {
  const p = pair(0);
  const remix = RemixModel.build(p.master, p.dub, p.spans[0]!, [{ start: 0, end: 12 }]);
  assert.ok(remix);
  assert.equal(remix.responseAt(5), null);
  assert.equal(separateSpeech(remix, 3.4, 7.1, [{ start: 3.4, end: 7.1 }]), null);
  const everywhere = [{ start: 0.1, end: 11.8, prob: 0.9 }];
  const r = dialogueQc({ masterSpeech: everywhere, dubSpeech: [{ start: 0.6, end: 12.3, prob: 0.9 }], spans: p.spans, frameRate: 25, masterPcm: p.master, dubPcm: p.dub });
  assert.equal(r.lines[0]!.master_start, 0.1);
});

test('windowed-sinc read: a 3 kHz tone between samples keeps its level; a linear read loses it', () => {
  const n = 4000;
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * 3000 * i) / SR));
  const step = 1.0005; // drift: the fraction cycles through every value
  const rms = (y: Float64Array) => Math.sqrt(y.reduce((s, v) => s + v * v, 0) / y.length);
  const sinc = readSinc(x, 100.5, step, 3000);
  const lin = readResampled(x, 100.5, step, 3000);
  let err = 0;
  for (let i = 0; i < 3000; i++) err = Math.max(err, Math.abs((sinc[i] as number) - Math.sin((2 * Math.PI * 3000 * (100.5 + i * step)) / SR)));
  assert.ok(err < 0.04, `sinc error ${err}`);
  assert.ok(rms(lin) < 0.6, `linear read rms ${rms(lin)}`);
});
