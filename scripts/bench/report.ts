// Plain-text report of a benchmark run: per-case and per-family tables, reliability table,
// confident-but-wrong lists, speed/memory and targets with PASS/FAIL.
import {
  LINE_ERROR_CLASSES, VAD_MAP_NOISE, VAD_MEDIAN_NOISE_MS, aggregate, evaluateTargets, reliability, vadImprovement,
} from './score.ts';
import type { CaseScore, DialogueAggregate, DialogueScore, FamilyAggregate, Target, TargetOptions, VadCost, VadFamilyRow } from './score.ts';

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

export interface ReportOptions extends TargetOptions {
  title?: string;
  /** printed under the title (e.g. which VAD run the figures use) */
  note?: string;
  /** sections printed before the targets */
  sections?: string[];
  /** targets added after the standard ones */
  extraTargets?: Target[];
}

export function fullReport(scores: readonly CaseScore[], opts: ReportOptions = {}): { text: string; targets: Target[]; families: FamilyAggregate[] } {
  const families = familiesOf(scores);
  const targets = [...evaluateTargets(scores, opts), ...(opts.extraTargets ?? [])];
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
  if (opts.note) lines.push(opts.note, '');
  lines.push('-- cases --', caseTable(scores), '');
  lines.push('-- families --', familyTable(families), '');
  lines.push('-- reliability (correct = match and offset within 1 frame @24; unrelated: match=false) --', reliabilityTable(scores), '');
  lines.push('confidence >= 0.9 but wrong:', ...(confidentWrong.length ? confidentWrong.map(listLine) : ['  (none)']));
  lines.push('wrong with confidence >= 0.5:', ...(wrongHigh.length ? wrongHigh.map(listLine) : ['  (none)']), '');
  lines.push('-- speed and memory --');
  lines.push(`programme ${(totProg / 60).toFixed(1)} min, analysis ${totAna.toFixed(1)} s (realtime factor ${totAna > 0 ? (totProg / totAna).toFixed(1) : '-'}x), ` +
    `decode floor ${totFloor.toFixed(1)} s (analysis / floor ${totFloor > 0 ? (totAna / totFloor).toFixed(2) : '-'}), peak RSS max ${rss ? `${rss.toFixed(0)} MB` : '-'}`);
  lines.push(`CLI process wall time ${totWall.toFixed(1)} s (includes node/tsx start-up)`, '');
  for (const sec of opts.sections ?? []) lines.push(sec, '');
  lines.push('-- targets --', targetTable(targets));
  return { text: lines.join('\n'), targets, families };
}

// ---------------------------------------------------------------------------------------------
// Speech detection (VAD) on vs off, dialogue timing QC, VAD cost

const pair = (a: string, b: string): [string, string] => [a, b];

