// The dub repair: writes a NEW file in which the dub's audio is brought into sync with the master,
// using what an analysis measured (offset, speed ratio, edit map). Video and every other stream
// are copied untouched; each audio stream is re-encoded with its own codec, rate, layout and
// (lossy) bit rate. ffmpeg writes to a hidden partial file beside the output, which is linked into
// place only when complete, so an aborted or failed repair never leaves a file at outputPath.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AbortedError, probeMedia } from '@sync-analyzer/media';
import type { MediaLogger, MediaTools } from '@sync-analyzer/media';
import { summarizeMedia } from './media-summary.ts';
import type { MediaSummary } from './media-summary.ts';
import { checkOutput } from './repair-checks.ts';
import { RepairRequestError, planRepair, validateRequest } from './repair-plan.ts';
import type { EditSegment, RepairPlan } from './repair-plan.ts';
import { TailBuffer, lastLines, spawnError, stopChild } from '@sync-analyzer/media';

export { RepairRequestError } from './repair-plan.ts';
export { RepairProbeError } from './media-summary.ts';
export type { MediaSummary, StreamSummary } from './media-summary.ts';
export type { EditSegment } from './repair-plan.ts';

export interface RepairRequest {
  /** Absolute path of the dub (already confined by the caller). */
  inputPath: string;
  /** Absolute path to write: must differ from inputPath, must not exist, same extension as the input. */
  outputPath: string;
  /** The MEASURED offset (positive = dub late); the repair applies its opposite. Informative only with conformEdits. */
  offsetSeconds: number;
  /** Pad or trim the tail so that each audio stream keeps its original length. */
  keepDuration: boolean;
  /** Resample the audio so its timeline runs at the master's speed (needs speedRatio). */
  conformDrift: boolean;
  /** d(dub time)/d(master time), as measured. */
  speedRatio?: number;
  /** Rebuild the audio on the master's timeline from the edit map (needs segments). */
  conformEdits: boolean;
  segments?: EditSegment[];
}

export interface RepairProgress {
  fraction: number;
}

/** Same shape as the platform's RepairOutcome (shared/platform/src/db/types.ts). */
export interface RepairOutcome {
  outputPath: string;
  /** The ffmpeg argument vector that produced the output. */
  ffmpegArgs: string[];
  /** The input's stream summary (MediaSummary). */
  inputProbe: unknown;
  /** The output's stream summary (MediaSummary). */
  outputProbe: unknown;
  /** Checks of the output against the input (codec, rate, layout, timecode, streams, durations). */
  checks: { name: string; ok: boolean; detail: string }[];
}

export interface RepairContext {
  tools: MediaTools;
  logger: MediaLogger;
  signal?: AbortSignal;
  /** Called with ffmpeg's PID once it is spawned. */
  onSpawn?: (pid: number) => void;
  /** 0..1, from ffmpeg's -progress output (at most about 4 times a second, and 1 at the end). */
  onProgress?: (fraction: number) => void;
}

/** The output volume filled up (ENOSPC from ffmpeg or from our own writes). */
function isDiskFull(stderrTail: string, cause: unknown): boolean {
  return /No space left on device/i.test(stderrTail) || (cause as NodeJS.ErrnoException | undefined)?.code === 'ENOSPC';
}

/**
 * ffmpeg failed to write the repair (the last lines it printed are in the message and stderrTail).
 * code `disk_full` when the output volume ran out of space (the partial file is removed), else
 * `repair_failed`.
 */
export class RepairError extends Error {
  override readonly name = 'RepairError';
  readonly code: 'repair_failed' | 'disk_full';
  readonly retryable = false;
  constructor(
    readonly path: string,
    reason: string,
    readonly info: { exitCode: number | null; signal: string | null; stderrTail: string },
    options?: { cause?: unknown },
  ) {
    const tail = lastLines(info.stderrTail, 5);
    const full = isDiskFull(info.stderrTail, options?.cause);
    super(`${path}: repair failed: ${full ? `no space left on the output volume (${reason})` : reason}${tail ? `; ffmpeg said: ${tail}` : ''}`, options);
    this.code = full ? 'disk_full' : 'repair_failed';
  }
  get stderrTail(): string {
    return this.info.stderrTail;
  }
}

/**
 * Longer filter graphs go through -filter_complex_script: one argument may not exceed 128 KiB on
 * Linux, and a long edit map on many audio streams gets there.
 */
export const MAX_INLINE_GRAPH = 32 * 1024;

