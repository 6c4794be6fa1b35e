// Coarse search over the FULL overlap of the two programmes: multi-band FFT cross-correlation
// of the onset envelopes, once per candidate speed ratio (the dub's envelopes are warped by the
// ratio first, so a 25/24 conform still gives one sharp peak).
import { accumulateCrossSpectrum, inverseReal, nextPow2, realSpectra, realSpectraPair } from './fft.ts';
import { warpBands, type Features } from './features.ts';

export interface CoarseCandidate {
  /** Dub time = ratio * master time + intercept (seconds). */
  intercept: number;
  /** Robust z-score of the correlation peak against all lags. */
  z: number;
  /** Overlap of the two programmes at this lag, seconds. */
  overlapSeconds: number;
}

export interface CoarseRatioResult {
  ratio: number;
  candidates: CoarseCandidate[];
}

export interface CoarseParams {
  /** Candidate speed ratios (dub time per master time). */
  ratios: readonly number[];
  /** Peaks kept per ratio. */
  maxCandidates: number;
  /** Minimum overlap as seconds and as a share of the shorter programme. */
  minOverlapSeconds: number;
  minOverlapShare: number;
  /** Peaks closer than this (seconds) count as one. */
  peakSeparationSeconds: number;
  /** Feature frames pooled per coarse frame (also the track stage's resolution; the PCM stage restores precision). */
  decimate: number;
}

export function coarseSearch(master: Features, dub: Features, params: CoarseParams, onRatioDone?: (i: number) => void): CoarseRatioResult[] {
  // The caller passes features already pooled by params.decimate.
  const hop = master.hopSeconds;
  const mBands = master.bands;
  const dBands = dub.bands;
  const lm = mBands[0]?.length ?? 0;
  const ld = dBands[0]?.length ?? 0;
  const maxWarpedLen = Math.max(...params.ratios.map((r) => Math.floor((ld - 1) / r) + 1));
  const size = nextPow2(lm + maxWarpedLen + 1);
  // Single precision is plenty for peak picking and halves the largest buffers (3-hour pairs).
  const masterSpectra = realSpectra(mBands, size).map((sp) => Float32Array.from(sp));
  const results: CoarseRatioResult[] = [];
  params.ratios.forEach((ratio, idx) => {
    const warped = warpBands(dBands, ratio);
    const lw = warped[0]?.length ?? 0;
    const cross = new Float64Array(2 * size);
    // Two bands per transform, accumulated and dropped at once: few large buffers alive.
    for (let b = 0; b < warped.length; b += 2) {
      const [sa, sb] = realSpectraPair(warped[b]!, warped[b + 1] ?? null, size);
      accumulateCrossSpectrum(cross, masterSpectra[b]!, sa);
      if (sb) accumulateCrossSpectrum(cross, masterSpectra[b + 1]!, sb);
    }
    const corr = inverseReal(cross, size);
    results.push({ ratio, candidates: pickPeaks(corr, size, lm, lw, mBands.length, hop, ratio, params) });
    onRatioDone?.(idx);
  });
  return results;
}

function pickPeaks(corr: Float64Array, size: number, lm: number, lw: number, nBands: number, hop: number, ratio: number, p: CoarseParams): CoarseCandidate[] {
  // Lag L (warped dub frames): master frame u matches warped dub frame u + L.
  const minOverlap = Math.max(1, Math.min(p.minOverlapSeconds / hop, p.minOverlapShare * Math.min(lm, lw)));
  const lagMin = -(lm - 1);
  const lagMax = lw - 1;
  const nLags = lagMax - lagMin + 1;
  const score = new Float64Array(nLags);
  const valid = new Uint8Array(nLags);
  for (let k = 0; k < nLags; k++) {
    const lag = lagMin + k;
    const overlap = Math.min(lm, lw - lag) - Math.max(0, -lag);
    if (overlap < minOverlap) continue;
    const v = corr[(lag + size) % size]!;
    // Under no match the sum of `overlap` products of unit-variance envelopes has spread ~ sqrt(overlap).
    score[k] = v / Math.sqrt(overlap * nBands);
    valid[k] = 1;
  }
  const vals: number[] = [];
  const stride = Math.max(1, Math.floor(nLags / 20000));
  for (let k = 0; k < nLags; k += stride) if (valid[k]) vals.push(score[k]!);
  if (vals.length < 3) return [];
  vals.sort((a, b) => a - b);
  const med = vals[vals.length >> 1]!;
  const mad = vals.map((v) => Math.abs(v - med)).sort((a, b) => a - b)[vals.length >> 1]! * 1.4826 || 1e-9;
  const sep = Math.max(1, Math.round(p.peakSeparationSeconds / hop));
  // Local maxima, strongest first, separated by `sep`.
  const peaks: number[] = [];
  for (let k = 1; k < nLags - 1; k++) {
    if (!valid[k]) continue;
    const v = score[k]!;
    if (v >= score[k - 1]! && v > score[k + 1]!) peaks.push(k);
  }
  peaks.sort((a, b) => score[b]! - score[a]!);
  const chosen: number[] = [];
  for (const k of peaks) {
    if (chosen.length >= p.maxCandidates) break;
    if (chosen.every((c) => Math.abs(c - k) >= sep)) chosen.push(k);
  }
  return chosen.map((k) => {
    const lag = lagMin + k;
    const y0 = score[k - 1] ?? 0, y1 = score[k]!, y2 = score[k + 1] ?? 0;
    const denom = y0 - 2 * y1 + y2;
    const frac = denom !== 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (y0 - y2)) / denom)) : 0;
    const overlap = Math.min(lm, lw - lag) - Math.max(0, -lag);
    return { intercept: (lag + frac) * hop * ratio, z: (y1 - med) / mad, overlapSeconds: overlap * hop };
  });
}