/** Each family's metrics with VAD off and on, side by side, and whether it regressed. */
export function vadTable(rows: readonly VadFamilyRow[], on: readonly CaseScore[]): string {
  const weighted = (family: string): string => {
    const xs = on.filter((s) => family === 'ALL' || s.family === family);
    const n = xs.filter((s) => s.diagnostics.speechWeighted === 1).length;
    return xs.length ? `${n}/${xs.length}` : '-';
  };
  const body = table(
    ['family', 'n', 'correct off', 'on', '<=1ms off', 'on', '<=1fr off', 'on', 'med|err| ms off', 'on', 'mapped off', 'on', 'bnd miss off', 'on', 'mean conf off', 'on', 'speech-weighted', 'time s off', 'on', 'with VAD'],
    rows.map((r) => {
      const a = r.off;
      const b = r.on;
      const mapped = (x: FamilyAggregate): string => (x.mapShare === null ? '-' : `${(100 * x.mapShare).toFixed(2)}%`);
      const bnd = (x: FamilyAggregate): string => (x.truthBoundaries ? `${x.missedBoundaries}/${x.truthBoundaries}` : '-');
      return [
        r.family, String(a.cases),
        ...pair(frac(a.correct, a.cases), frac(b.correct, b.cases)),
        ...pair(frac(a.within1ms, a.matched), frac(b.within1ms, b.matched)),
        ...pair(frac(a.within1frame, a.matched), frac(b.within1frame, b.matched)),
        ...pair(num(a.medianAbsOffsetErrorMs, 3), num(b.medianAbsOffsetErrorMs, 3)),
        ...pair(mapped(a), mapped(b)),
        ...pair(bnd(a), bnd(b)),
        ...pair(num(a.meanConfidence, 3), num(b.meanConfidence, 3)),
        weighted(r.family),
        ...pair(num(a.analysisSeconds, 1), num(b.analysisSeconds, 1)),
        r.family === 'ALL' ? '' : r.regressions.length ? 'REGRESSES' : r.improvements.length ? 'better' : 'same',
      ];
    }),
  );
  const rule = `A family regresses with VAD when, over the cases run both ways: fewer cases are correct (match and offset within 1 frame @24;\n` +
    `unrelated: match=false), more runs error, the median |offset error| grows by more than ${VAD_MEDIAN_NOISE_MS} ms, the share of programme time\n` +
    `mapped within 1 frame drops by more than ${(100 * VAD_MAP_NOISE).toFixed(1)} points, or more edit boundaries are missed. speech-weighted: runs where\n` +
    `matching leaned on non-speech (diagnostics.speechWeighted = 1).`;
  const notes = rows.filter((r) => r.family === 'language' || r.family === 'dialogue').map((r) => `  ${r.family}: ${vadImprovement(r)}`);
  const regress = rows.filter((r) => r.family !== 'ALL' && r.regressions.length).map((r) => `  ${r.family}: ${r.regressions.join('; ')}`);
  return [
    '-- speech detection: VAD off | VAD on --',
    body,
    rule,
    ...(regress.length ? ['regressions:', ...regress] : ['regressions: none']),
    ...(notes.length ? ['different-language and dialogue-heavy families with VAD:', ...notes] : []),
  ].join('\n');
}

/** Per case: offset error, correctness, confidence and analysis time with VAD off and on. */
export function vadCaseTable(off: readonly CaseScore[], on: readonly CaseScore[]): string {
  const onById = new Map(on.map((s) => [s.id, s]));
  const err = (s: CaseScore): string => (s.error ? 'ERROR' : s.offsetError === null ? (s.resultMatch === false ? 'no match' : '-') : num(s.offsetError * 1000, 3));
  return table(
    ['case', 'family', 'err ms off', 'on', 'ok off', 'on', 'conf off', 'on', 'time s off', 'on', 'VAD s'],
    off.filter((s) => onById.has(s.id)).map((a) => {
      const b = onById.get(a.id) as CaseScore;
      return [a.id, a.family, ...pair(err(a), err(b)), ...pair(a.correct ? 'yes' : 'NO', b.correct ? 'yes' : 'NO'), ...pair(num(a.confidence, 3), num(b.confidence, 3)),
        ...pair(num(a.analysisSeconds, 2), num(b.analysisSeconds, 2)), num(b.inferenceSeconds, 2)];
    }),
    2,
  );
}

const pctOf = (n: number, d: number): string => (d ? `${((100 * n) / d).toFixed(1)}% (${n}/${d})` : '-');