export async function repairMedia(req: RepairRequest, ctx: RepairContext): Promise<RepairOutcome> {
  const inputPath = path.resolve(req.inputPath);
  const outputPath = path.resolve(req.outputPath);
  if (inputPath === outputPath) throw new RepairRequestError('same_path', `the output ${outputPath} is the input: a repair never overwrites its source`);
  const ext = path.extname(inputPath);
  if (path.extname(outputPath).toLowerCase() !== ext.toLowerCase()) {
    throw new RepairRequestError('bad_extension', `the output ${outputPath} must keep the input's container (${ext || 'no extension'})`);
  }
  validateRequest(req);
  // Missing, unreadable or non-media input: the media package's MediaInputError.
  await probeMedia(inputPath, { tools: ctx.tools, logger: ctx.logger, signal: ctx.signal });
  await refuseExisting(outputPath);

  const input = await summarizeMedia(inputPath, ctx.tools, ctx.signal);
  const plan = planRepair(input, req);
  for (const note of plan.notes) ctx.logger.warn({ inputPath }, note);

  await mkdir(path.dirname(outputPath), { recursive: true });
  const stem = path.join(path.dirname(outputPath), `.${path.basename(outputPath, path.extname(outputPath))}.${randomBytes(4).toString('hex')}`);
  const partial = `${stem}.partial${path.extname(outputPath)}`;
  const script = plan.filterComplex.length > MAX_INLINE_GRAPH ? `${stem}.filtergraph` : null;
  const common = ['-nostdin', '-hide_banner', '-v', 'error', '-nostats', '-progress', 'pipe:1', '-copy_unknown', '-i', inputPath];
  const head = [...common, '-filter_complex', plan.filterComplex, ...plan.outputArgs];
  const args = [...common, ...(script ? ['-filter_complex_script', script] : ['-filter_complex', plan.filterComplex]), ...plan.outputArgs, '-n', partial];
  ctx.logger.info(
    { inputPath, outputPath, offsetSeconds: req.offsetSeconds, keepDuration: req.keepDuration, conformDrift: req.conformDrift, speedRatio: req.speedRatio, conformEdits: req.conformEdits, segments: req.segments?.length ?? 0 },
    'repair started',
  );
  ctx.logger.debug({ tool: ctx.tools.ffmpeg, args }, 'ffmpeg');

  let output: MediaSummary;
  try {
    if (script) await writeFile(script, plan.filterComplex);
    await runFfmpeg(args, plan, ctx, inputPath);
    await placeOutput(partial, outputPath);
  } catch (err) {
    await rm(partial, { force: true });
    if (isDiskFull('', err)) throw new RepairError(outputPath, `cannot write: ${(err as Error).message}`, { exitCode: null, signal: null, stderrTail: '' }, { cause: err });
    throw err;
  } finally {
    if (script) await rm(script, { force: true });
  }
  try {
    output = await summarizeMedia(outputPath, ctx.tools, ctx.signal);
  } catch (err) {
    // An output that cannot be read back is no repair.
    await rm(outputPath, { force: true });
    if (err instanceof AbortedError) throw err;
    throw new RepairError(outputPath, `the written file cannot be probed (${(err as Error).message})`, { exitCode: null, signal: null, stderrTail: '' }, { cause: err });
  }
  const checks = checkOutput(input, output, plan);
  const failed = checks.filter((c) => !c.ok);
  if (failed.length) ctx.logger.warn({ outputPath, failed }, 'repair written, some checks failed');
  ctx.logger.info({ outputPath, checks: checks.length, failed: failed.length }, 'repair written');
  // The arguments as one self-contained command (graph inline, final path), to reproduce the output.
  return { outputPath, ffmpegArgs: [ctx.tools.ffmpeg, ...head, outputPath], inputProbe: input, outputProbe: output, checks };
}

async function refuseExisting(outputPath: string): Promise<void> {
  try {
    await lstat(outputPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new RepairRequestError('bad_request', `the output ${outputPath} cannot be created: a parent is not a directory`);
    throw err;
  }
  throw new RepairRequestError('output_exists', `the output ${outputPath} exists already`);
}

/** Moves the finished partial file to outputPath without ever replacing a file that appeared meanwhile. */
async function placeOutput(partial: string, outputPath: string): Promise<void> {
  try {
    await link(partial, outputPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new RepairRequestError('output_exists', `the output ${outputPath} appeared while the repair ran`);
    // Filesystems without hard links: check, then rename (a narrow race, but no silent overwrite of an older file).
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    await refuseExisting(outputPath);
    await rename(partial, outputPath);
    return;
  }
  await rm(partial, { force: true });
}

/** Runs ffmpeg, reporting progress from `-progress pipe:1`; kills it on abort. */
function runFfmpeg(args: string[], plan: RepairPlan, ctx: RepairContext, inputPath: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (ctx.signal?.aborted) {
      reject(new AbortedError('repair', { cause: ctx.signal.reason }));
      return;
    }
    const child = spawn(ctx.tools.ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    const stderr = new TailBuffer(16384);
    let aborted = false;
    let settled = false;
    let pending = '';
    let lastReport = 0;
    let lastFraction = 0;
    const expected = plan.expectedDuration;

    const report = (fraction: number, force = false): void => {
      const now = Date.now();
      if (!force && (now - lastReport < 250 || fraction <= lastFraction)) return;
      lastReport = now;
      lastFraction = Math.max(lastFraction, fraction);
      try {
        ctx.onProgress?.(lastFraction);
      } catch (err) {
        ctx.logger.warn({ err }, 'repair: onProgress callback threw');
      }
    };
    const onAbort = (): void => {
      aborted = true;
      ctx.logger.debug({ pid: child.pid }, 'repair: aborting ffmpeg');
      stopChild(child);
    };
    ctx.signal?.addEventListener('abort', onAbort, { once: true });
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      ctx.signal?.removeEventListener('abort', onAbort);
      fn();
    };

    child.on('spawn', () => {
      if (child.pid !== undefined) ctx.onSpawn?.(child.pid);
    });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^out_time_us=(\d+)/.exec(line.trim());
        if (m && expected && expected > 0) report(Math.min(0.999, Number(m[1]) / 1e6 / expected));
      }
    });
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    child.on('error', (err) => {
      stopChild(child);
      settle(() => reject(spawnError('ffmpeg', ctx.tools.ffmpeg, err)));
    });
    child.on('close', (exitCode, signal) =>
      settle(() => {
        if (aborted) {
          reject(new AbortedError('repair', { cause: ctx.signal?.reason }));
          return;
        }
        const tail = stderr.toString();
        if (signal !== null) {
          reject(new RepairError(inputPath, `ffmpeg was killed by ${signal}`, { exitCode, signal, stderrTail: tail }));
          return;
        }
        if (exitCode !== 0) {
          reject(new RepairError(inputPath, `ffmpeg exited with ${exitCode}`, { exitCode, signal, stderrTail: tail }));
          return;
        }
        report(1, true);
        resolve();
      }),
    );
  });
}
