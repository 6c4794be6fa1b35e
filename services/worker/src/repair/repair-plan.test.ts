// Unit tests of the repair's pure parts: the drift stretch, the edit map in samples, the ffmpeg
// arguments built from a stream summary, and the output checks (no ffmpeg needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MediaSummary, StreamSummary } from './media-summary.ts';
import { parseSummary } from './media-summary.ts';
import { checkOutput } from './repair-checks.ts';
import { RepairRequestError, editPieces, planRepair, stretchFilters, validateRequest } from './repair-plan.ts';
import type { PlanRequest } from './repair-plan.ts';

const SR = 48000;

function stream(p: Partial<StreamSummary> & Pick<StreamSummary, 'index' | 'type'>): StreamSummary {
  const audio = p.type === 'audio';
  return {
    codec: audio ? 'pcm_s16le' : 'h264',
    codecTag: null,
    language: null,
    title: null,
    duration: 10,
    startTime: 0,
    frameCount: p.type === 'video' ? 250 : null,
    bitRate: null,
    disposition: [],
    tags: {},
    sampleRate: audio ? SR : null,
    channels: audio ? 2 : null,
    channelLayout: audio ? 'stereo' : null,
    sampleFormat: audio ? 's16' : null,
    bitsPerRawSample: null,
    durationSamples: audio ? 10 * SR : null,
    frameRate: p.type === 'video' ? 25 : null,
    ...p,
  };
}

function movSummary(): MediaSummary {
  return {
    path: '/m/in.mov',
    format: 'mov,mp4,m4a,3gp,3g2,mj2',
    duration: 10,
    startTime: 0,
    startTimecode: '10:00:00:00',
    tags: { title: 'Episode' },
    chapters: 0,
    streams: [
      stream({ index: 0, type: 'video', tags: { timecode: '10:00:00:00' } }),
      stream({ index: 1, type: 'audio', codec: 'aac', sampleFormat: 'fltp', bitRate: 127000, durationSamples: null, disposition: ['default'], language: 'eng' }),
      stream({ index: 2, type: 'audio', codec: 'pcm_s24le', sampleFormat: 's32', bitsPerRawSample: 24, channels: 6, channelLayout: '5.1', language: 'fra' }),
      stream({ index: 3, type: 'data', codec: null, codecTag: 'tmcd', tags: { timecode: '10:00:00:00' } }),
    ],
  };
}

const plain: PlanRequest = { offsetSeconds: 0.5, keepDuration: false, conformDrift: false, conformEdits: false };

test('stretch: 25/24 (PAL) relabels straight to an integer rate', () => {
  const s = stretchFilters(SR, 24 / 25);
  assert.deepEqual(s.filters, ['asetrate=46080', `aresample=${SR}`]);
  assert.equal(s.factor, SR / 46080);
});

test('stretch: 1000/1001 at 48 kHz goes through 48048 Hz, exactly', () => {
  const s = stretchFilters(SR, 1000 / 1001);
  assert.deepEqual(s.filters, ['aresample=48048', 'asetrate=48000', `aresample=${SR}`]);
  assert.ok(Math.abs(1 / s.factor - 1000 / 1001) < 1e-12);
});

test('stretch: an arbitrary measured ratio is met within 1e-9, and 1 needs no filter', () => {
  for (const [rate, ratio] of [[SR, 0.9999873], [44100, 1.0004321], [SR, 0.9599981]] as const) {
    const s = stretchFilters(rate, ratio);
    const effective = 1 / s.factor;
    assert.ok(Math.abs(effective - ratio) / ratio < 1e-9, `${rate} Hz, ${ratio}: ${effective} (${s.filters.join(',')})`);
    assert.equal(s.filters.at(-1), `aresample=${rate}`);
  }
  assert.deepEqual(stretchFilters(SR, 1).filters, []);
});

test('edit map: a cut leaves a silence gap, an insert is skipped in the dub', () => {
  const cut = editPieces(
    [
      { master_start: 0, master_end: 20.05, dub_start: 0.4, dub_end: 20.45 },
      { master_start: 24.05, master_end: 48, dub_start: 20.45, dub_end: 44.4 },
    ],
    SR,
  );
  assert.deepEqual(cut.pieces, [
    { dubFrom: 19200, dubTo: 981600, gap: 0, length: 962400 },
    { dubFrom: 981600, dubTo: 2131200, gap: 192000, length: 1149600 },
  ]);
  assert.equal(cut.total, 48 * SR);
  const ins = editPieces(
    [
      { master_start: 24.1, master_end: 48, dub_start: 27.5, dub_end: 51.4 },
      { master_start: 0, master_end: 24.1, dub_start: 0.4, dub_end: 24.5 },
    ],
    SR,
  );
  assert.deepEqual(ins.pieces.map((p) => [p.dubFrom, p.dubTo, p.gap]), [
    [19200, 1176000, 0],
    [1320000, 2467200, 0],
  ]);
});

