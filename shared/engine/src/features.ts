// Onset (spectral-flux) envelopes in a few frequency bands, locally normalised.
// They are what master and dub share once the dialogue differs: music and effects onsets
// survive re-mixing (EQ, level automation, compression) and re-encoding, and the local
// normalisation removes level differences. One frame every `hopSeconds`.
import { plan } from './fft.ts';
import { pcmScale, type PcmTrack } from './pcm.ts';

export interface FeatureParams {
  hopSeconds: number;
  /** Band edges in Hz (ascending); bands above Nyquist are dropped. */
  bandEdgesHz: readonly number[];
  /** Seconds of context for the local mean/RMS normalisation. */
  normaliseSeconds: number;
}

export const DEFAULT_FEATURE_PARAMS: FeatureParams = {
  hopSeconds: 0.02,
  bandEdgesHz: [50, 200, 400, 800, 1600, 2800, 4000],
  normaliseSeconds: 4,
};

export interface Features {
  /** Frames per second. */
  readonly rate: number;
  readonly hopSeconds: number;
  readonly length: number;
  /** One normalised onset envelope per band. */
  readonly bands: Float32Array[];
  /** Frame energy (mean square, linear) for silence and activity checks. */
  readonly energy: Float32Array;
}

const ENERGY_FLOOR = 1e-7; // about -70 dBFS: keeps silence and dither from producing onsets

export function extractFeatures(track: PcmTrack, params: FeatureParams = DEFAULT_FEATURE_PARAMS): Features {
  const sr = track.sampleRate;
  const hop = Math.max(1, Math.round(sr * params.hopSeconds));
  let win = 4;
  while (win < 2 * hop) win *= 2;
  const fft = plan(win);
  const nFrames = Math.max(0, Math.floor((track.samples.length - win) / hop) + 1);
  const binHz = sr / win;
  const edges = params.bandEdgesHz.filter((e) => e <= sr / 2 + 1e-9);
  const nBands = Math.max(1, edges.length - 1);
  const bandLo: number[] = [];
  const bandHi: number[] = [];
  for (let b = 0; b < nBands; b++) {
    bandLo.push(Math.max(1, Math.round((edges[b] ?? 0) / binHz)));
    bandHi.push(Math.min(win / 2, Math.max(Math.round((edges[b + 1] ?? sr / 2) / binHz), bandLo[b]! + 1)));
  }
  const hann = new Float64Array(win);
  for (let i = 0; i < win; i++) hann[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / win);
  const scale = pcmScale(track.samples);
  const frame = new Float64Array(win);
  const spec = new Float64Array(2 * win);
  const logE = new Float64Array(nBands);
  const prevLogE = new Float64Array(nBands).fill(Math.log(ENERGY_FLOOR));
  const raw = Array.from({ length: nBands }, () => new Float32Array(nFrames));
  const energy = new Float32Array(nFrames);
  const s = track.samples;
  for (let f = 0; f < nFrames; f++) {
    const off = f * hop;
    let e = 0;
    for (let i = 0; i < win; i++) {
      const v = s[off + i]! * scale;
      e += v * v;
      frame[i] = v * hann[i]!;
    }
    energy[f] = e / win;
    fft.realTransform(spec, frame);
    for (let b = 0; b < nBands; b++) {
      let be = 0;
      for (let k = bandLo[b]!; k < bandHi[b]!; k++) {
        const re = spec[2 * k]!, im = spec[2 * k + 1]!;
        be += re * re + im * im;
      }
      logE[b] = Math.log(ENERGY_FLOOR + be / (win * (bandHi[b]! - bandLo[b]!)));
      const flux = logE[b]! - prevLogE[b]!;
      raw[b]![f] = flux > 0 ? flux : 0;
      prevLogE[b] = logE[b]!;
    }
  }
  const rate = sr / hop;
  const ctx = Math.max(3, Math.round(params.normaliseSeconds * rate));
  const bands = raw.map((r) => localNormalise(r, ctx));
  return { rate, hopSeconds: hop / sr, length: nFrames, bands, energy };
}

/**
 * Subtracts a centred moving mean and divides by a moving RMS (with a floor so quiet
 * passages stay near zero instead of amplifying noise).
 */
export function localNormalise(x: Float32Array, ctx: number): Float32Array {
  const n = x.length;
  const out = new Float32Array(n);
  if (n === 0) return out;
  const c1 = new Float64Array(n + 1);
  const c2 = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    c1[i + 1] = c1[i]! + x[i]!;
    c2[i + 1] = c2[i]! + x[i]! * x[i]!;
  }
  const globalMs = c2[n]! / n;
  const floor = Math.max(1e-6, 0.05 * globalMs);
  const half = Math.floor(ctx / 2);
  for (let i = 0; i < n; i++) {
    const lo = Math.max(0, i - half);
    const hi = Math.min(n, i + half + 1);
    const m = hi - lo;
    const mean = (c1[hi]! - c1[lo]!) / m;
    const ms = (c2[hi]! - c2[lo]!) / m - mean * mean;
    out[i] = (x[i]! - mean) / Math.sqrt(Math.max(ms, 0) + floor);
  }
  return out;
}

/** Zeroes feature frames inside the given time ranges (head items, tail silence). */
export function maskFeatures(features: Features, ranges: readonly { start: number; end: number }[]): void {
  for (const r of ranges) {
    const a = Math.max(0, Math.floor(r.start * features.rate));
    const b = Math.min(features.length, Math.ceil(r.end * features.rate));
    for (const band of features.bands) band.fill(0, a, b);
  }
}

/**
 * Resamples feature bands along time: out(u) = in(ratio * u + shift), linear interpolation.
 * Used to undo a speed ratio before correlating.
 */
export function warpBands(bands: readonly Float32Array[], ratio: number, outLength?: number): Float32Array[] {
  const len = bands[0]?.length ?? 0;
  const n = outLength ?? Math.max(0, Math.floor((len - 1) / ratio) + 1);
  return bands.map((src) => {
    if (ratio === 1 && n === len) return src;
    const out = new Float32Array(n);
    for (let u = 0; u < n; u++) {
      const p = u * ratio;
      const i0 = Math.floor(p);
      if (i0 + 1 >= len) {
        out[u] = i0 < len ? src[i0]! : 0;
        continue;
      }
      const fr = p - i0;
      out[u] = src[i0]! * (1 - fr) + src[i0 + 1]! * fr;
    }
    return out;
  });
}
