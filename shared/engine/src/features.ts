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
  const fx = new FeatureExtractor(track.sampleRate, params, Math.ceil(track.samples.length / Math.max(1, Math.round(track.sampleRate * params.hopSeconds))));
  fx.process(track.samples, track.samples.length);
  return fx.finish();
}

/**
 * Incremental feature extraction: feed the PCM as it is decoded (the same growing buffer or
 * successive views, with the count of valid samples), then finish(). Lets the analysis layer
 * compute features while ffmpeg is still decoding.
 */
export class FeatureExtractor {
  private readonly hop: number;
  private readonly win: number;
  private readonly bandLo: number[] = [];
  private readonly bandHi: number[] = [];
  private readonly hann: Float64Array;
  private readonly frame: Float64Array;
  private readonly spec: Float64Array;
  private readonly prevLogE: Float64Array;
  private raw: Float32Array[];
  private energy: Float32Array;
  private frames = 0;

  constructor(
    private readonly sampleRate: number,
    private readonly params: FeatureParams = DEFAULT_FEATURE_PARAMS,
    expectedFrames = 1024,
  ) {
    this.hop = Math.max(1, Math.round(sampleRate * params.hopSeconds));
    let win = 4;
    while (win < 2 * this.hop) win *= 2;
    this.win = win;
    const binHz = sampleRate / win;
    const edges = params.bandEdgesHz.filter((e) => e <= sampleRate / 2 + 1e-9);
    const nBands = Math.max(1, edges.length - 1);
    for (let b = 0; b < nBands; b++) {
      this.bandLo.push(Math.max(1, Math.round((edges[b] ?? 0) / binHz)));
      this.bandHi.push(Math.min(win / 2, Math.max(Math.round((edges[b + 1] ?? sampleRate / 2) / binHz), this.bandLo[b]! + 1)));
    }
    this.hann = new Float64Array(win);
    for (let i = 0; i < win; i++) this.hann[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / win);
    this.frame = new Float64Array(win);
    this.spec = new Float64Array(2 * win);
    this.prevLogE = new Float64Array(nBands).fill(Math.log(ENERGY_FLOOR));
    const cap = Math.max(16, expectedFrames);
    this.raw = Array.from({ length: nBands }, () => new Float32Array(cap));
    this.energy = new Float32Array(cap);
  }

  /** Processes every complete frame within the first `available` samples not processed yet. */
  process(samples: Int16Array | Float32Array, available: number): void {
    const { hop, win, hann, frame, spec, bandLo, bandHi, prevLogE } = this;
    const scale = pcmScale(samples);
    const fft = plan(win);
    const nBands = bandLo.length;
    while (this.frames * hop + win <= available) {
      const f = this.frames;
      if (f >= this.energy.length) this.grow();
      const off = f * hop;
      let e = 0;
      for (let i = 0; i < win; i++) {
        const v = samples[off + i]! * scale;
        e += v * v;
        frame[i] = v * hann[i]!;
      }
      this.energy[f] = e / win;
      fft.realTransform(spec, frame);
      for (let b = 0; b < nBands; b++) {
        let be = 0;
        for (let k = bandLo[b]!; k < bandHi[b]!; k++) {
          const re = spec[2 * k]!, im = spec[2 * k + 1]!;
          be += re * re + im * im;
        }
        const logE = Math.log(ENERGY_FLOOR + be / (win * (bandHi[b]! - bandLo[b]!)));
        const flux = logE - prevLogE[b]!;
        this.raw[b]![f] = flux > 0 ? flux : 0;
        prevLogE[b] = logE;
      }
      this.frames++;
    }
  }

  finish(): Features {
    const n = this.frames;
    const rate = this.sampleRate / this.hop;
    const ctx = Math.max(3, Math.round(this.params.normaliseSeconds * rate));
    const bands = this.raw.map((r) => localNormalise(r.subarray(0, n), ctx));
    return { rate, hopSeconds: this.hop / this.sampleRate, length: n, bands, energy: this.energy.slice(0, n) };
  }

  private grow(): void {
    const cap = Math.ceil(this.energy.length * 1.5);
    this.raw = this.raw.map((r) => {
      const x = new Float32Array(cap);
      x.set(r);
      return x;
    });
    const e = new Float32Array(cap);
    e.set(this.energy);
    this.energy = e;
  }
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

/** Features with `d` frames pooled into one (mean): the coarse and track stages' resolution. */
export function poolFeatures(f: Features, d: number): Features {
  if (d <= 1) return f;
  const pool = (x: Float32Array) => {
    const n = Math.floor(x.length / d);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += x[i * d + k]!;
      out[i] = s / d;
    }
    return out;
  };
  const bands = f.bands.map(pool);
  return { rate: f.rate / d, hopSeconds: f.hopSeconds * d, length: bands[0]?.length ?? 0, bands, energy: pool(f.energy) };
}
