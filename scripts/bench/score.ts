// Scoring of analysis results against the corpus truth: per-case metrics, per-family aggregates,
// the confidence reliability table (ECE) and the benchmark targets. Pure functions: run.ts feeds
// them, the tests feed them hand-built results.
import type { AnalysisResult } from '../../shared/engine/src/result.ts';
import { truthMap } from './case.ts';
import type { LineErrorClass, Truth, TruthLine } from './case.ts';

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
  dialogue?: ResultDialogue | null;
  inference?: { seconds?: number; provider?: string } | null;
};

/** The parts of a DialogueReport the dialogue scorer reads. */
export type ResultDialogue = {
  lines?: Partial<NonNullable<AnalysisResult['dialogue']>['lines'][number]>[];
  missing?: { master_start?: number; master_end?: number }[];
  untranslated?: { master_start?: number; master_end?: number }[];
  extra?: unknown[];
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
  /** the speech model's own time for both files (result.inference.seconds); null without VAD */
  inferenceSeconds: number | null;
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
    inferenceSeconds: r && finite(r.inference?.seconds) ? (r.inference?.seconds as number) : null,
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
  /**
   * The run the 60-minute floor-ratio target (<= 1.5) reads, when it is not `scores`: that target
   * predates speech detection, so with both runs it reads the VAD-off one (VAD has its own <= 2.5).
   */
  floorScores?: readonly CaseScore[];
  /** shown in that target's name, e.g. "VAD off" */
  floorLabel?: string;
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

  const l60 = (opts.floorScores ?? scores).find((s) => s.id === (opts.long60Id ?? 'long-60min'));
  t.push({ name: `60-min pair: analysis time${opts.floorLabel ? ` (${opts.floorLabel})` : ''} / decode floor`, target: '<= 1.5', figure: l60?.floorRatio ? l60.floorRatio.toFixed(2) : 'n/a (run --long)', pass: l60?.floorRatio ? l60.floorRatio <= 1.5 : null });
  const l3 = scores.find((s) => s.id === (opts.long3hId ?? 'long-3h'));
  const rss3 = l3 ? Math.max(l3.peakRssMb ?? 0, l3.measuredRssMb ?? 0) || null : null;
  t.push({ name: '3-hour pair: peak RSS', target: '< 1024 MB', figure: rss3 ? `${rss3.toFixed(0)} MB` : 'n/a (run --long)', pass: rss3 ? rss3 < 1024 : null });
  return t;
}

// ---------------------------------------------------------------------------------------------
// Dialogue timing QC (dialogue family; only runs with speech detection have a dialogue report)

export const LINE_ERROR_CLASSES: readonly LineErrorClass[] = ['late', 'early', 'missing', 'untranslated'];
const zeroByClass = (): Record<LineErrorClass, number> => ({ late: 0, early: 0, missing: 0, untranslated: 0 });

type ResultLine = NonNullable<ResultDialogue['lines']>[number];

const overlaps = (a0: number, a1: number, b0: number, b1: number): boolean => Math.min(a1, b1) - Math.max(a0, b0) > 0;

/**
 * Whether a product line carries the right issue class for a planned error: a shifted line must be
 * flagged on its start and/or end with the shift's sign (late_* for a late dub line; start_and_end
 * with both differences of that sign), a missing line as missing, an untranslated one as untranslated.
 */
export function lineHasClass(line: ResultLine, cls: LineErrorClass): boolean {
  if (!line.flagged) return false;
  const i = line.issue;
  const sd = line.start_diff_ms;
  const ed = line.end_diff_ms;
  switch (cls) {
    case 'late': return i === 'late_start' || i === 'late_end' || (i === 'start_and_end' && finite(sd) && finite(ed) && sd > 0 && ed > 0);
    case 'early': return i === 'early_start' || i === 'early_end' || (i === 'start_and_end' && finite(sd) && finite(ed) && sd < 0 && ed < 0);
    case 'missing': return i === 'missing';
    case 'untranslated': return i === 'untranslated';
  }
}

