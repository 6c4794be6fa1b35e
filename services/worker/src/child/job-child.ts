// Entry point of the per-job child process: receives one job over IPC, runs it, reports
// progress and the result, exits. If the worker dies, the IPC channel closes and the child
// ends its own process group (its ffmpeg children with it).
import path from 'node:path';
import { realpath, stat, unlink } from 'node:fs/promises';
import { analyzePrepared, probePair, prepareMedia, monotonic, StageClock, type AnalysisProgress, type AnalyzeFilesOptions } from '@sync-analyzer/analysis';
import { PreparedCache, prepareMediaCached, openSpeechBackend } from '@sync-analyzer/analysis';
import { resolveTools, isInputError, AbortedError, MediaInputError } from '@sync-analyzer/media';
import { createLogger, MediaRoot, fingerprintFile, JobPayloadError, type FileFingerprint, type Job, type JobOf } from '@sync-analyzer/platform';
import type { ChildMessage, ChildSettings, ParentMessage, SerializedError } from './messages.ts';
import { repairMedia } from '../repair/repair-media.ts';
import { makeProxy } from './proxy.ts';

const send = (m: ChildMessage) => process.send?.(m);

process.on('disconnect', () => {
  // The worker is gone: nobody will collect the result; stop everything we started.
  try {
    process.kill(-process.pid, 'SIGKILL');
  } catch {
    process.exit(1);
  }
});

process.once('message', (m: ParentMessage) => {
  if (m.type !== 'run') return;
  run(m).then(
    (value) => {
      send({ type: 'result', value });
      process.disconnect?.();
    },
    (err: unknown) => {
      send({ type: 'error', error: serializeError(err) });
      process.disconnect?.();
    },
  );
});

async function run(m: ParentMessage): Promise<unknown> {
  const logger = createLogger({ level: m.settings.logLevel, service: 'worker-job' }).child(m.logFields);
  const tools = resolveTools({ ...(m.settings.ffmpegPath ? { FFMPEG_PATH: m.settings.ffmpegPath } : {}), ...(m.settings.ffprobePath ? { FFPROBE_PATH: m.settings.ffprobePath } : {}), PATH: process.env.PATH });
  const onSpawn = (pid: number) => send({ type: 'spawned', pid });
  const job = m.job;
  switch (job.kind) {
    case 'analysis':
      return runAnalysis(job, m.settings, { tools, logger, onSpawn });
    case 'repair':
      return runRepair(job, m.settings, { tools, logger, onSpawn });
    case 'batch':
      throw new JobPayloadError('batch jobs run in the worker, not in a job child');
    case 'proxy':
      return runProxy(job, m.settings, { tools, logger, onSpawn });
  }
}

type Ctx = Pick<AnalyzeFilesOptions, 'tools' | 'logger' | 'onSpawn'>;

async function runAnalysis(job: JobOf<'analysis'>, s: ChildSettings, ctx: Ctx): Promise<unknown> {
  const root = await MediaRoot.open(s.mediaRoot);
  const [master, dub] = await Promise.all([root.resolveFile(job.master), root.resolveFile(job.dub)]);
  // Taken before anything is read and compared after: a file replaced or rewritten while it is
  // analysed (a copy still being written, a new version renamed over it) would give a result
  // that describes neither version.
  const before = await Promise.all([fingerprintFile(master.absolute), fingerprintFile(dub.absolute)]);
  const progress = monotonic((p: AnalysisProgress) => send({ type: 'progress', percent: p.percent, stage: p.stage }));
  const clock = new StageClock();
  progress({ stage: 'probe', percent: 0 });
  // Speech detection: on unless the worker is configured off or the job asks it off.
  const speech = s.inference.speechDetection && job.options.vad !== false ? await openSpeechBackend({ ...s.inference, logger: ctx.logger }) : null;
  let out: unknown;
  try {
    out = await analyseWith(job, s, ctx, master.absolute, dub.absolute, before[0], speech, progress, clock);
  } finally {
    await speech?.close();
  }
  await assertUnchanged(job.master, master.absolute, before[0]);
  await assertUnchanged(job.dub, dub.absolute, before[1]);
  return out;
}

/** Throws MediaInputError 'input_changed' (named by its path in the media root) when the file is not what it was. */
async function assertUnchanged(relative: string, absolute: string, was: FileFingerprint): Promise<void> {
  const now = await fingerprintFile(absolute).catch((e: unknown) => (e as Error).message);
  if (typeof now === 'string') throw new MediaInputError('input_changed', relative, `it can no longer be read (${now}); the result was discarded`);
  if (now.size !== was.size || now.mtimeMs !== was.mtimeMs || now.headTailSha256 !== was.headTailSha256) {
    throw new MediaInputError('input_changed', relative, `size ${was.size} -> ${now.size} bytes, modified ${new Date(was.mtimeMs).toISOString()} -> ${new Date(now.mtimeMs).toISOString()}; the result was discarded: submit it again`);
  }
}

