// The worker process's core: one BullMQ Worker per job kind (concurrency from the policy table
// and config), a handler per kind checked at compile time, cancellation over Redis, per-kind
// timeouts, heartbeats, and an ordered shutdown that hands unfinished jobs back to the queue.
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import { DelayedError, UnrecoverableError, Worker, type Job as BullJob } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  JOB_POLICY,
  connectRedis,
  dispatchJob,
  parseJob,
  queueKeys,
  JobPayloadError,
  JobPayloadTooNewError,
  type JobHandlers,
  type JobKind,
  type JobOf,
  type Logger,
  withTimeout,
} from '@sync-analyzer/platform';
import { runJobInChild, JobChildError, JobStoppedError } from './job-runner.ts';
import type { ChildSettings } from './child/messages.ts';

export interface WorkerServiceOptions {
  redisUrl: string;
  prefix: string;
  logger: Logger;
  settings: ChildSettings;
  /** Analyses run at once by this process (WORKER_CONCURRENCY). */
  concurrency: number;
  /** Per-kind timeout overrides (ms); default JOB_POLICY. */
  timeoutMs?: Partial<Record<JobKind, number>>;
  /** BullMQ lock duration / stalled check (ms): a crashed worker's jobs are re-run after this. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** The speech model's provider and version (shown in heartbeats and health). */
  inferenceStatus?: () => Record<string, unknown>;
  /** Test hook: every process the jobs start (job child, ffmpeg). */
  onSpawn?: (jobId: string, pid: number) => void;
}

interface Active {
  kind: JobKind;
  jobId: string;
  controller: AbortController;
  startedAt: number;
  percent: number;
  stage: string;
}

/** `[code] message`: the API reads the code back from BullMQ's failedReason. */
export function failureReason(code: string, message: string): string {
  return `[${code}] ${message}`;
}

