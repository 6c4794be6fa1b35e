import { test } from 'node:test';
import type { Gap } from './types.ts';
import assert from 'node:assert/strict';
import { describeConfidence, describeDialogueSummary, describeDrift, describeFix, describeHeadline, describeLineDiff, describeOffset, describeRemedy, formatFrames, formatMs, formatTime, parseTime, selectionChoices, selectionFromValue, signedMs } from './format.ts';

const frames25 = (seconds: number) => ({ '25': { frames: seconds * 25, timecode: `${seconds < 0 ? '-' : '+'}00:00:00:${String(Math.round(Math.abs(seconds) * 25)).padStart(2, '0')}` } }) as never;

test('the offset sentence spells out the sign: positive offset_seconds is a LATE dub', () => {
  const late = describeOffset({ offset_seconds: 0.48, frames: frames25(0.48), reference_frame_rate: '25' });
  assert.equal(late.sentence, 'dub is late by 480 ms (12 frames @ 25)');
  assert.equal(late.direction, 'late');
  assert.equal(late.timecode, '+00:00:00:12');
  const early = describeOffset({ offset_seconds: -0.04, frames: frames25(-0.04), reference_frame_rate: '25' });
  assert.equal(early.sentence, 'dub is early by 40 ms (1 frame @ 25)');
  assert.equal(describeOffset({ offset_seconds: 1.2345, frames: null, reference_frame_rate: '25' }).sentence, 'dub is late by 1.234 s');
  assert.match(describeOffset({ offset_seconds: 0.0001, frames: null, reference_frame_rate: '25' }).sentence, /in step/);
  assert.equal(describeOffset({ offset_seconds: null, frames: null, reference_frame_rate: '25' }).direction, 'none');
});

test('magnitudes, frames and signed ms', () => {
  assert.equal(formatMs(0.0042), '4.2 ms');
  assert.equal(formatMs(-0.25), '250 ms');
  assert.equal(formatFrames(12.3), '12.3 frames');
  assert.equal(formatFrames(-0.98), '1 frame');
  assert.equal(signedMs(-0.0125), '\u221212.5 ms');
  assert.equal(signedMs(0.48), '+480.0 ms');
  assert.equal(signedMs(null), '\u2014');
  assert.equal(signedMs(-0.00001), '0.0 ms');
});

test('the headline says how the offset changes for drift and edits', () => {
  const seg = (a: number, b: number, o: number, oe: number) => ({ master_start: a, master_end: b, dub_start: a + o, dub_end: b + oe, offset_seconds: o, offset_end_seconds: oe, confidence: 1 });
  const base = { match: true, frames: null, reference_frame_rate: '25', gaps: [] as Gap[] };
  assert.equal(describeHeadline({ ...base, verdict: 'drift', offset_seconds: 0, segments: [seg(0, 28, 0, -1.122)] }), 'Dub is in step at the start and early by 1.122 s at the end');
  assert.equal(
    describeHeadline({ ...base, verdict: 'edited', offset_seconds: 0.48, segments: [seg(0, 10, 0.48, 0.48), seg(13, 28, -2.52, -2.52)], gaps: [{ kind: 'removed', master_start: 10, master_end: 13, dub_start: 10.48, dub_end: 10.48, duration_seconds: 3 }] }),
    'Dub is late by 480 ms at the start, then 1 edit changes it',
  );
  assert.equal(describeHeadline({ ...base, match: false, verdict: 'no_match', offset_seconds: null, segments: [] }), 'No match');
  assert.equal(describeRemedy({ verdict: 'drift', offset_seconds: 0 }), 'conform the drift (a full-conform repair).');
  assert.equal(describeRemedy({ verdict: 'in_sync', offset_seconds: 0.001 }), null);
});

test('the fix is the opposite of the measurement', () => {
  assert.match(describeFix(0.48), /advance the dub by 480 ms/);
  assert.match(describeFix(-0.48), /delay the dub by 480 ms/);
});

test('drift per minute follows speed_ratio = d(dub)/d(master)', () => {
  const d = describeDrift({ speed_ratio: 25 / 24, ppm: (25 / 24 - 1) * 1e6, standard: '25/24', direction: 'late' });
  assert.match(d!, /each master second lasts 1\.041667 s in the dub \(standard 25\/24\), so the dub drifts late by 2\.500 s per minute/);
  assert.equal(describeDrift({ speed_ratio: 1, ppm: 0, standard: null, direction: 'none' }), null);
});

test('confidence below 0.8 is flagged', () => {
  assert.equal(describeConfidence(0.79).low, true);
  assert.equal(describeConfidence(0.8).low, false);
  assert.equal(describeConfidence(0.934).percent, '93%');
});

test('times format and parse', () => {
  assert.equal(formatTime(5), '0:05.0');
  assert.equal(formatTime(125.25, 2), '2:05.25');
  assert.equal(formatTime(3723.4), '1:02:03.4');
  assert.equal(parseTime('75.5'), 75.5);
  assert.equal(parseTime('1:15.5'), 75.5);
  assert.equal(parseTime('1:01:15'), 3675);
  assert.equal(parseTime('abc'), null);
  assert.equal(parseTime('-3'), null);
});

test('audio selections round-trip through select values', () => {
  const choices = selectionChoices([{ index: 1, audioIndex: 0, codec: 'pcm_s24le', sampleRate: 48000, channels: 2, channelLayout: 'stereo', language: 'eng', title: null, duration: 10 }]);
  assert.deepEqual(choices.map((c) => c.value), ['auto', 'stream:0', 'mix:0', 'channel:0:0', 'channel:0:1']);
  assert.deepEqual(selectionFromValue('channel:0:1'), { kind: 'channel', audioIndex: 0, channel: 1 });
  assert.deepEqual(selectionFromValue('stream:2'), { kind: 'stream', audioIndex: 2 });
  assert.equal(selectionFromValue('auto'), undefined);
});

test('dialogue lines and summary in words', () => {
  assert.equal(describeLineDiff(3, 120), '+3.0 fr / +120 ms');
  assert.equal(describeLineDiff(-2.04, -81.6), '\u22122.0 fr / \u221282 ms');
  assert.equal(describeLineDiff(null, null), '\u2014');
  assert.equal(describeLineDiff(3, 120, 45), '+3.0 fr / +120 ms \u00b145 ms');
  assert.equal(describeLineDiff(3, 120, 0.4), '+3.0 fr / +120 ms');
  const summary = describeDialogueSummary({ frame_rate: 25, threshold_frames: 2, lines: [], missing: [], untranslated: [], extra: [], summary: { lines: 12, paired: 10, flagged: 3, review: 0, missing: 1, untranslated: 1, extra: 0 } });
  assert.equal(summary, '12 master lines, 10 paired with a dub line; 3 flagged at 2 frames or more (25 fps); 1 missing; 1 untranslated.');
  const withReview = describeDialogueSummary({ frame_rate: 25, threshold_frames: 2, lines: [], missing: [], untranslated: [], extra: [], summary: { lines: 12, paired: 10, flagged: 3, review: 2, missing: 1, untranslated: 1, extra: 0 } });
  assert.equal(withReview, '12 master lines, 10 paired with a dub line; 3 flagged at 2 frames or more (25 fps); 2 to review (near the threshold, measure uncertain); 1 missing; 1 untranslated.');
});
