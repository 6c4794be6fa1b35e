// Integration tests of the dub repair through real ffmpeg: the product requirement (a dub out of
// sync by an offset, a PAL speed-up, or edits is in sync with the master after the repair, as the
// analysis itself measures), stream preservation in a MOV and an MKV, sample accuracy on PCM,
// keepDuration, cancellation and the refusals.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { analyzeFiles } from '@sync-analyzer/analysis';
import type { AnalysisResult } from '@sync-analyzer/engine';
import { AbortedError, MediaInputError, nullLogger, resolveTools } from '@sync-analyzer/media';
import { FFMPEG, ff, makeDub, makeProgramme, makeTempDir, runLimited } from '../../../cli/src/testing/media-fixtures.ts';
import { RepairError, RepairRequestError, repairMedia } from './repair-media.ts';
import type { MediaSummary, RepairOutcome, RepairRequest } from './repair-media.ts';

const tools = resolveTools();
const SR = 48000;
/** One frame at 25 fps: the acceptance tolerance. */
const FRAME = 1 / 25;
const MASTER_SECONDS = 48;
const OFFSET = 0.75;
/** The edited dubs are also this late before their edit. */
const EDIT_DELAY = 0.4;
const DUB_FILTERS = ['equalizer=f=2500:t=q:w=1:g=-5', 'volume=0.8'];
const FIVE_ONE = 'pan=5.1|FL=c0|FR=c1|FC=0.5*c0+0.5*c1|LFE=0.2*c0+0.2*c1|BL=0.7*c0|BR=0.7*c1';

/** Runs ffmpeg and returns its stdout. */
function ffOut(args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(FFMPEG, ['-nostdin', '-hide_banner', '-v', 'error', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`ffmpeg ${args.join(' ')} failed (${code}): ${err}`))));
  });
}