async function analyseWith(
  job: JobOf<'analysis'>,
  s: ChildSettings,
  ctx: Ctx,
  masterPath: string,
  dubPath: string,
  masterFingerprint: FileFingerprint,
  speech: Awaited<ReturnType<typeof openSpeechBackend>> | null,
  progress: (p: AnalysisProgress) => void,
  clock: StageClock,
): Promise<unknown> {
  const opts: AnalyzeFilesOptions = {
    ...ctx,
    masterSelection: job.options.masterSelection,
    dubSelection: job.options.dubSelection,
    params: verdictParams(job),
    speech,
    ...(job.options.dialogueThresholdFrames !== undefined ? { dialogueThresholdFrames: job.options.dialogueThresholdFrames } : {}),
  };
  const [mp, dp] = await probePair(masterPath, dubPath, opts);
  clock.lap('probe');
  const cache = new PreparedCache({ dir: path.join(s.dataDir, 'cache', 'prepared'), maxBytes: s.cacheMaxBytes, logger: ctx.logger, ...(s.cacheNamespace ? { namespace: s.cacheNamespace } : {}) });
  const fractions = [0, 0];
  const report = (i: number) => (f: number) => {
    fractions[i] = f;
    progress({ stage: 'decode', percent: Math.round(((40 * (fractions[0]! + fractions[1]!)) / 2) * 10) / 10 });
  };
  const [m, d] = await Promise.all([
    prepareMediaCached(cache, masterFingerprint, mp, job.options.masterSelection, opts, report(0)),
    prepareMedia(dp, job.options.dubSelection, opts, report(1)),
  ]);
  ctx.logger.info({ masterCacheHit: m.cacheHit }, 'inputs decoded');
  clock.lap('decode');
  const result = await analyzePrepared(m.media, d, { ...opts, onProgress: progress }, clock);
  return { kind: 'analysis', result, masterCacheHit: m.cacheHit };
}

function verdictParams(job: JobOf<'analysis'>): AnalyzeFilesOptions['params'] {
  const o = job.options;
  const verdict = {
    ...(o.frameRate ? { defaultFrameRate: o.frameRate } : {}),
    ...(o.inSyncFrames !== undefined ? { inSyncFrames: o.inSyncFrames } : {}),
    ...(o.driftMinFrames !== undefined ? { driftMinFrames: o.driftMinFrames } : {}),
  };
  return Object.keys(verdict).length ? ({ verdict } as AnalyzeFilesOptions['params']) : undefined;
}

async function runRepair(job: JobOf<'repair'>, s: ChildSettings, ctx: Ctx): Promise<unknown> {
  const root = await MediaRoot.open(s.mediaRoot);
  const dub = await root.resolveFile(job.dub);
  const outRoot = await realpath(s.outputRoot);
  const outputPath = path.resolve(outRoot, job.output);
  if (!outputPath.startsWith(outRoot + path.sep)) throw new JobPayloadError(`repair output "${job.output}" leaves the output root`);
  // The API reserved the name with an empty placeholder; the repair writes the real file.
  const reserved = await stat(outputPath).catch(() => null);
  if (reserved?.isFile() && reserved.size === 0) await unlink(outputPath);
  const outcome = await repairMedia(
    {
      inputPath: dub.absolute,
      outputPath,
      offsetSeconds: job.offsetSeconds,
      keepDuration: job.keepDuration,
      conformDrift: job.conformDrift,
      ...(job.speedRatio !== undefined ? { speedRatio: job.speedRatio } : {}),
      conformEdits: job.conformEdits,
      ...(job.segments ? { segments: job.segments } : {}),
    },
    { tools: ctx.tools, logger: ctx.logger, ...(ctx.onSpawn ? { onSpawn: ctx.onSpawn } : {}), onProgress: (f) => send({ type: 'progress', percent: Math.round(f * 1000) / 10, stage: 'repair' }) },
  );
  return { kind: 'repair', outcome: { ...outcome, outputPath: path.relative(outRoot, outcome.outputPath) } };
}

async function runProxy(job: JobOf<'proxy'>, s: ChildSettings, ctx: Ctx): Promise<unknown> {
  const root = await MediaRoot.open(s.mediaRoot);
  const input = await root.resolveFile(job.path);
  const out = await makeProxy(input.absolute, job.selection, path.join(s.dataDir, 'proxies'), job.proxyKey, {
    tools: ctx.tools,
    logger: ctx.logger,
    ...(ctx.onSpawn ? { onSpawn: ctx.onSpawn } : {}),
    onProgress: (f) => send({ type: 'progress', percent: Math.round(f * 1000) / 10, stage: 'proxy' }),
  });
  return { kind: 'proxy', proxyKey: job.proxyKey, durationSeconds: out.durationSeconds };
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const retryable = (err as { retryable?: unknown }).retryable;
    const input = isInputError(err) || err instanceof JobPayloadError || err.name === 'PathError' || err.name === 'MediaInputError';
    return {
      name: err.name,
      message: err.message,
      code: typeof code === 'string' ? code : err instanceof AbortedError ? 'aborted' : input ? 'bad_input' : 'internal',
      retryable: typeof retryable === 'boolean' ? retryable && !input : !input,
    };
  }
  return { name: 'Error', message: String(err), code: 'internal', retryable: true };
}

export type { Job };
