import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MediaInputError } from './errors.ts';
import type { AudioStreamInfo, ProbeResult } from './probe.ts';
import { mainStream, mixWeights, planAudioInput } from './selection.ts';
import type { AudioPlan } from './selection.ts';

function stream(audioIndex: number, over: Partial<AudioStreamInfo> = {}): AudioStreamInfo {
  return {
    index: audioIndex + 1,
    audioIndex,
    codec: 'pcm_s24le',
    sampleRate: 48000,
    channels: 2,
    channelLayout: 'stereo',
    language: null,
    title: null,
    duration: 10,
    startTime: 0,
    isDefault: false,
    ...over,
  };
}

function probe(streams: AudioStreamInfo[]): ProbeResult {
  return {
    path: '/media/film.mxf',
    format: 'mxf',
    duration: 10,
    startTime: 0,
    audioStreams: streams,
    videoFrameRate: 25,
    videoFrameRateLabel: '25',
    startTimecode: null,
    truncated: false,
  };
}

const graph = (plan: AudioPlan): string => {
  assert.equal(plan.ffmpegArgs[0], '-filter_complex');
  assert.deepEqual(plan.ffmpegArgs.slice(2), ['-map', '[aout]']);
  const g = plan.ffmpegArgs[1] as string;
  assert.ok(g.endsWith('[aout]'), g);
  return g.slice(0, -'[aout]'.length);
};

function assertBadSelection(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof MediaInputError, 'e instanceof MediaInputError');
    assert.equal(e.code, 'bad_selection');
    assert.equal(e.path, '/media/film.mxf');
    assert.match(e.message, /^\/media\/film\.mxf: audio selection does not match the file/);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('mixWeights', () => {
  test('5.1: centre down-weighted, LFE dropped, fronts twice the surrounds, sum 1', () => {
    assert.deepEqual(mixWeights('5.1', 6).map((w) => Math.round(w * 1e9) / 1e9), [0.3, 0.3, 0.1, 0, 0.15, 0.15]);
    assert.deepEqual(mixWeights('5.1(side)', 6).map((w) => Math.round(w * 1e9) / 1e9), [0.3, 0.3, 0.1, 0, 0.15, 0.15]);
  });
  test('stereo halves, 7.1 and unknown layouts', () => {
    assert.deepEqual(mixWeights('stereo', 2), [0.5, 0.5]);
    const w71 = mixWeights('7.1', 8);
    assert.equal(w71[3], 0);
    assert.equal(w71[2], 0.1);
    assert.ok(Math.abs((w71[0] as number) - 2 * (w71[4] as number)) < 1e-12, `7.1 weights ${w71.join(',')}`);
    for (const [layout, n] of [['7.1', 8], ['quad', 4], ['2.1', 3], ['mono', 1], [null, 3], ['5.1', 5]] as const) {
      const sum = mixWeights(layout, n).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-9, `${layout}/${n} sums to ${sum}`);
    }
    // A layout name that does not match the channel count is treated as unknown.
    assert.deepEqual(mixWeights('5.1', 4), [0.25, 0.25, 0.25, 0.25]);
  });
});

