import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { analysisEdl } from './edl.ts';
import { rateContext, timecodeAt } from './common.ts';
import { makeFailedRecord, makeNoMatchResult, makeRecord, makeResult, media } from './test-fixtures.ts';

const EVENT_RE = /^(\d{3}) {2}AX {7}A {5}C {8}(\S+) (\S+) (\S+) (\S+)$/;

function events(edl: string): { n: string; src: [string, string]; rec: [string, string] }[] {
  return edl
    .split('\n')
    .map((l) => EVENT_RE.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ n: m[1]!, src: [m[2]!, m[3]!], rec: [m[4]!, m[5]!] }));
}

describe('analysisEdl', () => {
  test('25 fps from 10:00:00:00: one event per segment, hand-computed timecodes', () => {
    const edl = analysisEdl(makeRecord());
    const lines = edl.split('\n');
    assert.equal(lines[0], 'TITLE: master.mov vs dub_de.wav');
    assert.equal(lines[1], 'FCM: NON-DROP FRAME');
    const ev = events(edl);
    assert.equal(ev.length, 3);
    // seg 1: master 0-20 s, dub 0.52-20.52 s (0.52 s = 13 frames)
    assert.deepEqual(ev[0], { n: '001', src: ['10:00:00:13', '10:00:20:13'], rec: ['10:00:00:00', '10:00:20:00'] });
    // seg 2: master 22-40, dub 20.52-38.52
    assert.deepEqual(ev[1], { n: '002', src: ['10:00:20:13', '10:00:38:13'], rec: ['10:00:22:00', '10:00:40:00'] });
    // seg 3: master 40-60, dub 41.52-61.52
    assert.deepEqual(ev[2], { n: '003', src: ['10:00:41:13', '10:01:01:13'], rec: ['10:00:40:00', '10:01:00:00'] });
    assert.equal(lines.filter((l) => l === '* FROM CLIP NAME: dub_de.wav').length, 3);
    // Gaps as comments, after the event they follow.
    const removed = lines.findIndex((l) => l.startsWith('* COMMENT: REMOVED FROM DUB'));
    const inserted = lines.findIndex((l) => l.startsWith('* COMMENT: INSERTED IN DUB'));
    assert.equal(lines[removed], '* COMMENT: REMOVED FROM DUB: master 10:00:20:00 - 10:00:22:00 (2.000 s)');
    assert.match(lines[inserted]!, /^\* COMMENT: INSERTED IN DUB: 3\.000 s at master 10:00:40:00/);
    const eventLine = (n: string): number => lines.findIndex((l) => l.startsWith(`${n}  AX`));
    assert.ok(removed > eventLine('001') && removed < eventLine('002'), 'removed gap noted under event 1');
    assert.ok(inserted > eventLine('002') && inserted < eventLine('003'), 'inserted gap noted under event 2');
  });

  test('29.97 drop-frame from 10:00:00;00: minute and ten-minute boundaries', () => {
    const f = (n: number): number => (n * 1001) / 30000; // seconds of frame n at 29.97
    const result = makeResult({
      reference_frame_rate: '29.97df',
      master: media({ start_timecode: '10:00:00;00', video_frame_rate: 30000 / 1001, video_frame_rate_label: '29.97', duration: 700 }),
      segments: [{ master_start: f(1799), master_end: f(17982), dub_start: f(1800), dub_end: f(17981), offset_seconds: f(1), offset_end_seconds: -f(1), confidence: 0.9 }],
      gaps: [],
    });
    const edl = analysisEdl(makeRecord({ result }));
    assert.match(edl, /^FCM: DROP FRAME$/m);
    const ev = events(edl);
    assert.equal(ev.length, 1);
    // frame 1799 = 00:00:59;29; +1 frame skips ;00 and ;01 -> 00:01:00;02; frame 17982 = 00:10:00;00 (no skip at minute 10).
    assert.deepEqual(ev[0], { n: '001', src: ['10:01:00;02', '10:09:59;29'], rec: ['10:00:59;29', '10:10:00;00'] });
  });

  test('29.97 with a drop-frame start timecode counts in drop-frame', () => {
    const result = makeResult({
      reference_frame_rate: '29.97',
      master: media({ start_timecode: '01:00:00;00', video_frame_rate: 30000 / 1001, video_frame_rate_label: '29.97' }),
    });
    const edl = analysisEdl(makeRecord({ result }));
    assert.match(edl, /^FCM: DROP FRAME$/m);
    // 0.52 s * 29.97 = 15.58 -> 16 frames; 20.52 s -> 614.98 -> 615 = 20 s 15 f; 20 s -> 599.4 -> 599 = 19 s 29 f
    // (01:00 is a tenth minute: no frame numbers are skipped in its first minute).
    assert.deepEqual(events(edl)[0]!.src, ['01:00:00;16', '01:00:20;15']);
    assert.deepEqual(events(edl)[0]!.rec, ['01:00:00;00', '01:00:19;29']);
  });

  test('rate fallbacks: master video rate, then 25; start 00:00:00:00 when unset', () => {
    const noStart = makeResult({ reference_frame_rate: 'bogus', master: media({ start_timecode: null, video_frame_rate: 24, video_frame_rate_label: '24' }) });
    assert.equal(rateContext(noStart).key, '24');
    assert.equal(rateContext(noStart).startTimecode, '00:00:00:00');
    // 20 s at 24 fps = 480 frames = 00:00:20:00; 0.52 s = 12.48 -> 12 frames
    assert.deepEqual(events(analysisEdl(makeRecord({ result: noStart })))[0], { n: '001', src: ['00:00:00:12', '00:00:20:12'], rec: ['00:00:00:00', '00:00:20:00'] });
    const nothing = makeResult({ reference_frame_rate: 'bogus', master: media({ video_frame_rate: null, video_frame_rate_label: null }) });
    assert.equal(rateContext(nothing).key, '25');
    assert.equal(rateContext(null).key, '25');
    // An unparseable start timecode at this rate is reported, not fatal.
    const bad = makeResult({ master: media({ start_timecode: '10:00:00:29' }) });
    const ctx = rateContext(bad);
    assert.equal(ctx.startFrames, 0);
    assert.match(ctx.startProblem ?? '', /10:00:00:29/);
    assert.match(analysisEdl(makeRecord({ result: bad })), /^\* COMMENT: start timecode 10:00:00:29/m);
    assert.equal(timecodeAt(3600, rateContext(makeResult())), '11:00:00:00');
  });

  test('dub content before 00:00:00:00 is trimmed from the event, keeping source and record aligned', () => {
    const result = makeResult({
      master: media({ start_timecode: null }),
      segments: [{ master_start: 0, master_end: 10, dub_start: -0.4, dub_end: 9.6, offset_seconds: -0.4, offset_end_seconds: -0.4, confidence: 0.9 }],
      gaps: [],
    });
    assert.deepEqual(events(analysisEdl(makeRecord({ result })))[0], { n: '001', src: ['00:00:00:00', '00:00:09:15'], rec: ['00:00:00:10', '00:00:10:00'] });
  });

  test('no match: title, a comment and no events', () => {
    const edl = analysisEdl(makeRecord({ result: makeNoMatchResult() }));
    assert.match(edl, /^TITLE: /);
    assert.match(edl, /^\* COMMENT: NO MATCH: no match: the evidence/m);
    assert.equal(events(edl).length, 0);
    const failed = analysisEdl(makeFailedRecord());
    assert.match(failed, /^\* COMMENT: NO MATCH: no result \(analysis failed: DECODE_ERROR: /m);
    assert.equal(events(failed).length, 0);
  });

  test('line breaks in file names cannot forge EDL lines', () => {
    const edl = analysisEdl(makeRecord({ dubPath: 'x/evil\r\n001  AX       A     C        00:00:00:00 00:00:01:00 00:00:00:00 00:00:01:00.wav' }));
    assert.equal(events(edl).length, 3);
    for (const l of edl.split('\n')) assert.ok(!l.includes('\r'), 'no carriage returns');
    assert.ok(edl.split('\n').every((l) => l === '' || /^(TITLE|FCM|\d{3} {2}AX|\* )/.test(l)), 'every line is a known kind');
  });
});
