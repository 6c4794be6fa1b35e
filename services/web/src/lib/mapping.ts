// Master time → dub time through the result's segments, for the corrected listening mode and
// the "after correction" energy overview. Pure (no DOM).
//
// Within segment k the dub runs along a straight line:
//   dub_t = dub_start + (t - master_start) * (dub_end - dub_start) / (master_end - master_start)
// Before the first segment and after the last the nearest line is extended (programme heads and
// tails are measured less densely, but the material continues). Between two segments (an edit)
// there is no dub counterpart: null.

export interface SegmentLine {
  master_start: number;
  master_end: number;
  dub_start: number;
  dub_end: number;
}

/** d(dub time)/d(master time) along a segment (1 for a degenerate one). */
export function segmentRate(s: SegmentLine): number {
  const dm = s.master_end - s.master_start;
  const r = dm > 0 ? (s.dub_end - s.dub_start) / dm : 1;
  return Number.isFinite(r) && r > 0 ? r : 1;
}

const sorted = (segments: readonly SegmentLine[]) => [...segments].sort((a, b) => a.master_start - b.master_start);

export function masterToDub(segments: readonly SegmentLine[], t: number): number | null {
  if (segments.length === 0) return null;
  const segs = sorted(segments);
  const first = segs[0]!;
  const last = segs[segs.length - 1]!;
  const along = (s: SegmentLine) => s.dub_start + (t - s.master_start) * segmentRate(s);
  if (t < first.master_start) return along(first);
  for (const s of segs) if (t >= s.master_start && t <= s.master_end) return along(s);
  if (t > last.master_end) return along(last);
  return null;
}

/** One stretch of dub audio played against the master clock. */
export interface PlaybackPiece {
  /** Master time where the piece starts and ends (end may be Infinity). */
  masterFrom: number;
  masterTo: number;
  /** Dub time played at masterFrom. */
  dubFrom: number;
  /** Dub seconds per master second (the playback rate of the dub). */
  rate: number;
}

export type ListenMode = 'corrected' | 'uncorrected';

/**
 * What of the dub to play from master time `from` on. Uncorrected: the dub at the same clock
 * time. Corrected: the dub at the mapped time, one piece per segment (the first and last
 * extended), silence across edits; pieces are clipped to the dub's extent [0, dubDuration].
 */
export function playbackPieces(segments: readonly SegmentLine[], mode: ListenMode, from: number, dubDuration: number): PlaybackPiece[] {
  const raw: PlaybackPiece[] = [];
  if (mode === 'uncorrected' || segments.length === 0) {
    raw.push({ masterFrom: from, masterTo: Infinity, dubFrom: from, rate: 1 });
  } else {
    const segs = sorted(segments);
    segs.forEach((s, i) => {
      const lo = i === 0 ? -Infinity : s.master_start;
      const hi = i === segs.length - 1 ? Infinity : s.master_end;
      if (hi <= from) return;
      const masterFrom = Math.max(from, lo);
      const rate = segmentRate(s);
      raw.push({ masterFrom, masterTo: hi, dubFrom: s.dub_start + (masterFrom - s.master_start) * rate, rate });
    });
  }
  const out: PlaybackPiece[] = [];
  for (const p of raw) {
    let { masterFrom, dubFrom } = p;
    // Dub content starts at 0: wait until the mapped time reaches it.
    if (dubFrom < 0) {
      masterFrom += -dubFrom / p.rate;
      dubFrom = 0;
    }
    // Stop where the dub ends.
    const masterTo = Math.min(p.masterTo, masterFrom + (dubDuration - dubFrom) / p.rate);
    if (masterTo - masterFrom > 1e-6) out.push({ masterFrom, masterTo, dubFrom, rate: p.rate });
  }
  return out;
}

/** The dub time heard at master time t under these pieces; null while the dub is silent. */
export function dubTimeInPieces(pieces: readonly PlaybackPiece[], t: number): number | null {
  for (const p of pieces) if (t >= p.masterFrom && t < p.masterTo) return p.dubFrom + (t - p.masterFrom) * p.rate;
  return null;
}

/**
 * Energy (dB) per column over [t0, t1): the loudest hop in each column, read at the time
 * `map` gives for the column (identity when absent); null where map has no counterpart or the
 * time is outside the signal.
 */
export function energyColumns(db: readonly number[], hop: number, columns: number, t0: number, t1: number, map?: (t: number) => number | null): (number | null)[] {
  const out: (number | null)[] = [];
  const step = (t1 - t0) / columns;
  for (let c = 0; c < columns; c++) {
    const a = t0 + c * step;
    const b = a + step;
    const ma = map ? map(a) : a;
    const mb = map ? map(b) : b;
    if (ma === null || mb === null) {
      out.push(null);
      continue;
    }
    const lo = Math.floor(Math.min(ma, mb) / hop);
    const hi = Math.max(lo + 1, Math.ceil(Math.max(ma, mb) / hop));
    let best = -Infinity;
    for (let i = Math.max(0, lo); i < Math.min(db.length, hi); i++) best = Math.max(best, db[i]!);
    out.push(best === -Infinity ? null : best);
  }
  return out;
}
