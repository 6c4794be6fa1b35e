// The chaos suite: `npm run chaos` (full) or `npm run chaos -- --bounded` (the CI form, run by
// .ci/run). Each scenario starts its own real stack (redis-server, api, workers, database as
// separate processes), injects its faults under load and asserts that no job is lost, no report
// duplicated or changed, and that the processes are healthy again at the end.
//
// Options:
//   --bounded            smaller counts (still the issue's numeric minimums where possible)
//   --only a,b           run these scenarios only (names as in --list)
//   --list               print the scenarios and exit
//   --out DIR            output dir (default chaos-out): <timestamp>.json, latest.md, logs-<timestamp>/
//   --scenario-timeout S seconds one scenario may take (default 1200 bounded, 3600 full)
//   -h, --help
// Exit 1 when any scenario's check failed (each failure is printed); the last line is
// "N passed, N failed".
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SCENARIOS } from './scenarios/index.ts';
import { closeAllStacks, removeMediaCache, setLogArchive, REPO_ROOT } from './stack.ts';
import { cpuSecondsWithChildren } from './proc.ts';
import { closingLine, formatDetails, formatMarkdown, formatTable, rowPassed, type ScenarioRow } from './table.ts';
import type { Scenario, ScenarioContext } from './scenario.ts';

const HELP = `usage: npm run chaos [-- --bounded] [--only NAME,NAME] [--list] [--out DIR] [--scenario-timeout S]`;

/** A scenario that ran past its time limit. */
class ScenarioTimeoutError extends Error {
  override readonly name = 'ScenarioTimeoutError';
}

function pickScenarios(only: string | undefined): Scenario[] {
  if (!only) return [...SCENARIOS];
  const names = only.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length) {
    console.error(`unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
    process.exit(64);
  }
  return SCENARIOS.filter((s) => names.includes(s.name));
}

function failedRow(s: Scenario, error: string): ScenarioRow {
  return {
    scenario: s.name,
    load: '-',
    faults: '-',
    submitted: 0,
    completed: 0,
    failed: 0,
    failedReasons: {},
    lost: 0,
    duplicated: 0,
    changed: 0,
    recoverySeconds: null,
    healthyAtEnd: false,
    extra: {},
    checks: [{ name: 'scenario ran to the end', ok: false, detail: error }],
    error,
  };
}

async function runOne(s: Scenario, ctx: ScenarioContext, timeoutMs: number): Promise<ScenarioRow> {
  const t0 = performance.now();
  const cpu0 = cpuSecondsWithChildren();
  // CPU time of the scenario's processes (reaped ones): cpu / cores is its wall time on an idle
  // machine at best, a figure that does not depend on what else the shared machine runs.
  const cpu = () => ({ cpuSeconds: Math.round(cpuSecondsWithChildren() - cpu0), idleWallEstimateS: Math.round((cpuSecondsWithChildren() - cpu0) / os.cpus().length) });
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ScenarioTimeoutError(`did not finish within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    });
    const row = await Promise.race([s.run(ctx), timeout]);
    return { ...row, extra: { ...row.extra, ...cpu() }, durationSeconds: (performance.now() - t0) / 1000 };
  } catch (e) {
    const err = e as Error;
    ctx.log(`FAILED: ${err.name}: ${err.message}`);
    return { ...failedRow(s, `${err.name}: ${err.message}`), extra: cpu(), durationSeconds: (performance.now() - t0) / 1000 };
  } finally {
    clearTimeout(timer);
    // A scenario that threw or timed out may have left its stack running.
    await closeAllStacks();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      bounded: { type: 'boolean', default: false },
      only: { type: 'string' },
      list: { type: 'boolean', default: false },
      out: { type: 'string', default: 'chaos-out' },
      'scenario-timeout': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (values.list) {
    for (const s of SCENARIOS) console.log(`${s.name.padEnd(20)} ${s.description}`);
    return;
  }
  const bounded = values.bounded!;
  const scenarios = pickScenarios(values.only);
  const outDir = path.resolve(REPO_ROOT, values.out!);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logsDir = path.join(outDir, `logs-${stamp}`);
  mkdirSync(outDir, { recursive: true });
  setLogArchive(logsDir);
  const timeoutMs = Number(values['scenario-timeout'] ?? (bounded ? 1200 : 3600)) * 1000;
  const command = ['npm run chaos', ...(process.argv.slice(2).length ? ['--', ...process.argv.slice(2)] : [])].join(' ');
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const load0 = os.loadavg();

  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    console.error('chaos: interrupted; stopping every stack');
    void closeAllStacks().finally(() => process.exit(130));
  });

  const rows: ScenarioRow[] = [];
  for (const s of scenarios) {
    if (interrupted) break;
    const started = performance.now();
    const ctx: ScenarioContext = {
      bounded,
      outDir,
      log: (m) => console.error(`[chaos ${s.name} +${((performance.now() - started) / 1000).toFixed(1)}s] ${m}`),
    };
    ctx.log(`start: ${s.description}${bounded ? ' (bounded)' : ''}`);
    const row = await runOne(s, ctx, timeoutMs);
    ctx.log(`${rowPassed(row) ? 'PASS' : 'FAIL'} in ${row.durationSeconds?.toFixed(0)} s`);
    rows.push(row);
  }
  await removeMediaCache();

  const table = formatTable(rows);
  const details = formatDetails(rows);
  const cpuTotal = rows.reduce((n, r) => n + (typeof r.extra.cpuSeconds === 'number' ? r.extra.cpuSeconds : 0), 0);
  const wall = (performance.now() - t0) / 1000;
  const timing = `wall ${wall.toFixed(0)} s; CPU ${cpuTotal} s on ${os.cpus().length} cores (idle-machine estimate ${Math.round(cpuTotal / os.cpus().length)} s); load average ${load0.map((l) => l.toFixed(1)).join(' ')} at start, ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at end`;
  console.log(`\n${table}\n\n${details}\n\n${timing}\n`);
  const meta = { command, startedAt, host: `${os.hostname()}, ${os.cpus().length} CPUs, load ${load0.map((l) => l.toFixed(2)).join(' ')}` };
  const json = {
    ...meta,
    bounded,
    durationSeconds: wall,
    cpuSeconds: cpuTotal,
    loadAverage: { start: load0, end: os.loadavg() },
    logs: logsDir,
    rows,
    passed: rows.filter(rowPassed).length,
    failed: rows.filter((r) => !rowPassed(r)).length,
  };
  writeFileSync(path.join(outDir, `${stamp}.json`), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(path.join(outDir, 'latest.md'), formatMarkdown(rows, meta));
  console.log(`results: ${path.relative(process.cwd(), path.join(outDir, `${stamp}.json`))}, ${path.relative(process.cwd(), path.join(outDir, 'latest.md'))}; service logs: ${path.relative(process.cwd(), logsDir)}`);
  console.log(closingLine(rows));
  process.exitCode = rows.every(rowPassed) && rows.length > 0 ? 0 : 1;
}

main().catch(async (e: unknown) => {
  console.error(`chaos: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  await closeAllStacks();
  process.exit(1);
});
