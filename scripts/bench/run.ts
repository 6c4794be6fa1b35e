// The public benchmark: `npm run bench [-- options]`.
//
// Generates the corpus if needed (bench-out/corpus), then for each case measures the decode floor
// (ffmpeg to 8 kHz mono, master then dub) and runs the product CLI twice, with speech detection
// (`node --import tsx services/cli/src/main.ts analyze --json MASTER DUB`, the product default) and
// without (`... --no-vad`), scores the JSON results against the truth and prints per-family metrics
// (VAD off and on side by side), dialogue timing QC against the planned line errors, the
// confidence reliability table, speed and memory, the cost of VAD, event-loop delay during VAD,
// and the targets with PASS/FAIL. The standard figures and targets use the VAD-on run. Exit 0 even
// when targets fail; non-zero only when the runner itself fails.
//
// Options:
//   --quick            the short subset (2 cases per family)
//   --vad on|off|both  which CLI runs per case (default both: with and without --no-vad)
//   --event-loop       only the event-loop measurement (the default bench runs it at the end)
//   --no-event-loop    skip it
//   --family NAME      one family          --case ID[,ID]   given cases (any set)
//   --long             the 60-minute and 3-hour pairs (speed and memory targets)
//   --calibration      the separate calibration set; writes bench-out/calibration.jsonl
//   --json FILE        machine-readable results
//   --cli FILE         another CLI entry (default services/cli/src/main.ts), e.g. scripts/bench/fake-cli.ts
//   --out DIR          output root (default bench-out; the CLI's JSON per run goes to DIR/results)
//   --jobs N           generation processes (default 2)
//   --timeout S        per-case CLI timeout (default 120 s + 2 x the pair's duration)
//   --no-floor         skip the decode-floor measurement
//   -h, --help         this text
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AnalysisResult } from '../../shared/engine/src/result.ts';
import { DEFAULT_OUT, REPO_ROOT, caseDir, generateAll, readTruth } from './generate.ts';
import type { TruthFile } from './generate.ts';
import { FFMPEG, runProcess } from './proc.ts';
import { formatEventLoop, measureEventLoop } from './event-loop.ts';
import type { EventLoopReport } from './event-loop.ts';
import { costSection, dialogueSection, fullReport, vadCaseTable, vadTable } from './report.ts';
import {
  aggregateDialogue, compareVad, dialogueTargets, reliability, scoreCase, scoreDialogue, vadCost, vadLongTarget, vadTarget,
} from './score.ts';
import type { CaseScore, DialogueScore, ScorableResult } from './score.ts';
import { LONG_3H_ID, LONG_60_ID, selectCases } from './spec.ts';

const DEFAULT_CLI = join(REPO_ROOT, 'services', 'cli', 'src', 'main.ts');
const TIME_BIN = '/usr/bin/time';

export interface CaseRun {
  /** whether this run had speech detection (the CLI without --no-vad) */
  vad: boolean;
  score: CaseScore;
  /** dialogue timing QC against the planned line errors (dialogue family, VAD on) */
  dialogue: DialogueScore | null;
  exitCode: number | null;
  schemaIssues: string[];
  stderrTail: string;
}

/** Wall time of decoding master then dub to 8 kHz mono s16 (the floor any analysis pays). */
export async function decodeFloor(master: string, dub: string): Promise<number> {
  let total = 0;
  for (const f of [master, dub]) {
    const r = await runProcess(FFMPEG, ['-v', 'error', '-i', f, '-ac', '1', '-ar', '8000', '-f', 's16le', '-y', '/dev/null'], { captureStdout: false });
    if (r.code !== 0) throw new Error(`decode floor failed for ${f}: ${r.stderr.slice(-500)}`);
    total += r.wallSeconds;
  }
  return total;
}

/** Finds the JSON document in the CLI's stdout (the whole output, or its last line starting with '{'). */
export function parseCliOutput(stdout: string): unknown {
  const text = stdout.trim();
  try {
    return JSON.parse(text);
  } catch {
    const lines = text.split('\n').filter((l) => l.trimStart().startsWith('{'));
    const last = lines[lines.length - 1];
    if (last === undefined) throw new Error('no JSON on stdout');
    return JSON.parse(last);
  }
}

