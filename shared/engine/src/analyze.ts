// The engine's entry point: two mono PCM tracks at the analysis rate in, the sync analysis out.
// Stages: head findings -> onset features -> coarse search over the full overlap (per speed
// ratio) -> windowed track -> PCM refinement -> ratio + segment model -> edit boundaries ->
// confidence and verdict. Pure: no I/O, no clock; progress through a callback.
import { boundaryDefaults, buildEditMap } from './editmap.ts';
import { coarseSearch, type CoarseParams } from './coarse.ts';
import { matchProbability, type Evidence } from './confidence.ts';
import { DEFAULT_FEATURE_PARAMS, extractFeatures, maskFeatures, poolFeatures, warpBands, type FeatureParams, type Features } from './features.ts';
import { refineAt, type FineMeasurement, type FineParams } from './fine.ts';
import { describeOffset, framesTable, frameRateKeyFor, offsetToFrames } from './frames.ts';
import { detectHead, headMask } from './head.ts';
import { weightSpeech, type SpeechSegment, type SpeechWeighting } from './dialogue.ts';
import { CANDIDATE_RATIOS, dropOverlappingSegments, fitModel, median, type MeasuredPoint, type ModelParams } from './model.ts';
import { durationOf, type PcmTrack } from './pcm.ts';
import type { Drift, FrameRateKey, Gap, HeadReport, Segment, TrackPoint, Verdict } from './result.ts';
import { measureTrack, searchWholeDub, spread, type CoarsePoint, type TrackParams } from './track.ts';
import type { BoundaryParams } from './boundaries.ts';

export const ENGINE_NAME = 'sync-analyzer-engine';
export const ENGINE_VERSION = '0.1.0';

export interface VerdictParams {
  /** |offset| below this many frames (at the reference rate) is in sync. */
  inSyncFrames: number;
  /** Drift is a verdict when it moves the offset by at least this many frames over the programme. */
  driftMinFrames: number;
  /** Frame rate used when the master has no video. */
  defaultFrameRate: FrameRateKey;
}

export interface EngineParams {
  features: FeatureParams;
  coarse: CoarseParams;
  track: TrackParams;
  fine: FineParams;
  model: ModelParams;
  boundary: BoundaryParams;
  verdict: VerdictParams;
  /** Fine measurements below this peak-to-noise are not used. */
  minPeakToNoise: number;
  /** Coarse candidates below this z-score are ignored (the best one is always kept). */
  minCandidateZ: number;
  /** Speed ratios whose coarse peak reaches this share of the best one's are evaluated too... */
  ratioContenderShare: number;
  /** ...up to this many ratios in all. */
  maxRatioContenders: number;
  /** A match needs at least this calibrated probability. */
  matchThreshold: number;
  /** Onset features inside detected speech (when speech segments are given). */
  speech: SpeechWeighting;
}

export const DEFAULT_PARAMS: EngineParams = {
  features: DEFAULT_FEATURE_PARAMS,
  coarse: { ratios: CANDIDATE_RATIOS, maxCandidates: 8, minOverlapSeconds: 20, minOverlapShare: 0.2, peakSeparationSeconds: 1, decimate: 2 },
  track: { windowSeconds: 15, hopSeconds: 7.5, searchSeconds: 0.6, maxRescues: 24, minActivity: 0.05, acceptContinuity: 0.35, ambiguity: 0.08 },
  fine: { windowSeconds: 1.9, searchSeconds: 0.04, phatBeta: 0.75, lowCutHz: 80 },
  model: { tolerance: 0.012, minRun: 2, strongPoint: 15, freeRatioMinEffect: 0.02, freeRatioSigmas: 8 },
  boundary: boundaryDefaults,
  verdict: { inSyncFrames: 1, driftMinFrames: 1, defaultFrameRate: '24' },
  minPeakToNoise: 5,
  minCandidateZ: 4,
  ratioContenderShare: 0.7,
  maxRatioContenders: 3,
  matchThreshold: 0.5,
  speech: { weight: 0.3, minNonSpeechShare: 0.25 },
};