export interface PlannedLineResult {
  index: number;
  error: LineErrorClass;
  master_start: number;
  master_end: number;
  detected: boolean;
  /** what the product said about the line: its issues (or "not flagged", "no line") */
  got: string;
}

export interface DialogueScore {
  id: string;
  /** the result carried a dialogue report */
  available: boolean;
  /** a clean control: no planned line errors */
  control: boolean;
  truthLines: number;
  planned: Record<LineErrorClass, number>;
  detected: Record<LineErrorClass, number>;
  plannedLines: PlannedLineResult[];
  /** product lines (master speech segments it reports) */
  resultLines: number;
  /** product lines that overlap no line with a planned error (the false-flag denominator) */
  cleanResultLines: number;
  /** flagged lines among cleanResultLines */
  falseFlags: number;
  /** lines for review (a difference at the threshold by its less certain measure only) among cleanResultLines */
  reviews: number;
  /** false flags on a product line that overlaps no truth line at all (speech detected in the bed) */
  falseFlagsOffSpeech: number;
  falseFlagIssues: Record<string, number>;
  /** |start|/|end| differences (ms) of paired product lines over exactly one clean truth line */
  cleanDiffsMs: number[];
}

/** Scores one result's dialogue report against the planned line errors. */
export function scoreDialogue(id: string, truthLines: readonly TruthLine[], dialogue: ResultDialogue | null | undefined): DialogueScore {
  const planned = zeroByClass();
  const detected = zeroByClass();
  const errorLines = truthLines.filter((l) => l.error !== null);
  for (const l of errorLines) planned[l.error as LineErrorClass]++;
  const base: DialogueScore = {
    id, available: !!dialogue, control: errorLines.length === 0, truthLines: truthLines.length, planned, detected, plannedLines: [],
    resultLines: 0, cleanResultLines: 0, falseFlags: 0, reviews: 0, falseFlagsOffSpeech: 0, falseFlagIssues: {}, cleanDiffsMs: [],
  };
  if (!dialogue) {
    base.plannedLines = errorLines.map((l) => ({ index: l.index, error: l.error as LineErrorClass, master_start: l.master_start, master_end: l.master_end, detected: false, got: 'no dialogue report' }));
    return base;
  }
  const lines = (dialogue.lines ?? []).filter((l) => finite(l.master_start) && finite(l.master_end)) as (ResultLine & { master_start: number; master_end: number })[];
  const spanHit = (list: ResultDialogue['missing'], t: TruthLine): boolean =>
    (list ?? []).some((x) => finite(x.master_start) && finite(x.master_end) && overlaps(x.master_start, x.master_end, t.master_start, t.master_end));
  for (const t of errorLines) {
    const cls = t.error as LineErrorClass;
    const over = lines.filter((l) => overlaps(l.master_start, l.master_end, t.master_start, t.master_end));
    const hit = over.some((l) => lineHasClass(l, cls)) ||
      (cls === 'missing' && spanHit(dialogue.missing, t)) || (cls === 'untranslated' && spanHit(dialogue.untranslated, t));
    if (hit) detected[cls]++;
    const got = over.length ? over.map((l) => (l.flagged || l.review ? `${l.issue ?? (l.review ? 'review' : 'flagged')}${finite(l.start_diff_ms) ? ` ${l.start_diff_ms}/${l.end_diff_ms} ms` : ''}` : 'not flagged')).join(', ') : 'no line';
    base.plannedLines.push({ index: t.index, error: cls, master_start: t.master_start, master_end: t.master_end, detected: hit, got });
  }
  base.resultLines = lines.length;
  for (const l of lines) {
    if (errorLines.some((t) => overlaps(l.master_start, l.master_end, t.master_start, t.master_end))) continue;
    base.cleanResultLines++;
    const onTruth = truthLines.filter((t) => overlaps(l.master_start, l.master_end, t.master_start, t.master_end));
    if (l.flagged) {
      base.falseFlags++;
      if (onTruth.length === 0) base.falseFlagsOffSpeech++;
      const k = l.issue ?? 'flagged';
      base.falseFlagIssues[k] = (base.falseFlagIssues[k] ?? 0) + 1;
    } else if (l.review) base.reviews++;
    if (onTruth.length === 1 && finite(l.start_diff_ms) && finite(l.end_diff_ms)) base.cleanDiffsMs.push(Math.abs(l.start_diff_ms), Math.abs(l.end_diff_ms));
  }
  return base;
}

