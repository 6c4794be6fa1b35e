// Scoring of analysis results against the corpus truth: per-case metrics, per-family aggregates,
// the confidence reliability table (ECE) and the benchmark targets. Pure functions: run.ts feeds
// them, the tests feed them hand-built results.
import type { AnalysisResult } from '../../shared/engine/src/result.ts';
import { truthMap } from './case.ts';
import type { Truth } from './case.ts';

export const FRAME_24 = 1 / 24;
export const MAP_STEP = 0.5;
export const BOUNDARY_TOLERANCE = 0.5;

/** The parts of an AnalysisResult the scorer reads; everything may be missing in a broken result. */
export type ScorableResult = {
  match?: boolean;
  verdict?: string;
  offset_seconds?: number | null;
  confidence?: number;
  drift?: Partial<NonNullable<AnalysisResult['drift']>> | null;
  segments?: Partial<AnalysisResult['segments'][number]>[];
  gaps?: Partial<AnalysisResult['gaps'][number]>[];
  master?: { head?: { programme_start?: number } };
  dub?: { head?: { programme_start?: number } };
  timing?: Record<string, number>;
  resources?: { peak_rss_mb?: number };
  diagnostics?: Record<string, number>;
};

export interface TruthForScoring extends Pick<Truth, 'match' | 'offset_seconds' | 'speed_ratio' | 'standard' | 'segments' | 'gaps' | 'head' | 'programme'> {
  id: string;
  family: string;
  master_duration_seconds: number;
}

export interface RunMeasurements {
  /** wall time of the CLI process */
  wallSeconds: number | null;
  /** ffmpeg decode of master + dub to 8 kHz mono, wall time summed */
  decodeFloorSeconds: number | null;
  /** max RSS of the CLI process measured from outside (MB), when available */
  measuredRssMb: number | null;
}

