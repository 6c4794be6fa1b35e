import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PcmAccumulator, decodePcm, readWindow } from './decode.ts';
import { AbortedError, MediaInputError, ToolMissingError } from './errors.ts';
import type { MediaInputErrorCode } from './errors.ts';
import { nullLogger } from './logger.ts';
import type { MediaLogger } from './logger.ts';
import { probeMedia } from './probe.ts';
import type { ProbeResult } from './probe.ts';
import type { AudioSelection } from './selection.ts';
import {
  ENCODINGS, SECONDS, TONES_51, TONE_AMP, encodeAll, ff, makeMonoStreamsMxf, makeNoiseRef, makeTempDir, makeTones51,
  toneAmplitude, xcorrLag,
} from './test-fixtures.ts';
import type { EncodingKey } from './test-fixtures.ts';

const tools = { ffmpeg: '/usr/bin/ffmpeg', ffprobe: '/usr/bin/ffprobe' };
const RATE = 8000;

/** A logger that records warnings. */
function recordingLogger(): MediaLogger & { warnings: string[] } {
  const warnings: string[] = [];
  const noop = (): void => {};
  return { debug: noop, info: noop, error: noop, warn: (_o: object, msg?: string) => warnings.push(msg ?? ''), warnings };
}

/**
 * Expected lag (samples at 8 kHz) of each codec's decode against the WAV decode. ffmpeg
 * honours MP3 (LAME tag) and MP4 (edit list) priming and Ogg/Matroska Opus pre-skip; raw
 * AC-3/E-AC-3 has no way to signal the encoder's 256-sample delay, and AAC in Matroska
 * carries no priming information (1024 samples at 48 kHz).
 */
const EXPECTED_LAG_8K: Record<EncodingKey, number> = {
  wav: 0, aiff: 0, flac: 0, mp3: 0, m4a: 0, mov: 0, mp4: 0, mkv: 0, mxf: 0,
  ac3: 256 / 6, eac3: 256 / 6, aacMkv: 1024 / 6,
};