export interface DialogueAggregate {
  cases: number;
  /** cases whose result had a dialogue report */
  withReport: number;
  planned: Record<LineErrorClass, number>;
  detected: Record<LineErrorClass, number>;
  cleanResultLines: number;
  falseFlags: number;
  falseFlagsOffSpeech: number;
  controlCases: number;
  controlLines: number;
  controlFalseFlags: number;
  reviews: number;
  controlReviews: number;
  falseFlagIssues: Record<string, number>;
  cleanDiffMedianMs: number | null;
  cleanDiffP95Ms: number | null;
}

const quantile = (xs: number[], q: number): number | null => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
};

export function aggregateDialogue(scores: readonly DialogueScore[]): DialogueAggregate {
  const planned = zeroByClass();
  const detected = zeroByClass();
  const issues: Record<string, number> = {};
  for (const s of scores) {
    for (const c of LINE_ERROR_CLASSES) {
      planned[c] += s.planned[c];
      detected[c] += s.detected[c];
    }
    for (const [k, v] of Object.entries(s.falseFlagIssues)) issues[k] = (issues[k] ?? 0) + v;
  }
  const controls = scores.filter((s) => s.control);
  const diffs = scores.flatMap((s) => s.cleanDiffsMs);
  return {
    cases: scores.length,
    withReport: scores.filter((s) => s.available).length,
    planned,
    detected,
    cleanResultLines: scores.reduce((a, s) => a + s.cleanResultLines, 0),
    falseFlags: scores.reduce((a, s) => a + s.falseFlags, 0),
    falseFlagsOffSpeech: scores.reduce((a, s) => a + s.falseFlagsOffSpeech, 0),
    controlCases: controls.length,
    controlLines: controls.reduce((a, s) => a + s.cleanResultLines, 0),
    controlFalseFlags: controls.reduce((a, s) => a + s.falseFlags, 0),
    reviews: scores.reduce((a, s) => a + (s.reviews ?? 0), 0),
    controlReviews: controls.reduce((a, s) => a + (s.reviews ?? 0), 0),
    falseFlagIssues: issues,
    cleanDiffMedianMs: quantile(diffs, 0.5),
    cleanDiffP95Ms: quantile(diffs, 0.95),
  };
}

export const DIALOGUE_DETECTION_TARGET = 0.8;
export const DIALOGUE_FALSE_FLAG_TARGET = 0.1;

const CLASS_LABEL: Record<LineErrorClass, string> = {
  late: 'line shifted +3 frames flagged late',
  early: 'line shifted -3 frames flagged early',
  missing: 'missing line flagged missing',
  untranslated: 'untranslated line flagged untranslated',
};

/** Dialogue targets: detection >= 80% per error kind, false flags <= 10% of lines on the clean controls. */
export function dialogueTargets(agg: DialogueAggregate | null): Target[] {
  const t: Target[] = [];
  for (const c of LINE_ERROR_CLASSES) {
    const n = agg?.planned[c] ?? 0;
    const d = agg?.detected[c] ?? 0;
    t.push({ name: `dialogue: ${CLASS_LABEL[c]}`, target: `>= ${100 * DIALOGUE_DETECTION_TARGET}%`, figure: agg && n ? pct(d, n) : 'n/a', pass: agg && n ? d / n >= DIALOGUE_DETECTION_TARGET : null });
  }
  const ctl = agg?.controlLines ?? 0;
  t.push({
    name: 'dialogue: false flags on the clean controls', target: `<= ${100 * DIALOGUE_FALSE_FLAG_TARGET}% of lines`,
    figure: agg && ctl ? pct(agg.controlFalseFlags, ctl) : 'n/a', pass: agg && ctl ? agg.controlFalseFlags / ctl <= DIALOGUE_FALSE_FLAG_TARGET : null,
  });
  return t;
}

// ---------------------------------------------------------------------------------------------
// Speech detection on vs off

