// Turns the segment model into the edit map: contiguous segments with master/dub in and out
// points (boundaries located at block resolution) and the gaps between them.
import { locateBoundary, type BoundaryParams } from './boundaries.ts';
import { matchProbability } from './confidence.ts';
import { median, type MeasuredPoint, type Model } from './model.ts';
import { durationOf, type PcmTrack } from './pcm.ts';
import type { Gap, Segment } from './result.ts';

export const boundaryDefaults: BoundaryParams = { blockSeconds: 0.25, stepSeconds: 0.05 };

/** Shorter stretches (after clipping to both programmes) are not reported as segments. */
const MIN_SEGMENT_SECONDS = 1;

interface EditMapParams {
  boundary: BoundaryParams;
  track: { hopSeconds: number };
}

export function buildEditMap(
  master: PcmTrack,
  dub: PcmTrack,
  points: readonly (MeasuredPoint & { peakToNoise: number })[],
  model: Model,
  params: EditMapParams,
  windowSeconds: number,
  coarseZ = 10,
): { segments: Segment[]; gaps: Gap[] } {
  const r = model.ratio;
  const segs = [...model.segments].sort((a, b) => points[a.members[0]!]!.masterTime - points[b.members[0]!]!.masterTime);
  const times = segs.map((s) => s.members.map((i) => points[i]!.masterTime).sort((a, b) => a - b));
  const starts: number[] = [];
  const ends: number[] = [];
  const masterDur = durationOf(master);
  const dubDur = durationOf(dub);
  segs.forEach((s, k) => {
    starts.push(k === 0 ? Math.max(0, -s.intercept / r) : times[k]![0]! - windowSeconds / 2);
    ends.push(k === segs.length - 1 ? Math.min(masterDur, (dubDur - s.intercept) / r) : times[k]![times[k]!.length - 1]! + windowSeconds / 2);
  });
  for (let k = 0; k + 1 < segs.length; k++) {
    const from = times[k]![times[k]!.length - 1]! - windowSeconds / 2;
    const to = times[k + 1]![0]! + windowSeconds / 2;
    const b = locateBoundary(master, dub, r, segs[k]!.intercept, segs[k + 1]!.intercept, from, to, params.boundary);
    ends[k] = Math.max(starts[k]!, b.masterEnd);
    starts[k + 1] = Math.min(ends[k + 1]!, b.masterStart);
  }
  // Keep every segment inside both programmes (the dub may stop before the master does).
  segs.forEach((s, k) => {
    starts[k] = Math.max(starts[k]!, 0, -s.intercept / r);
    ends[k] = Math.min(ends[k]!, masterDur, (dubDur - s.intercept) / r);
  });
  const segments: Segment[] = segs.flatMap((s, k) => {
    const ms = starts[k]!, me = ends[k]!;
    if (me - ms < MIN_SEGMENT_SECONDS) return [];
    const span = Math.max(me - ms, 1e-9);
    const expected = Math.max(1, span / params.track.hopSeconds);
    const confidence = matchProbability({
      inlierShare: Math.min(1, s.members.length / expected),
      firstSegmentPoints: s.members.length,
      medianPeakToNoise: median(s.members.map((i) => points[i]!.peakToNoise)),
      coarseZ,
      unexplainedLead: 0,
    });
    return [{
      master_start: ms,
      master_end: me,
      dub_start: r * ms + s.intercept,
      dub_end: r * me + s.intercept,
      offset_seconds: (r - 1) * ms + s.intercept,
      offset_end_seconds: (r - 1) * me + s.intercept,
      confidence,
    }];
  });
  return { segments, gaps: gapsBetween(segments) };
}

/** The removed and inserted spans between consecutive segments. */
export function gapsBetween(segments: readonly Segment[]): Gap[] {
  const gaps: Gap[] = [];
  const eps = 0.02;
  for (let k = 0; k + 1 < segments.length; k++) {
    const a = segments[k]!, b = segments[k + 1]!;
    if (b.master_start > a.master_end + eps) {
      gaps.push({ kind: 'removed', master_start: a.master_end, master_end: b.master_start, dub_start: a.dub_end, dub_end: a.dub_end, duration_seconds: b.master_start - a.master_end });
    }
    if (b.dub_start > a.dub_end + eps) {
      gaps.push({ kind: 'inserted', master_start: a.master_end, master_end: a.master_end, dub_start: a.dub_end, dub_end: b.dub_start, duration_seconds: b.dub_start - a.dub_end });
    }
  }
  return gaps;
}