describe('planAudioInput', () => {
  test("'auto' takes the default stream, else the one with most channels, else the first", () => {
    const a = stream(0, { channels: 2 });
    const b = stream(1, { channels: 6, channelLayout: '5.1' });
    const c = stream(2, { channels: 2, isDefault: true });
    assert.equal(mainStream([a, b, c]), c);
    assert.equal(mainStream([a, b]), b);
    assert.equal(mainStream([a, stream(1)]), a);

    const plan = planAudioInput(probe([a, b]), { kind: 'auto' });
    assert.equal(graph(plan), '[0:a:1]pan=mono|c0=0.3*FL+0.3*FR+0.1*FC+0.15*BL+0.15*BR');
    assert.equal(plan.description, 'stream #2 (a:1, pcm_s24le 5.1), layout-aware mix (centre down-weighted, LFE dropped)');
    assert.equal(plan.channels, 6);
    assert.deepEqual(plan.audioIndices, [1]);
  });

  test('side layouts use the side channel names', () => {
    const plan = planAudioInput(probe([stream(0, { channels: 6, channelLayout: '5.1(side)', codec: 'eac3' })]), { kind: 'mix' });
    assert.equal(graph(plan), '[0:a:0]pan=mono|c0=0.3*FL+0.3*FR+0.1*FC+0.15*SL+0.15*SR');
    assert.match(plan.description, /eac3 5\.1\(side\)/);
  });

  test('unknown layout: equal weights by channel index', () => {
    const plan = planAudioInput(probe([stream(0, { channels: 4, channelLayout: null })]), { kind: 'auto' });
    assert.equal(graph(plan), '[0:a:0]pan=mono|c0=0.25*c0+0.25*c1+0.25*c2+0.25*c3');
    assert.match(plan.description, /equal-weight mix of 4 channels \(layout unknown\)/);
  });

  test("'auto' joins one-mono-stream-per-channel files: 2 -> stereo, 6 -> 5.1, else amerge", () => {
    const monos = (n: number): AudioStreamInfo[] => Array.from({ length: n }, (_, i) => stream(i, { channels: 1, channelLayout: null }));
    const six = planAudioInput(probe(monos(6)), { kind: 'auto' });
    assert.equal(
      graph(six),
      '[0:a:0][0:a:1][0:a:2][0:a:3][0:a:4][0:a:5]join=inputs=6:channel_layout=5.1:map=0.0-FL|1.0-FR|2.0-FC|3.0-LFE|4.0-BL|5.0-BR,' +
        'pan=mono|c0=0.3*FL+0.3*FR+0.1*FC+0.15*BL+0.15*BR',
    );
    assert.equal(six.channels, 6);
    assert.match(six.description, /^6 mono streams \(#1, #2, #3, #4, #5, #6\) joined as 5\.1/);

    const two = planAudioInput(probe(monos(2)), { kind: 'auto' });
    assert.equal(graph(two), '[0:a:0][0:a:1]join=inputs=2:channel_layout=stereo:map=0.0-FL|1.0-FR,pan=mono|c0=0.5*FL+0.5*FR');

    const four = planAudioInput(probe(monos(4)), { kind: 'auto' });
    assert.equal(graph(four), '[0:a:0][0:a:1][0:a:2][0:a:3]amerge=inputs=4,pan=mono|c0=0.25*c0+0.25*c1+0.25*c2+0.25*c3');

    // A single mono stream, or mono mixed with stereo, is not joined.
    assert.equal(graph(planAudioInput(probe(monos(1)), { kind: 'auto' })), '[0:a:0]pan=mono|c0=c0');
    const mixed = [stream(0, { channels: 1, channelLayout: 'mono' }), stream(1, { channels: 2 })];
    assert.equal(graph(planAudioInput(probe(mixed), { kind: 'auto' })), '[0:a:1]pan=mono|c0=0.5*FL+0.5*FR');
  });

  test("'channel' and 'stream' selections", () => {
    const p = probe([stream(0), stream(1, { channels: 6, channelLayout: '5.1' })]);
    const fc = planAudioInput(p, { kind: 'channel', audioIndex: 1, channel: 2 });
    assert.equal(graph(fc), '[0:a:1]pan=mono|c0=c2');
    assert.equal(fc.description, 'stream #2 (a:1, pcm_s24le 5.1), channel 2 (FC)');
    assert.equal(graph(planAudioInput(p, { kind: 'stream', audioIndex: 0 })), '[0:a:0]pan=mono|c0=0.5*FL+0.5*FR');
    // Without audioIndex, 'channel' uses the main stream...
    assert.equal(graph(planAudioInput(p, { kind: 'channel', channel: 5 })), '[0:a:1]pan=mono|c0=c5');
    // ...or, for one mono stream per channel, the N-th stream.
    const monos = probe(Array.from({ length: 6 }, (_, i) => stream(i, { channels: 1, channelLayout: null })));
    const ch = planAudioInput(monos, { kind: 'channel', channel: 3 });
    assert.equal(graph(ch), '[0:a:3]pan=mono|c0=c0');
    assert.match(ch.description, /^channel 3 \(LFE\) = mono stream #4/);
  });

  test('the resampler goes inside the graph', () => {
    const p = probe([stream(0)]);
    assert.equal(graph(planAudioInput(p, { kind: 'auto' }, { sampleRate: 8000, resampler: 'soxr' })), '[0:a:0]pan=mono|c0=0.5*FL+0.5*FR,aresample=8000:resampler=soxr');
    assert.equal(graph(planAudioInput(p, { kind: 'auto' }, { sampleRate: 8000 })), '[0:a:0]pan=mono|c0=0.5*FL+0.5*FR,aresample=8000');
  });

  test('out-of-range selections are bad_selection input errors', () => {
    const p = probe([stream(0), stream(1)]);
    assertBadSelection(() => planAudioInput(p, { kind: 'stream', audioIndex: 2 }), /audio stream 2 is out of range: the file has 2 audio stream\(s\), a:0\.\.a:1/);
    assertBadSelection(() => planAudioInput(p, { kind: 'mix', audioIndex: -1 }), /audio stream -1 is out of range/);
    assertBadSelection(() => planAudioInput(p, { kind: 'channel', audioIndex: 0, channel: 2 }), /channel 2 is out of range: stream #1 \(a:0, pcm_s24le stereo\) has 2 channel\(s\)/);
    assertBadSelection(() => planAudioInput(p, { kind: 'channel', channel: 1.5 }), /channel 1\.5 is out of range/);
    const monos = probe(Array.from({ length: 6 }, (_, i) => stream(i, { channels: 1, channelLayout: null })));
    assertBadSelection(() => planAudioInput(monos, { kind: 'channel', channel: 6 }), /6 mono audio streams/);
  });
});