/** Median |offset error| may grow this much with VAD before it counts as a regression (run-to-run jitter). */
export const VAD_MEDIAN_NOISE_MS = 0.5;
/** Mapped share may drop this much (absolute) before it counts (a 0.5 s step on a 100 s programme is 0.5%). */
export const VAD_MAP_NOISE = 0.005;

export interface VadFamilyRow {
  family: string;
  off: FamilyAggregate;
  on: FamilyAggregate;
  /** why this family counts as worse with VAD (empty: no regression) */
  regressions: string[];
  /** what got better with VAD */
  improvements: string[];
}

/**
 * VAD on vs off per family, over the cases run both ways. A family regresses with VAD when any of:
 * fewer cases correct (match and offset within 1 frame @24; unrelated: match=false); more runs
 * that errored; median |offset error| larger by more than 0.5 ms; programme time mapped within
 * 1 frame lower by more than 0.5 percentage points; more edit boundaries missed.
 */
export function compareVad(off: readonly CaseScore[], on: readonly CaseScore[]): VadFamilyRow[] {
  const onById = new Map(on.map((s) => [s.id, s]));
  const pairs = off.filter((s) => onById.has(s.id)).map((s) => [s, onById.get(s.id) as CaseScore] as const);
  const order: string[] = [];
  for (const [s] of pairs) if (!order.includes(s.family)) order.push(s.family);
  const rows: VadFamilyRow[] = [];
  const rowFor = (family: string, ps: (readonly [CaseScore, CaseScore])[]): VadFamilyRow => {
    const a = aggregate(family, ps.map((p) => p[0]));
    const b = aggregate(family, ps.map((p) => p[1]));
    const regressions: string[] = [];
    const improvements: string[] = [];
    if (b.correct < a.correct) regressions.push(`correct ${a.correct} -> ${b.correct}`);
    else if (b.correct > a.correct) improvements.push(`correct ${a.correct} -> ${b.correct}`);
    if (b.errors > a.errors) regressions.push(`errors ${a.errors} -> ${b.errors}`);
    if (a.medianAbsOffsetErrorMs !== null && b.medianAbsOffsetErrorMs !== null) {
      if (b.medianAbsOffsetErrorMs > a.medianAbsOffsetErrorMs + VAD_MEDIAN_NOISE_MS) regressions.push(`median |err| ${a.medianAbsOffsetErrorMs.toFixed(2)} -> ${b.medianAbsOffsetErrorMs.toFixed(2)} ms`);
      else if (b.medianAbsOffsetErrorMs < a.medianAbsOffsetErrorMs - VAD_MEDIAN_NOISE_MS) improvements.push(`median |err| ${a.medianAbsOffsetErrorMs.toFixed(2)} -> ${b.medianAbsOffsetErrorMs.toFixed(2)} ms`);
    } else if (a.medianAbsOffsetErrorMs !== null && b.medianAbsOffsetErrorMs === null) regressions.push('no offsets with VAD');
    if (b.within1ms > a.within1ms) improvements.push(`<=1 ms ${a.within1ms} -> ${b.within1ms}`);
    if (a.mapShare !== null && b.mapShare !== null) {
      if (b.mapShare < a.mapShare - VAD_MAP_NOISE) regressions.push(`mapped ${(100 * a.mapShare).toFixed(2)}% -> ${(100 * b.mapShare).toFixed(2)}%`);
      else if (b.mapShare > a.mapShare + VAD_MAP_NOISE) improvements.push(`mapped ${(100 * a.mapShare).toFixed(2)}% -> ${(100 * b.mapShare).toFixed(2)}%`);
    }
    if (b.missedBoundaries > a.missedBoundaries) regressions.push(`boundaries missed ${a.missedBoundaries} -> ${b.missedBoundaries}`);
    else if (b.missedBoundaries < a.missedBoundaries) improvements.push(`boundaries missed ${a.missedBoundaries} -> ${b.missedBoundaries}`);
    return { family, off: a, on: b, regressions, improvements };
  };
  for (const f of order) rows.push(rowFor(f, pairs.filter(([s]) => s.family === f)));
  if (order.length > 1) rows.push(rowFor('ALL', [...pairs]));
  return rows;
}