type Measured = MeasuredPoint & { inverted: boolean; peakToNoise: number };

export interface Progress {
  stage: string;
  /** 0-100 over the whole engine run. */
  percent: number;
}

export interface EngineInput {
  master: PcmTrack;
  dub: PcmTrack;
  /** The master's video frame rate, when it has video. */
  masterFrameRate?: number | null;
  /** Features already extracted (e.g. while decoding) with the same feature params. */
  masterFeatures?: Features;
  dubFeatures?: Features;
  params?: PartialParams;
  onProgress?: (p: Progress) => void;
  /** Speech segments (voice activity) of each file, when detected: matching then leans on non-speech. */
  masterSpeech?: readonly SpeechSegment[] | null;
  dubSpeech?: readonly SpeechSegment[] | null;
}

export type PartialParams = { [K in keyof EngineParams]?: EngineParams[K] extends object ? Partial<EngineParams[K]> : EngineParams[K] };

export interface EngineOutput {
  match: boolean;
  verdict: Verdict;
  reasons: string[];
  summary: string;
  offset_seconds: number | null;
  confidence: number;
  drift: Drift | null;
  segments: Segment[];
  gaps: Gap[];
  offset_track: TrackPoint[];
  frames: ReturnType<typeof framesTable> | null;
  reference_frame_rate: FrameRateKey;
  polarity_inverted: boolean | null;
  masterHead: HeadReport;
  dubHead: HeadReport;
  diagnostics: Record<string, number>;
  parameters: EngineParams;
}

export function mergeParams(p?: PartialParams): EngineParams {
  const out = { ...DEFAULT_PARAMS } as Record<string, unknown>;
  for (const [k, v] of Object.entries(p ?? {})) {
    const base = (DEFAULT_PARAMS as unknown as Record<string, unknown>)[k];
    out[k] = v !== null && typeof v === 'object' && !Array.isArray(v) ? { ...(base as object), ...v } : v;
  }
  return out as unknown as EngineParams;
}

// Share of the run each stage takes, for an honest progress bar.
const STAGES: readonly [string, number][] = [
  ['head', 3], ['features', 17], ['coarse', 25], ['track', 30], ['refine', 20], ['model', 5],
];

