// Job contracts shared by the API (producer) and the worker (consumer): one discriminated union
// of job kinds with versioned payloads, the per-kind policy in one table, and a handler map
// whose exhaustiveness the compiler checks.
import { z } from 'zod';
import { FRAME_RATE_KEYS } from '@sync-analyzer/engine';

/** Bumped when a payload changes shape; the worker refuses (does not misread) other versions. */
export const JOB_PAYLOAD_VERSION = 1;

/** Mirrors @sync-analyzer/media's AudioSelection (checked at compile time in jobs.test.ts). */
export const AudioSelectionSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('auto') }),
  z.object({ kind: z.literal('stream'), audioIndex: z.number().int().min(0) }),
  z.object({ kind: z.literal('channel'), audioIndex: z.number().int().min(0).optional(), channel: z.number().int().min(0) }),
  z.object({ kind: z.literal('mix'), audioIndex: z.number().int().min(0).optional() }),
]);

export const AnalysisOptionsSchema = z.object({
  masterSelection: AudioSelectionSchema.optional(),
  dubSelection: AudioSelectionSchema.optional(),
  frameRate: z.enum(FRAME_RATE_KEYS).optional(),
  inSyncFrames: z.number().min(0).optional(),
  driftMinFrames: z.number().min(0).optional(),
  /** Speech detection and dialogue timing QC (default on, unless the worker is configured off). */
  vad: z.boolean().optional(),
  /** Dialogue lines whose start or end is off by this many frames or more are flagged (default 2). */
  dialogueThresholdFrames: z.number().min(0.5).max(100).optional(),
});

export type AnalysisOptions = z.infer<typeof AnalysisOptionsSchema>;

const base = { version: z.literal(JOB_PAYLOAD_VERSION) };

export const AnalysisJobSchema = z.object({
  kind: z.literal('analysis'),
  ...base,
  analysisId: z.string().min(1),
  /** Paths relative to the media root (resolved and confined by the API before queueing). */
  master: z.string().min(1),
  dub: z.string().min(1),
  options: AnalysisOptionsSchema.default({}),
  batchId: z.string().min(1).optional(),
});

export const RepairJobSchema = z.object({
  kind: z.literal('repair'),
  ...base,
  repairId: z.string().min(1),
  /** Relative to the media root. */
  dub: z.string().min(1),
  /** Relative to the output root (chosen by the API, unique per repair). */
  output: z.string().min(1),
  /** The measured offset (result convention: positive = dub late); the repair applies its opposite. */
  offsetSeconds: z.number(),
  analysisId: z.string().min(1).optional(),
  keepDuration: z.boolean().default(false),
  conformDrift: z.boolean().default(false),
  conformEdits: z.boolean().default(false),
  /** d(dub time)/d(master time) from the analysis; used when conformDrift is set. */
  speedRatio: z.number().positive().optional(),
  /** The analysis's edit map (master/dub spans); used when conformEdits is set. */
  segments: z.array(z.object({ master_start: z.number(), master_end: z.number(), dub_start: z.number(), dub_end: z.number() })).optional(),
  /** Selection the analysis used for the dub (which audio the measurement describes). */
  dubSelection: AudioSelectionSchema.optional(),
});

export const BatchJobSchema = z.object({
  kind: z.literal('batch'),
  ...base,
  batchId: z.string().min(1),
  /** Child analysis ids, in sheet order. */
  analysisIds: z.array(z.string().min(1)).min(1),
});

/** A browser-safe audio proxy (mono Ogg Opus) and an energy overview of one input, cached under DATA_DIR. */
export const ProxyJobSchema = z.object({
  kind: z.literal('proxy'),
  ...base,
  /** Cache key: content fingerprint + selection + proxy format version. */
  proxyKey: z.string().regex(/^[a-f0-9]{16,64}$/),
  /** Relative to the media root. */
  path: z.string().min(1),
  selection: AudioSelectionSchema.optional(),
});

export const JobSchema = z.discriminatedUnion('kind', [AnalysisJobSchema, RepairJobSchema, BatchJobSchema, ProxyJobSchema]);
export type Job = z.infer<typeof JobSchema>;
export type JobKind = Job['kind'];
export type JobOf<K extends JobKind> = Extract<Job, { kind: K }>;