/** "no family regresses with VAD" (the ALL row is not a family). */
export function vadTarget(rows: readonly VadFamilyRow[]): Target {
  const fams = rows.filter((r) => r.family !== 'ALL');
  const bad = fams.filter((r) => r.regressions.length);
  return {
    name: 'no family regresses with VAD (see the VAD table for the rule)',
    target: 'none',
    figure: fams.length ? (bad.length ? bad.map((r) => `${r.family}: ${r.regressions.join('; ')}`).join(' | ') : `0 of ${fams.length} families worse`) : 'n/a (run --vad both)',
    pass: fams.length ? bad.length === 0 : null,
  };
}

/** Whether a family improved with VAD: "improved", "unchanged (already perfect)", "unchanged" or "worse". */
export function vadImprovement(row: VadFamilyRow): string {
  if (row.regressions.length) return `worse (${row.regressions.join('; ')})`;
  if (row.improvements.length) return `improved (${row.improvements.join('; ')})`;
  const a = row.off;
  const perfect = a.correct === a.cases && (a.matched === 0 || a.within1ms === a.matched);
  const conf = row.on.meanConfidence - row.off.meanConfidence;
  return `${perfect ? 'unchanged (already perfect with VAD off)' : 'unchanged'}; mean confidence ${row.off.meanConfidence.toFixed(3)} -> ${row.on.meanConfidence.toFixed(3)} (${conf >= 0 ? '+' : ''}${conf.toFixed(3)})`;
}

export interface VadCost {
  cases: number;
  analysisOff: number;
  analysisOn: number;
  /** sum(analysis with VAD) / sum(analysis without) */
  ratio: number | null;
  inferenceSeconds: number;
  floor: number;
  /** (with VAD - without) / decode floor, over all paired cases */
  addedPerFloor: number | null;
}

/** Time cost of VAD over the cases run both ways (timing.total of each run). */
export function vadCost(off: readonly CaseScore[], on: readonly CaseScore[]): VadCost {
  const onById = new Map(on.map((s) => [s.id, s]));
  const pairs = off.filter((s) => onById.has(s.id) && s.analysisSeconds !== null && onById.get(s.id)?.analysisSeconds !== null);
  let a = 0;
  let b = 0;
  let inf = 0;
  let floor = 0;
  for (const s of pairs) {
    const o = onById.get(s.id) as CaseScore;
    a += s.analysisSeconds as number;
    b += o.analysisSeconds as number;
    inf += o.inferenceSeconds ?? 0;
    floor += o.decodeFloorSeconds ?? s.decodeFloorSeconds ?? 0;
  }
  return { cases: pairs.length, analysisOff: a, analysisOn: b, ratio: a > 0 ? b / a : null, inferenceSeconds: inf, floor, addedPerFloor: floor > 0 ? (b - a) / floor : null };
}

export const VAD_FLOOR_TARGET = 2.5;

/** --long: analysis with VAD / decode floor on the 60-minute pair (<= 2.5), with the added cost shown in the figure. */
export function vadLongTarget(off: readonly CaseScore[], on: readonly CaseScore[], long60Id = 'long-60min'): Target {
  const o = on.find((s) => s.id === long60Id);
  const f = off.find((s) => s.id === long60Id);
  if (!o?.floorRatio) return { name: '60-min pair: analysis with VAD / decode floor', target: `<= ${VAD_FLOOR_TARGET}`, figure: 'n/a (run --long)', pass: null };
  const added = f?.analysisSeconds !== null && f?.analysisSeconds !== undefined && o.decodeFloorSeconds ? ((o.analysisSeconds as number) - f.analysisSeconds) / o.decodeFloorSeconds : null;
  return {
    name: '60-min pair: analysis with VAD / decode floor',
    target: `<= ${VAD_FLOOR_TARGET}`,
    figure: `${o.floorRatio.toFixed(2)}${added !== null ? ` (VAD adds ${added.toFixed(2)} x floor)` : ''}`,
    pass: o.floorRatio <= VAD_FLOOR_TARGET,
  };
}
