// Edit boundaries at block resolution: between two segments, find where the dub stops
// following the first and starts following the second, from short-block waveform similarity
// under each hypothesis. A removal (the dub skips master material) is one splice point in dub
// time; an insertion (extra dub material) is one point in master time.
import { readResampled, type PcmTrack } from './pcm.ts';

export interface BoundaryParams {
  blockSeconds: number;
  stepSeconds: number;
}

export interface Boundary {
  /** Master time where the first segment ends. */
  masterEnd: number;
  /** Master time where the second segment starts. */
  masterStart: number;
}

/**
 * Similarity of master block at time t with the dub block at ratio*t + intercept:
 * normalised correlation of first differences (pre-emphasis keeps low frequencies from dominating).
 */
export function blockSimilarity(master: PcmTrack, dub: PcmTrack, t: number, ratio: number, intercept: number, blockSeconds: number): number {
  const fs = master.sampleRate;
  const n = Math.round(blockSeconds * fs);
  const t0 = t - blockSeconds / 2; // t is the block centre
  const x = readResampled(master.samples, t0 * fs, 1, n + 1);
  const y = readResampled(dub.samples, (ratio * t0 + intercept) * dub.sampleRate, (ratio * dub.sampleRate) / fs, n + 1);
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const a = x[i + 1]! - x[i]!;
    const b = y[i + 1]! - y[i]!;
    sxy += a * b;
    sxx += a * a;
    syy += b * b;
  }
  return sxx > 1e-12 && syy > 1e-12 ? sxy / Math.sqrt(sxx * syy) : 0;
}

export function locateBoundary(
  master: PcmTrack,
  dub: PcmTrack,
  ratio: number,
  interceptA: number,
  interceptB: number,
  searchFrom: number,
  searchTo: number,
  params: BoundaryParams,
): Boundary {
  const delta = interceptB - interceptA;
  const blocks: number[] = [];
  for (let t = searchFrom; t <= searchTo; t += params.stepSeconds) blocks.push(t);
  if (delta > 0) {
    // Insertion: split in master time.
    const T = bestSplit(blocks, (t) => blockSimilarity(master, dub, t, ratio, interceptA, params.blockSeconds), (t) => blockSimilarity(master, dub, t, ratio, interceptB, params.blockSeconds));
    return { masterEnd: T, masterStart: T };
  }
  // Removal: split in dub time; dub block at d follows master (d - b)/ratio.
  const dFrom = ratio * searchFrom + interceptA;
  const dTo = ratio * searchTo + interceptA;
  const dubBlocks: number[] = [];
  for (let d = dFrom; d <= dTo; d += params.stepSeconds) dubBlocks.push(d);
  const D = bestSplit(
    dubBlocks,
    (d) => blockSimilarity(master, dub, (d - interceptA) / ratio, ratio, interceptA, params.blockSeconds),
    (d) => blockSimilarity(master, dub, (d - interceptB) / ratio, ratio, interceptB, params.blockSeconds),
  );
  return { masterEnd: (D - interceptA) / ratio, masterStart: (D - interceptB) / ratio };
}

/** The split point s maximising sum_{x < s} a(x) + sum_{x >= s} b(x). */
function bestSplit(xs: number[], a: (x: number) => number, b: (x: number) => number): number {
  if (xs.length === 0) return 0;
  const diff = xs.map((x) => a(x) - b(x));
  // sum_{x<s} a + sum_{x>=s} b = const + sum_{x<s} (a - b): maximise the running sum.
  let best = 0, bestIdx = 0, acc = 0;
  for (let i = 0; i < diff.length; i++) {
    acc += diff[i]!;
    if (acc > best) {
      best = acc;
      bestIdx = i + 1;
    }
  }
  const step = xs.length > 1 ? xs[1]! - xs[0]! : 0;
  return bestIdx < xs.length ? xs[bestIdx]! : xs[xs.length - 1]! + step;
}
