// Plain-text report of a benchmark run: per-case and per-family tables, reliability table,
// confident-but-wrong lists, speed/memory and targets with PASS/FAIL.
import { aggregate, evaluateTargets, reliability } from './score.ts';
import type { CaseScore, FamilyAggregate, Target, TargetOptions } from './score.ts';

export function table(header: string[], rows: string[][], rightAlignFrom = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]): string => r.map((c, i) => (i >= rightAlignFrom ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ').trimEnd();
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

const num = (x: number | null | undefined, digits: number): string => (x === null || x === undefined ? '-' : Number.isFinite(x) ? x.toFixed(digits) : 'inf');
const frac = (n: number, d: number): string => (d ? `${n}/${d}` : '-');

export function caseTable(scores: readonly CaseScore[]): string {
  return table(
    ['case', 'family', 'truth off s', 'result off s', 'err ms', 'conf', 'ok', 'ppm err', 'std', 'mapped', 'bnd err s', 'head m/d ms', 'RTF', '/floor', 'RSS MB'],
    scores.map((s) => [
      s.id,
      s.family,
      s.truthMatch ? num(s.offsetTruth, 4) : 'no match',
      s.error ? 'ERROR' : s.resultMatch === false ? 'no match' : num(s.offsetResult, 4),
      s.offsetError === null ? '-' : num(s.offsetError * 1000, 2),
      num(s.confidence, 2),
      s.correct ? 'yes' : 'NO',
      num(s.ppmError, 1),
      s.standardCorrect === null ? '-' : s.standardCorrect ? 'ok' : `${s.standardResult ?? 'none'}`,
      s.mapShare === null ? '-' : `${(100 * s.mapShare).toFixed(1)}%`,
      s.boundaryErrors.length ? s.boundaryErrors.map((e) => (e === null ? 'miss' : e.toFixed(2))).join(',') : s.spuriousBoundaries ? `+${s.spuriousBoundaries}` : '-',
      `${num(s.headMasterErrorMs, 0)}/${num(s.headDubErrorMs, 0)}`,
      num(s.realtimeFactor, 1),
      num(s.floorRatio, 2),
      num(Math.max(s.peakRssMb ?? 0, s.measuredRssMb ?? 0) || null, 0),
    ]),
    2,
  );
}

export function familyTable(aggs: readonly FamilyAggregate[]): string {
  const accuracy = table(
    ['family', 'n', 'errors', 'match ok', '<=1ms', '<=1fr', '<=100ms', 'med|err| ms', 'max ppm err', 'std ok', 'correct', 'mean conf'],
    aggs.map((a) => [
      a.family,
      String(a.cases),
      String(a.errors),
      frac(a.matchCorrect, a.cases),
      frac(a.within1ms, a.matched),
      frac(a.within1frame, a.matched),
      frac(a.within100ms, a.matched),
      num(a.medianAbsOffsetErrorMs, 2),
      num(a.maxPpmError, 1),
      frac(a.standardCorrect, a.matched),
      frac(a.correct, a.cases),
      num(a.meanConfidence, 2),
    ]),
  );
  const structure = table(
    ['family', 'mapped<=1fr', 'min case', 'bnd max s', 'bnd miss', 'spurious', 'head m max ms', 'head d max ms', 'RTF', 'med /floor', 'max RSS MB'],
    aggs.map((a) => [
      a.family,
      a.mapShare === null ? '-' : `${(100 * a.mapShare).toFixed(2)}%`,
      a.minCaseMapShare === null ? '-' : `${(100 * a.minCaseMapShare).toFixed(1)}%`,
      a.truthBoundaries ? num(a.maxBoundaryError, 2) : '-',
      a.truthBoundaries ? `${a.missedBoundaries}/${a.truthBoundaries}` : '-',
      String(a.spuriousBoundaries),
      num(a.maxHeadMasterErrorMs, 0),
      num(a.maxHeadDubErrorMs, 0),
      num(a.realtimeFactor, 1),
      num(a.medianFloorRatio, 2),
      num(a.maxRssMb, 0),
    ]),
  );
  return `${accuracy}\n\n${structure}`;
}

export function reliabilityTable(scores: readonly CaseScore[]): string {
  const rel = reliability(scores);
  const body = table(
    ['confidence', 'n', 'mean conf', 'accuracy', '|gap|'],
    rel.bins.map((b) => [
      `[${b.lo.toFixed(1)}, ${b.hi.toFixed(1)}${b.hi >= 1 ? ']' : ')'}`,
      String(b.count),
      num(b.meanConfidence, 3),
      num(b.accuracy, 3),
      b.count ? num(Math.abs((b.accuracy as number) - (b.meanConfidence as number)), 3) : '-',
    ]),
  );
  return `${body}\nECE = ${rel.ece === null ? 'n/a' : rel.ece.toFixed(4)} over ${scores.length} case(s)`;
}

export function targetTable(targets: readonly Target[]): string {
  return table(
    ['target', 'wanted', 'figure', 'result'],
    targets.map((t) => [t.name, t.target, t.figure, t.pass === null ? 'n/a' : t.pass ? 'PASS' : 'FAIL']),
    4,
  );
}

export function listLine(s: CaseScore): string {
  const what = s.error
    ? `error: ${s.error.split('\n')[0]}`
    : s.truthMatch
      ? s.resultMatch === false
        ? 'said no match'
        : `offset error ${num((s.offsetError ?? NaN) * 1000, 1)} ms`
      : 'unrelated pair called a match';
  return `  ${s.id.padEnd(28)} confidence ${s.confidence.toFixed(3)}  ${what}`;
}

export function familiesOf(scores: readonly CaseScore[]): FamilyAggregate[] {
  const order: string[] = [];
  for (const s of scores) if (!order.includes(s.family)) order.push(s.family);
  const aggs = order.map((f) => aggregate(f, scores.filter((s) => s.family === f)));
  if (order.length > 1) aggs.push(aggregate('ALL', scores));
  return aggs;
}

export function fullReport(scores: readonly CaseScore[], opts: TargetOptions & { title?: string } = {}): { text: string; targets: Target[]; families: FamilyAggregate[] } {
  const families = familiesOf(scores);
  const targets = evaluateTargets(scores, opts);
  const confidentWrong = scores.filter((s) => s.confidence >= 0.9 && !s.correct);
  const wrongHigh = scores.filter((s) => !s.correct && s.confidence >= 0.5);
  const speed = scores.filter((s) => s.analysisSeconds !== null);
  const totProg = speed.reduce((a, s) => a + s.programmeSeconds, 0);
  const totAna = speed.reduce((a, s) => a + (s.analysisSeconds ?? 0), 0);
  const totFloor = speed.reduce((a, s) => a + (s.decodeFloorSeconds ?? 0), 0);
  const totWall = scores.reduce((a, s) => a + (s.wallSeconds ?? 0), 0);
  const rss = Math.max(0, ...scores.map((s) => Math.max(s.peakRssMb ?? 0, s.measuredRssMb ?? 0)));
  const lines: string[] = [];
  lines.push(`== ${opts.title ?? 'Sync Analyzer benchmark'}: ${scores.length} case(s) ==`, '');
  lines.push('-- cases --', caseTable(scores), '');
  lines.push('-- families --', familyTable(families), '');
  lines.push('-- reliability (correct = match and offset within 1 frame @24; unrelated: match=false) --', reliabilityTable(scores), '');
  lines.push('confidence >= 0.9 but wrong:', ...(confidentWrong.length ? confidentWrong.map(listLine) : ['  (none)']));
  lines.push('wrong with confidence >= 0.5:', ...(wrongHigh.length ? wrongHigh.map(listLine) : ['  (none)']), '');
  lines.push('-- speed and memory --');
  lines.push(`programme ${(totProg / 60).toFixed(1)} min, analysis ${totAna.toFixed(1)} s (realtime factor ${totAna > 0 ? (totProg / totAna).toFixed(1) : '-'}x), ` +
    `decode floor ${totFloor.toFixed(1)} s (analysis / floor ${totFloor > 0 ? (totAna / totFloor).toFixed(2) : '-'}), peak RSS max ${rss ? `${rss.toFixed(0)} MB` : '-'}`);
  lines.push(`CLI process wall time ${totWall.toFixed(1)} s (includes node/tsx start-up)`, '');
  lines.push('-- targets --', targetTable(targets));
  return { text: lines.join('\n'), targets, families };
}
