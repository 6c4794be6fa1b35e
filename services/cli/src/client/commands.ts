// Client commands of the sync-analyzer CLI: submit, status, batch and repair against a running
// Sync Analyzer API. Exit codes (as for a finished analysis): 0 in sync; 2 out of sync, no
// match, a failed repair check, or bad usage; 1 error (API unreachable, API error, failed job,
// wait timed out). Without --wait: submit, batch and repair exit 0 once the API accepted the
// work; status exits with the outcome of a finished analysis, 0 while it is still going.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import { FRAME_RATE_KEYS, type Verdict } from '@sync-analyzer/engine';
import { formatSummary } from '../summary.ts';
import { toSelection, UsageError } from '../selection-options.ts';
import {
  ApiClient,
  ApiClientConfigError,
  ApiRequestError,
  ApiTimeoutError,
  ApiUnreachableError,
  DEFAULT_API_URL,
  isFinal,
  type AnalysisEnvelope,
  type AnalysisOptions,
  type AnalysisView,
  type BatchEnvelope,
  type BatchExportFormat,
  type RepairEnvelope,
  type RepairRequest,
} from './api-client.ts';
import { waitForAnalysis, waitForBatch, waitForRepair, waitForVerificationId, WaitTimeoutError, type ProgressInfo } from './wait.ts';

export const API_URL_ENV = 'SYNC_ANALYZER_URL';
export const API_KEY_ENV = 'SYNC_ANALYZER_API_KEY';
const DEFAULT_TIMEOUT_S = 3600;
const EXPORT_FORMATS: readonly BatchExportFormat[] = ['csv', 'json', 'html'];

const VERDICT_WORDS: Record<Verdict, string> = { in_sync: 'IN SYNC', offset: 'OFFSET', drift: 'DRIFT', edited: 'EDITED', no_match: 'NO MATCH' };

interface ClientFlags {
  api?: string;
  apiKey?: string;
  json?: boolean;
  timeout?: string;
  progress: boolean;
  wait?: true | string;
}

interface SubmitFlags extends ClientFlags {
  urgent?: boolean;
  frameRate?: string;
  inSyncFrames?: string;
  driftMinFrames?: string;
  masterStream?: string;
  masterChannel?: string;
  dubStream?: string;
  dubChannel?: string;
  mix?: boolean;
}

interface BatchFlags extends ClientFlags {
  name?: string;
  priority?: 'normal' | 'batch';
  webhookUrl?: string;
  export?: BatchExportFormat;
  output?: string;
}

interface RepairFlags extends ClientFlags {
  analysis?: string;
  dub?: string;
  offset?: string;
  master?: string;
  keepDuration?: boolean;
  conformDrift?: boolean;
  conformEdits?: boolean;
  verify: boolean;
}

/** Adds the client commands to the CLI; each action reports its exit code through setExitCode. */
export function registerClientCommands(program: Command, setExitCode: (code: number) => void): void {
  const run =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A): Promise<void> => {
      setExitCode(await explainErrors(fn(...args)));
    };

  withClientOptions(
    program
      .command('submit')
      .description('submit a master/dub pair to the API; with --wait, print the result like `analyze`')
      .argument('<master>', 'master path as the API server sees it: absolute inside its media root, or relative to that root')
      .argument('<dub>', 'dub path (same rules)')
      .option('--urgent', 'overtake queued batch work'),
  )
    .addOption(new Option('--frame-rate <key>', 'reference frame rate when the master has no video').choices([...FRAME_RATE_KEYS]))
    .option('--in-sync-frames <n>', 'offsets under this many frames are in sync (default 1)')
    .option('--drift-min-frames <n>', 'drift over the programme reported from this many frames (default 1)')
    .option('--master-stream <n>', 'master audio stream (0-based among audio streams)')
    .option('--master-channel <n>', 'use one channel of the master stream (0-based)')
    .option('--dub-stream <n>', 'dub audio stream (0-based among audio streams)')
    .option('--dub-channel <n>', 'use one channel of the dub stream (0-based)')
    .option('--mix', 'layout-aware mono mix for streams picked automatically')
    .action(run(submitCommand));

  withClientOptions(program.command('status').description('show an analysis (with --wait, wait for it and print the result)').argument('<analysis-id>')).action(run(statusCommand));

  withClientOptions(
    program
      .command('batch')
      .description('upload a CSV sheet (columns master,dub[,episode,notes]) as a batch; with --wait, print every verdict')
      .argument('<sheet>', 'CSV file on this machine; its paths are as the API server sees them')
      .option('--name <name>', 'batch name')
      .addOption(new Option('--priority <priority>', 'queue priority').choices(['normal', 'batch']))
      .option('--webhook-url <url>', 'the API POSTs the results here when the batch completes')
      .addOption(new Option('--export <format>', 'download the export (after the wait, with --wait)').choices([...EXPORT_FORMATS]))
      .option('--output <file>', 'where --export writes (default batch-<id>.<format>)'),
  ).action(run(batchCommand));

  withClientOptions(
    program
      .command('repair')
      .description('write a synced copy of a dub: from an analysis (--analysis) or by an explicit offset (--dub, --offset)')
      .option('--analysis <id>', 'repair with what this analysis measured')
      .option('--dub <path>', 'dub to repair by --offset (path as the API server sees it)')
      .option('--offset <seconds>', 'the measured offset (positive: dub late); the repair applies its opposite')
      .option('--master <path>', 'with --dub: master to verify the repaired copy against')
      .option('--keep-duration', 'keep the dub duration (pad or trim the tail)')
      .option('--conform-drift', 'also correct the measured drift (needs --analysis)')
      .option('--conform-edits', "also conform to the analysis's edit map (needs --analysis)")
      .option('--no-verify', 'do not analyse the repaired copy against the master'),
  ).action(run(repairCommand));
}

