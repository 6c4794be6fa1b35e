// Windowed measurements along the master: for each window, the best-matching dub position
// near each coarse candidate (and, for windows no candidate explains, a search of the whole
// dub). The result is the raw material for the drift fit and the edit map.
import { accumulateCrossSpectrum, inverseReal, nextPow2, realSpectra } from './fft.ts';
import type { Features } from './features.ts';

export interface TrackParams {
  windowSeconds: number;
  hopSeconds: number;
  /** Search radius around each candidate, seconds. */
  searchSeconds: number;
  /** At most this many windows without a good PCM match get a whole-dub search. */
  maxRescues: number;
  /** Rival feature peaks within this much of the best are refined on the PCM too. */
  ambiguity: number;
  /** A window whose best correlation near the previous window's lag reaches this needs no other search. */
  acceptContinuity: number;
  /** Windows with less activity than this share of the median are skipped (silence, masked head). */
  minActivity: number;
}

export interface CoarsePoint {
  /** Master time of the window centre, seconds. */
  masterTime: number;
  /** Dub time matching masterTime, seconds (feature resolution, interpolated). */
  dubTime: number;
  /** Normalised correlation of the best lag (-1..1). */
  rho: number;
  /** Best correlation at lags away from the best one's main lobe. */
  rhoSecond: number;
  /** Which candidate explained it (-1: whole-dub search). */
  candidate: number;
  /** Other local maxima of the correlation (dub times), strongest first: periodic content can
   *  make the feature match ambiguous, and the PCM refinement decides between them. */
  alternatives: { dubTime: number; rho: number }[];
}

/** `warped` are the dub bands already warped by `ratio`: warped frame u holds dub frame ratio*u. */
export function measureTrack(
  master: Features,
  warped: readonly Float32Array[],
  ratio: number,
  intercepts: readonly number[],
  params: TrackParams,
  onProgress?: (fraction: number) => void,
): CoarsePoint[] {
  const hop = master.hopSeconds;
  const W = Math.max(8, Math.round(params.windowSeconds / hop));
  const H = Math.max(1, Math.round(params.hopSeconds / hop));
  const R = Math.max(2, Math.round(params.searchSeconds / hop));
  const lw = warped[0]?.length ?? 0;
  const nBands = master.bands.length;
  const candLags = intercepts.map((b) => Math.round(b / (ratio * hop)));
  const starts: number[] = [];
  for (let u0 = 0; u0 + W <= master.length; u0 += H) starts.push(u0);
  if (starts.length === 0 && master.length >= 8) starts.push(0);
  const win = Math.min(W, master.length);
  const activity = starts.map((u0) => windowEnergy(master.bands, u0, win));
  const sortedAct = [...activity].sort((a, b) => a - b);
  const medAct = sortedAct[sortedAct.length >> 1] ?? 0;

  const points: (CoarsePoint | null)[] = [];
  let prevLag: number | null = null;
  let prevCand = -1;
  starts.forEach((u0, wi) => {
    onProgress?.(wi / starts.length);
    if (activity[wi]! < params.minActivity * medAct || activity[wi]! <= 1e-9) {
      points.push(null);
      return;
    }
    let best = { lag: 0, rho: -Infinity, cand: -1 };
    const scores: { lag: number; rho: number }[] = [];
    const searchAround = (c: number, ci: number) => {
      for (let lag = c - R; lag <= c + R; lag++) {
        const rho = windowCorrelation(master.bands, warped, u0, win, lag, lw, nBands);
        scores.push({ lag, rho });
        if (rho > best.rho) best = { lag, rho, cand: ci };
      }
    };
    // Continuity first: the previous window's lag usually explains this one too (and follows
    // any residual drift); the other candidates are searched only when it does not.
    if (prevLag !== null) searchAround(prevLag, prevCand);
    if (prevLag === null || best.rho < params.acceptContinuity || best.rho - secondBest(scores, best.lag, 3) < 0.1) {
      candLags.forEach((c, ci) => {
        if (prevLag === null || Math.abs(c - prevLag) > R) searchAround(c, ci);
      });
    }
    if (best.rho >= params.acceptContinuity && best.rho - secondBest(scores, best.lag, 3) >= params.ambiguity) {
      prevLag = best.lag;
      prevCand = best.cand;
    }
    points.push(best.cand >= 0 ? toPoint(master.bands, warped, u0, win, best.lag, best.rho, secondBest(scores, best.lag, 3), best.cand, ratio, hop, lw, nBands, rivalPeaks(scores, best.lag, best.rho - params.ambiguity)) : null);
  });
  onProgress?.(1);
  return points.filter((p): p is CoarsePoint => p !== null);
}

/**
 * Whole-dub search for windows centred on the given master times (a scene moved far, or the
 * candidates missed it): FFT correlation of the window against all of the warped dub.
 * `previous` (same order) are the earlier estimates, kept as alternatives.
 */
