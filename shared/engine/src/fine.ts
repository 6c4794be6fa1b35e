// Fine refinement on PCM: GCC-PHAT (partially whitened cross-correlation) between a master
// window and the dub around its predicted position, resampled by the speed ratio, with
// parabolic interpolation of the peak for sub-sample precision.
import { nextPow2, plan } from './fft.ts';
import { readResampled, type PcmTrack } from './pcm.ts';

export interface FineParams {
  windowSeconds: number;
  /** Search radius around the predicted position, seconds. */
  searchSeconds: number;
  /** PHAT exponent: 1 = full whitening, 0 = plain correlation. */
  phatBeta: number;
  lowCutHz: number;
}

export interface FineMeasurement {
  /** Dub time matching the master time, seconds. */
  dubTime: number;
  /** Peak height over the RMS of the correlation at other lags. */
  peakToNoise: number;
  /** Peak height over the strongest other peak (main lobe excluded). */
  peakToSecond: number;
  /** True when the strongest peak is negative (dub polarity inverted). */
  inverted: boolean;
}

export function refineAt(
  master: PcmTrack,
  dub: PcmTrack,
  masterTime: number,
  predictedDubTime: number,
  ratio: number,
  params: FineParams,
): FineMeasurement | null {
  const fs = master.sampleRate;
  const n = Math.round(params.windowSeconds * fs);
  const m = Math.max(4, Math.round(params.searchSeconds * fs));
  const size = nextPow2(n + 2 * m + 1);
  const x0 = masterTime * fs - n / 2;
  if (x0 < 0 || x0 + n > master.samples.length) return null;
  const x = readResampled(master.samples, x0, 1, n, new Float64Array(size));
  // Tukey taper on the master window: fewer edge effects, little loss of length.
  const taper = Math.floor(n * 0.1);
  for (let i = 0; i < taper; i++) {
    const w = 0.5 - 0.5 * Math.cos((Math.PI * i) / taper);
    x[i] = x[i]! * w;
    x[n - 1 - i] = x[n - 1 - i]! * w;
  }
  // Dub samples at master-time positions t0 + (k - m)/fs, mapped through the ratio.
  const dubRate = dub.sampleRate;
  const yStart = (predictedDubTime - ratio * (n / 2 + m) / fs) * dubRate;
  const yStep = (ratio * dubRate) / fs;
  const yLen = n + 2 * m;
  if (yStart < -yLen / 2 || yStart + yLen * yStep > dub.samples.length + yLen / 2) return null;
  const y = readResampled(dub.samples, yStart, yStep, yLen, new Float64Array(size));
  let ex = 0, ey = 0;
  for (let i = 0; i < n; i++) ex += x[i]! * x[i]!;
  for (let i = 0; i < yLen; i++) ey += y[i]! * y[i]!;
  if (ex < 1e-9 || ey < 1e-9) return null;

  const f = plan(size);
  const X = new Float64Array(2 * size);
  const Y = new Float64Array(2 * size);
  f.realTransform(X, x);
  f.completeSpectrum(X);
  f.realTransform(Y, y);
  f.completeSpectrum(Y);
  const G = new Float64Array(2 * size);
  const beta075 = params.phatBeta === 0.75; // common case without Math.pow per bin
  const lowBin = Math.ceil((params.lowCutHz / fs) * size);
  const highBin = Math.floor(size / 2 * 0.95);
  for (let k = 0; k < size; k++) {
    const kk = k <= size / 2 ? k : size - k;
    if (kk < lowBin || kk > highBin) continue;
    const xr = X[2 * k]!, xi = X[2 * k + 1]!, yr = Y[2 * k]!, yi = Y[2 * k + 1]!;
    const gr = xr * yr + xi * yi;
    const gi = xr * yi - xi * yr;
    const mag = Math.sqrt(gr * gr + gi * gi);
    const w = mag > 1e-20 ? (beta075 ? 1 / Math.sqrt(mag * Math.sqrt(mag)) : Math.pow(mag, -params.phatBeta)) : 0;
    G[2 * k] = gr * w;
    G[2 * k + 1] = gi * w;
  }
  const out = new Float64Array(2 * size);
  f.inverseTransform(out, G);
  // c[k] = sum_i x(i) y(i + k): the match sits at k = m + delta.
  const c = new Float64Array(2 * m + 1);
  for (let k = 0; k <= 2 * m; k++) c[k] = out[2 * k]!;
  let best = 0;
  for (let k = 1; k <= 2 * m; k++) if (Math.abs(c[k]!) > Math.abs(c[best]!)) best = k;
  const inverted = c[best]! < 0;
  const sgn = inverted ? -1 : 1;
  const peak = sgn * c[best]!;
  let frac = 0;
  if (best > 0 && best < 2 * m) {
    const y0 = sgn * c[best - 1]!, y2 = sgn * c[best + 1]!;
    const d = y0 - 2 * peak + y2;
    if (d < 0) frac = Math.max(-0.5, Math.min(0.5, (0.5 * (y0 - y2)) / d));
  }
  const lobe = Math.max(3, Math.round(fs * 0.0015));
  let ss = 0, cnt = 0, second = 0;
  for (let k = 0; k <= 2 * m; k++) {
    if (Math.abs(k - best) <= lobe) continue;
    const v = Math.abs(c[k]!);
    ss += v * v;
    cnt++;
    if (v > second && isLocalMax(c, k)) second = v;
  }
  const rms = cnt > 0 ? Math.sqrt(ss / cnt) : 0;
  const delta = best - m + frac;
  return {
    dubTime: predictedDubTime + (ratio * delta) / fs,
    peakToNoise: rms > 0 ? peak / rms : 0,
    peakToSecond: second > 0 ? peak / second : 10,
    inverted,
  };
}

function isLocalMax(c: Float64Array, k: number): boolean {
  const v = Math.abs(c[k]!);
  return v >= Math.abs(c[k - 1] ?? 0) && v >= Math.abs(c[k + 1] ?? 0);
}