test('edit map: overlaps go to the earlier segment; a negative dub start becomes silence; empty segments are dropped', () => {
  const master = editPieces(
    [
      { master_start: 0, master_end: 10, dub_start: 0, dub_end: 10 },
      { master_start: 9, master_end: 20, dub_start: 9.5, dub_end: 20.5 },
    ],
    SR,
  );
  assert.deepEqual(master.pieces[1], { dubFrom: 10.5 * SR, dubTo: 20.5 * SR, gap: 0, length: 10 * SR });
  const dub = editPieces(
    [
      { master_start: 0, master_end: 10, dub_start: 1, dub_end: 11 },
      { master_start: 12, master_end: 20, dub_start: 10.5, dub_end: 18.5 },
    ],
    SR,
  );
  assert.deepEqual(dub.pieces[1], { dubFrom: 11 * SR, dubTo: 18.5 * SR, gap: 2.5 * SR, length: 7.5 * SR });
  const early = editPieces(
    [
      { master_start: 0, master_end: 10, dub_start: -0.5, dub_end: 9.5 },
      { master_start: 10, master_end: 10, dub_start: 9.5, dub_end: 9.5 },
    ],
    SR,
  );
  assert.deepEqual(early.pieces, [{ dubFrom: 0, dubTo: 9.5 * SR, gap: 0.5 * SR, length: 9.5 * SR }]);
});

test('plan: a MOV keeps stream order, copies video, rebuilds the timecode track, re-encodes each audio stream as it was', () => {
  const plan = planRepair(movSummary(), plain);
  assert.deepEqual(plan.rebuiltTimecodeTracks, [3]);
  assert.equal(
    plan.filterComplex,
    '[0:1]atrim=start_sample=24000,asetpts=N/SR/TB[o1];[0:2]atrim=start_sample=24000,asetpts=N/SR/TB[o2]',
  );
  const args = plan.outputArgs.join(' ');
  assert.match(args, /^-map 0:0 -c:0 copy -map_metadata:s:0 0:s:0 -map \[o1\] -c:1 aac -ar:1 48000 -b:1 127000 -disposition:1 default -map_metadata:s:1 0:s:1 -map \[o2\] -c:2 pcm_s24le -ar:2 48000 -disposition:2 0 -map_metadata:s:2 0:s:2 /);
  assert.doesNotMatch(args, /0:3/);
  assert.match(args, /-map_metadata 0 -map_chapters 0 -timecode 10:00:00:00$/);
  assert.deepEqual(plan.audio.map((a) => [a.outputIndex, a.shiftSamples, a.expectedSamples, a.lossy]), [
    [1, 24000, 9.5 * SR, true],
    [2, 24000, 9.5 * SR, false],
  ]);
});

test('plan: negative offset pads, keepDuration fixes the length, drift stretches after the shift', () => {
  const s = movSummary();
  const early = planRepair(s, { ...plain, offsetSeconds: -0.25, keepDuration: true });
  assert.match(early.filterComplex, /^\[0:1\]adelay=delays=12000S:all=1,apad=whole_len=480000,atrim=end_sample=480000,asetpts=N\/SR\/TB\[o1\]/);
  const drift = planRepair(s, { ...plain, offsetSeconds: 0.3, conformDrift: true, speedRatio: 0.96 });
  assert.match(drift.filterComplex, /^\[0:1\]atrim=start_sample=14400,asetrate=46080,aresample=48000,asetpts=N\/SR\/TB\[o1\]/);
  assert.equal(drift.audio[0]!.expectedSamples, Math.round((10 * SR - 14400) / 0.96));
});

test('plan: edit map as asegment pieces, unused pieces consumed, concatenated', () => {
  const plan = planRepair(movSummary(), {
    ...plain,
    conformEdits: true,
    segments: [
      { master_start: 0, master_end: 4, dub_start: 0.5, dub_end: 4.5 },
      { master_start: 6, master_end: 10, dub_start: 4.5, dub_end: 8.5 },
    ],
  });
  const g = plan.filterComplex.split(';').filter((x) => x.startsWith('[0:2]') || x.includes('s2'));
  assert.deepEqual(g, [
    '[0:2]asegment=samples=24000|216000|408000[s2_0][s2_1][s2_2][s2_3]',
    '[s2_1]asetpts=N/SR/TB,apad=whole_len=192000,atrim=end_sample=192000[s2p0]',
    '[s2_2]asetpts=N/SR/TB,apad=whole_len=192000,atrim=end_sample=192000,adelay=delays=96000S:all=1[s2p1]',
    '[s2_0]anullsink',
    '[s2_3]anullsink',
    '[s2p0][s2p1]concat=n=2:v=0:a=1,asetpts=N/SR/TB[o2]',
  ]);
  assert.equal(plan.audio[1]!.expectedSamples, 10 * SR);
});

