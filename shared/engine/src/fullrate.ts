// Final polish on full-rate audio: the analysis-rate result names anchor points; the caller
// reads short full-rate windows there (I/O is not the engine's business), measures them with
// refineAt, and hands back one correction per segment, which is applied here.
import { conclude, type EngineOutput } from './analyze.ts';
import type { VerdictParams } from './analyze.ts';
import { gapsBetween } from './editmap.ts';

export interface Anchor {
  segment: number;
  masterTime: number;
  /** Dub time the analysis-rate result predicts for masterTime. */
  dubTime: number;
}

/** Up to `perSegment` well-measured master times per segment, away from its edges. */
export function fullRateAnchors(out: Pick<EngineOutput, 'match' | 'drift' | 'segments' | 'offset_track'>, perSegment = 3, margin = 2): Anchor[] {
  if (!out.match || !out.drift) return [];
  const r = out.drift.speed_ratio;
  const anchors: Anchor[] = [];
  out.segments.forEach((s, k) => {
    const inside = out.offset_track
      .filter((p) => p.confidence > 0 && p.master_time > s.master_start + margin && p.master_time < s.master_end - margin)
      .sort((a, b) => b.confidence - a.confidence);
    const chosen: typeof inside = [];
    for (const p of inside) {
      if (chosen.length >= perSegment) break;
      if (chosen.every((c) => Math.abs(c.master_time - p.master_time) > 10)) chosen.push(p);
    }
    const intercept = s.dub_start - r * s.master_start;
    for (const p of chosen) anchors.push({ segment: k, masterTime: p.master_time, dubTime: r * p.master_time + intercept });
  });
  return anchors;
}

/** Shifts each segment's dub times by its correction (seconds; null = keep) and re-derives the rest. */
export function applySegmentShifts(out: EngineOutput, shifts: readonly (number | null)[], verdict: VerdictParams, programmeSeconds: number): EngineOutput {
  if (!out.match) return out;
  const segments = out.segments.map((s, k) => {
    const d = shifts[k] ?? 0;
    return { ...s, dub_start: s.dub_start + d, dub_end: s.dub_end + d, offset_seconds: s.offset_seconds + d, offset_end_seconds: s.offset_end_seconds + d };
  });
  const next = { ...out, segments, gaps: gapsBetween(segments) };
  return { ...next, ...conclude(next, verdict, programmeSeconds) };
}