export interface CaseScore {
  id: string;
  family: string;
  error: string | null;
  truthMatch: boolean;
  resultMatch: boolean | null;
  matchCorrect: boolean;
  verdict: string | null;
  offsetTruth: number | null;
  offsetResult: number | null;
  /** result - truth, seconds (null when either is missing) */
  offsetError: number | null;
  within1ms: boolean | null;
  within1frame: boolean | null;
  within100ms: boolean | null;
  speedTruth: number | null;
  speedResult: number | null;
  ppmError: number | null;
  standardTruth: string | null;
  standardResult: string | null;
  standardCorrect: boolean | null;
  mapSamples: number;
  mapCorrect: number;
  mapShare: number | null;
  truthBoundaries: number[];
  /** per truth boundary: distance to the nearest result boundary (null: the result has none) */
  boundaryErrors: (number | null)[];
  spuriousBoundaries: number;
  headMasterErrorMs: number | null;
  headDubErrorMs: number | null;
  confidence: number;
  /** the calibration label: match and offset within 1 frame, or (unrelated) match=false */
  correct: boolean;
  programmeSeconds: number;
  analysisSeconds: number | null;
  wallSeconds: number | null;
  decodeFloorSeconds: number | null;
  realtimeFactor: number | null;
  floorRatio: number | null;
  peakRssMb: number | null;
  measuredRssMb: number | null;
  diagnostics: Record<string, number>;
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** Maps a master time through result segments (linear within each); null when unmapped. */
export function resultMap(segments: ScorableResult['segments'], masterTime: number): number | null {
  for (const s of segments ?? []) {
    if (!finite(s.master_start) || !finite(s.master_end) || !finite(s.dub_start) || !finite(s.dub_end)) continue;
    if (masterTime >= s.master_start && masterTime < s.master_end) {
      const span = s.master_end - s.master_start;
      const k = span > 0 ? (s.dub_end - s.dub_start) / span : 1;
      return s.dub_start + (masterTime - s.master_start) * k;
    }
  }
  return null;
}

/**
 * Share of programme time that the result maps within 1 frame of the truth, sampled at the
 * centres of 0.5 s steps (so no sample sits exactly on a segment boundary).
 */
export function mappingScore(truth: Pick<Truth, 'segments' | 'programme'>, result: ScorableResult | null): { samples: number; correct: number } {
  let samples = 0;
  let correct = 0;
  const segs = result?.match === false ? [] : result?.segments;
  const { master_start: start, master_end: end } = truth.programme;
  for (let k = 0; start + (k + 0.5) * MAP_STEP < end; k++) {
    const m = start + (k + 0.5) * MAP_STEP;
    samples++;
    const t = truthMap(truth, m);
    const r = resultMap(segs, m);
    if (t === null ? r === null : r !== null && Math.abs(r - t) <= FRAME_24) correct++;
  }
  return { samples, correct };
}

function dedupe(xs: number[]): number[] {
  const s = [...xs].sort((a, b) => a - b);
  const out: number[] = [];
  for (const x of s) if (out.length === 0 || x - (out[out.length - 1] as number) > 0.01) out.push(x);
  return out;
}

/** Master times where the truth mapping changes because of an edit (cut ends, insert points). */
export function truthBoundaries(truth: Pick<Truth, 'gaps'>): number[] {
  const b: number[] = [];
  for (const g of truth.gaps) {
    b.push(g.master_start);
    if (g.kind === 'removed') b.push(g.master_end);
  }
  return dedupe(b);
}

/** Interior segment boundaries and gap positions (master time) in a result. */
export function resultBoundaries(result: ScorableResult | null): number[] {
  if (!result || result.match === false) return [];
  const segs = (result.segments ?? []).filter((s) => finite(s.master_start) && finite(s.master_end)).sort((a, b) => (a.master_start as number) - (b.master_start as number));
  const b: number[] = [];
  for (let i = 1; i < segs.length; i++) {
    b.push((segs[i - 1] as { master_end: number }).master_end, (segs[i] as { master_start: number }).master_start);
  }
  for (const g of result.gaps ?? []) {
    if (finite(g.master_start)) b.push(g.master_start);
    if (finite(g.master_end)) b.push(g.master_end);
  }
  return dedupe(b);
}

export function boundaryScore(truth: Pick<Truth, 'gaps'>, result: ScorableResult | null): { truth: number[]; errors: (number | null)[]; spurious: number } {
  const tb = truthBoundaries(truth);
  const rb = resultBoundaries(result);
  const errors = tb.map((t) => (rb.length ? Math.min(...rb.map((r) => Math.abs(r - t))) : null));
  const spurious = rb.filter((r) => !tb.some((t) => Math.abs(t - r) <= BOUNDARY_TOLERANCE)).length;
  return { truth: tb, errors, spurious };
}

/** Parses "a/b" (e.g. "25/23.976") to a number. */
export function standardValue(name: string | null | undefined): number | null {
  if (!name) return null;
  const m = /^\s*([\d.]+)\s*\/\s*([\d.]+)\s*$/.exec(name);
  if (!m) return null;
  const v = Number(m[1]) / Number(m[2]);
  return Number.isFinite(v) ? v : null;
}

/** Standards match when both are absent, or both parse to ratios within 50 ppm (naming may differ). */
export function sameStandard(truth: string | null, result: string | null | undefined): boolean {
  if (!truth) return !result;
  const a = standardValue(truth);
  const b = standardValue(result);
  return a !== null && b !== null && Math.abs(a / b - 1) < 50e-6;
}

export function scoreCase(truth: TruthForScoring, result: ScorableResult | null, meas: RunMeasurements, error: string | null = null): CaseScore {
  const r = error ? null : result;
  const resultMatch = typeof r?.match === 'boolean' ? r.match : null;
  const matchCorrect = resultMatch !== null && resultMatch === truth.match;
  const offsetResult = r && resultMatch !== false && finite(r.offset_seconds) ? r.offset_seconds : null;
  const offsetError = truth.match && offsetResult !== null && truth.offset_seconds !== null ? offsetResult - truth.offset_seconds : null;
  const within = (tol: number): boolean | null => (truth.match ? offsetError !== null && Math.abs(offsetError) <= tol + 1e-12 : null);
  const speedResult = r && resultMatch === true ? (finite(r.drift?.speed_ratio) ? r.drift.speed_ratio : 1) : null;
  const ppmError = truth.match && truth.speed_ratio !== null && speedResult !== null ? Math.abs(speedResult - truth.speed_ratio) * 1e6 : null;
  const standardResult = r?.drift?.standard ?? null;
  const standardCorrect = truth.match ? resultMatch === true && sameStandard(truth.standard, standardResult) : null;
  const map = truth.match ? mappingScore(truth, r) : { samples: 0, correct: 0 };
  const bounds = truth.match ? boundaryScore(truth, r) : { truth: [], errors: [], spurious: 0 };
  const headErr = (got: number | undefined, want: number): number | null => (finite(got) ? Math.abs(got - want) * 1000 : null);
  const confidence = r && finite(r.confidence) ? Math.min(1, Math.max(0, r.confidence)) : 0;
  const correct = truth.match ? resultMatch === true && within(FRAME_24) === true : resultMatch === false;
  const analysisSeconds = r && finite(r.timing?.total) ? (r.timing?.total as number) : meas.wallSeconds;
  const programmeSeconds = truth.master_duration_seconds;
  return {
    id: truth.id,
    family: truth.family,
    error,
    truthMatch: truth.match,
    resultMatch,
    matchCorrect,
    verdict: r?.verdict ?? null,
    offsetTruth: truth.offset_seconds,
    offsetResult,
    offsetError,
    within1ms: within(0.001),
    within1frame: within(FRAME_24),
    within100ms: within(0.1),
    speedTruth: truth.speed_ratio,
    speedResult,
    ppmError,
    standardTruth: truth.standard,
    standardResult,
    standardCorrect,
    mapSamples: map.samples,
    mapCorrect: map.correct,
    mapShare: map.samples ? map.correct / map.samples : null,
    truthBoundaries: bounds.truth,
    boundaryErrors: bounds.errors,
    spuriousBoundaries: bounds.spurious,
    headMasterErrorMs: r ? headErr(r.master?.head?.programme_start, truth.head.master_programme_start) : null,
    headDubErrorMs: r ? headErr(r.dub?.head?.programme_start, truth.head.dub_programme_start) : null,
    confidence,
    correct,
    programmeSeconds,
    analysisSeconds,
    wallSeconds: meas.wallSeconds,
    decodeFloorSeconds: meas.decodeFloorSeconds,
    realtimeFactor: analysisSeconds && analysisSeconds > 0 ? programmeSeconds / analysisSeconds : null,
    floorRatio: analysisSeconds && meas.decodeFloorSeconds && meas.decodeFloorSeconds > 0 ? analysisSeconds / meas.decodeFloorSeconds : null,
    peakRssMb: r && finite(r.resources?.peak_rss_mb) ? (r.resources?.peak_rss_mb as number) : null,
    measuredRssMb: meas.measuredRssMb,
    diagnostics: r?.diagnostics ?? {},
  };
}

// ---------------------------------------------------------------------------------------------
// Aggregates

export interface FamilyAggregate {
  family: string;
  cases: number;
  errors: number;
  matchCorrect: number;
  /** cases whose truth is a match (the offset metrics' denominator) */
  matched: number;
  within1ms: number;
  within1frame: number;
  within100ms: number;
  medianAbsOffsetErrorMs: number | null;
  maxPpmError: number | null;
  standardCorrect: number;
  mapShare: number | null;
  minCaseMapShare: number | null;
  truthBoundaries: number;
  maxBoundaryError: number | null;
  missedBoundaries: number;
  spuriousBoundaries: number;
  maxHeadMasterErrorMs: number | null;
  maxHeadDubErrorMs: number | null;
  headMissing: number;
  correct: number;
  meanConfidence: number;
  programmeSeconds: number;
  analysisSeconds: number;
  realtimeFactor: number | null;
  medianFloorRatio: number | null;
  maxRssMb: number | null;
}

const median = (xs: number[]): number | null => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const maxOf = (xs: (number | null)[]): number | null => {
  const v = xs.filter(finite);
  return v.length ? Math.max(...v) : null;
};

export function aggregate(family: string, scores: readonly CaseScore[]): FamilyAggregate {
  const matched = scores.filter((s) => s.truthMatch);
  const mapSamples = matched.reduce((a, s) => a + s.mapSamples, 0);
  const mapCorrect = matched.reduce((a, s) => a + s.mapCorrect, 0);
  const boundaryErrors = scores.flatMap((s) => s.boundaryErrors);
  const programmeSeconds = scores.reduce((a, s) => a + s.programmeSeconds, 0);
  const analysisSeconds = scores.reduce((a, s) => a + (s.analysisSeconds ?? 0), 0);
  return {
    family,
    cases: scores.length,
    errors: scores.filter((s) => s.error).length,
    matchCorrect: scores.filter((s) => s.matchCorrect).length,
    matched: matched.length,
    within1ms: matched.filter((s) => s.within1ms).length,
    within1frame: matched.filter((s) => s.within1frame).length,
    within100ms: matched.filter((s) => s.within100ms).length,
    medianAbsOffsetErrorMs: median(matched.filter((s) => s.offsetError !== null).map((s) => Math.abs(s.offsetError as number) * 1000)),
    maxPpmError: matched.length ? (matched.some((s) => s.ppmError === null) ? Infinity : maxOf(matched.map((s) => s.ppmError))) : null,
    standardCorrect: matched.filter((s) => s.standardCorrect).length,
    mapShare: mapSamples ? mapCorrect / mapSamples : null,
    minCaseMapShare: matched.length ? Math.min(...matched.map((s) => s.mapShare ?? 0)) : null,
    truthBoundaries: boundaryErrors.length,
    maxBoundaryError: boundaryErrors.length ? (boundaryErrors.some((e) => e === null) ? Infinity : maxOf(boundaryErrors)) : null,
    missedBoundaries: boundaryErrors.filter((e) => e === null || e > BOUNDARY_TOLERANCE).length,
    spuriousBoundaries: scores.reduce((a, s) => a + s.spuriousBoundaries, 0),
    maxHeadMasterErrorMs: maxOf(scores.map((s) => s.headMasterErrorMs)),
    maxHeadDubErrorMs: maxOf(scores.map((s) => s.headDubErrorMs)),
    headMissing: scores.filter((s) => s.headMasterErrorMs === null || s.headDubErrorMs === null).length,
    correct: scores.filter((s) => s.correct).length,
    meanConfidence: scores.length ? scores.reduce((a, s) => a + s.confidence, 0) / scores.length : 0,
    programmeSeconds,
    analysisSeconds,
    realtimeFactor: analysisSeconds > 0 ? programmeSeconds / analysisSeconds : null,
    medianFloorRatio: median(scores.filter((s) => s.floorRatio !== null).map((s) => s.floorRatio as number)),
    maxRssMb: maxOf(scores.map((s) => Math.max(s.peakRssMb ?? 0, s.measuredRssMb ?? 0) || null)),
  };
}

export interface ReliabilityBin {
  lo: number;
  hi: number;
  count: number;
  meanConfidence: number | null;
  accuracy: number | null;
}

/** 10 equal-width confidence bins; ECE = sum over bins of (n_b / N) * |accuracy_b - confidence_b|. */
export function reliability(scores: readonly Pick<CaseScore, 'confidence' | 'correct'>[], bins = 10): { bins: ReliabilityBin[]; ece: number | null } {
  const out: ReliabilityBin[] = [];
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    const lo = b / bins;
    const hi = (b + 1) / bins;
    const inBin = scores.filter((s) => Math.min(bins - 1, Math.floor(s.confidence * bins)) === b);
    const count = inBin.length;
    const meanConfidence = count ? inBin.reduce((a, s) => a + s.confidence, 0) / count : null;
    const accuracy = count ? inBin.filter((s) => s.correct).length / count : null;
    if (count && scores.length) ece += (count / scores.length) * Math.abs((accuracy as number) - (meanConfidence as number));
    out.push({ lo, hi, count, meanConfidence, accuracy });
  }
  return { bins: out, ece: scores.length ? ece : null };
}

