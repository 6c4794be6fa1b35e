import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { declaredDataEnd } from './container.ts';
import { MediaInputError, isInputError } from './errors.ts';
import type { MediaInputErrorCode } from './errors.ts';
import { nullLogger } from './logger.ts';
import { frameRateLabel, parseProbeJson, probeMedia } from './probe.ts';
import { ENCODINGS, SECONDS, encodeAll, ff, makeMonoStreamsMxf, makeNoiseRef, makeTempDir, makeTones51 } from './test-fixtures.ts';
import type { EncodingKey } from './test-fixtures.ts';

const tools = { ffmpeg: '/usr/bin/ffmpeg', ffprobe: '/usr/bin/ffprobe' };
const opts = { tools, logger: nullLogger };

async function assertInputError(p: Promise<unknown>, code: MediaInputErrorCode, file: string, reason: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isInputError(e), `expected MediaInputError, got ${String(e)}`);
    assert.ok(e instanceof MediaInputError, 'e instanceof MediaInputError');
    assert.equal(e.code, code);
    assert.equal(e.path, file);
    assert.equal(e.retryable, false);
    assert.ok(e.message.startsWith(`${file}: `), e.message);
    assert.match(e.message, reason);
    assert.ok(!e.message.includes('\n'), 'one-line message');
    return true;
  });
}