export interface RunCaseOptions {
  outRoot: string;
  cli: string;
  timeoutSeconds?: number;
  floor?: boolean;
  /** a decode floor already measured for this case (reused for the second run) */
  floorSeconds?: number | null;
  /** speech detection on (default, the product default) or off (--no-vad) */
  vad?: boolean;
  /** keep the CLI's JSON here as <id>.vad-on.json / <id>.vad-off.json (for looking into a result) */
  resultsDir?: string;
}

/** Runs the CLI on one generated case and scores it. */
export async function runCase(truth: TruthFile, opts: RunCaseOptions): Promise<CaseRun> {
  const dir = caseDir(opts.outRoot, truth.id);
  const master = join(dir, truth.files.master);
  const dub = join(dir, truth.files.dub);
  const vad = opts.vad ?? true;
  const floor = opts.floor === false ? null : opts.floorSeconds !== undefined ? opts.floorSeconds : await decodeFloor(master, dub);
  const timeout = opts.timeoutSeconds ?? 120 + 2 * (truth.master_duration_seconds + truth.dub_duration_seconds);
  const nodeArgs = ['--import', 'tsx', opts.cli, 'analyze', '--json', ...(vad ? [] : ['--no-vad']), master, dub];
  const useTime = existsSync(TIME_BIN);
  const rssFile = join(opts.outRoot, 'tmp', `rss-${process.pid}.txt`);
  mkdirSync(dirname(rssFile), { recursive: true });
  rmSync(rssFile, { force: true });
  const [cmd, args] = useTime ? [TIME_BIN, ['-f', '%M', '-o', rssFile, process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
  const r = await runProcess(cmd, args, { cwd: REPO_ROOT, timeoutMs: timeout * 1000 });
  let measuredRssMb: number | null = null;
  if (useTime && existsSync(rssFile)) {
    const kb = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
    if (Number.isFinite(kb) && kb > 0) measuredRssMb = kb / 1024;
  }
  const meas = { wallSeconds: r.wallSeconds, decodeFloorSeconds: floor, measuredRssMb };
  const stderrTail = r.stderr.slice(-2000);
  let parsed: unknown = null;
  let error: string | null = null;
  if (r.timedOut) error = `timed out after ${timeout.toFixed(0)} s`;
  else {
    try {
      parsed = parseCliOutput(r.stdout.toString('utf8'));
    } catch (e) {
      error = `exit ${r.code ?? r.signal}: ${e instanceof Error ? e.message : String(e)}; stderr: ${stderrTail.split('\n').filter(Boolean).slice(-3).join(' | ')}`;
    }
  }
  if (opts.resultsDir && parsed !== null) {
    mkdirSync(opts.resultsDir, { recursive: true });
    writeFileSync(join(opts.resultsDir, `${truth.id}.vad-${vad ? 'on' : 'off'}.json`), `${JSON.stringify(parsed, null, 1)}\n`);
  }
  const schemaIssues: string[] = [];
  if (parsed !== null) {
    const v = AnalysisResult.safeParse(parsed);
    if (!v.success) for (const issue of v.error.issues.slice(0, 5)) schemaIssues.push(`${issue.path.join('.')}: ${issue.message}`);
    if (typeof parsed !== 'object' || Array.isArray(parsed)) {
      error = 'CLI output is not a JSON object';
      parsed = null;
    }
  }
  const score = scoreCase(truth, parsed as ScorableResult | null, meas, error);
  const dialogue = vad && truth.dialogue ? scoreDialogue(truth.id, truth.dialogue.lines, error ? null : (parsed as ScorableResult | null)?.dialogue) : null;
  return { vad, score, dialogue, exitCode: r.code, schemaIssues, stderrTail };
}

function progressLine(i: number, n: number, run: CaseRun): string {
  const s = run.score;
  const d = run.dialogue;
  const dlg = d ? ` dialogue ${Object.values(d.detected).reduce((a, x) => a + x, 0)}/${Object.values(d.planned).reduce((a, x) => a + x, 0)} found, ${d.falseFlags}/${d.cleanResultLines} false flags` : '';
  const off = s.error ? 'ERROR' : s.truthMatch ? (s.offsetError === null ? 'no offset' : `err ${(s.offsetError * 1000).toFixed(2)} ms`) : s.resultMatch === false ? 'no match (ok)' : 'MATCHED unrelated';
  const speed = s.realtimeFactor ? `${s.realtimeFactor.toFixed(1)}x rt` : '';
  const floor = s.floorRatio ? `${s.floorRatio.toFixed(2)}x floor` : '';
  return `[${i}/${n}] ${s.id.padEnd(28)} VAD ${run.vad ? 'on ' : 'off'} ${off.padEnd(20)} conf ${s.confidence.toFixed(2)} ${s.correct ? 'ok ' : 'BAD'} ${speed} ${floor}${dlg}${run.schemaIssues.length ? ` (schema: ${run.schemaIssues[0]})` : ''}${s.error ? `\n      ${s.error}` : ''}`;
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      family: { type: 'string' },
      case: { type: 'string' },
      long: { type: 'boolean', default: false },
      json: { type: 'string' },
      calibration: { type: 'boolean', default: false },
      cli: { type: 'string' },
      out: { type: 'string' },
      jobs: { type: 'string' },
      timeout: { type: 'string' },
      'no-floor': { type: 'boolean', default: false },
      vad: { type: 'string', default: 'both' },
      'event-loop': { type: 'boolean', default: false },
      'no-event-loop': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    const src = readFileSync(fileURLToPath(import.meta.url), 'utf8');
    const usage = src.split('\n').filter((l) => l.startsWith('//')).map((l) => l.replace(/^\/\/ ?/, ''));
    process.stdout.write(`${usage.join('\n')}\n`);
    return 0;
  }
  const vadMode = values.vad;
  if (vadMode !== 'on' && vadMode !== 'off' && vadMode !== 'both') {
    process.stderr.write(`--vad must be on, off or both, got "${vadMode}"\n`);
    return 2;
  }
  const modes: boolean[] = vadMode === 'both' ? [true, false] : [vadMode === 'on'];
  if (values['event-loop']) {
    const el = await measureEventLoop({ log: (m) => process.stderr.write(`${m}\n`) });
    process.stdout.write(`${formatEventLoop(el)}\n`);
    if (values.json) writeFileSync(resolve(values.json), `${JSON.stringify({ schema: 'sync-analyzer-bench/2', created: new Date().toISOString(), event_loop: el }, null, 2)}\n`);
    return 0;
  }
  const outRoot = resolve(values.out ?? DEFAULT_OUT);
  const cli = resolve(values.cli ?? DEFAULT_CLI);
  const cases = selectCases({ quick: values.quick, long: values.long, calibration: values.calibration, family: values.family, caseId: values.case });
  if (cases.length === 0) {
    process.stderr.write('no cases selected\n');
    return 2;
  }
  if (!existsSync(cli)) process.stderr.write(`warning: CLI entry ${cli} does not exist; every case will error\n`);
  const started = Date.now();
  await generateAll(cases, { outRoot, jobs: values.jobs ? Number(values.jobs) : 2 });
  const genSeconds = (Date.now() - started) / 1000;

  const runs: CaseRun[] = [];
  const total = cases.length * modes.length;
  for (const c of cases) {
    const truth = readTruth(outRoot, c.id);
    if (!truth) throw new Error(`case ${c.id} has no truth.json after generation`);
    // one floor per case, measured just before its first analysis, shared by both runs
    const dir = caseDir(outRoot, truth.id);
    const floor = values['no-floor'] ? null : await decodeFloor(join(dir, truth.files.master), join(dir, truth.files.dub));
    for (const vad of modes) {
      const run = await runCase(truth, { outRoot, cli, timeoutSeconds: values.timeout ? Number(values.timeout) : undefined, floor: !values['no-floor'], floorSeconds: floor, vad, resultsDir: join(outRoot, 'results') });
      runs.push(run);
      process.stderr.write(`${progressLine(runs.length, total, run)}\n`);
    }
  }
  const onRuns = runs.filter((r) => r.vad);
  const offRuns = runs.filter((r) => !r.vad);
  const on = onRuns.map((r) => r.score);
  const off = offRuns.map((r) => r.score);
  const primaryRuns = onRuns.length ? onRuns : offRuns;
  const scores = primaryRuns.map((r) => r.score);

  let eventLoop: EventLoopReport | null = null;
  if (modes.includes(true) && !values['no-event-loop'] && !values.calibration) {
    eventLoop = await measureEventLoop({ log: (m) => process.stderr.write(`${m}\n`) });
  }

  const vadRows = on.length && off.length ? compareVad(off, on) : [];
  const cost = vadCost(off, on);
  const dialogueScores = onRuns.map((r) => r.dialogue).filter((d): d is DialogueScore => d !== null);
  const dialogueAgg = dialogueScores.length ? aggregateDialogue(dialogueScores) : null;
  const sections: string[] = [];
  if (vadRows.length) sections.push(`-- cases: VAD off | VAD on --\n${vadCaseTable(off, on)}`, vadTable(vadRows, on));
  if (dialogueAgg) sections.push(dialogueSection(dialogueScores, dialogueAgg));
  if (cost.cases) sections.push(costSection(off, on, cost, [LONG_60_ID, LONG_3H_ID]));
  if (eventLoop) sections.push(`-- event loop during speech detection --\n${formatEventLoop(eventLoop)}`);
  const extraTargets = [
    vadLongTarget(off, on, LONG_60_ID),
    vadTarget(vadRows),
    ...dialogueTargets(dialogueAgg),
  ];
  const which = onRuns.length ? (offRuns.length ? 'VAD on and off' : 'VAD on only') : 'VAD off only';
  const note = onRuns.length
    ? `Runs: ${which}. The per-case, family, reliability and speed tables and the standard targets use the VAD-on run (the product default)` +
      `${offRuns.length ? '; the 60-minute floor-ratio target (<= 1.5) predates speech detection and reads the VAD-off run, the VAD-on run has its own (<= 2.5)' : ''}.`
    : 'Runs: VAD off only (--no-vad): no dialogue timing QC.';
  const title = values.calibration ? 'Sync Analyzer calibration set' : values.long ? 'Sync Analyzer benchmark (--long)' : values.quick ? 'Sync Analyzer benchmark (--quick)' : 'Sync Analyzer benchmark';
  const report = fullReport(scores, {
    title, note, long60Id: LONG_60_ID, long3hId: LONG_3H_ID, sections, extraTargets,
    ...(onRuns.length && offRuns.length ? { floorScores: off, floorLabel: 'VAD off' } : { floorLabel: onRuns.length ? 'VAD on' : 'VAD off' }),
  });
  const schemaBad = runs.filter((r) => r.schemaIssues.length);
  process.stdout.write(`${report.text}\n`);
  if (schemaBad.length) {
    process.stdout.write(`\nschema: ${schemaBad.length} result(s) do not validate against AnalysisResult, e.g. ${schemaBad[0]?.score.id}: ${schemaBad[0]?.schemaIssues.join('; ')}\n`);
  }
  process.stdout.write(`\ntotal wall ${((Date.now() - started) / 1000).toFixed(0)} s (generation ${genSeconds.toFixed(0)} s); cli ${cli}\n`);

  if (values.calibration) {
    const path = join(outRoot, 'calibration.jsonl');
    const lines = primaryRuns.map((r) => JSON.stringify({
      id: r.score.id,
      family: r.score.family,
      seed: cases.find((c) => c.id === r.score.id)?.seed,
      vad: r.vad,
      correct: r.score.correct,
      confidence: r.score.confidence,
      truth_match: r.score.truthMatch,
      result_match: r.score.resultMatch,
      verdict: r.score.verdict,
      offset_error_seconds: r.score.offsetError,
      within_1_frame: r.score.within1frame,
      error: r.score.error,
      diagnostics: r.score.diagnostics,
    }));
    writeFileSync(path, lines.length ? `${lines.join('\n')}\n` : '');
    process.stdout.write(`calibration rows written to ${path} (${onRuns.length ? 'VAD on' : 'VAD off'})\n`);
  }
  if (values.json) {
    const rel = reliability(scores);
    const row = (r: CaseRun) => ({ ...r.score, vad: r.vad, exit_code: r.exitCode, schema_issues: r.schemaIssues });
    const doc = {
      schema: 'sync-analyzer-bench/2',
      created: new Date().toISOString(),
      options: { quick: values.quick, long: values.long, calibration: values.calibration, family: values.family ?? null, case: values.case ?? null, cli, vad: vadMode },
      primary: onRuns.length ? 'vad_on' : 'vad_off',
      cases: primaryRuns.map(row),
      cases_vad_off: onRuns.length ? offRuns.map(row) : [],
      families: report.families,
      vad_families: vadRows,
      vad_cost: cost,
      dialogue: dialogueAgg ? { aggregate: dialogueAgg, cases: dialogueScores } : null,
      event_loop: eventLoop,
      reliability: rel,
      targets: report.targets,
    };
    writeFileSync(resolve(values.json), `${JSON.stringify(doc, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
    process.stdout.write(`JSON written to ${resolve(values.json)}\n`);
  }
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`bench failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