export function searchWholeDub(
  master: Features,
  warped: readonly Float32Array[],
  ratio: number,
  masterTimes: readonly number[],
  previous: readonly (CoarsePoint | null)[],
  params: TrackParams,
): CoarsePoint[] {
  const hop = master.hopSeconds;
  const win = Math.min(Math.max(8, Math.round(params.windowSeconds / hop)), master.length);
  const R = Math.max(2, Math.round(params.searchSeconds / hop));
  const lw = warped[0]?.length ?? 0;
  const nBands = master.bands.length;
  if (masterTimes.length === 0 || lw < win) return [];
  const size = nextPow2(lw + win + 1);
  const dubSpectra = realSpectra(warped, size);
  return masterTimes.map((t, k) => {
    const u0 = Math.max(0, Math.min(master.length - win, Math.round(t / hop - win / 2)));
    const cross = new Float64Array(2 * size);
    realSpectra(master.bands.map((band) => band.subarray(u0, u0 + win)), size).forEach((spec, b) => accumulateCrossSpectrum(cross, spec, dubSpectra[b]!));
    const corr = inverseReal(cross, size);
    // corr[L] = sum_u m(u0+u) w(u+L); the window's lag relative to master frame u0 is L - u0.
    // The strongest few peaks over the whole dub: on repetitive material the right one need not
    // be the highest, and the PCM refinement picks among them.
    const peaks = topPeaks(corr, lw - win, WHOLE_DUB_PEAKS, R);
    const lag = (peaks[0] ?? 0) - u0;
    const scores: { lag: number; rho: number }[] = [];
    for (let l = lag - R; l <= lag + R; l++) scores.push({ lag: l, rho: windowCorrelation(master.bands, warped, u0, win, l, lw, nBands) });
    const rho = windowCorrelation(master.bands, warped, u0, win, lag, lw, nBands);
    const point = toPoint(master.bands, warped, u0, win, lag, rho, secondBest(scores, lag, 3), -1, ratio, hop, lw, nBands, rivalPeaks(scores, lag, rho - params.ambiguity));
    for (const L of peaks.slice(1)) point.alternatives.push({ dubTime: (u0 + win / 2 + L - u0) * hop * ratio, rho: 0 });
    const prev = previous[k];
    if (prev) point.alternatives.push({ dubTime: prev.dubTime, rho: prev.rho }, ...prev.alternatives);
    return point;
  });
}

const WHOLE_DUB_PEAKS = 5;

/** Indices of the `n` highest local maxima of corr[0..last], at least `sep` apart. */
function topPeaks(corr: Float64Array, last: number, n: number, sep: number): number[] {
  const cand: number[] = [];
  for (let L = 0; L <= last; L++) {
    const v = corr[L]!;
    if ((L === 0 || v >= corr[L - 1]!) && (L === last || v > corr[L + 1]!)) cand.push(L);
  }
  cand.sort((a, b) => corr[b]! - corr[a]!);
  const out: number[] = [];
  for (const L of cand) {
    if (out.length >= n) break;
    if (out.every((o) => Math.abs(o - L) > sep)) out.push(L);
  }
  return out;
}

function toPoint(mb: readonly Float32Array[], wb: readonly Float32Array[], u0: number, win: number, lag: number, rho: number, rho2: number, cand: number, ratio: number, hop: number, lw: number, nBands: number, alternatives: { lag: number; rho: number }[] = []): CoarsePoint {
  // Parabolic interpolation of the lag for a sub-frame coarse estimate.
  const y0 = windowCorrelation(mb, wb, u0, win, lag - 1, lw, nBands);
  const y2 = windowCorrelation(mb, wb, u0, win, lag + 1, lw, nBands);
  const d = y0 - 2 * rho + y2;
  const frac = d < 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (y0 - y2)) / d)) : 0;
  const centre = u0 + win / 2;
  return {
    masterTime: centre * hop,
    dubTime: (centre + lag + frac) * hop * ratio,
    rho,
    rhoSecond: rho2,
    candidate: cand,
    alternatives: alternatives.map((a) => ({ dubTime: (centre + a.lag) * hop * ratio, rho: a.rho })),
  };
}

/** Local maxima other than the best (outside its main lobe) within `floor` of it, strongest first. */
function rivalPeaks(scores: { lag: number; rho: number }[], bestLag: number, floor: number, max = 3): { lag: number; rho: number }[] {
  const byLag = new Map<number, number>();
  for (const x of scores) byLag.set(x.lag, Math.max(byLag.get(x.lag) ?? -1, x.rho));
  const peaks: { lag: number; rho: number }[] = [];
  for (const [lag, rho] of byLag) {
    if (rho < floor || Math.abs(lag - bestLag) <= 3) continue;
    if (rho >= (byLag.get(lag - 1) ?? -1) && rho >= (byLag.get(lag + 1) ?? -1)) peaks.push({ lag, rho });
  }
  peaks.sort((a, b) => b.rho - a.rho);
  const out: { lag: number; rho: number }[] = [];
  for (const p of peaks) {
    if (out.length >= max) break;
    if (out.every((o) => Math.abs(o.lag - p.lag) > 3)) out.push(p);
  }
  return out;
}

function secondBest(scores: { lag: number; rho: number }[], bestLag: number, lobe: number): number {
  let s = -1;
  for (const x of scores) if (Math.abs(x.lag - bestLag) > lobe && x.rho > s) s = x.rho;
  return s;
}

function windowEnergy(bands: readonly Float32Array[], u0: number, win: number): number {
  let e = 0;
  for (const b of bands) for (let u = u0; u < u0 + win; u++) e += b[u]! * b[u]!;
  return e / (win * bands.length);
}

/** Normalised correlation of master frames [u0, u0+win) with warped dub frames shifted by lag. */
export function windowCorrelation(mb: readonly Float32Array[], wb: readonly Float32Array[], u0: number, win: number, lag: number, lw: number, nBands: number): number {
  const a = Math.max(u0, -lag);
  const e = Math.min(u0 + win, lw - lag);
  if (e - a < win / 2) return -1;
  let sxy = 0, sxx = 0, syy = 0;
  for (let b = 0; b < nBands; b++) {
    const m = mb[b]!, w = wb[b]!;
    for (let u = a; u < e; u++) {
      const x = m[u]!, y = w[u + lag]!;
      sxy += x * y;
      sxx += x * x;
      syy += y * y;
    }
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : -1;
}

export function spread<T>(items: T[], max: number): T[] {
  if (items.length <= max) return items;
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(items[Math.floor((i * items.length) / max)]!);
  return out;
}