export class JobPayloadError extends Error {
  override readonly name = 'JobPayloadError';
  /** A malformed or foreign-version payload never succeeds on retry. */
  readonly retryable = false;
}

/**
 * A payload written by a newer release than this worker (during a rolling upgrade): retryable,
 * so that an upgraded worker takes it instead of it failing for good.
 */
export class JobPayloadTooNewError extends Error {
  override readonly name = 'JobPayloadTooNewError';
  readonly retryable = true;
}

/**
 * Upgrades for payloads queued by an older release, keyed by the version they upgrade FROM
 * (each returns the next version's shape). Jobs queued before an upgrade keep running after it.
 */
export const PAYLOAD_UPGRADES: Readonly<Record<number, (old: Record<string, unknown>) => Record<string, unknown>>> = {};

/** Validates a payload from the queue (upgrading older versions); a bad shape is non-retryable. */
export function parseJob(data: unknown, upgrades = PAYLOAD_UPGRADES): Job {
  let payload = data as Record<string, unknown> | null;
  let v = payload?.version;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new JobPayloadError(`job payload has no version (got ${String(v)})`);
  if (v > JOB_PAYLOAD_VERSION) throw new JobPayloadTooNewError(`job payload version ${v} is newer than this worker's ${JOB_PAYLOAD_VERSION}; an upgraded worker will run it`);
  while (v < JOB_PAYLOAD_VERSION) {
    const up = upgrades[v];
    if (!up) throw new JobPayloadError(`job payload version ${v} cannot be upgraded to ${JOB_PAYLOAD_VERSION}`);
    payload = up(payload!);
    v = payload.version;
    if (typeof v !== 'number') throw new JobPayloadError('a payload upgrade lost the version');
  }
  data = payload;
  const parsed = JobSchema.safeParse(data);
  if (!parsed.success) throw new JobPayloadError(`bad job payload: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

export interface JobPolicy {
  attempts: number;
  /** First retry delay; doubles each attempt (exponential backoff). */
  backoffMs: number;
  timeoutMs: number;
  /** Jobs of this kind one worker process runs at once (WORKER_CONCURRENCY scales analyses). */
  concurrency: number;
  /** Lower runs first (BullMQ priority); batches yield to interactive analyses. */
  priority: number;
  /** Finished jobs kept in Redis (only after their result is stored in the database). */
  keepCompleted: { age: number; count: number };
  keepFailed: { age: number; count: number };
}

export const JOB_POLICY: { readonly [K in JobKind]: JobPolicy } = {
  analysis: { attempts: 3, backoffMs: 5_000, timeoutMs: 30 * 60_000, concurrency: 1, priority: 5, keepCompleted: { age: 86_400, count: 1000 }, keepFailed: { age: 7 * 86_400, count: 1000 } },
  repair: { attempts: 2, backoffMs: 10_000, timeoutMs: 60 * 60_000, concurrency: 1, priority: 5, keepCompleted: { age: 86_400, count: 500 }, keepFailed: { age: 7 * 86_400, count: 500 } },
  batch: { attempts: 5, backoffMs: 2_000, timeoutMs: 24 * 3600_000, concurrency: 4, priority: 10, keepCompleted: { age: 7 * 86_400, count: 200 }, keepFailed: { age: 14 * 86_400, count: 200 } },
  proxy: { attempts: 2, backoffMs: 5_000, timeoutMs: 30 * 60_000, concurrency: 1, priority: 8, keepCompleted: { age: 3_600, count: 200 }, keepFailed: { age: 86_400, count: 200 } },
};

/** One handler per job kind; a missing kind is a compile error. */
export type JobHandlers<R> = { [K in JobKind]: (job: JobOf<K>) => Promise<R> };

export function dispatchJob<R>(handlers: JobHandlers<R>, job: Job): Promise<R> {
  // The cast is safe: handlers[job.kind] accepts exactly JobOf<typeof job.kind>.
  return (handlers[job.kind] as (j: Job) => Promise<R>)(job);
}