export function analyzePair(input: EngineInput): EngineOutput {
  const params = mergeParams(input.params);
  const report = progressReporter(input.onProgress);
  const { master, dub } = input;
  const refKey = frameRateKeyFor(input.masterFrameRate ?? null) ?? params.verdict.defaultFrameRate;

  report('head', 0);
  const masterHead = detectHead(master.samples, master.sampleRate);
  const dubHead = detectHead(dub.samples, dub.sampleRate);
  report('features', 0);
  const fm = input.masterFeatures ?? extractFeatures(master, params.features);
  report('features', 0.5);
  const fd = input.dubFeatures ?? extractFeatures(dub, params.features);
  maskFeatures(fm, headMask(masterHead, durationOf(master)));
  maskFeatures(fd, headMask(dubHead, durationOf(dub)));
  const speechWeighted = input.masterSpeech && input.dubSpeech && params.speech.weight < 1 ? weightSpeech(fm, fd, input.masterSpeech, input.dubSpeech, params.speech) : false;

  const base = { masterHead, dubHead, reference_frame_rate: refKey, parameters: params };
  const silent = [isSilent(fm.energy) ? 'the master is silent' : null, isSilent(fd.energy) ? 'the dub is silent' : null].filter((r): r is string => r !== null);
  // Nothing to match against: no match is certain.
  if (silent.length > 0) return noMatch(base, silent, {}, 0.99);
  const shortest = Math.min(durationOf(master), durationOf(dub));
  if (shortest < 2 * params.fine.windowSeconds) return noMatch(base, [`too little audio to compare (${shortest.toFixed(2)} s)`], {}, 0.5);

  // Short programmes get shorter track windows (at least ~10 per programme, never under 6 s).
  const trackWindow = Math.min(params.track.windowSeconds, Math.max(6, shortest / 10));
  const track: TrackParams = { ...params.track, windowSeconds: trackWindow, hopSeconds: (params.track.hopSeconds * trackWindow) / params.track.windowSeconds };
  report('coarse', 0);
  const pm = poolFeatures(fm, params.coarse.decimate);
  const pd = poolFeatures(fd, params.coarse.decimate);
  const coarse = coarseSearch(pm, pd, params.coarse, (i) => report('coarse', (i + 1) / params.coarse.ratios.length));
  // Ratios whose coarse peak is close to the best one are all followed through the track and
  // the PCM refinement: on weak or periodic material the coarse z-score alone can pick wrongly.
  const byZ = [...coarse].filter((c) => c.candidates.length > 0).sort((a, b) => b.candidates[0]!.z - a.candidates[0]!.z);
  const topZ = byZ[0]?.candidates[0]?.z ?? 0;
  const contenders = byZ.filter((c, i) => i === 0 || (i < params.maxRatioContenders && c.candidates[0]!.z >= params.ratioContenderShare * topZ));
  if (contenders.length === 0) return noMatch(base, ['no common content found in the overlap'], { coarseZ: topZ }, 1 - matchProbability({ inlierShare: 0, firstSegmentPoints: 0, medianPeakToNoise: 1, coarseZ: topZ, unexplainedLead: 0 }));

  const evaluate = (rr: (typeof contenders)[number], k: number) => {
    const span = 1 / contenders.length;
    const candidates = rr.candidates.filter((c, i) => i === 0 || c.z >= params.minCandidateZ);
    report('track', k * span);
    const warped = warpBands(pd.bands, rr.ratio);
    const coarsePoints = measureTrack(pm, warped, rr.ratio, candidates.map((c) => c.intercept), track, (f) => report('track', (k + f) * span));
    report('refine', k * span);
    // The feature match may be ambiguous (periodic music): the PCM decides between rivals.
    // `fineRatio` resamples the dub: a wrong ratio smears the PCM correlation, so when the model
    // finds another ratio than the coarse one, the measurements are taken again with it.
    const measureAll = (fineRatio: number) => {
      const measured: Measured[] = [];
      const refine = (p: CoarsePoint) => {
        let best: FineMeasurement | null = null;
        for (const dubTime of [p.dubTime, ...p.alternatives.map((a) => a.dubTime)]) {
          const fine = refineAt(master, dub, p.masterTime, dubTime, fineRatio, params.fine);
          if (fine && (!best || fine.peakToNoise > best.peakToNoise)) best = fine;
        }
        if (best && best.peakToNoise >= params.minPeakToNoise) {
          measured.push({ masterTime: p.masterTime, dubTime: best.dubTime, weight: Math.min(best.peakToNoise, 50), inverted: best.inverted, peakToNoise: best.peakToNoise });
          return true;
        }
        return false;
      };
      const failed: CoarsePoint[] = [];
      coarsePoints.forEach((p, i) => {
        if (i % 16 === 0) report('refine', (k + i / coarsePoints.length) * span);
        if (!refine(p)) failed.push(p);
      });
      // Windows no candidate explained on the PCM: search them against the whole dub (a scene
      // that moved far), at most maxRescues of them, spread over the programme.
      const rescue = spread(failed, track.maxRescues);
      searchWholeDub(pm, warped, rr.ratio, rescue.map((p) => p.masterTime), rescue, track).forEach(refine);
      measured.sort((a, b) => a.masterTime - b.masterTime);
      const model = dropOverlappingSegments(fitModel(measured, rr.ratio, params.model), measured, track.windowSeconds / 2);
      const support = model.segments.reduce((acc, sg) => acc + sg.members.reduce((a, i) => a + measured[i]!.weight, 0), 0);
      return { measured, model, support };
    };
    let { measured, model, support } = measureAll(rr.ratio);
    if (model.segments.length > 0 && Math.abs(model.ratio - rr.ratio) > 1e-7) {
      const again = measureAll(model.ratio);
      if (again.support > support) ({ measured, model, support } = again);
    }
    return { rr, coarsePoints, measured, model, support };
  };
  let chosen = evaluate(contenders[0]!, 0);
  for (let k = 1; k < contenders.length; k++) {
    const alt = evaluate(contenders[k]!, k);
    if (alt.support > chosen.support) chosen = alt;
  }
  report('model', 0);
  const { rr: bestRatio, coarsePoints, measured, model } = chosen;
  const coarseZ = bestRatio.candidates[0]!.z;
  const activeWindows = Math.max(1, coarsePoints.length);
  const diagnostics: Record<string, number> = {
    speechWeighted: speechWeighted ? 1 : 0,
    coarseZ,
    coarseRatio: bestRatio.ratio,
    windows: coarsePoints.length,
    measured: measured.length,
    segments: model.segments.length,
  };
  if (model.segments.length === 0) {
    const none: Evidence = { inlierShare: 0, firstSegmentPoints: 0, medianPeakToNoise: 1, coarseZ, unexplainedLead: 0 };
    Object.assign(diagnostics, none);
    return noMatch(base, ['no stretch of the programme matched consistently'], diagnostics, 1 - matchProbability(none));
  }

  const editMap = buildEditMap(master, dub, measured, model, { ...params, track }, track.windowSeconds, coarseZ);
  const inliers = model.segments.reduce((n, s) => n + s.members.length, 0);
  // Members are in master-time order; the first segment is the one that starts earliest.
  const startOf = (sg: (typeof model.segments)[number]) => measured[sg.members[0]!]!.masterTime;
  const first = model.segments.reduce((a, b) => (startOf(a) <= startOf(b) ? a : b));
  const firstTime = startOf(first);
  const unexplainedLead = coarsePoints.filter((p) => p.masterTime < firstTime - 1e-6 && model.ratio * p.masterTime + first.intercept >= track.windowSeconds / 2).length;
  const evidence: Evidence = {
    inlierShare: inliers / activeWindows,
    firstSegmentPoints: first.members.length,
    medianPeakToNoise: median(model.segments.flatMap((s) => s.members.map((i) => measured[i]!.peakToNoise))),
    coarseZ,
    unexplainedLead,
  };
  // Only finite numbers: a JSON document cannot carry NaN or Infinity (they would become null).
  for (const [k, v] of Object.entries({ ...evidence, inliers, fittedRatio: model.fittedRatio, ratioStdErr: model.ratioStdErr })) if (Number.isFinite(v)) diagnostics[k] = v as number;
  const pMatch = matchProbability(evidence);
  diagnostics.pMatch = pMatch;
  // What the answer would be, kept for calibration even when it is not reported.
  diagnostics.candidateOffset = editMap.segments[0]!.offset_seconds - (model.ratio - 1) * editMap.segments[0]!.master_start;
  if (pMatch < params.matchThreshold) {
    return noMatch(base, [`the evidence for a match is weak (${Math.round(pMatch * 100)}% likely)`], diagnostics, 1 - pMatch);
  }

  const ratio = model.ratio;
  const ppm = (ratio - 1) * 1e6;
  const drift: Drift = {
    speed_ratio: ratio,
    ppm,
    standard: model.standard,
    direction: Math.abs(ppm) < 1e-3 ? 'none' : ppm > 0 ? 'late' : 'early',
  };
  const invertedShare = measured.filter((m) => m.inverted).length / measured.length;
  const outliers = new Set(model.outliers);
  report('done', 1);
  const body = {
    match: true,
    confidence: pMatch,
    drift,
    segments: editMap.segments,
    gaps: editMap.gaps,
    offset_track: measured.map((m, i) => ({
      master_time: m.masterTime,
      offset_seconds: m.dubTime - m.masterTime,
      confidence: outliers.has(i) ? 0 : Math.min(1, m.peakToNoise / 20),
    })),
    reference_frame_rate: refKey,
    polarity_inverted: invertedShare > 0.5,
    masterHead,
    dubHead,
    diagnostics,
    parameters: params,
  };
  return { ...body, ...conclude(body, params.verdict, durationOf(master)) };

  function noMatch(b: typeof base, reasons: string[], diag: Record<string, number>, confidence: number): EngineOutput {
    return {
      ...b,
      match: false,
      verdict: 'no_match',
      reasons,
      summary: `no match: ${reasons.join('; ')}`,
      offset_seconds: null,
      confidence,
      drift: null,
      segments: [],
      gaps: [],
      offset_track: [],
      frames: null,
      polarity_inverted: null,
      diagnostics: diag,
    };
  }
}