describe('decoding with real ffmpeg', () => {
  let dir = '';
  let cleanup = async (): Promise<void> => {};
  let files = {} as Record<EncodingKey, string>;
  const probes = new Map<string, ProbeResult>();
  let refMix: Int16Array;
  let refL: Int16Array;
  let refR: Int16Array;
  let tones51 = '';
  let tones51eac3 = '';
  let mono6 = '';

  const probe = async (file: string): Promise<ProbeResult> => {
    let p = probes.get(file);
    if (!p) {
      p = await probeMedia(file, { tools, logger: nullLogger });
      probes.set(file, p);
    }
    return p;
  };
  const decode = async (file: string, selection: AudioSelection = { kind: 'auto' }, sampleRate = RATE) =>
    decodePcm(file, { tools, logger: nullLogger, probe: await probe(file), selection, sampleRate });

  before(async () => {
    ({ dir, cleanup } = await makeTempDir());
    const ref = path.join(dir, 'ref.wav');
    await makeNoiseRef(ref);
    files = await encodeAll(dir, ref, Object.keys(ENCODINGS) as EncodingKey[]);
    // The two channels of the reference on their own, generated independently (same seeds).
    const left = path.join(dir, 'left.wav');
    const right = path.join(dir, 'right.wav');
    await ff(['-i', ref, '-af', 'pan=mono|c0=c0', '-c:a', 'pcm_s16le', left]);
    await ff(['-i', ref, '-af', 'pan=mono|c0=c1', '-c:a', 'pcm_s16le', right]);
    tones51 = path.join(dir, 'tones51.wav');
    tones51eac3 = path.join(dir, 'tones51.eac3');
    mono6 = path.join(dir, 'mono6.mxf');
    await makeTones51(tones51);
    await Promise.all([
      ff(['-i', tones51, '-c:a', 'eac3', '-b:a', '448k', tones51eac3]),
      makeMonoStreamsMxf(tones51, mono6),
    ]);
    refMix = (await decode(files.wav)).pcm;
    refL = (await decode(left)).pcm;
    refR = (await decode(right)).pcm;
  });
  after(() => cleanup());

  describe('every format decodes to 8 kHz mono aligned with the WAV reference', () => {
    for (const key of Object.keys(ENCODINGS) as EncodingKey[]) {
      test(key, async (t) => {
        const r = await decode(files[key]);
        assert.equal(r.sampleRate, RATE);
        assert.equal(r.truncated, false);
        assert.match(r.description, /^stream #\d \(a:0, /);
        assert.ok(Math.abs(r.decodedSeconds - SECONDS) < 0.05, `decoded ${r.decodedSeconds} s`);
        assert.equal(r.pcm.length, Math.round(r.decodedSeconds * RATE));
        const m = xcorrLag(refMix, r.pcm, 400);
        t.diagnostic(`${key}: lag ${m.fractional.toFixed(2)} samples at 8 kHz (${((m.fractional / RATE) * 1000).toFixed(2)} ms), peak ${m.peak.toFixed(3)}`);
        assert.ok(m.peak > 0.85, `correlation peak ${m.peak}`);
        assert.ok(Math.abs(m.fractional - EXPECTED_LAG_8K[key]) <= 2, `lag ${m.fractional}, expected ${EXPECTED_LAG_8K[key]}`);
      });
    }
  });

  test('the reference decode is exact: 6 s of samples, no truncation', () => {
    assert.equal(refMix.length, SECONDS * RATE);
    assert.equal(refL.length, SECONDS * RATE);
  });

  test("'channel' picks the right channel; 'mix' is 0.5 L + 0.5 R", async () => {
    for (const key of ['wav', 'm4a'] as const) {
      const c0 = (await decode(files[key], { kind: 'channel', channel: 0 })).pcm;
      const c1 = (await decode(files[key], { kind: 'channel', audioIndex: 0, channel: 1 })).pcm;
      const min = key === 'wav' ? 0.999 : 0.98;
      assert.ok(xcorrLag(refL, c0, 5).peak > min, `${key} channel 0 is L`);
      assert.ok(xcorrLag(refR, c1, 5).peak > min, `${key} channel 1 is R`);
      assert.ok(Math.abs(xcorrLag(refR, c0, 5).peak) < 0.1, `${key} channel 0 is not R`);
      assert.ok(Math.abs(xcorrLag(refL, c1, 5).peak) < 0.1, `${key} channel 1 is not L`);
    }
    const c0 = (await decode(files.wav, { kind: 'channel', channel: 0 })).pcm;
    const c1 = (await decode(files.wav, { kind: 'channel', channel: 1 })).pcm;
    const mix = (await decode(files.wav, { kind: 'mix' })).pcm;
    let maxErr = 0;
    for (let i = 0; i < mix.length; i++) maxErr = Math.max(maxErr, Math.abs((mix[i] as number) - 0.5 * ((c0[i] as number) + (c1[i] as number))));
    assert.ok(maxErr <= 1.5, `mix differs from (L+R)/2 by up to ${maxErr} LSB`);
  });

  /** Tone amplitudes (FL FR FC LFE BL BR) in a decode of the 5.1 tone files. */
  const amplitudes = (pcm: Int16Array): number[] => TONES_51.map((f) => toneAmplitude(pcm, RATE, f, 32768));

  test('5.1 mix weights: FL/FR 0.3, FC 0.1, LFE dropped, surrounds 0.15', async () => {
    const r = await decode(tones51);
    assert.equal(r.description, 'stream #0 (a:0, pcm_s16le 5.1), layout-aware mix (centre down-weighted, LFE dropped)');
    const amp = amplitudes(r.pcm);
    const want = [0.3, 0.3, 0.1, 0, 0.15, 0.15].map((w) => w * TONE_AMP);
    amp.forEach((a, i) => assert.ok(Math.abs(a - (want[i] as number)) < 0.002, `${TONES_51[i]} Hz: ${a} vs ${want[i]}`));
    // One channel: only its tone.
    const fc = amplitudes((await decode(tones51, { kind: 'channel', channel: 2 })).pcm);
    fc.forEach((a, i) => assert.ok(i === 2 ? Math.abs(a - TONE_AMP) < 0.003 : a < 0.002, `FC only: ${TONES_51[i]} Hz ${a}`));
  });

  test('E-AC-3 5.1(side): the side channels are used', async (t) => {
    const p = await probe(tones51eac3);
    assert.equal(p.audioStreams[0]?.channelLayout, '5.1(side)');
    const r = await decode(tones51eac3, { kind: 'stream', audioIndex: 0 });
    assert.match(r.description, /eac3 5\.1\(side\)\), layout-aware mix/);
    const amp = amplitudes(r.pcm);
    t.diagnostic(`eac3 5.1(side) mix tone amplitudes: ${amp.map((a) => a.toFixed(4)).join(', ')}`);
    const want = [0.3, 0.3, 0.1, 0, 0.15, 0.15].map((w) => w * TONE_AMP);
    amp.forEach((a, i) => assert.ok(Math.abs(a - (want[i] as number)) < 0.003, `${TONES_51[i]} Hz: ${a} vs ${want[i]}`));
  });

  test("'auto' joins an MXF's six mono streams as 5.1; 'channel' N is stream N", async () => {
    const r = await decode(mono6);
    assert.match(r.description, /^6 mono streams \(#1, #2, #3, #4, #5, #6\) joined as 5\.1, layout-aware mix/);
    assert.ok(Math.abs(r.decodedSeconds - SECONDS) < 0.01, `decoded ${r.decodedSeconds} s`);
    const amp = amplitudes(r.pcm);
    const want = [0.3, 0.3, 0.1, 0, 0.15, 0.15].map((w) => w * TONE_AMP);
    amp.forEach((a, i) => assert.ok(Math.abs(a - (want[i] as number)) < 0.002, `${TONES_51[i]} Hz: ${a} vs ${want[i]}`));
    const fc = await decode(mono6, { kind: 'channel', channel: 2 });
    assert.match(fc.description, /^channel 2 \(FC\) = mono stream #3/);
    amplitudes(fc.pcm).forEach((a, i) => assert.ok(i === 2 ? Math.abs(a - TONE_AMP) < 0.003 : a < 0.002, `FC: ${TONES_51[i]} Hz ${a}`));
    const br = amplitudes((await decode(mono6, { kind: 'stream', audioIndex: 5 })).pcm);
    br.forEach((a, i) => assert.ok(i === 5 ? Math.abs(a - TONE_AMP) < 0.003 : a < 0.002, `BR: ${TONES_51[i]} Hz ${a}`));
  });

  test('soxr resampling (when built in) gives the same signal', async () => {
    const r = await decodePcm(files.wav, { tools, logger: nullLogger, probe: await probe(files.wav), selection: { kind: 'auto' }, sampleRate: RATE, resampler: 'soxr' });
    assert.equal(r.pcm.length, refMix.length);
    const m = xcorrLag(refMix, r.pcm, 10);
    assert.equal(m.lag, 0);
    assert.ok(m.peak > 0.99, `peak ${m.peak}`);
  });

  test('the buffer grows when the probe under-estimates; progress is reported', async () => {
    const real = await probe(files.flac);
    const wrong: ProbeResult = { ...real, duration: 0.2, audioStreams: real.audioStreams.map((s) => ({ ...s, duration: null })) };
    const seen: number[] = [];
    const r = await decodePcm(files.flac, { tools, logger: nullLogger, probe: wrong, selection: { kind: 'auto' }, sampleRate: RATE, onProgress: (s) => seen.push(s) });
    assert.equal(r.pcm.length, SECONDS * RATE);
    assert.equal(xcorrLag(refMix, r.pcm, 2).lag, 0);
    assert.ok(seen.length >= 1, 'onProgress was called');
    assert.equal(seen.at(-1), r.decodedSeconds);
    for (let i = 1; i < seen.length; i++) assert.ok((seen[i] as number) >= (seen[i - 1] as number), `progress went back: ${seen.join(', ')}`);
  });

  describe('damaged input', () => {
    test('a truncated MP3 decodes what is there, flagged truncated', async () => {
      const whole = await readFile(files.mp3);
      const f = path.join(dir, 'cut.mp3');
      await writeFile(f, whole.subarray(0, Math.floor(whole.length * 0.4)));
      const logger = recordingLogger();
      const r = await decodePcm(f, { tools, logger, probe: await probe(f), selection: { kind: 'auto' }, sampleRate: RATE });
      assert.equal(r.truncated, true);
      assert.ok(r.decodedSeconds > 1.5 && r.decodedSeconds < 3.5, `decoded ${r.decodedSeconds}`);
      assert.ok(logger.warnings.some((w) => /truncated/.test(w)), `warnings: ${logger.warnings.join('; ')}`);
      const m = xcorrLag(refMix.subarray(0, r.pcm.length), r.pcm, 20);
      assert.equal(m.lag, 0);
      assert.ok(m.peak > 0.95, `peak ${m.peak}`);
    });

    test('a truncated WAV (cut mid-sample) decodes what is there, flagged truncated', async () => {
      const whole = await readFile(files.wav);
      const f = path.join(dir, 'cut.wav');
      await writeFile(f, whole.subarray(0, Math.floor(whole.length / 2) + 1));
      const r = await decode(f);
      assert.equal(r.truncated, true);
      assert.ok(Math.abs(r.decodedSeconds - SECONDS / 2) < 0.01, `decoded ${r.decodedSeconds}`);
      const m = xcorrLag(refMix.subarray(0, r.pcm.length), r.pcm, 5);
      assert.equal(m.lag, 0);
      assert.ok(m.peak > 0.999, `peak ${m.peak}`);
    });

    test('nothing decodable -> corrupt', async () => {
      // Index (moov) up front, then the audio data cut off: probes fine, decodes nothing.
      const fs = path.join(dir, 'faststart.m4a');
      await ff(['-i', files.wav, '-c:a', 'aac', '-movflags', '+faststart', fs]);
      const whole = await readFile(fs);
      const f = path.join(dir, 'cut-faststart.m4a');
      await writeFile(f, whole.subarray(0, whole.indexOf('mdat') + 64));
      await assertInputError(decode(f), 'corrupt', f, /corrupt or unsupported audio, nothing could be decoded/);
    });

    test('bad selection -> bad_selection', async () => {
      await assertInputError(decode(files.wav, { kind: 'stream', audioIndex: 1 }), 'bad_selection', files.wav, /audio stream 1 is out of range/);
      await assertInputError(decode(files.m4a, { kind: 'channel', channel: 2 }), 'bad_selection', files.m4a, /channel 2 is out of range/);
    });

    test('missing ffmpeg -> ToolMissingError', async () => {
      const p = await probe(files.wav);
      await assert.rejects(
        decodePcm(files.wav, { tools: { ...tools, ffmpeg: '/nonexistent/ffmpeg' }, logger: nullLogger, probe: p, selection: { kind: 'auto' }, sampleRate: RATE }),
        (e: unknown) => e instanceof ToolMissingError && /FFMPEG_PATH/.test(e.message),
      );
    });
  });

  describe('cancellation', () => {
    test('abort mid-decode stops ffmpeg and rejects with AbortedError', async () => {
      // ffmpeg reads a FIFO we feed half a file into and keep open, so it is stuck mid-stream.
      const fifo = path.join(dir, 'stalled.wav');
      const mk = spawnSync('mkfifo', [fifo]);
      assert.equal(mk.status, 0, 'mkfifo');
      const wav = await readFile(files.wav);
      const writer = createWriteStream(fifo);
      writer.on('error', () => {}); // EPIPE once ffmpeg is gone
      writer.write(wav.subarray(0, wav.length / 2));
      const ac = new AbortController();
      let pid = 0;
      const started = Date.now();
      let abortedAt = 0;
      const p = decodePcm(fifo, {
        tools, logger: nullLogger, probe: await probe(files.wav), selection: { kind: 'auto' }, sampleRate: RATE, signal: ac.signal,
        onSpawn: (x) => (pid = x),
        onProgress: (s) => {
          if (s > 0 && !ac.signal.aborted) {
            abortedAt = Date.now();
            ac.abort();
          }
        },
      });
      await assert.rejects(p, (e: unknown) => e instanceof AbortedError && /aborted/.test(e.message));
      writer.destroy();
      assert.ok(pid > 0, 'onSpawn gave the PID');
      assert.ok(abortedAt > 0, 'aborted after decoding started');
      assert.throws(() => process.kill(pid, 0), (e: NodeJS.ErrnoException) => e.code === 'ESRCH', 'ffmpeg is gone');
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    });

    test('a child that ignores SIGTERM is killed with SIGKILL after the grace period', async () => {
      // Stands in for a hung ffmpeg: ignores SIGTERM (inherited across exec) and never writes.
      const stubborn = path.join(dir, 'stubborn-ffmpeg');
      await writeFile(stubborn, "#!/bin/sh\ntrap '' TERM\nexec sleep 30\n");
      await chmod(stubborn, 0o755);
      const ac = new AbortController();
      let pid = 0;
      let abortedAt = 0;
      const p = decodePcm(files.wav, {
        tools: { ...tools, ffmpeg: stubborn }, logger: nullLogger, probe: await probe(files.wav), selection: { kind: 'auto' }, sampleRate: RATE,
        signal: ac.signal,
        onSpawn: (x) => {
          pid = x;
          setTimeout(() => {
            abortedAt = Date.now();
            ac.abort();
          }, 200);
        },
      });
      await assert.rejects(p, AbortedError);
      const waited = Date.now() - abortedAt;
      assert.ok(waited >= 900 && waited < 4000, `rejected ${waited} ms after abort`);
      assert.throws(() => process.kill(pid, 0), (e: NodeJS.ErrnoException) => e.code === 'ESRCH', 'the child is gone');
    });

    test('an already-aborted signal never spawns ffmpeg', async () => {
      let spawned = false;
      await assert.rejects(
        decodePcm(files.wav, { tools, logger: nullLogger, probe: await probe(files.wav), selection: { kind: 'auto' }, sampleRate: RATE, signal: AbortSignal.abort(), onSpawn: () => (spawned = true) }),
        AbortedError,
      );
      assert.equal(spawned, false);
    });
  });

  describe('readWindow (input seeking, 48 kHz float)', () => {
    const WIN_RATE = 48000;
    for (const key of ['wav', 'm4a', 'mp3', 'flac', 'ac3', 'mov', 'mxf', 'mp4', 'mkv'] as const) {
      test(`${key}: windows align with the full decode to within 1 sample`, async (t) => {
        const p = await probe(files[key]);
        const full = (await decode(files[key], { kind: 'auto' }, WIN_RATE)).pcm;
        const lags: string[] = [];
        let worst = 0;
        for (const start of [0.1, 2.5, 4.2]) {
          const w = await readWindow(files[key], { tools, logger: nullLogger, probe: p, selection: { kind: 'auto' }, start, duration: 1, sampleRate: WIN_RATE });
          assert.ok(Math.abs(w.length - WIN_RATE) <= 2, `window length ${w.length}`);
          const m = xcorrLag(w, full.subarray(Math.round(start * WIN_RATE)), 600);
          lags.push(`${start}s: ${m.fractional.toFixed(2)} (peak ${m.peak.toFixed(4)})`);
          worst = Math.max(worst, Math.abs(m.fractional));
          if (key !== 'mkv') assert.ok(m.peak > 0.99, `peak ${m.peak} at ${start} s`);
        }
        t.diagnostic(`${key} window lags (samples at 48 kHz): ${lags.join(', ')}`);
        if (key === 'mkv') {
          // Opus in Matroska: ffmpeg 5.1's seek lands a constant few ms early; report, don't fail.
          t.diagnostic(`mkv/opus window offset ${worst.toFixed(1)} samples (known ffmpeg limitation)`);
        } else {
          assert.ok(worst <= 1, `window misaligned by ${worst} samples`);
        }
      });
    }

    test('a window running past the end is short; mono selection applies', async () => {
      const p = await probe(tones51);
      const w = await readWindow(tones51, { tools, logger: nullLogger, probe: p, selection: { kind: 'channel', channel: 4 }, start: 5.5, duration: 1, sampleRate: RATE });
      assert.ok(Math.abs(w.length - 0.5 * RATE) <= 2, `length ${w.length}`);
      amplitudes(Int16Array.from(w, (v) => Math.round(v * 32767))).forEach((a, i) =>
        assert.ok(i === 4 ? Math.abs(a - TONE_AMP) < 0.003 : a < 0.002, `BL window: ${TONES_51[i]} Hz ${a}`),
      );
      const none = await readWindow(tones51, { tools, logger: nullLogger, probe: p, selection: { kind: 'auto' }, start: 7, duration: 1, sampleRate: RATE });
      assert.equal(none.length, 0);
    });
  });
});

describe('PcmAccumulator', () => {
  test('odd chunk boundaries and growth keep every sample', () => {
    const n = 10007;
    const samples = Int16Array.from({ length: n }, (_, i) => ((i * 7919) % 65536) - 32768);
    const bytes = new Uint8Array(samples.buffer);
    const acc = new PcmAccumulator(2, 100);
    let off = 0;
    for (let size = 1; off < bytes.length; size = (size * 5 + 3) % 997 || 1) {
      acc.push(bytes.subarray(off, off + size));
      off += size;
    }
    assert.equal(acc.samples, n);
    const out = acc.finish('s16');
    assert.equal(out.length, n);
    assert.deepEqual(Array.from(out), Array.from(samples));
  });

  test('a trailing half sample is dropped; spare capacity is trimmed', () => {
    const acc = new PcmAccumulator(4, 100000);
    const f = new Float32Array([0.5, -0.25, 1]);
    acc.push(new Uint8Array(f.buffer));
    acc.push(new Uint8Array([1, 2]));
    assert.equal(acc.samples, 3);
    const out = acc.finish('f32');
    assert.deepEqual(Array.from(out), [0.5, -0.25, 1]);
    assert.equal(out.buffer.byteLength, 12, 'large spare capacity is released');
  });
});

async function assertInputError(p: Promise<unknown>, code: MediaInputErrorCode, file: string, reason: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof MediaInputError, `expected MediaInputError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.path, file);
    assert.ok(e.message.startsWith(`${file}: `), e.message);
    assert.match(e.message, reason);
    return true;
  });
}