describe('probeMedia on generated files', () => {
  let dir = '';
  let cleanup = async (): Promise<void> => {};
  let files = {} as Record<EncodingKey, string>;

  before(async () => {
    ({ dir, cleanup } = await makeTempDir());
    const ref = path.join(dir, 'ref.wav');
    await makeNoiseRef(ref);
    files = await encodeAll(dir, ref, Object.keys(ENCODINGS) as EncodingKey[]);
  });
  after(() => cleanup());

  // Per format: format name, codec, channels, layout, video label, timecode.
  const expected: Record<EncodingKey, { format: RegExp; codec: string; layout: string | null; fps: string | null; tc: string | null }> = {
    wav: { format: /^wav$/, codec: 'pcm_s16le', layout: null, fps: null, tc: null },
    aiff: { format: /^aiff$/, codec: 'pcm_s16be', layout: null, fps: null, tc: null },
    flac: { format: /^flac$/, codec: 'flac', layout: 'stereo', fps: null, tc: null },
    mp3: { format: /^mp3$/, codec: 'mp3', layout: 'stereo', fps: null, tc: null },
    m4a: { format: /^mov,mp4,m4a/, codec: 'aac', layout: 'stereo', fps: null, tc: null },
    ac3: { format: /^ac3$/, codec: 'ac3', layout: 'stereo', fps: null, tc: null },
    eac3: { format: /^eac3$/, codec: 'eac3', layout: 'stereo', fps: null, tc: null },
    aacMkv: { format: /^matroska/, codec: 'aac', layout: 'stereo', fps: null, tc: null },
    mov: { format: /^mov,mp4/, codec: 'pcm_s16le', layout: 'stereo', fps: '23.976', tc: '01:00:00:00' },
    mp4: { format: /^mov,mp4/, codec: 'aac', layout: 'stereo', fps: '25', tc: null },
    mkv: { format: /^matroska/, codec: 'opus', layout: 'stereo', fps: '29.97', tc: null },
    mxf: { format: /^mxf$/, codec: 'pcm_s24le', layout: null, fps: '25', tc: '10:00:00:00' },
  };

  for (const key of Object.keys(ENCODINGS) as EncodingKey[]) {
    test(`${key}: duration, rate, channels, layout, frame rate, timecode`, async () => {
      const exp = expected[key];
      const p = await probeMedia(files[key], opts);
      assert.equal(p.path, files[key]);
      assert.match(p.format, exp.format);
      assert.ok(p.duration !== null && Math.abs(p.duration - SECONDS) < 0.05, `duration ${p.duration}`);
      assert.equal(p.audioStreams.length, 1);
      const a = p.audioStreams[0];
      assert.ok(a, 'one audio stream');
      assert.equal(a.codec, exp.codec);
      assert.equal(a.sampleRate, 48000);
      assert.equal(a.channels, 2);
      assert.equal(a.channelLayout, exp.layout);
      assert.equal(a.audioIndex, 0);
      assert.equal(a.index, exp.fps === null ? 0 : 1, 'video is stream 0 where present');
      assert.equal(p.videoFrameRateLabel, exp.fps);
      assert.equal(p.startTimecode, exp.tc);
      assert.equal(p.truncated, false);
      for (const t of [p.startTime, a.startTime]) assert.ok(t === null || Math.abs(t) < 0.05, `start time ${t}`);
      if (exp.fps === '23.976') assert.ok(Math.abs((p.videoFrameRate ?? 0) - 24000 / 1001) < 1e-6, `rate ${p.videoFrameRate}`);
      if (exp.fps === null) assert.equal(p.videoFrameRate, null);
    });
  }

  test('a 5.1 wav and an MXF with six mono streams', async () => {
    const t51 = path.join(dir, 'tones51.wav');
    await makeTones51(t51);
    const mono6 = path.join(dir, 'mono6.mxf');
    await makeMonoStreamsMxf(t51, mono6);
    const p51 = await probeMedia(t51, opts);
    assert.equal(p51.audioStreams[0]?.channels, 6);
    assert.equal(p51.audioStreams[0]?.channelLayout, '5.1');
    const p6 = await probeMedia(mono6, opts);
    assert.deepEqual(p6.audioStreams.map((s) => [s.index, s.audioIndex, s.channels]), [1, 2, 3, 4, 5, 6].map((i) => [i, i - 1, 1]));
    assert.equal(p6.videoFrameRateLabel, '25');
  });

  test('language, title and default disposition come from the container', async () => {
    const file = path.join(dir, 'tagged.mkv');
    await ff([
      '-i', files.wav, '-i', files.wav, '-map', '0:a', '-map', '1:a', '-c:a', 'flac', '-ac:a:1', '1',
      '-metadata:s:a:0', 'language=eng', '-metadata:s:a:0', 'title=Original',
      '-metadata:s:a:1', 'language=fre', '-metadata:s:a:1', 'title=VF',
      '-disposition:a:0', '0', '-disposition:a:1', 'default', file,
    ]);
    const p = await probeMedia(file, opts);
    assert.deepEqual(
      p.audioStreams.map((s) => [s.language, s.title, s.isDefault, s.channels]),
      [['eng', 'Original', false, 2], ['fre', 'VF', true, 1]],
    );
  });

  describe('bad input', () => {
    test('missing file -> not_found', async () => {
      const f = path.join(dir, 'nope.wav');
      await assertInputError(probeMedia(f, opts), 'not_found', f, /file not found$/);
    });
    test('directory -> is_directory', async () => {
      const d = path.join(dir, 'adir.wav');
      await mkdir(d);
      await assertInputError(probeMedia(d, opts), 'is_directory', d, /is a directory/);
    });
    test('zero-length file -> empty', async () => {
      const f = path.join(dir, 'zero.wav');
      await writeFile(f, '');
      await assertInputError(probeMedia(f, opts), 'empty', f, /empty \(0 bytes\)/);
    });
    test('text file -> not_media', async () => {
      // ffprobe opens *.txt as ANSI art (the tty demuxer); anything else fails outright.
      for (const [name, why] of [['notes.txt', 'text file'], ['notes.wav', 'Invalid data found when processing input']] as const) {
        const f = path.join(dir, name);
        await writeFile(f, 'This is not audio.\nJust some text.\n'.repeat(20));
        await assertInputError(probeMedia(f, opts), 'not_media', f, new RegExp(`not a readable audio/video file \\(${why}\\)$`));
      }
    });
    test('video-only file -> no_audio', async () => {
      const f = path.join(dir, 'video-only.mp4');
      await ff(['-f', 'lavfi', '-i', 'testsrc2=size=128x72:rate=25:duration=1', '-c:v', 'mpeg4', f]);
      await assertInputError(probeMedia(f, opts), 'no_audio', f, /has no audio streams \(streams: video\)/);
    });
    test('MP4 cut off before its index -> corrupt', async () => {
      const whole = await readFile(files.m4a);
      const f = path.join(dir, 'cut-nomoov.m4a');
      await writeFile(f, whole.subarray(0, Math.floor(whole.length / 2)));
      await assertInputError(probeMedia(f, opts), 'corrupt', f, /moov atom\) missing/);
    });
    test('unreadable file -> permission', async () => {
      const f = path.join(dir, 'locked.wav');
      await copyFile(files.wav, f);
      await chmod(f, 0o000);
      if (process.getuid?.() !== 0) {
        await assertInputError(probeMedia(f, opts), 'permission', f, /permission denied/);
        return;
      }
      // Root reads any file: run the CLI as root without the capabilities that bypass file
      // permissions (works wherever the checkout lives).
      const res = spawnSync('setpriv', ['--bounding-set=-dac_override,-dac_read_search', process.execPath, 'services/cli/bin/sync-analyzer.js', 'probe', f], {
        encoding: 'utf8',
      });
      assert.equal(res.status, 2, `exit ${res.status}; stderr: ${res.stderr}`);
      assert.match(res.stderr, /permission denied/i, res.stderr);
    });
    test('a WAV cut short is flagged truncated by its header', async () => {
      const whole = await readFile(files.wav);
      const f = path.join(dir, 'cut.wav');
      await writeFile(f, whole.subarray(0, 20000));
      const p = await probeMedia(f, opts);
      assert.equal(p.truncated, true);
      assert.equal(declaredDataEnd(whole), whole.length);
      assert.equal(declaredDataEnd(Buffer.from('not a riff header at all')), null);
    });
  });
});