// ---------------------------------------------------------------------------------------------
// Targets

export interface Target {
  name: string;
  target: string;
  figure: string;
  /** null: not measured in this run */
  pass: boolean | null;
}

const pct = (n: number, d: number): string => (d ? `${((100 * n) / d).toFixed(1)}% (${n}/${d})` : 'n/a');

export interface TargetOptions {
  long60Id?: string;
  long3hId?: string;
}

export function evaluateTargets(scores: readonly CaseScore[], opts: TargetOptions = {}): Target[] {
  const t: Target[] = [];
  const fam = (...names: string[]): CaseScore[] => scores.filter((s) => names.includes(s.family));
  const rel = reliability(scores);
  t.push({ name: 'calibration: ECE', target: '<= 0.05', figure: rel.ece === null ? 'n/a' : rel.ece.toFixed(3), pass: rel.ece === null ? null : rel.ece <= 0.05 });
  const confidentWrong = scores.filter((s) => s.confidence >= 0.9 && !s.correct);
  const confident = scores.filter((s) => s.confidence >= 0.9);
  t.push({ name: 'confidence >= 0.9 is right', target: 'all', figure: confident.length ? `${confidentWrong.length} wrong of ${confident.length}` : 'none >= 0.9', pass: scores.length ? confidentWrong.length === 0 : null });
  const wrong = scores.filter((s) => !s.correct);
  const wrongHigh = wrong.filter((s) => s.confidence >= 0.5);
  t.push({ name: 'wrong answers have confidence < 0.5', target: 'all', figure: wrong.length ? `${wrongHigh.length} of ${wrong.length} wrong at >= 0.5` : 'no wrong answers', pass: scores.length ? wrongHigh.length === 0 : null });

  const head = fam('head');
  const headOk = head.filter((s) => s.headMasterErrorMs !== null && s.headDubErrorMs !== null && s.headMasterErrorMs <= 100 && s.headDubErrorMs <= 100);
  t.push({ name: 'head: programme start (master and dub) within 100 ms', target: '100%', figure: pct(headOk.length, head.length), pass: head.length ? headOk.length === head.length : null });

  const cr = fam('constant', 'reencode').filter((s) => s.truthMatch);
  const crFrame = cr.filter((s) => s.within1frame).length;
  const crMs = cr.filter((s) => s.within1ms).length;
  t.push({ name: 'constant+reencode: offset within 1 frame', target: '100%', figure: pct(crFrame, cr.length), pass: cr.length ? crFrame === cr.length : null });
  t.push({ name: 'constant+reencode: offset within 1 ms', target: '>= 95%', figure: pct(crMs, cr.length), pass: cr.length ? crMs / cr.length >= 0.95 : null });

  const drift = fam('drift').filter((s) => s.truthMatch);
  const driftOk = drift.filter((s) => s.ppmError !== null && s.ppmError < 20 && s.standardCorrect === true);
  t.push({ name: 'drift: ppm error < 20 and standard named', target: '100%', figure: pct(driftOk.length, drift.length), pass: drift.length ? driftOk.length === drift.length : null });

  const edit = fam('edit').filter((s) => s.truthMatch);
  const eSamples = edit.reduce((a, s) => a + s.mapSamples, 0);
  const eCorrect = edit.reduce((a, s) => a + s.mapCorrect, 0);
  t.push({ name: 'edit: programme time mapped within 1 frame', target: '>= 99%', figure: eSamples ? `${((100 * eCorrect) / eSamples).toFixed(2)}%` : 'n/a', pass: eSamples ? eCorrect / eSamples >= 0.99 : null });
  const eb = edit.flatMap((s) => s.boundaryErrors);
  const ebOk = eb.filter((e) => e !== null && e <= BOUNDARY_TOLERANCE).length;
  const ebMax = maxOf(eb);
  t.push({ name: 'edit: boundaries within 0.5 s', target: '100%', figure: eb.length ? `${pct(ebOk, eb.length)}, max ${eb.some((e) => e === null) ? 'missed' : `${(ebMax ?? 0).toFixed(2)} s`}` : 'n/a', pass: eb.length ? ebOk === eb.length : null });

  const lang = fam('language').filter((s) => s.truthMatch);
  const langOk = lang.filter((s) => s.within1frame).length;
  t.push({ name: 'language: offset within 1 frame', target: '100%', figure: pct(langOk, lang.length), pass: lang.length ? langOk === lang.length : null });

  const un = fam('unrelated');
  const unOk = un.filter((s) => s.resultMatch === false).length;
  t.push({ name: 'unrelated: match=false', target: '100%', figure: pct(unOk, un.length), pass: un.length ? unOk === un.length : null });

  const l60 = scores.find((s) => s.id === (opts.long60Id ?? 'long-60min'));
  t.push({ name: '60-min pair: analysis time / decode floor', target: '<= 1.5', figure: l60?.floorRatio ? l60.floorRatio.toFixed(2) : 'n/a (run --long)', pass: l60?.floorRatio ? l60.floorRatio <= 1.5 : null });
  const l3 = scores.find((s) => s.id === (opts.long3hId ?? 'long-3h'));
  const rss3 = l3 ? Math.max(l3.peakRssMb ?? 0, l3.measuredRssMb ?? 0) || null : null;
  t.push({ name: '3-hour pair: peak RSS', target: '< 1024 MB', figure: rss3 ? `${rss3.toFixed(0)} MB` : 'n/a (run --long)', pass: rss3 ? rss3 < 1024 : null });
  return t;
}