/** Dialogue timing QC against the planned line errors (VAD-on runs). */
export function dialogueSection(scores: readonly DialogueScore[], agg: DialogueAggregate): string {
  const perCase = table(
    ['case', 'truth lines', 'product lines', 'late', 'early', 'missing', 'untransl.', 'false flags', 'of which off speech', 'review'],
    scores.map((s) => [
      `${s.id}${s.control ? ' (control)' : ''}${s.available ? '' : ' (no report)'}`,
      String(s.truthLines),
      String(s.resultLines),
      ...LINE_ERROR_CLASSES.map((c) => (s.planned[c] ? `${s.detected[c]}/${s.planned[c]}` : '-')),
      `${s.falseFlags}/${s.cleanResultLines}`,
      String(s.falseFlagsOffSpeech),
      String(s.reviews ?? 0),
    ]),
    1,
  );
  const kinds = LINE_ERROR_CLASSES.map((c) => `  ${c.padEnd(13)} detected ${pctOf(agg.detected[c], agg.planned[c])}`);
  const planned = scores.flatMap((s) => s.plannedLines.map((p) => `  ${s.id.padEnd(24)} line ${String(p.index).padStart(3)} ${p.master_start.toFixed(2).padStart(7)}-${p.master_end.toFixed(2).padEnd(7)} ${p.error.padEnd(12)} ${p.detected ? 'found  ' : 'MISSED '} product: ${p.got}`));
  const issues = Object.entries(agg.falseFlagIssues).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
  return [
    '-- dialogue timing QC (VAD-on runs; a planned error counts as detected when a product line overlapping it has the right issue) --',
    perCase,
    'detection per error kind:',
    ...kinds,
    `false flags: clean controls ${pctOf(agg.controlFalseFlags, agg.controlLines)} of product lines; all lines without a planned error ${pctOf(agg.falseFlags, agg.cleanResultLines)}` +
      ` (${agg.falseFlagsOffSpeech} on product lines over no planned speech)${issues ? `; issues: ${issues}` : ''}`,
    `for review (near the threshold, not flagged): clean controls ${pctOf(agg.controlReviews, agg.controlLines)}; all lines without a planned error ${pctOf(agg.reviews, agg.cleanResultLines)}`,
    `line timing on clean lines (|start| and |end| difference): median ${num(agg.cleanDiffMedianMs, 0)} ms, p95 ${num(agg.cleanDiffP95Ms, 0)} ms`,
    'planned line errors:',
    ...(planned.length ? planned : ['  (none)']),
  ].join('\n');
}

/** VAD cost: normal runs (time ratio), --long (floor ratios and the added cost per decode floor). */
export function costSection(off: readonly CaseScore[], on: readonly CaseScore[], cost: VadCost, longIds: readonly string[]): string {
  const lines = ['-- cost of speech detection --'];
  lines.push(`over ${cost.cases} case(s) run both ways: analysis ${cost.analysisOff.toFixed(1)} s without VAD, ${cost.analysisOn.toFixed(1)} s with VAD ` +
    `(VAD on / off ${cost.ratio === null ? '-' : cost.ratio.toFixed(2)}x; added ${(cost.analysisOn - cost.analysisOff).toFixed(1)} s = ` +
    `${cost.addedPerFloor === null ? '-' : cost.addedPerFloor.toFixed(2)} x decode floor); model time (result.inference.seconds) ${cost.inferenceSeconds.toFixed(1)} s`);
  const onById = new Map(on.map((s) => [s.id, s]));
  const long = off.filter((s) => longIds.includes(s.id) && onById.has(s.id));
  if (long.length) {
    lines.push(table(
      ['pair', 'floor s', 'analysis off s', 'on s', 'off/floor', 'on/floor', '(on-off)/floor', 'model s', 'RSS off MB', 'on MB'],
      long.map((a) => {
        const b = onById.get(a.id) as CaseScore;
        const floor = b.decodeFloorSeconds ?? a.decodeFloorSeconds;
        const added = floor && a.analysisSeconds !== null && b.analysisSeconds !== null ? (b.analysisSeconds - a.analysisSeconds) / floor : null;
        const rss = (s: CaseScore): number | null => Math.max(s.peakRssMb ?? 0, s.measuredRssMb ?? 0) || null;
        return [a.id, num(floor, 1), num(a.analysisSeconds, 1), num(b.analysisSeconds, 1), num(a.floorRatio, 2), num(b.floorRatio, 2), num(added, 2), num(b.inferenceSeconds, 1), num(rss(a), 0), num(rss(b), 0)];
      }),
    ));
  }
  return lines.join('\n');
}