test('plan: AC-3 bit rates snap to a standard one; a stream starting late keeps its start', () => {
  const s: MediaSummary = { ...movSummary(), format: 'matroska,webm', startTimecode: null, streams: [stream({ index: 0, type: 'audio', codec: 'ac3', bitRate: 191000, startTime: 0.5 }), stream({ index: 1, type: 'video', startTime: 0 })] };
  const plan = planRepair(s, plain);
  assert.match(plan.outputArgs.join(' '), /-c:0 ac3 -ar:0 48000 -b:0 192000 /);
  assert.match(plan.filterComplex, /asetpts=N\/SR\/TB\+0\.500000\/TB\[o0\]$/);
  assert.doesNotMatch(plan.outputArgs.join(' '), /-timecode/);
});

test('requests that cannot be carried out are refused', () => {
  const bad = (r: Partial<PlanRequest>) => assert.throws(() => validateRequest({ ...plain, ...r }), (e: unknown) => e instanceof RepairRequestError && e.code === 'bad_request');
  bad({ offsetSeconds: Number.NaN });
  bad({ conformDrift: true });
  bad({ conformDrift: true, speedRatio: 0 });
  bad({ conformDrift: true, speedRatio: 1.5 });
  bad({ conformEdits: true });
  bad({ conformEdits: true, segments: [{ master_start: 0, master_end: Infinity, dub_start: 0, dub_end: 1 }] });
  assert.throws(() => planRepair(movSummary(), { ...plain, offsetSeconds: 11 }), RepairRequestError);
  assert.throws(() => planRepair({ ...movSummary(), streams: [stream({ index: 0, type: 'video' })] }, plain), /no audio stream/);
  assert.throws(() => planRepair(movSummary(), { ...plain, conformEdits: true, segments: [{ master_start: 0, master_end: 1, dub_start: 20, dub_end: 19 }] }), /no segment/);
});

test('checks: what changed is reported, not thrown', () => {
  const input = movSummary();
  const plan = planRepair(input, plain);
  const good: MediaSummary = {
    ...input,
    streams: [
      input.streams[0]!,
      { ...input.streams[1]!, duration: 9.5, bitRate: 125000 },
      { ...input.streams[2]!, durationSamples: 9.5 * SR, duration: 9.5 },
      input.streams[3]!,
    ],
  };
  const ok = checkOutput(input, good, plan);
  assert.deepEqual(ok.filter((c) => !c.ok), []);
  const broken: MediaSummary = {
    ...good,
    startTimecode: null,
    tags: {},
    streams: [
      { ...good.streams[0]!, frameCount: 240 },
      { ...good.streams[1]!, codec: 'mp3', language: null },
      { ...good.streams[2]!, channelLayout: '5.1(side)', durationSamples: 9.5 * SR + 2, sampleRate: 44100 },
    ],
  };
  const checks = checkOutput(input, broken, plan);
  const bad = checks.filter((c) => !c.ok).map((c) => c.name).sort();
  assert.deepEqual(bad, ['audio 1 codec', 'audio 1 language', 'audio 2 channels', 'audio 2 duration', 'audio 2 sample rate', 'metadata', 'timecode', 'timecode track', 'video 0 copied'].sort());
});

test('summary: ffprobe JSON with Matroska DURATION tags, timecode in a stream tag, dispositions', () => {
  const s = parseSummary('/x.mkv', {
    format: { format_name: 'matroska,webm', duration: '4.0', tags: {} },
    streams: [
      { index: 0, codec_type: 'video', codec_name: 'h264', avg_frame_rate: '25/1', tags: { DURATION: '00:00:04.021000000', TIMECODE: '01:00:00:00' } },
      { index: 1, codec_type: 'audio', codec_name: 'opus', sample_rate: '48000', channels: 2, channel_layout: 'stereo', time_base: '1/48000', duration_ts: 192000, disposition: { default: 1, forced: 0 }, tags: { language: 'ger', 'BPS-eng': '96000' } },
    ],
    chapters: [{}, {}],
  });
  assert.equal(s.streams[0]!.duration, 4.021);
  assert.equal(s.streams[0]!.frameRate, 25);
  assert.equal(s.startTimecode, '01:00:00:00');
  assert.equal(s.chapters, 2);
  assert.deepEqual([s.streams[1]!.durationSamples, s.streams[1]!.language, s.streams[1]!.bitRate, s.streams[1]!.disposition], [192000, 'ger', 96000, ['default']]);
});
