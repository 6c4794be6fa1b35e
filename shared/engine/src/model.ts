// From windowed measurements to a model of the dub: one speed ratio shared by piecewise
// segments (dub time = ratio * master time + intercept_k). The ratio is the densest cluster of
// pairwise slopes (robust to edits), refined by weighted least squares and snapped to a
// standard conform ratio unless the evidence clearly says otherwise.

export interface MeasuredPoint {
  masterTime: number;
  dubTime: number;
  /** Weight of the measurement (> 0). */
  weight: number;
}

export interface ModelSegment {
  intercept: number;
  /** Indices into the points array, in master-time order. */
  members: number[];
}

export interface Model {
  ratio: number;
  /** Standard name when the ratio was snapped to a standard conform, else null. */
  standard: string | null;
  /** Standard error of the fitted (unsnapped) ratio. */
  ratioStdErr: number;
  fittedRatio: number;
  segments: ModelSegment[];
  /** Indices of points that fit no segment. */
  outliers: number[];
}

export interface ModelParams {
  /** Points agree with a segment when their intercept is within this (seconds). */
  tolerance: number;
  /** Consecutive agreeing points needed to open a new segment... */
  minRun: number;
  /** ...unless one point's weight (peak-to-noise) reaches this. */
  strongPoint: number;
  /** A non-standard ratio is reported only if its total effect over the fitted span reaches this (seconds)... */
  freeRatioMinEffect: number;
  /** ...and it is this many standard errors away from the nearest standard ratio. */
  freeRatioSigmas: number;
}

export const STANDARD_RATIOS: readonly { name: string; value: number }[] = [
  { name: '1/1', value: 1 },
  { name: '1001/1000', value: 1001 / 1000 },
  { name: '1000/1001', value: 1000 / 1001 },
  { name: '25/24', value: 25 / 24 },
  { name: '24/25', value: 24 / 25 },
  // 23.976 = 24000/1001: a 23.976 master conformed to 25 plays 25/23.976 faster.
  { name: '25/23.976', value: 25 / (24000 / 1001) },
  { name: '23.976/25', value: 24000 / 1001 / 25 },
];

const MIN_RATIO = 0.93;
const MAX_RATIO = 1.07;

/** Speed ratios the coarse search tries. */
export const CANDIDATE_RATIOS: readonly number[] = STANDARD_RATIOS.map((s) => s.value);

export function fitModel(points: readonly MeasuredPoint[], initialRatio: number, params: ModelParams): Model {
  const order = points.map((_, i) => i).sort((a, b) => points[a]!.masterTime - points[b]!.masterTime);
  let ratio = densestSlope(points, order) ?? initialRatio;
  let segs = segmentByIntercept(points, order, ratio, params);
  const fit = sharedSlopeFit(points, segs);
  let standard: string | null = null;
  let fittedRatio = ratio;
  let stdErr = Infinity;
  if (fit) {
    fittedRatio = fit.ratio;
    stdErr = fit.stdErr;
    const nearest = STANDARD_RATIOS.reduce((a, b) => (Math.abs(b.value - fit.ratio) < Math.abs(a.value - fit.ratio) ? b : a));
    const dev = Math.abs(fit.ratio - nearest.value);
    const span = fit.span;
    const supportsFree = dev > params.freeRatioSigmas * fit.stdErr && dev * span >= params.freeRatioMinEffect;
    if (supportsFree) {
      ratio = fit.ratio;
    } else {
      ratio = nearest.value;
      standard = nearest.name === '1/1' ? null : nearest.name;
    }
  } else {
    const nearest = STANDARD_RATIOS.find((s) => Math.abs(s.value - ratio) < 1e-9);
    if (nearest && nearest.name !== '1/1') standard = nearest.name;
  }
  // Re-segment with the final ratio, then set each intercept to the weighted median of its members.
  segs = segmentByIntercept(points, order, ratio, params);
  const inSeg = new Set(segs.flatMap((s) => s.members));
  const outliers = order.filter((i) => !inSeg.has(i));
  return { ratio, standard, ratioStdErr: stdErr, fittedRatio, segments: segs, outliers };
}

/** Densest cluster of slopes between points at least 20 s apart (edits only add scattered slopes). */
function densestSlope(points: readonly MeasuredPoint[], order: number[]): number | null {
  const slopes: number[] = [];
  const n = order.length;
  if (n < 3) return null;
  const span = points[order[n - 1]!]!.masterTime - points[order[0]!]!.masterTime;
  // Pairs far enough apart for a precise slope; short programmes get a shorter minimum.
  const minDt = Math.max(5, Math.min(20, span / 4));
  const maxPairs = 40000;
  const stride = Math.max(1, Math.ceil((n * n) / 2 / maxPairs));
  let c = 0;
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      if (c++ % stride !== 0) continue;
      const p = points[order[a]!]!, q = points[order[b]!]!;
      const dt = q.masterTime - p.masterTime;
      if (dt < minDt) continue;
      const slope = (q.dubTime - p.dubTime) / dt;
      // Conforms change speed by a few percent at most; steeper slopes join different segments.
      if (slope > MIN_RATIO && slope < MAX_RATIO) slopes.push(slope);
    }
  }
  if (slopes.length < 3) return null;
  slopes.sort((x, y) => x - y);
  const width = 20e-6;
  let bestCount = 0, bestLo = 0, j = 0;
  for (let i = 0; i < slopes.length; i++) {
    while (slopes[j]! < slopes[i]! - width) j++;
    if (i - j + 1 > bestCount) {
      bestCount = i - j + 1;
      bestLo = j;
    }
  }
  if (bestCount < 3) return null;
  return slopes[bestLo + (bestCount >> 1)]!;
}