/** All channels of one audio stream, interleaved, as 32-bit integers (exact for 16- and 24-bit PCM). */
async function pcm32(file: string, stream: string): Promise<Int32Array> {
  const b = await ffOut(['-i', file, '-map', stream, '-f', 's32le', '-c:a', 'pcm_s32le', '-']);
  return new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

/** The video packets' lines of a framemd5 (timestamps, size, checksum), comments dropped. */
async function videoPackets(file: string): Promise<string[]> {
  const b = await ffOut(['-i', file, '-map', '0:v', '-c', 'copy', '-f', 'framemd5', '-']);
  return b.toString('utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** First index where a and b differ over n values, or -1. */
function firstDiff(a: Int32Array, aFrom: number, b: Int32Array, bFrom: number, n: number): number {
  for (let i = 0; i < n; i++) if (a[aFrom + i] !== b[bFrom + i]) return i;
  return -1;
}

function failed(o: RepairOutcome): string {
  return JSON.stringify(o.checks.filter((c) => !c.ok));
}

/** The share of the master's programme time covered by segments in sync within one frame at both ends. */
function inSyncShare(r: AnalysisResult): number {
  const good = r.segments
    .filter((g) => Math.abs(g.offset_seconds) < FRAME && Math.abs(g.offset_end_seconds) < FRAME)
    .reduce((sum, g) => sum + (g.master_end - g.master_start), 0);
  return good / r.master.duration;
}

const fmtSegments = (r: AnalysisResult) =>
  JSON.stringify(r.segments.map((g) => [g.master_start, g.master_end, g.dub_start, g.dub_end, g.offset_seconds, g.offset_end_seconds].map((x) => +x.toFixed(3))));

describe('repairMedia through real ffmpeg', () => {
  let dir = '';
  let cleanup = async (): Promise<void> => {};
  const f = (name: string) => path.join(dir, name);

  before(async () => {
    ({ dir, cleanup } = await makeTempDir('sync-analyzer-repair-'));
    await runLimited([
      () => makeProgramme(f('master.wav'), 21, MASTER_SECONDS),
      () => makeProgramme(f('foreign.wav'), 909, 4),
      () => makeProgramme(f('short.wav'), 33, 8),
    ]);
    // Edited dubs: pieces of the master (and of foreign material), joined, then delayed and EQ'd.
    const edited = (file: string, pieces: string[], extra: string[] = []) => {
      const n = pieces.length;
      const graph = [
        `[0:a]asplit=${pieces.filter((p) => p.startsWith('m')).length}${pieces.filter((p) => p.startsWith('m')).map((_, i) => `[m${i}]`).join('')}`,
        ...pieces.map((p, i) => {
          const [src, from, to] = p.split(':');
          const label = src === 'm' ? `[m${pieces.slice(0, i).filter((q) => q.startsWith('m')).length}]` : '[1:a]';
          return `${label}atrim=${from}:${to},asetpts=PTS-STARTPTS[p${i}]`;
        }),
        `${pieces.map((_, i) => `[p${i}]`).join('')}concat=n=${n}:v=0:a=1,${[`adelay=${EDIT_DELAY * 1000}:all=1`, ...extra, ...DUB_FILTERS].join(',')}[out]`,
      ].join(';');
      return ff(['-i', f('master.wav'), '-i', f('foreign.wav'), '-filter_complex', graph, '-map', '[out]', '-c:a', 'pcm_s16le', file]);
    };
    await runLimited([
      () => makeDub(f('master.wav'), f('dub-offset.wav'), OFFSET),
      // PAL speed-up: played at 25/24 (relabelled 48000 * 25/24 = 50000 Hz, resampled back to 48 kHz), 0.3 s late before it.
      () => makeDub(f('master.wav'), f('dub-pal.wav'), 0.3, { filters: ['asetrate=50000', 'aresample=48000', ...DUB_FILTERS] }),
      // A 4 s scene cut out at 20 s.
      () => edited(f('dub-cut.wav'), [`m:0:20`, `m:24:${MASTER_SECONDS}`]),
      // 3 s of foreign material inserted at 24 s.
      () => edited(f('dub-insert.wav'), [`m:0:24`, 'f:0:3', `m:24:${MASTER_SECONDS}`]),
      // Both at once: the PAL speed-up of a dub with the scene cut.
      () => edited(f('dub-pal-cut.wav'), [`m:0:20`, `m:24:${MASTER_SECONDS}`], ['asetrate=50000', 'aresample=48000']),
    ]);
  });
  after(() => cleanup());

  describe('acceptance: the repaired dub is in sync with the master (as analysed)', () => {
    const cases: { name: string; dub: string; expect: (r: AnalysisResult) => void }[] = [
      {
        name: 'a dub 0.75 s late',
        dub: 'dub-offset.wav',
        expect: (r) => {
          assert.equal(r.verdict, 'offset', r.summary);
          assert.ok(Math.abs((r.offset_seconds ?? 0) - OFFSET) < 0.002, r.summary);
        },
      },
      {
        name: 'a dub at 25/24 speed (asetrate=50000,aresample=48000)',
        dub: 'dub-pal.wav',
        expect: (r) => {
          assert.equal(r.verdict, 'drift', r.summary);
          assert.ok(r.drift && Math.abs(r.drift.speed_ratio - 24 / 25) < 1e-5, JSON.stringify(r.drift));
        },
      },
      {
        name: 'a dub with a 4 s scene cut',
        dub: 'dub-cut.wav',
        expect: (r) => {
          assert.equal(r.verdict, 'edited', r.summary);
          assert.ok(r.gaps.some((g) => g.kind === 'removed' && Math.abs(g.duration_seconds - 4) < 0.1), JSON.stringify(r.gaps));
        },
      },
      {
        name: 'a dub with 3 s of foreign material inserted',
        dub: 'dub-insert.wav',
        expect: (r) => {
          assert.equal(r.verdict, 'edited', r.summary);
          assert.ok(r.gaps.some((g) => g.kind === 'inserted' && Math.abs(g.duration_seconds - 3) < 0.1), JSON.stringify(r.gaps));
        },
      },
      {
        name: 'a dub at 25/24 speed with a 4 s scene cut (drift and edits conformed together)',
        dub: 'dub-pal-cut.wav',
        expect: (r) => {
          assert.equal(r.verdict, 'edited', r.summary);
          assert.ok(r.drift && Math.abs(r.drift.speed_ratio - 24 / 25) < 1e-5, JSON.stringify(r.drift));
        },
      },
    ];
    for (const c of cases) {
      test(c.name, async (t) => {
        const before = await analyzeFiles(f('master.wav'), f(c.dub), { tools, logger: nullLogger });
        c.expect(before);
        assert.ok(before.offset_seconds !== null);
        const drift = before.drift !== null && before.drift.direction !== 'none';
        const edits = before.verdict === 'edited';
        const out = f(`repaired-${c.dub}`);
        const outcome = await repairMedia(
          {
            inputPath: f(c.dub),
            outputPath: out,
            offsetSeconds: before.offset_seconds,
            keepDuration: false,
            conformDrift: drift,
            ...(drift ? { speedRatio: before.drift!.speed_ratio } : {}),
            conformEdits: edits,
            ...(edits ? { segments: before.segments } : {}),
          },
          { tools, logger: nullLogger },
        );
        assert.equal(outcome.checks.every((k) => k.ok), true, failed(outcome));
        const after = await analyzeFiles(f('master.wav'), out, { tools, logger: nullLogger });
        const share = inSyncShare(after);
        t.diagnostic(`before: ${before.summary}; after: ${after.summary}, in sync over ${(share * 100).toFixed(2)}% ${fmtSegments(after)}`);
        assert.equal(after.verdict, 'in_sync', `${after.summary} ${fmtSegments(after)}`);
        assert.ok(share >= 0.99, `in sync over ${(share * 100).toFixed(2)}% of the master: ${fmtSegments(after)}`);
      });
    }
  });

  describe('a MOV with H.264 video, timecode and two audio streams', () => {
    const SHIFT = 0.5;
    let outcome: RepairOutcome;
    before(async () => {
      await ff([
        '-f', 'lavfi', '-i', 'testsrc=size=64x36:rate=25:duration=8',
        '-i', f('short.wav'),
        '-filter_complex', `[1:a]asplit=2[st][m];[m]${FIVE_ONE}[six]`,
        '-map', '0:v', '-map', '[st]', '-map', '[six]',
        '-c:v', 'libx264', '-preset', 'ultrafast',
        '-c:a:0', 'aac', '-b:a:0', '128k', '-c:a:1', 'pcm_s24le',
        '-metadata:s:a:0', 'language=eng', '-metadata:s:a:1', 'language=fra', '-metadata:s:a:1', 'handler_name=Version francaise',
        '-metadata', 'title=Episode 1', '-timecode', '10:00:00:00',
        f('in.mov'),
      ]);
      outcome = await repairMedia(
        { inputPath: f('in.mov'), outputPath: f('out/repaired.mov'), offsetSeconds: SHIFT, keepDuration: false, conformDrift: false, conformEdits: false },
        { tools, logger: nullLogger },
      );
    });

    test('every check passes and the summaries show what was kept', () => {
      assert.equal(outcome.outputPath, f('out/repaired.mov'));
      assert.equal(outcome.checks.every((c) => c.ok), true, failed(outcome));
      const names = outcome.checks.map((c) => c.name);
      for (const n of ['streams', 'timecode', 'timecode track', 'audio 1 codec', 'audio 1 duration', 'audio 1 bit rate', 'audio 2 channels', 'audio 2 language', 'audio 2 tags', 'audio 2 duration', 'video 0 copied', 'chapters', 'metadata']) {
        assert.ok(names.includes(n), `check "${n}" among ${names.join(', ')}`);
      }
      const o = outcome.outputProbe as MediaSummary;
      assert.equal(o.startTimecode, '10:00:00:00');
      assert.equal(o.tags.title, 'Episode 1');
      const audio = o.streams.filter((s) => s.type === 'audio');
      assert.deepEqual(
        audio.map((s) => [s.codec, s.sampleRate, s.channels, s.channelLayout, s.language, s.tags.handler_name]),
        [
          ['aac', SR, 2, 'stereo', 'eng', 'SoundHandler'],
          ['pcm_s24le', SR, 6, '5.1', 'fra', 'Version francaise'],
        ],
      );
      assert.ok(outcome.ffmpegArgs.includes('-timecode'));
    });

    test('the video stream is bit-identical (packet checksums)', async () => {
      const [a, b] = await Promise.all([videoPackets(f('in.mov')), videoPackets(f('out/repaired.mov'))]);
      assert.equal(a.length, 200);
      assert.deepEqual(b, a);
    });

    test('the PCM stream is shifted by exactly 0.5 s in every channel', async () => {
      const [a, b] = await Promise.all([pcm32(f('in.mov'), '0:a:1'), pcm32(f('out/repaired.mov'), '0:a:1')]);
      const shift = SHIFT * SR * 6;
      assert.equal(b.length, a.length - shift);
      assert.equal(firstDiff(b, 0, a, shift, b.length), -1);
      assert.ok(b.some((x) => x !== 0));
    });

    test('the source is untouched and no partial file is left', async () => {
      assert.deepEqual((await readdir(f('out'))).sort(), ['repaired.mov']);
      const again = await repairMedia(
        { inputPath: f('in.mov'), outputPath: f('out/again.mov'), offsetSeconds: SHIFT, keepDuration: false, conformDrift: false, conformEdits: false },
        { tools, logger: nullLogger },
      );
      assert.deepEqual(await videoPackets(again.outputPath), await videoPackets(f('in.mov')));
    });
  });

  test('an MKV keeps its subtitles, chapters and tags', async () => {
    await writeFile(f('subs.srt'), '1\n00:00:01,000 --> 00:00:02,000\nHello\n\n2\n00:00:04,000 --> 00:00:05,000\nWorld\n');
    await writeFile(f('chapters.txt'), ';FFMETADATA1\ntitle=Pilot\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=4000\ntitle=One\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=4000\nEND=8000\ntitle=Two\n');
    await ff([
      '-f', 'lavfi', '-i', 'testsrc=size=64x36:rate=25:duration=8', '-i', f('short.wav'), '-i', f('subs.srt'), '-i', f('chapters.txt'),
      '-map', '0:v', '-map', '1:a', '-map', '2:s', '-map_metadata', '3', '-map_chapters', '3',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'libopus', '-b:a', '96k', '-c:s', 'srt',
      '-metadata:s:a:0', 'language=ger', '-metadata:s:s:0', 'language=eng', f('in.mkv'),
    ]);
    const o = await repairMedia(
      { inputPath: f('in.mkv'), outputPath: f('repaired.mkv'), offsetSeconds: -0.2, keepDuration: true, conformDrift: false, conformEdits: false },
      { tools, logger: nullLogger },
    );
    assert.equal(o.checks.every((c) => c.ok), true, failed(o));
    const out = o.outputProbe as MediaSummary;
    assert.equal(out.chapters, 2);
    assert.equal(out.tags.title, 'Pilot');
    assert.deepEqual(out.streams.map((s) => [s.type, s.codec, s.language]), [
      ['video', 'h264', null],
      ['audio', 'opus', 'ger'],
      ['subtitle', 'subrip', 'eng'],
    ]);
  });

  test('an MXF keeps every video frame and its timecode: the audio is fitted to the video', async () => {
    await ff([
      '-f', 'lavfi', '-i', 'testsrc=size=64x36:rate=25:duration=8', '-i', f('short.wav'),
      '-map', '0:v', '-map', '1:a', '-c:v', 'mpeg2video', '-c:a', 'pcm_s24le', '-timecode', '01:00:00:00', f('in.mxf'),
    ]);
    for (const [name, offset] of [['late.mxf', 0.4], ['early.mxf', -0.4]] as const) {
      const o = await repairMedia(
        { inputPath: f('in.mxf'), outputPath: f(`repaired-${name}`), offsetSeconds: offset, keepDuration: false, conformDrift: false, conformEdits: false },
        { tools, logger: nullLogger },
      );
      assert.equal(o.checks.every((c) => c.ok), true, failed(o));
      assert.equal((o.outputProbe as MediaSummary).startTimecode, '01:00:00:00');
      assert.deepEqual(await videoPackets(o.outputPath), await videoPackets(f('in.mxf')));
      const [a, b] = await Promise.all([pcm32(f('in.mxf'), '0:a:0'), pcm32(o.outputPath, '0:a:0')]);
      assert.equal(b.length, a.length);
      const shift = Math.round(offset * SR) * 2;
      if (shift > 0) assert.equal(firstDiff(b, 0, a, shift, a.length - shift), -1);
      else assert.equal(firstDiff(b, -shift, a, 0, a.length + shift), -1);
    }
  });

  describe('sample accuracy and keepDuration on PCM WAV', () => {
    const plain = (offsetSeconds: number, keepDuration: boolean, name: string): RepairRequest => ({
      inputPath: f('short.wav'),
      outputPath: f(name),
      offsetSeconds,
      keepDuration,
      conformDrift: false,
      conformEdits: false,
    });

    test('a negative offset puts exact digital silence of the right length at the head', async () => {
      const o = await repairMedia(plain(-0.3, false, 'early.wav'), { tools, logger: nullLogger });
      assert.equal(o.checks.every((c) => c.ok), true, failed(o));
      const [a, b] = await Promise.all([pcm32(f('short.wav'), '0:a:0'), pcm32(f('early.wav'), '0:a:0')]);
      const pad = 0.3 * SR * 2;
      assert.equal(b.length, a.length + pad);
      assert.ok(b.subarray(0, pad).every((x) => x === 0), 'the head is silence');
      assert.notEqual(a[0], 0, 'the programme starts with sound, so the silence is the pad');
      assert.equal(firstDiff(b, pad, a, 0, a.length), -1);
    });

    test('a positive offset: output[i] == input[i + shift]', async () => {
      const o = await repairMedia(plain(0.123457, false, 'late.wav'), { tools, logger: nullLogger });
      const [a, b] = await Promise.all([pcm32(f('short.wav'), '0:a:0'), pcm32(f('late.wav'), '0:a:0')]);
      const shift = Math.round(0.123457 * SR) * 2;
      assert.equal(b.length, a.length - shift);
      assert.equal(firstDiff(b, 0, a, shift, b.length), -1);
      assert.ok(o.checks.find((c) => c.name === 'audio 0 duration')?.ok);
    });

    for (const offset of [0.75, -0.3]) {
      test(`keepDuration keeps the length to the sample (offset ${offset})`, async () => {
        const name = `keep${offset}.wav`;
        const o = await repairMedia(plain(offset, true, name), { tools, logger: nullLogger });
        assert.equal(o.checks.every((c) => c.ok), true, failed(o));
        const [a, b] = await Promise.all([pcm32(f('short.wav'), '0:a:0'), pcm32(f(name), '0:a:0')]);
        assert.equal(b.length, a.length);
        const shift = Math.round(offset * SR) * 2;
        if (shift > 0) {
          assert.equal(firstDiff(b, 0, a, shift, a.length - shift), -1);
          assert.ok(b.subarray(a.length - shift).every((x) => x === 0), 'the tail is padded with silence');
        } else {
          assert.equal(firstDiff(b, -shift, a, 0, a.length + shift), -1);
        }
      });
    }

    test('keepDuration on the MOV keeps each audio stream within one sample (PCM)', async () => {
      const o = await repairMedia(
        { inputPath: f('in.mov'), outputPath: f('keep.mov'), offsetSeconds: -0.25, keepDuration: true, conformDrift: false, conformEdits: false },
        { tools, logger: nullLogger },
      );
      assert.equal(o.checks.every((c) => c.ok), true, failed(o));
      const [a, b] = await Promise.all([pcm32(f('in.mov'), '0:a:1'), pcm32(f('keep.mov'), '0:a:1')]);
      assert.equal(b.length, a.length);
    });

    test('an edit map of 300 pieces (through a filter script) places every sample exactly', async () => {
      // Piece k: dub [k * 1200, k * 1200 + 960) at master k * 1248 (so 240 dub samples dropped and 288 of silence added between pieces).
      const segments = Array.from({ length: 300 }, (_, k) => ({ dub_start: (k * 1200) / SR, dub_end: (k * 1200 + 960) / SR, master_start: (k * 1248) / SR, master_end: (k * 1248 + 960) / SR }));
      const logged: string[][] = [];
      const logger = { ...nullLogger, debug: (o: object) => void ('args' in o && logged.push((o as { args: string[] }).args)) };
      const o = await repairMedia({ ...plain(0, false, 'pieces.wav'), conformEdits: true, segments }, { tools, logger });
      assert.equal(o.checks.every((c) => c.ok), true, failed(o));
      assert.ok(logged.some((args) => args.includes('-filter_complex_script')), 'the graph went through a script file');
      assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('.')), [], 'script and partial files removed');
      const [a, b] = await Promise.all([pcm32(f('short.wav'), '0:a:0'), pcm32(f('pieces.wav'), '0:a:0')]);
      assert.equal(b.length, (299 * 1248 + 960) * 2);
      for (let k = 0; k < 300; k++) {
        assert.equal(firstDiff(b, k * 1248 * 2, a, k * 1200 * 2, 960 * 2), -1, `piece ${k}`);
        if (k > 0) assert.ok(b.subarray((k * 1248 - 288) * 2, k * 1248 * 2).every((x) => x === 0), `silence before piece ${k}`);
      }
    });

    test('a conformed drift changes the length by the speed ratio', async () => {
      const o = await repairMedia(
        { ...plain(0, false, 'slow.wav'), conformDrift: true, speedRatio: 1000 / 1001 },
        { tools, logger: nullLogger },
      );
      assert.equal(o.checks.every((c) => c.ok), true, failed(o));
      assert.match(o.ffmpegArgs.join(' '), /aresample=48048,asetrate=48000,aresample=48000/);
      const [a, b] = await Promise.all([pcm32(f('short.wav'), '0:a:0'), pcm32(f('slow.wav'), '0:a:0')]);
      assert.ok(Math.abs(b.length / 2 - (a.length / 2) * 1.001) <= 4, `${b.length / 2} samples from ${a.length / 2}`);
    });
  });

  describe('failures', () => {
    test('abort: ffmpeg is killed and no partial output remains', async () => {
      // A two-hour mp3 (looped by stream copy: cheap to make, minutes to re-encode).
      await ff(['-i', f('master.wav'), '-ac', '1', '-c:a', 'libmp3lame', '-b:a', '32k', f('loop.mp3')]);
      await ff(['-stream_loop', '149', '-i', f('loop.mp3'), '-c', 'copy', f('long.mp3')]);
      const ctrl = new AbortController();
      let pid = 0;
      const progress: number[] = [];
      const outDir = f('abort-out');
      const run = repairMedia(
        { inputPath: f('long.mp3'), outputPath: path.join(outDir, 'long.mp3'), offsetSeconds: 1, keepDuration: false, conformDrift: false, conformEdits: false },
        {
          tools,
          logger: nullLogger,
          signal: ctrl.signal,
          onSpawn: (p) => {
            pid = p;
          },
          onProgress: (x) => {
            progress.push(x);
            ctrl.abort();
          },
        },
      );
      await assert.rejects(run, AbortedError);
      assert.ok(pid > 0, 'ffmpeg was spawned');
      assert.ok(progress.length > 0 && progress[0]! > 0 && progress[0]! < 0.5, `progress before the abort: ${progress.join(', ')}`);
      const deadline = Date.now() + 5000;
      while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(pidAlive(pid), false, `ffmpeg ${pid} is gone`);
      assert.deepEqual(await readdir(outDir), [], 'no output and no partial file');
    });

    test('an already aborted signal: nothing runs', async () => {
      const ctrl = new AbortController();
      ctrl.abort();
      await assert.rejects(
        repairMedia({ inputPath: f('short.wav'), outputPath: f('never.wav'), offsetSeconds: 0.1, keepDuration: false, conformDrift: false, conformEdits: false }, { tools, logger: nullLogger, signal: ctrl.signal }),
        AbortedError,
      );
      await assert.rejects(stat(f('never.wav')), { code: 'ENOENT' });
    });

    test('missing input: MediaInputError', async () => {
      await assert.rejects(
        repairMedia({ inputPath: f('nope.wav'), outputPath: f('nope-out.wav'), offsetSeconds: 0.1, keepDuration: false, conformDrift: false, conformEdits: false }, { tools, logger: nullLogger }),
        (e: unknown) => e instanceof MediaInputError && e.code === 'not_found',
      );
    });

    test('refusals: output is the input, output exists, another container, impossible requests', async () => {
      const base = { offsetSeconds: 0.1, keepDuration: false, conformDrift: false, conformEdits: false };
      const refused = (code: string) => (e: unknown) => e instanceof RepairRequestError && e.code === code;
      const before = await stat(f('short.wav'));
      await assert.rejects(repairMedia({ ...base, inputPath: f('short.wav'), outputPath: f('./x/../short.wav') }, { tools, logger: nullLogger }), refused('same_path'));
      await assert.rejects(repairMedia({ ...base, inputPath: f('short.wav'), outputPath: f('master.wav') }, { tools, logger: nullLogger }), refused('output_exists'));
      await assert.rejects(repairMedia({ ...base, inputPath: f('short.wav'), outputPath: f('short.mov') }, { tools, logger: nullLogger }), refused('bad_extension'));
      await assert.rejects(repairMedia({ ...base, inputPath: f('short.wav'), outputPath: f('r1.wav'), conformDrift: true }, { tools, logger: nullLogger }), refused('bad_request'));
      await assert.rejects(repairMedia({ ...base, inputPath: f('short.wav'), outputPath: f('r2.wav'), conformEdits: true, segments: [] }, { tools, logger: nullLogger }), refused('bad_request'));
      await assert.rejects(repairMedia({ ...base, inputPath: f('short.wav'), outputPath: f('r3.wav'), offsetSeconds: 9 }, { tools, logger: nullLogger }), refused('bad_request'));
      const afterStat = await stat(f('short.wav'));
      assert.equal(afterStat.mtimeMs, before.mtimeMs);
      assert.equal(afterStat.size, before.size);
    });

    test('ffmpeg failing: RepairError with what ffmpeg said', async () => {
      // Nobody, root included, can create a file directly in /proc.
      await assert.rejects(
        repairMedia({ inputPath: f('short.wav'), outputPath: '/proc/repaired.wav', offsetSeconds: 0.1, keepDuration: false, conformDrift: false, conformEdits: false }, { tools, logger: nullLogger }),
        (e: unknown) => e instanceof RepairError && e.code === 'repair_failed' && /ffmpeg said: .+/.test(e.message) && e.stderrTail.length > 0,
      );
    });

    test('a full output volume is named as such (disk_full), from ffmpeg or from our own writes', () => {
      // What ffmpeg 6/7 print when the volume fills (the chaos suite's disk-full scenario runs it on a real tmpfs).
      const tail = 'av_interleaved_write_frame(): No space left on device\nError writing trailer of /out/.x.partial.wav: No space left on device\n';
      const fromFfmpeg = new RepairError('/media/dub.wav', 'ffmpeg exited with 1', { exitCode: 1, signal: null, stderrTail: tail });
      assert.equal(fromFfmpeg.code, 'disk_full');
      assert.match(fromFfmpeg.message, /no space left on the output volume \(ffmpeg exited with 1\); ffmpeg said: .*No space left on device/);
      const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      assert.equal(new RepairError('/out/x.wav', 'cannot write', { exitCode: null, signal: null, stderrTail: '' }, { cause: enospc }).code, 'disk_full');
      assert.equal(new RepairError('/media/dub.wav', 'ffmpeg exited with 1', { exitCode: 1, signal: null, stderrTail: 'Invalid argument' }).code, 'repair_failed');
    });
  });
});