export class WorkerService {
  readonly id = `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly connection: Redis;
  private readonly subscriber: Redis;
  private readonly workers: Worker[] = [];
  private readonly active = new Map<string, Active>();
  private readonly keys: ReturnType<typeof queueKeys>;
  private heartbeat: NodeJS.Timeout | null = null;
  private readonly startedAt = new Date().toISOString();
  private stopping = false;
  private completed = 0;
  private failed = 0;

  constructor(private readonly opts: WorkerServiceOptions) {
    this.keys = queueKeys(opts.prefix);
    this.connection = connectRedis(opts.redisUrl, 'consumer', opts.logger, 'worker');
    this.subscriber = connectRedis(opts.redisUrl, 'consumer', opts.logger, 'worker-cancel');
  }

  private readonly handlers: JobHandlers<unknown> = {
    analysis: (job) => this.runChild(job, job.analysisId),
    repair: (job) => this.runChild(job, job.repairId),
    batch: (job) => this.summariseBatch(job),
    proxy: (job) => this.runChild(job, `px_${job.proxyKey}`),
  };

  async start(): Promise<void> {
    await this.subscriber.subscribe(this.keys.cancelChannel);
    this.subscriber.on('message', (_channel: string, jobId: string) => this.cancelLocal(jobId, 'cancel requested'));
    const concurrency: Record<JobKind, number> = {
      analysis: this.opts.concurrency,
      repair: JOB_POLICY.repair.concurrency,
      batch: JOB_POLICY.batch.concurrency,
      proxy: JOB_POLICY.proxy.concurrency,
    };
    for (const kind of ['analysis', 'repair', 'batch', 'proxy'] as const) {
      const worker = new Worker(kind, (job, token, signal) => this.process(kind, job, token, signal), {
        connection: this.connection,
        prefix: this.opts.prefix,
        concurrency: concurrency[kind],
        lockDuration: this.opts.lockDurationMs ?? 60_000,
        stalledInterval: this.opts.stalledIntervalMs ?? 30_000,
        maxStalledCount: 2,
        autorun: true,
      });
      worker.on('error', (err) => this.opts.logger.warn({ err, kind }, 'queue worker error'));
      // A lock this process could not renew has expired or been taken: the stalled-job check
      // gives the job to another worker, so running on here would run it twice at once.
      worker.on('lockRenewalFailed', (jobIds) => {
        for (const jobId of jobIds) this.stopLocal(jobId, new JobStoppedError('lock_lost', 'the job lock was lost; another worker runs it'));
      });
      this.workers.push(worker);
    }
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
    await this.beat();
    this.heartbeat = setInterval(() => void this.beat().catch(() => undefined), 5_000);
    this.heartbeat.unref();
    this.opts.logger.info({ workerId: this.id, concurrency }, 'worker started');
  }

  private async process(kind: JobKind, bull: BullJob, token: string | undefined, signal?: AbortSignal): Promise<unknown> {
    const log = this.opts.logger.child({ jobId: bull.id, kind, attempt: bull.attemptsMade + 1 });
    let job;
    try {
      job = parseJob(bull.data);
    } catch (e) {
      if (e instanceof JobPayloadTooNewError) throw new Error(failureReason('payload_too_new', e.message), { cause: e });
      throw new UnrecoverableError(failureReason('bad_payload', (e as Error).message));
    }
    if (job.kind !== kind) throw new UnrecoverableError(failureReason('bad_payload', `a ${job.kind} job in the ${kind} queue`));
    if (await this.connection.exists(this.keys.cancelKey(bull.id!))) {
      throw new UnrecoverableError(failureReason('cancelled', 'cancelled before it started'));
    }
    const controller = new AbortController();
    signal?.addEventListener('abort', () => controller.abort(new JobStoppedError('cancelled', 'cancelled')), { once: true });
    const entry: Active = { kind, jobId: bull.id!, controller, startedAt: Date.now(), percent: 0, stage: 'queued' };
    this.active.set(bull.id!, entry);
    const timeoutMs = this.opts.timeoutMs?.[kind] ?? JOB_POLICY[kind].timeoutMs;
    const timer = setTimeout(() => controller.abort(new JobStoppedError('timed_out', `timed out after ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    log.info({}, 'job started');
    const t0 = performance.now();
    try {
      const value = await dispatchJob(this.withContext(bull, entry, log), job);
      this.completed++;
      log.info({ seconds: Math.round(performance.now() - t0) / 1000 }, 'job completed');
      return value;
    } catch (e) {
      if (e instanceof JobStoppedError && e.reason === 'shutdown' && token) {
        // Handed back without using up an attempt: it runs again as soon as a worker is free.
        log.warn({}, 'job handed back to the queue at shutdown');
        await bull.moveToDelayed(Date.now() + 1_000, token);
        throw new DelayedError();
      }
      this.failed++;
      throw this.toQueueError(e, log);
    } finally {
      clearTimeout(timer);
      this.active.delete(bull.id!);
    }
  }

  // Handlers get the BullMQ job through this small context rather than through the union.
  private ctx = new WeakMap<object, { bull: BullJob; entry: Active; log: Logger }>();
  private withContext(bull: BullJob, entry: Active, log: Logger): JobHandlers<unknown> {
    const bind = <K extends JobKind>(k: K) => (job: JobOf<K>) => {
      this.ctx.set(job, { bull, entry, log });
      return this.handlers[k](job);
    };
    return { analysis: bind('analysis'), repair: bind('repair'), batch: bind('batch'), proxy: bind('proxy') };
  }

  private toQueueError(e: unknown, log: Logger): Error {
    if (e instanceof JobStoppedError) {
      log.warn({ reason: e.reason }, 'job stopped');
      // Shutdown: the job goes back to the queue (another worker or the next start runs it).
      if (e.reason === 'shutdown') return new Error(failureReason('shutdown', e.message));
      // Not ours any more: BullMQ cannot record this outcome (the lock is gone) and the attempt
      // that holds the lock decides the job.
      if (e.reason === 'lock_lost') return new Error(failureReason('lock_lost', e.message));
      return new UnrecoverableError(failureReason(e.reason, e.message));
    }
    if (e instanceof JobChildError) {
      log.warn({ code: e.code, retryable: e.retryable, err: e }, 'job failed');
      return e.retryable ? new Error(failureReason(e.code, e.message)) : new UnrecoverableError(failureReason(e.code, e.message));
    }
    if (e instanceof JobPayloadError) return new UnrecoverableError(failureReason('bad_payload', e.message));
    log.error({ err: e }, 'job failed unexpectedly');
    return new Error(failureReason('internal', e instanceof Error ? e.message : String(e)));
  }

  private async runChild(job: JobOf<'analysis'> | JobOf<'repair'> | JobOf<'proxy'>, id: string): Promise<unknown> {
    const { bull, entry, log } = this.ctx.get(job)!;
    let lastSent = 0;
    let lastStage = '';
    const child = runJobInChild(job, {
      settings: this.opts.settings,
      logFields: { jobId: id, kind: job.kind, attempt: bull.attemptsMade + 1 },
      signal: entry.controller.signal,
      onProgress: (percent, stage) => {
        entry.percent = percent;
        entry.stage = stage;
        const now = Date.now();
        // Published as it happens, but at most a few times a second (every stage change goes out).
        if (stage !== lastStage || now - lastSent >= 250 || percent >= 100) {
          lastSent = now;
          lastStage = stage;
          void bull.updateProgress({ percent, stage }).catch((err: unknown) => log.debug({ err }, 'progress not published'));
        }
      },
      onSpawn: (pid) => this.opts.onSpawn?.(id, pid),
    });
    log.debug({ childPid: child.pid }, 'job child started');
    return child.result;
  }

  private async summariseBatch(job: JobOf<'batch'>): Promise<unknown> {
    const { bull } = this.ctx.get(job)!;
    const values = await bull.getChildrenValues();
    const failures = await bull.getIgnoredChildrenFailures();
    return { kind: 'batch', batchId: job.batchId, completed: Object.keys(values).length, failed: Object.keys(failures).length };
  }

  /** Stops a job this process is running (cancel request or shutdown). */
  cancelLocal(jobId: string, why: string): boolean {
    return this.stopLocal(jobId, new JobStoppedError('cancelled', why));
  }

  private stopLocal(jobId: string, reason: JobStoppedError): boolean {
    const a = this.active.get(jobId);
    if (!a) return false;
    this.opts.logger.info({ jobId, why: reason.message, reason: reason.reason }, 'stopping job');
    a.controller.abort(reason);
    return true;
  }

  status() {
    return {
      id: this.id,
      host: os.hostname(),
      pid: process.pid,
      startedAt: this.startedAt,
      stopping: this.stopping,
      concurrency: this.opts.concurrency,
      busy: this.active.size > 0,
      completed: this.completed,
      failed: this.failed,
      active: [...this.active.values()].map((a) => ({ jobId: a.jobId, kind: a.kind, percent: a.percent, stage: a.stage, runningSeconds: Math.round((Date.now() - a.startedAt) / 1000) })),
      redis: this.connection.status,
      inference: this.opts.inferenceStatus?.() ?? null,
      running: this.workers.length > 0 && this.workers.every((w) => w.isRunning()),
    };
  }

  /**
   * True when Redis answers a PING within timeoutMs. The connection's status alone stays 'ready'
   * while a hung or paused Redis keeps the socket open without answering.
   */
  async redisAnswers(timeoutMs: number): Promise<boolean> {
    if (this.connection.status !== 'ready') return false;
    return withTimeout(this.connection.ping(), timeoutMs, 'no answer to PING').then(() => true, () => false);
  }

  private async beat(): Promise<void> {
    await this.connection.set(this.keys.workerKey(this.id), JSON.stringify({ ...this.status(), heartbeatAt: new Date().toISOString() }), 'EX', 20);
  }

  /**
   * Ordered shutdown: take no new jobs, let running ones finish within the deadline, then stop
   * what is left (its lock is released, so the job is re-queued for another worker), close Redis.
   */
  async stop(deadlineMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.opts.logger.info({ active: this.active.size, deadlineMs }, 'worker stopping');
    const closing = Promise.all(this.workers.map((w) => w.close()));
    const deadline = new Promise<'deadline'>((r) => setTimeout(() => r('deadline'), deadlineMs).unref());
    if ((await Promise.race([closing.then(() => 'closed' as const), deadline])) === 'deadline') {
      for (const a of this.active.values()) a.controller.abort(new JobStoppedError('shutdown', 'worker shut down before the job finished'));
      await Promise.race([closing, new Promise((r) => setTimeout(r, 5_000).unref())]);
    }
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.connection.del(this.keys.workerKey(this.id)).catch(() => undefined);
    await Promise.allSettled([this.subscriber.quit(), this.connection.quit()]);
    this.opts.logger.info({}, 'worker stopped');
  }
}