describe('probe parsing', () => {
  test('frameRateLabel snaps to standard rates within 0.01 fps', () => {
    assert.equal(frameRateLabel(24000 / 1001), '23.976');
    assert.equal(frameRateLabel(23.98), '23.976');
    assert.equal(frameRateLabel(29.97), '29.97');
    assert.equal(frameRateLabel(60000 / 1001), '59.94');
    assert.equal(frameRateLabel(25.005), '25');
    assert.equal(frameRateLabel(12.5), '12.5');
    assert.equal(frameRateLabel(23.95), '23.95');
    assert.equal(frameRateLabel(15.123456), '15.123');
  });

  test('duration falls back to the longest stream; attached pictures are not video; stream timecode', () => {
    const p = parseProbeJson('/x.m4a', {
      format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2' },
      streams: [
        { index: 0, codec_type: 'video', codec_name: 'mjpeg', avg_frame_rate: '90000/1', disposition: { attached_pic: 1 } },
        { index: 1, codec_type: 'audio', codec_name: 'aac', sample_rate: '44100', channels: 2, channel_layout: 'stereo', duration: '12.5', tags: { language: 'und' } },
        { index: 2, codec_type: 'video', codec_name: 'h264', avg_frame_rate: '0/0', r_frame_rate: '30000/1001', duration: '12.7' },
        { index: 3, codec_type: 'data', tags: { timecode: '00:59:58:00' } },
      ],
    });
    assert.equal(p.duration, 12.7);
    assert.equal(p.videoFrameRateLabel, '29.97');
    assert.equal(p.startTimecode, '00:59:58:00');
    assert.equal(p.audioStreams[0]?.language, null);
    assert.equal(p.audioStreams[0]?.sampleRate, 44100);
  });

  test('no streams -> not_media', () => {
    assert.throws(() => parseProbeJson('/x.bin', { format: { format_name: 'data' }, streams: [] }), (e: unknown) => e instanceof MediaInputError && e.code === 'not_media');
  });
});
