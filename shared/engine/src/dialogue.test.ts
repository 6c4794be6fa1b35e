import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dialogueQc, dubToMaster, masterToDub, weightSpeech, type EditSpan } from './dialogue.ts';
import type { Features } from './features.ts';

// Dub 0.5 s late, then a 4 s scene cut at master 20 s.
const spans: EditSpan[] = [
  { master_start: 0, master_end: 20, dub_start: 0.5, dub_end: 20.5 },
  { master_start: 24, master_end: 60, dub_start: 20.5, dub_end: 56.5 },
];

test('edit-map mapping both ways', () => {
  assert.equal(masterToDub(spans, 10), 10.5);
  assert.equal(masterToDub(spans, 22), null);
  assert.equal(masterToDub(spans, 30), 26.5);
  assert.equal(dubToMaster(spans, 26.5), 30);
  assert.equal(dubToMaster(spans, 10.5), 10);
});

test('lines in time, a line 3 frames late, a missing line, an extra dub line', () => {
  const master = [
    { start: 2, end: 4, prob: 0.9 },
    { start: 10, end: 12.5, prob: 0.9 },
    { start: 30, end: 33, prob: 0.9 },
    { start: 40, end: 42, prob: 0.9 },
  ];
  const dub = [
    { start: 2.5, end: 4.5, prob: 0.9 }, // in time (dub is 0.5 s late overall)
    { start: 10.62, end: 13.12, prob: 0.9 }, // 120 ms = 3 frames @25 late
    // master line at 30-33 has no dub line (missing)
    { start: 36.5, end: 38.5, prob: 0.9 }, // master 40-42, in time (after the cut)
    { start: 50, end: 51, prob: 0.9 }, // extra
  ];
  const r = dialogueQc({ masterSpeech: master, dubSpeech: dub, spans, frameRate: 25 });
  assert.equal(r.summary.lines, 4);
  assert.equal(r.lines[0]!.flagged, false);
  assert.ok(Math.abs(r.lines[0]!.start_diff_ms!) < 1);
  assert.equal(r.lines[1]!.issue, 'start_and_end');
  assert.ok(Math.abs(r.lines[1]!.start_diff_frames! - 3) < 0.01);
  assert.equal(r.lines[2]!.issue, 'missing');
  assert.equal(r.lines[3]!.flagged, false);
  assert.deepEqual(r.missing, [{ master_start: 30, master_end: 33 }]);
  assert.equal(r.extra.length, 1);
  assert.equal(r.summary.flagged, 2);
  // One frame off is under the default threshold of two.
  const oneFrame = dialogueQc({ masterSpeech: [master[0]!], dubSpeech: [{ start: 2.54, end: 4.54, prob: 1 }], spans, frameRate: 25 });
  assert.equal(oneFrame.lines[0]!.flagged, false);
  assert.equal(dialogueQc({ masterSpeech: [master[0]!], dubSpeech: [{ start: 2.54, end: 4.54, prob: 1 }], spans, frameRate: 25, params: { thresholdFrames: 1 } }).lines[0]!.flagged, true);
});

function features(energy: number[]): Features {
  return { rate: 50, hopSeconds: 0.02, length: energy.length, bands: [new Float32Array(energy.length).fill(1)], energy: Float32Array.from(energy) };
}

test('untranslated: the same recording under a line correlates as a waveform; other speech does not', () => {
  const sr = 8000;
  const n = 60 * sr;
  let seed = 7;
  const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
  const master = new Int16Array(n);
  for (let i = 0; i < n; i++) master[i] = Math.round(rnd() * 8000);
  // Dub: 0.5 s late; the line at 2-4 s is the master's own recording (gain 0.7, inverted), the line
  // at 10-12.5 s is other material.
  const dub = new Int16Array(n + sr / 2);
  for (let j = sr / 2; j < dub.length; j++) dub[j] = Math.round(-0.7 * master[j - sr / 2]!);
  for (let j = Math.round(10.5 * sr); j < 13 * sr; j++) dub[j] = Math.round(rnd() * 8000);
  const simple: EditSpan[] = [{ master_start: 0, master_end: 60, dub_start: 0.5, dub_end: 60.5 }];
  const r = dialogueQc({
    masterSpeech: [{ start: 2, end: 4, prob: 1 }, { start: 10, end: 12.5, prob: 1 }],
    dubSpeech: [{ start: 2.5, end: 4.5, prob: 1 }, { start: 10.5, end: 13, prob: 1 }],
    spans: simple,
    frameRate: 25,
    masterPcm: { samples: master, sampleRate: sr },
    dubPcm: { samples: dub, sampleRate: sr },
  });
  assert.equal(r.lines[0]!.issue, 'untranslated');
  assert.ok(r.lines[0]!.same_audio! > 0.95, String(r.lines[0]!.same_audio));
  assert.equal(r.lines[1]!.issue, null);
  assert.ok(r.lines[1]!.same_audio! < 0.2, String(r.lines[1]!.same_audio));
  assert.equal(r.summary.untranslated, 1);
});

test('speech weighting attenuates speech frames, and stays off for dialogue-only material', () => {
  const fm = features(new Array(1000).fill(0.01));
  const fd = features(new Array(1000).fill(0.01));
  assert.equal(weightSpeech(fm, fd, [{ start: 0, end: 5, prob: 1 }], [{ start: 1, end: 6, prob: 1 }], { weight: 0.3, minNonSpeechShare: 0.25 }), true);
  assert.ok(Math.abs(fm.bands[0]![100]! - 0.3) < 1e-6);
  assert.equal(fm.bands[0]![400], 1);
  assert.ok(Math.abs(fd.bands[0]![25]! - 1) < 1e-6 && Math.abs(fd.bands[0]![200]! - 0.3) < 1e-6);
  const gm = features(new Array(1000).fill(0.01));
  const gd = features(new Array(1000).fill(0.01));
  assert.equal(weightSpeech(gm, gd, [{ start: 0, end: 19, prob: 1 }], [], { weight: 0.3, minNonSpeechShare: 0.25 }), false);
  assert.equal(gm.bands[0]![10], 1);
});

test('a line the model split in one file and not in the other is one line, paired one to one', () => {
  const simple: EditSpan[] = [{ master_start: 0, master_end: 60, dub_start: 0, dub_end: 60 }];
  const r = dialogueQc({
    masterSpeech: [{ start: 10, end: 11.8, prob: 0.9 }, { start: 12.1, end: 14, prob: 0.9 }, { start: 20, end: 22, prob: 0.9 }],
    dubSpeech: [{ start: 10, end: 14, prob: 0.9 }, { start: 20, end: 21, prob: 0.9 }, { start: 21.2, end: 22, prob: 0.9 }],
    spans: simple,
    frameRate: 25,
  });
  assert.equal(r.summary.lines, 2);
  assert.equal(r.summary.flagged, 0);
  assert.deepEqual(r.lines.map((l) => [l.master_start, l.master_end, l.dub_start, l.dub_end]), [[10, 14, 10, 14], [20, 22, 20, 22]]);
  assert.equal(r.extra.length, 0);
});
