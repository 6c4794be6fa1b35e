/**
 * Test helpers (not exported from the package): temp dirs, ffmpeg-generated fixtures and
 * signal measurements (cross-correlation lag, tone amplitude).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const FFMPEG = '/usr/bin/ffmpeg';

export async function makeTempDir(prefix = 'media-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Runs ffmpeg (argument array) and rejects with its stderr on failure. */
export function ff(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(FFMPEG, ['-nostdin', '-hide_banner', '-v', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg ${args.join(' ')} failed (${code}): ${err}`))));
  });
}

export const SECONDS = 6;

/**
 * 6 s stereo 48 kHz reference: L = pink noise, R = independent white noise, both
 * low-passed at 3 kHz (so they survive an 8 kHz decode and lossy codecs).
 */
export async function makeNoiseRef(file: string): Promise<void> {
  await ff([
    '-f', 'lavfi', '-i', `anoisesrc=d=${SECONDS}:c=pink:r=48000:a=0.3:s=11,lowpass=3000`,
    '-f', 'lavfi', '-i', `anoisesrc=d=${SECONDS}:c=white:r=48000:a=0.3:s=22,lowpass=3000`,
    '-filter_complex', '[0:a][1:a]join=inputs=2:channel_layout=stereo[a]',
    '-map', '[a]', '-c:a', 'pcm_s16le', file,
  ]);
}

/** One tone per 5.1 channel (Hz), FL FR FC LFE BL BR. */
export const TONES_51 = [300, 500, 700, 100, 900, 1100] as const;
export const TONE_AMP = 0.2;

/** 6 s of 5.1 48 kHz with a distinct tone in each channel. */
export async function makeTones51(file: string, codecArgs: string[] = ['-c:a', 'pcm_s16le']): Promise<void> {
  const exprs = TONES_51.map((f) => `${TONE_AMP}*sin(2*PI*${f}*t)`).join('|');
  await ff(['-f', 'lavfi', '-i', `aevalsrc=exprs=${exprs}:s=48000:d=${SECONDS}:c=5.1`, ...codecArgs, file]);
}

/** Amplitude of the `freq` Hz component of x (Goertzel over the whole array). */
export function toneAmplitude(x: ArrayLike<number>, sampleRate: number, freq: number, scale = 1): number {
  const w = (2 * Math.PI * freq) / sampleRate;
  const c = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < x.length; i++) {
    const s0 = (x[i] as number) / scale + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const re = s1 - s2 * Math.cos(w);
  const im = s2 * Math.sin(w);
  return (2 * Math.sqrt(re * re + im * im)) / x.length;
}

/**
 * Cross-correlation of `x` against `ref` over lags [-maxLag, maxLag], using ref[from, to).
 * Returns the lag of the peak (positive: x is late), refined to a fraction of a sample by
 * parabolic interpolation, and the normalised correlation at the peak.
 */
export function xcorrLag(
  ref: ArrayLike<number>,
  x: ArrayLike<number>,
  maxLag: number,
  from = maxLag,
  to = ref.length - maxLag,
): { lag: number; fractional: number; peak: number } {
  const lo = Math.max(from, maxLag);
  const hi = Math.min(to, ref.length, x.length - maxLag);
  let refEnergy = 0;
  for (let i = lo; i < hi; i++) refEnergy += (ref[i] as number) ** 2;
  const scores: number[] = [];
  let best = -Infinity;
  let bestLag = 0;
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    let s = 0;
    let e = 0;
    for (let i = lo; i < hi; i++) {
      const v = x[i + lag] as number;
      s += (ref[i] as number) * v;
      e += v * v;
    }
    const score = e > 0 && refEnergy > 0 ? s / Math.sqrt(refEnergy * e) : 0;
    scores.push(score);
    if (score > best) {
      best = score;
      bestLag = lag;
    }
  }
  const k = bestLag + maxLag;
  let frac = bestLag;
  const a = scores[k - 1];
  const b = scores[k] as number;
  const c = scores[k + 1];
  if (a !== undefined && c !== undefined) {
    const den = a - 2 * b + c;
    if (den !== 0) frac = bestLag + (0.5 * (a - c)) / den;
  }
  return { lag: bestLag, fractional: frac, peak: best };
}

/** Encodings of the stereo noise reference (all 48 kHz), by key. */
export const ENCODINGS = {
  wav: { file: 'noise.wav', args: [] as string[] },
  aiff: { file: 'noise.aiff', args: ['-c:a', 'pcm_s16be'] },
  flac: { file: 'noise.flac', args: ['-c:a', 'flac'] },
  mp3: { file: 'noise.mp3', args: ['-c:a', 'libmp3lame', '-b:a', '192k'] },
  m4a: { file: 'noise.m4a', args: ['-c:a', 'aac', '-b:a', '192k'] },
  ac3: { file: 'noise.ac3', args: ['-c:a', 'ac3', '-b:a', '192k'] },
  eac3: { file: 'noise.eac3', args: ['-c:a', 'eac3', '-b:a', '192k'] },
  aacMkv: { file: 'noise-aac.mkv', args: ['-c:a', 'aac', '-b:a', '192k'] },
  mov: { file: 'noise.mov', args: videoArgs('24000/1001', 'mpeg4', ['-c:a', 'pcm_s16le', '-timecode', '01:00:00:00']) },
  mp4: { file: 'noise.mp4', args: videoArgs('25', 'libx264', ['-preset', 'ultrafast', '-c:a', 'aac', '-b:a', '192k']) },
  mkv: { file: 'noise.mkv', args: videoArgs('30000/1001', 'mpeg4', ['-c:a', 'libopus', '-b:a', '128k']) },
  mxf: { file: 'noise.mxf', args: videoArgs('25', 'mpeg2video', ['-c:a', 'pcm_s24le', '-timecode', '10:00:00:00']) },
} as const;
export type EncodingKey = keyof typeof ENCODINGS;

/** Adds a small test-pattern video track (second input) in front of the audio. */
function videoArgs(rate: string, vcodec: string, rest: string[]): string[] {
  return [
    '-f', 'lavfi', '-i', `testsrc2=size=128x72:rate=${rate}:duration=${SECONDS}`,
    '-map', '1:v', '-map', '0:a', '-c:v', vcodec, ...rest,
  ];
}

/** Encodes `ref` into each listed format (two ffmpeg runs at a time). Returns key -> path. */
export async function encodeAll(dir: string, ref: string, keys: readonly EncodingKey[]): Promise<Record<EncodingKey, string>> {
  const out = {} as Record<EncodingKey, string>;
  const queue = [...keys];
  const worker = async (): Promise<void> => {
    for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
      const { file, args } = ENCODINGS[key];
      const target = path.join(dir, file);
      if (key === 'wav') await ff(['-i', ref, '-c:a', 'pcm_s16le', target]);
      else await ff(['-i', ref, ...args, target]);
      out[key] = target;
    }
  };
  await Promise.all([worker(), worker()]);
  return out;
}

/** 5.1 tones as six mono pcm_s24le streams in an MXF with video (one stream per channel). */
export async function makeMonoStreamsMxf(tones51Wav: string, file: string): Promise<void> {
  await ff([
    '-i', tones51Wav,
    '-f', 'lavfi', '-i', `testsrc2=size=128x72:rate=25:duration=${SECONDS}`,
    '-filter_complex', '[0:a]channelsplit=channel_layout=5.1[a0][a1][a2][a3][a4][a5]',
    '-map', '1:v', ...[0, 1, 2, 3, 4, 5].flatMap((i) => ['-map', `[a${i}]`]),
    '-c:v', 'mpeg2video', '-c:a', 'pcm_s24le', file,
  ]);
}