function withClientOptions(cmd: Command): Command {
  return cmd
    .option('--api <url>', `API base URL (default: $${API_URL_ENV}, else ${DEFAULT_API_URL})`)
    .option('--api-key <key>', `API key (default: $${API_KEY_ENV}; the environment keeps it out of process listings)`)
    .option('--json', "print the API's JSON document on stdout")
    .option('--wait [seconds]', 'wait until it is finished (at most SECONDS, default --timeout)')
    .option('--timeout <seconds>', `give up waiting after this many seconds (default ${DEFAULT_TIMEOUT_S})`)
    .option('--no-progress', 'no progress line on stderr while waiting');
}

// ---- commands ----

async function submitCommand(master: string, dub: string, flags: SubmitFlags): Promise<number> {
  const ctx = clientContext(flags);
  const options = analysisOptions(flags);
  const answer = await ctx.client.submitAnalysis({ master, dub, options, priority: flags.urgent ? 'urgent' : 'normal' });
  // Without --wait, "accepted" is the outcome (even when an identical earlier one is finished).
  return showAnalysis(ctx, answer.body, flags, false);
}

async function statusCommand(id: string, flags: ClientFlags): Promise<number> {
  const ctx = clientContext(flags);
  const answer = await ctx.client.getAnalysis(id);
  return showAnalysis(ctx, answer.body, flags, true);
}

/**
 * Prints the analysis, waiting first with --wait. The exit code is its outcome when waited for,
 * or when `outcomeWithoutWait` and it is final already; 0 otherwise.
 */
async function showAnalysis(ctx: ClientContext, env: AnalysisEnvelope, flags: ClientFlags, outcomeWithoutWait: boolean): Promise<number> {
  const a = env.analysis;
  if (!flags.json) out(`Analysis ${a.id}: ${a.status}${env.deduplicated ? ' (identical to an earlier submission)' : ''}`);
  if (ctx.waitSeconds === null) {
    if (flags.json) out(JSON.stringify(env, null, 2));
    else if (isFinal(a.status)) reportFinalAnalysis(a);
    return outcomeWithoutWait && isFinal(a.status) ? analysisExitCode(a) : 0;
  }
  const line = ctx.progressLine;
  let final: AnalysisEnvelope;
  try {
    final = await waitForAnalysis(ctx.client, env, {
      deadline: ctx.deadline(),
      startedAt: Date.now(),
      via: line ? 'sse' : 'poll',
      ...(line ? { onProgress: (p: ProgressInfo) => line.show(`${a.id}: ${p.status}${p.status === 'running' ? ` ${Math.round(p.percent)}%${p.stage ? ` ${p.stage}` : ''}` : ''}`) } : {}),
    });
  } finally {
    line?.clear();
  }
  if (flags.json) {
    out(JSON.stringify(final, null, 2));
    if (final.analysis.status !== 'completed') reportJobError('analysis', final.analysis);
    return analysisExitCode(final.analysis);
  }
  if (!isFinal(a.status)) out(`Analysis ${a.id}: ${final.analysis.status}`);
  return reportFinalAnalysis(final.analysis);
}