function segmentByIntercept(points: readonly MeasuredPoint[], order: number[], ratio: number, params: ModelParams): ModelSegment[] {
  const b = (i: number) => points[i]!.dubTime - ratio * points[i]!.masterTime;
  const segs: ModelSegment[] = [];
  let current: number[] = [];
  let pending: number[] = [];
  const centre = (members: number[]) => median(members.slice(-5).map(b));
  const strong = (i: number) => points[i]!.weight >= params.strongPoint;
  const close = () => {
    if (current.length >= params.minRun || (current.length === 1 && strong(current[0]!))) segs.push({ intercept: 0, members: current });
    current = [];
  };
  for (const i of order) {
    if (current.length > 0 && Math.abs(b(i) - centre(current)) <= params.tolerance) {
      current.push(...pending.filter((p) => Math.abs(b(p) - centre(current)) <= params.tolerance));
      current.push(i);
      pending = [];
      continue;
    }
    // A single measurement strong enough to rule out chance opens a segment by itself (short
    // programmes and short edits have few windows per segment).
    if (strong(i)) {
      close();
      current = [i];
      pending = [];
      continue;
    }
    pending.push(i);
    // Open a new segment when the last minRun pending points agree with each other.
    const tail = pending.slice(-params.minRun);
    if (tail.length >= params.minRun && Math.max(...tail.map(b)) - Math.min(...tail.map(b)) <= params.tolerance) {
      close();
      current = tail;
      pending = [];
    } else if (current.length === 0 && pending.length > params.minRun) {
      pending = pending.slice(-params.minRun);
    }
  }
  close();
  // Merge neighbouring segments that ended up with the same intercept (a short dropout between them).
  const merged: ModelSegment[] = [];
  for (const s of segs) {
    s.intercept = weightedMedian(s.members.map(b), s.members.map((i) => points[i]!.weight));
    const last = merged[merged.length - 1];
    if (last && Math.abs(last.intercept - s.intercept) <= params.tolerance) {
      last.members.push(...s.members);
      last.intercept = weightedMedian(last.members.map(b), last.members.map((i) => points[i]!.weight));
    } else merged.push(s);
  }
  return merged;
}

interface SlopeFit {
  ratio: number;
  stdErr: number;
  span: number;
}

/** Weighted least squares: one slope, one intercept per segment. */
function sharedSlopeFit(points: readonly MeasuredPoint[], segs: ModelSegment[]): SlopeFit | null {
  let sxy = 0, sxx = 0, n = 0, span = 0;
  const centred: { dt: number; dd: number; w: number; seg: number }[] = [];
  segs.forEach((s, si) => {
    let sw = 0, st = 0, sd = 0;
    for (const i of s.members) {
      const p = points[i]!;
      sw += p.weight;
      st += p.weight * p.masterTime;
      sd += p.weight * p.dubTime;
    }
    const tm = st / sw, dm = sd / sw;
    const ts = s.members.map((i) => points[i]!.masterTime);
    span = Math.max(span, Math.max(...ts) - Math.min(...ts));
    for (const i of s.members) {
      const p = points[i]!;
      centred.push({ dt: p.masterTime - tm, dd: p.dubTime - dm, w: p.weight, seg: si });
    }
  });
  for (const c of centred) {
    sxy += c.w * c.dt * c.dd;
    sxx += c.w * c.dt * c.dt;
    n++;
  }
  if (sxx <= 0 || n < 3 || span < 10) return null;
  const ratio = sxy / sxx;
  let rss = 0;
  for (const c of centred) {
    const r = c.dd - ratio * c.dt;
    rss += c.w * r * r;
  }
  const dof = Math.max(1, n - segs.length - 1);
  const stdErr = Math.sqrt(rss / dof / sxx);
  return { ratio, stdErr: Math.max(stdErr, 1e-9), span };
}

export function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : 0.5 * (s[m - 1]! + s[m]!);
}

export function weightedMedian(xs: number[], ws: number[]): number {
  const idx = xs.map((_, i) => i).sort((a, b) => xs[a]! - xs[b]!);
  const total = ws.reduce((a, b) => a + b, 0);
  let acc = 0;
  for (const i of idx) {
    acc += ws[i]!;
    if (acc >= total / 2) return xs[i]!;
  }
  return xs[idx[idx.length - 1]!] ?? 0;
}

/**
 * Each dub instant plays at most one master instant: a segment whose measurements land inside
 * the dub span of a better-supported segment is a false match (repetitive music, a look-alike
 * passage) and its points become outliers. Spans are widened by `slack` seconds.
 */
export function dropOverlappingSegments(model: Model, points: readonly MeasuredPoint[], slack: number): Model {
  const support = (s: ModelSegment) => s.members.reduce((a, i) => a + points[i]!.weight, 0);
  const ranked = [...model.segments].sort((a, b) => support(b) - support(a));
  const kept: { seg: ModelSegment; lo: number; hi: number }[] = [];
  const outliers = [...model.outliers];
  for (const seg of ranked) {
    const dubs = seg.members.map((i) => points[i]!.dubTime);
    const inside = dubs.filter((d) => kept.some((k) => d >= k.lo && d <= k.hi)).length;
    if (inside * 2 > dubs.length) {
      outliers.push(...seg.members);
      continue;
    }
    kept.push({ seg, lo: Math.min(...dubs) - slack, hi: Math.max(...dubs) + slack });
  }
  const segments = model.segments.filter((s) => kept.some((k) => k.seg === s));
  return { ...model, segments, outliers };
}