type Conclusion = Pick<EngineOutput, 'verdict' | 'reasons' | 'summary' | 'offset_seconds' | 'frames'>;

/** Verdict, reasons, words and frame table from a matched result's segments, gaps and drift. */
export function conclude(
  r: Pick<EngineOutput, 'segments' | 'gaps' | 'drift' | 'polarity_inverted' | 'reference_frame_rate'>,
  vp: VerdictParams,
  programmeSeconds: number,
): Conclusion {
  const refKey = r.reference_frame_rate;
  const first = r.segments[0]!;
  const drift = r.drift!;
  const ratio = drift.speed_ratio;
  // Offset at master time 0 along the first segment.
  const offset = first.offset_seconds - (ratio - 1) * first.master_start;
  const frameSec = 1 / fpsOf(refKey);
  const driftEffect = Math.abs(ratio - 1) * programmeSeconds;
  const reasons: string[] = [];
  let verdict: Verdict;
  if (r.segments.length > 1 || r.gaps.length > 0) {
    verdict = 'edited';
    reasons.push(`${r.segments.length} segments with different offsets; ${r.gaps.length} edit(s): ${r.gaps.map((g) => `${g.kind} ${g.duration_seconds.toFixed(2)} s at master ${g.master_start.toFixed(2)} s`).join(', ')}`);
  } else if (driftEffect >= vp.driftMinFrames * frameSec) {
    verdict = 'drift';
    reasons.push(`the dub runs at ${ratio.toFixed(6)}x master speed (${drift.ppm.toFixed(1)} ppm${drift.standard ? `, ${drift.standard}` : ''}): drifts ${drift.direction} by ${(driftEffect * 1000).toFixed(0)} ms over the programme`);
  } else if (Math.abs(offset) >= vp.inSyncFrames * frameSec) {
    verdict = 'offset';
    reasons.push(describeOffset(offset, refKey));
  } else {
    verdict = 'in_sync';
    reasons.push(`offset ${(offset * 1000).toFixed(2)} ms is under ${vp.inSyncFrames} frame at ${refKey}`);
  }
  if (r.polarity_inverted) reasons.push('the dub polarity is inverted');
  return {
    verdict,
    reasons,
    summary: `${describeOffset(offset, refKey)}${verdict === 'drift' ? `, drifting ${drift.direction} (${drift.ppm.toFixed(1)} ppm)` : ''}`,
    offset_seconds: offset,
    frames: framesTable(offset),
  };
}

/** Frames per second of a frame-rate key (frames in one second of offset). */
function fpsOf(key: FrameRateKey): number {
  return offsetToFrames(1, key);
}

function isSilent(energy: Float32Array): boolean {
  let max = 0;
  for (let i = 0; i < energy.length; i++) if (energy[i]! > max) max = energy[i]!;
  return max < 1e-8; // below about -80 dBFS everywhere
}

function progressReporter(cb?: (p: Progress) => void): (stage: string, fraction: number) => void {
  const starts = new Map<string, [number, number]>();
  let acc = 0;
  for (const [name, w] of STAGES) {
    starts.set(name, [acc, w]);
    acc += w;
  }
  return (stage, fraction) => {
    if (!cb) return;
    const s = starts.get(stage);
    const pct = s ? s[0] + s[1] * Math.max(0, Math.min(1, fraction)) : 100;
    cb({ stage, percent: Math.round(pct * 10) / 10 });
  };
}