/** Human output of a final analysis: the `analyze` summary, or the error. */
function reportFinalAnalysis(a: AnalysisView): number {
  if (a.status === 'completed' && a.result) out(`\n${formatSummary(a.result)}`);
  else reportJobError('analysis', a);
  return analysisExitCode(a);
}

/** 0 in sync; 2 any other verdict; 1 when the analysis did not complete. */
export function analysisExitCode(a: AnalysisView): number {
  if (a.status !== 'completed' || !a.result) return 1;
  return a.result.verdict === 'in_sync' ? 0 : 2;
}

async function batchCommand(sheet: string, flags: BatchFlags): Promise<number> {
  const ctx = clientContext(flags);
  const exportFormat = exportFormatOf(flags);
  let csv: string;
  try {
    csv = await readFile(sheet, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read the sheet ${sheet}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const created = await ctx.client.createBatchFromCsv(csv, {
    ...(flags.name !== undefined ? { name: flags.name } : {}),
    ...(flags.priority ? { priority: flags.priority } : {}),
    ...(flags.webhookUrl !== undefined ? { webhook_url: flags.webhookUrl } : {}),
  });
  if (!flags.json) out(`${batchHeadline(created)}\n${batchTable(created)}`);
  let env = created;
  if (ctx.waitSeconds !== null) {
    const line = ctx.progressLine;
    try {
      env = await waitForBatch(ctx.client, created, {
        deadline: ctx.deadline(),
        startedAt: Date.now(),
        ...(line ? { onUpdate: (b: BatchEnvelope) => line.show(`${b.batch.id}: ${finishedCount(b)}/${b.batch.total} finished`) } : {}),
      });
    } finally {
      line?.clear();
    }
    if (!flags.json) out(`\n${batchHeadline(env)}\n${batchTable(env)}`);
  }
  if (flags.json) out(JSON.stringify(env, null, 2));
  if (exportFormat) {
    const file = flags.output ?? `batch-${env.batch.id}.${exportFormat}`;
    await writeFile(file, await ctx.client.exportBatch(env.batch.id, exportFormat));
    process.stderr.write(`${exportFormat.toUpperCase()} export written to ${file}\n`);
  }
  if (ctx.waitSeconds === null) return 0;
  return env.items.every((i) => i.status === 'completed' && i.verdict === 'in_sync') ? 0 : 2;
}

function exportFormatOf(flags: BatchFlags): BatchExportFormat | null {
  if (flags.export) return flags.export;
  if (flags.output === undefined) return null;
  // --output alone: the format from the file name.
  const ext = path.extname(flags.output).slice(1).toLowerCase() as BatchExportFormat;
  if (EXPORT_FORMATS.includes(ext)) return ext;
  throw new UsageError(`--output needs --export csv|json|html (or a file name ending in .csv, .json or .html), got "${flags.output}"`);
}

const finishedCount = (b: BatchEnvelope) => b.items.filter((i) => isFinal(i.status)).length;

function batchHeadline(b: BatchEnvelope): string {
  const { batch } = b;
  const name = batch.name ? ` "${batch.name}"` : '';
  if (batch.status !== 'completed') return `Batch ${batch.id}${name}: ${batch.status}, ${batch.total} item(s), ${finishedCount(b)} finished (priority ${batch.priority})`;
  const inSync = b.items.filter((i) => i.status === 'completed' && i.verdict === 'in_sync').length;
  const notCompleted = b.items.filter((i) => i.status !== 'completed').length;
  return `Batch ${batch.id}${name}: completed, ${batch.total} item(s): ${inSync} in sync, ${batch.total - inSync - notCompleted} out of sync, ${notCompleted} not analysed`;
}

function batchTable(b: BatchEnvelope): string {
  const rows = [['#', 'analysis', 'status', 'verdict', 'offset', 'conf', 'episode', 'dub']];
  for (const [i, a] of b.items.entries()) {
    rows.push([
      String((a.batch_index ?? i) + 1),
      a.id,
      a.status,
      a.verdict ? VERDICT_WORDS[a.verdict] : a.error ? a.error.code : '-',
      a.offset_seconds !== null ? `${seconds3(a.offset_seconds)} s` : '-',
      a.confidence !== null ? `${Math.round(a.confidence * 100)}%` : '-',
      a.episode ?? '-',
      a.dub,
    ]);
  }
  return table(rows, '  ');
}

async function repairCommand(flags: RepairFlags): Promise<number> {
  const ctx = clientContext(flags);
  const req = repairRequest(flags);
  const created = await ctx.client.createRepair(req);
  const r = created.repair;
  if (!flags.json) out(`Repair ${r.id}: ${r.status} (dub ${r.dub}; measured offset ${seconds3(r.offset_seconds)} s, shift applied ${seconds3(r.applied_shift_seconds)} s)`);
  if (ctx.waitSeconds === null) {
    if (flags.json) out(JSON.stringify(created, null, 2));
    return 0;
  }
  const deadline = ctx.deadline();
  const startedAt = Date.now();
  const line = ctx.progressLine;
  let env: RepairEnvelope;
  try {
    env = await waitForRepair(ctx.client, created, {
      deadline,
      startedAt,
      ...(line ? { onProgress: (p: ProgressInfo) => line.show(`${r.id}: ${p.status}${p.status === 'running' ? ` ${Math.round(p.percent)}%` : ''}`) } : {}),
    });
  } finally {
    line?.clear();
  }
  if (env.repair.status !== 'completed') {
    if (flags.json) out(JSON.stringify(env, null, 2));
    else out(`Repair ${r.id}: ${env.repair.status}`);
    reportJobError('repair', env.repair);
    return 1;
  }
  // Verification runs when asked for and the API knows a master (the analysis's, or --master).
  const verifies = req.verify !== false && (req.analysis_id !== undefined || req.master !== undefined);
  if (verifies) env = await waitForVerificationId(ctx.client, env, { deadline, startedAt });
  const rep = env.repair;
  const checksOk = (rep.checks ?? []).every((c) => c.ok);
  if (!flags.json) {
    out(`Repair ${rep.id}: completed`);
    out(`Output:       ${rep.output ?? '-'} (relative to the server's output root)`);
    if (rep.checks?.length) out(table(rep.checks.map((c, i) => [i === 0 ? 'Checks:' : '', c.ok ? 'ok' : 'FAIL', c.name, c.detail]), '  '));
  }
  let verification: AnalysisEnvelope | null = null;
  if (rep.verification_analysis_id) {
    const first = (await ctx.client.getAnalysis(rep.verification_analysis_id)).body;
    const vLine = ctx.progressLine;
    try {
      verification = await waitForAnalysis(ctx.client, first, {
        deadline,
        startedAt,
        via: vLine ? 'sse' : 'poll',
        ...(vLine ? { onProgress: (p: ProgressInfo) => vLine.show(`verification ${first.analysis.id}: ${p.status}${p.status === 'running' ? ` ${Math.round(p.percent)}%` : ''}`) } : {}),
      });
    } finally {
      vLine?.clear();
    }
  } else if (verifies && !flags.json) {
    out('Verification: none was queued (the output root may be outside the media root)');
  }
  if (flags.json) out(JSON.stringify(verification ? { ...env, verification: verification.analysis } : env, null, 2));
  if (verification) {
    const v = verification.analysis;
    if (!flags.json) {
      if (v.status === 'completed' && v.result) out(`Verification: ${v.id}: ${VERDICT_WORDS[v.result.verdict]}: ${v.result.summary}`);
      else out(`Verification: ${v.id}: ${v.status}`);
    }
    if (v.status !== 'completed') {
      reportJobError('verification analysis', v);
      return 1;
    }
    if (analysisExitCode(v) !== 0) return 2;
  }
  return checksOk ? 0 : 2;
}

function repairRequest(flags: RepairFlags): RepairRequest {
  const byAnalysis = flags.analysis !== undefined;
  const byOffset = flags.dub !== undefined || flags.offset !== undefined;
  if (byAnalysis === byOffset) throw new UsageError('give either --analysis <id>, or --dub <path> with --offset <seconds>');
  const common = {
    keep_duration: Boolean(flags.keepDuration),
    conform_drift: Boolean(flags.conformDrift),
    conform_edits: Boolean(flags.conformEdits),
    verify: flags.verify,
  };
  if (byAnalysis) {
    if (flags.master !== undefined) throw new UsageError('--master goes with --dub; with --analysis the analysis names the master');
    return { analysis_id: flags.analysis!, ...common };
  }
  if (flags.dub === undefined || flags.offset === undefined) throw new UsageError('--dub and --offset go together');
  const offset = Number(flags.offset);
  if (flags.offset.trim() === '' || !Number.isFinite(offset)) throw new UsageError(`--offset must be a number of seconds, got "${flags.offset}"`);
  return { dub: flags.dub, offset_seconds: offset, ...(flags.master !== undefined ? { master: flags.master } : {}), ...common };
}

// ---- shared plumbing ----

interface ClientContext {
  client: ApiClient;
  /** Null: no --wait. */
  waitSeconds: number | null;
  /** Epoch ms when a wait starting now gives up. */
  deadline(): number;
  /** A progress line on stderr (a terminal only); null otherwise. */
  readonly progressLine: ProgressLine | null;
}

function clientContext(flags: ClientFlags): ClientContext {
  const apiUrl = flags.api ?? (process.env[API_URL_ENV] || DEFAULT_API_URL);
  const apiKey = flags.apiKey ?? process.env[API_KEY_ENV];
  let client: ApiClient;
  try {
    client = new ApiClient({ baseUrl: apiUrl, apiKey });
  } catch (e) {
    if (e instanceof ApiClientConfigError) throw new UsageError(e.message);
    throw e;
  }
  const timeout = flags.timeout !== undefined ? positiveSeconds(flags.timeout, '--timeout') : DEFAULT_TIMEOUT_S;
  const waitSeconds = flags.wait === undefined ? null : flags.wait === true ? timeout : positiveSeconds(flags.wait, '--wait');
  const tty = flags.progress && Boolean(process.stderr.isTTY);
  return {
    client,
    waitSeconds,
    deadline: () => Date.now() + (waitSeconds ?? 0) * 1000,
    get progressLine() {
      return tty ? new ProgressLine() : null;
    },
  };
}

function positiveSeconds(v: string, name: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`${name} must be a positive number of seconds, got "${v}"`);
  return n;
}

function analysisOptions(flags: SubmitFlags): AnalysisOptions {
  const num = (v: string | undefined, name: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${name} must be a non-negative number, got "${v}"`);
    return n;
  };
  const options: AnalysisOptions = {};
  if (flags.frameRate) options.frameRate = flags.frameRate;
  const isf = num(flags.inSyncFrames, '--in-sync-frames');
  if (isf !== undefined) options.inSyncFrames = isf;
  const dmf = num(flags.driftMinFrames, '--drift-min-frames');
  if (dmf !== undefined) options.driftMinFrames = dmf;
  // 'auto' is the server's default: left out, so such submissions deduplicate with plain ones.
  const ms = toSelection({ stream: flags.masterStream, channel: flags.masterChannel, mix: flags.mix }, 'master');
  if (ms.kind !== 'auto') options.masterSelection = ms;
  const ds = toSelection({ stream: flags.dubStream, channel: flags.dubChannel, mix: flags.mix }, 'dub');
  if (ds.kind !== 'auto') options.dubSelection = ds;
  return options;
}

/** API and wait failures become one line on stderr and exit 1; anything else propagates. */
async function explainErrors(p: Promise<number>): Promise<number> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof ApiRequestError) {
      const hint = e.status === 401 ? ` (pass the key with --api-key or set ${API_KEY_ENV})` : '';
      process.stderr.write(`error: ${e.code}: ${e.message}${hint}\n`);
      return 1;
    }
    if (e instanceof ApiUnreachableError || e instanceof ApiTimeoutError || e instanceof WaitTimeoutError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

function reportJobError(what: string, job: { id: string; status: string; error: { code: string; message: string } | null }): void {
  const why = job.error ? `${job.error.code}: ${job.error.message}` : 'no reason given';
  process.stderr.write(`error: ${what} ${job.id} ${job.status.replace('_', ' ')}: ${why}\n`);
}

function out(s: string): void {
  process.stdout.write(s + '\n');
}

const seconds3 = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`;

/** Left-aligned columns; the last one is not padded. */
export function table(rows: string[][], gap: string): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join(gap).trimEnd()).join('\n');
}

/** One self-overwriting status line on a terminal's stderr. */
class ProgressLine {
  private shown = false;
  show(text: string): void {
    const width = process.stderr.columns ? process.stderr.columns - 1 : 100;
    process.stderr.write(`\r\x1b[K${text.slice(0, width)}`);
    this.shown = true;
  }
  clear(): void {
    if (this.shown) process.stderr.write('\r\x1b[K');
    this.shown = false;
  }
}
