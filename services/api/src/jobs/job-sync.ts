// Keeps the database in step with the queue. The API is the only database writer: workers
// return results through BullMQ, and this module stores them, from live queue events and from a
// periodic reconciliation that also runs at start (results produced while the API was down are
// stored then; submissions Redis lost are queued again). Finished jobs are removed from Redis
// only after their result is stored.
import { QueueEvents, type Job as BullJob } from 'bullmq';
import {
  FINAL_STATUSES,
  JOB_POLICY,
  connectRedis,
  deliverWebhook,
  type AnalysisRecord,
  type JobKind,
  type JobQueues,
  type Logger,
  type Store,
} from '@sync-analyzer/platform';
import { AnalysisResult } from '@sync-analyzer/engine';
import type { JobEventBus } from './events.ts';
import { parseFailure, failureStatus } from './failure.ts';
import { analysisJob, repairJob, newId } from './submissions.ts';
import { fingerprintFile, dedupeKey, type MediaRoot, type OutputRoot } from '@sync-analyzer/platform';
import { ENGINE_VERSION } from '@sync-analyzer/engine';
import type { Metrics } from '../metrics.ts';
import type { Proxies } from './proxies.ts';

export interface JobSyncDeps {
  store: Store;
  queues: JobQueues;
  redisUrl: string;
  prefix: string;
  logger: Logger;
  events: JobEventBus;
  metrics: Metrics;
  mediaRoot: MediaRoot;
  outputRoot: OutputRoot;
  webhookSecret: string | null;
  /** Listening proxies, prepared as soon as an analysis completes. */
  proxies?: Proxies;
  /** Reconciliation period (ms). */
  reconcileEveryMs?: number;
  /** Webhook retry base delay (ms; tests shorten it). */
  webhookBaseDelayMs?: number;
}

const nowIso = () => new Date().toISOString();

export class JobSync {
  private readonly listeners: QueueEvents[] = [];
  private readonly connections: import('ioredis').Redis[] = [];
  private timer: NodeJS.Timeout | null = null;
  private reconciling: Promise<void> | null = null;
  private readonly webhooks = new Set<Promise<unknown>>();
  private readonly webhookAbort = new AbortController();
  private stopped = false;

  constructor(private readonly d: JobSyncDeps) {}

  async start(): Promise<void> {
    for (const kind of ['analysis', 'repair', 'batch', 'proxy'] as const) {
      const connection = connectRedis(this.d.redisUrl, 'consumer', this.d.logger, `events-${kind}`);
      this.connections.push(connection);
      const qe = new QueueEvents(kind, { connection, prefix: this.d.prefix });
      qe.on('error', (err) => this.d.logger.debug({ err, kind }, 'queue events error'));
      qe.on('active', ({ jobId }) => void this.safe(() => this.onActive(kind, jobId)));
      qe.on('progress', ({ jobId, data }) => void this.safe(() => this.onProgress(kind, jobId, data)));
      qe.on('completed', ({ jobId }) => void this.safe(() => this.sync(kind, jobId)));
      qe.on('failed', ({ jobId }) => void this.safe(() => this.sync(kind, jobId)));
      this.listeners.push(qe);
    }
    // Catch up on whatever happened while no API was running.
    await this.reconcile().catch((err: unknown) => this.d.logger.warn({ err }, 'start-up reconciliation failed; retrying periodically'));
    this.timer = setInterval(() => void this.reconcile().catch((err: unknown) => this.d.logger.debug({ err }, 'reconciliation failed')), this.d.reconcileEveryMs ?? 15_000);
    this.timer.unref();
  }

  private async safe(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.d.logger.warn({ err }, 'job event not applied (the reconciler will retry)');
    }
  }

  private async onActive(kind: JobKind, jobId: string): Promise<void> {
    if (kind === 'batch' || kind === 'proxy') return;
    const job = await this.d.queues.queues[kind].getJob(jobId);
    // attemptsStarted counts the run that became active; attemptsMade + 1 reads one more when
    // the job failed between the event and this read.
    const attempt = Math.max(1, job?.attemptsStarted ?? (job?.attemptsMade ?? 0) + 1);
    if (kind === 'analysis') await this.d.store.analyses.markRunning(jobId, attempt, nowIso());
    else await this.d.store.repairs.markRunning(jobId, nowIso());
    this.d.events.emit({ type: 'status', kind, id: jobId, status: 'running' });
  }

  private async onProgress(kind: JobKind, jobId: string, data: unknown): Promise<void> {
    if (kind === 'batch' || kind === 'proxy' || typeof data !== 'object' || data === null) return;
    const p = data as { percent?: unknown; stage?: unknown };
    if (typeof p.percent !== 'number') return;
    const stage = typeof p.stage === 'string' ? p.stage : null;
    if (kind === 'analysis') await this.d.store.analyses.updateProgress(jobId, p.percent, stage ?? '');
    else await this.d.store.repairs.updateProgress(jobId, p.percent);
    this.d.events.emit({ type: 'progress', kind, id: jobId, percent: p.percent, stage });
  }

  /** Brings one record in line with its job (idempotent; safe to call any number of times). */
  async sync(kind: JobKind, jobId: string): Promise<void> {
    const queue = this.d.queues.queues[kind];
    // State first, then the job: a job read before it finished has no return value or failure
    // reason yet, and storing from that snapshot ends the record as bad_result or "failed
    // without a reason" for good. A final state does not change again, so a read after it is whole.
    const state = await queue.getJobState(jobId);
    if (state === 'completed' || state === 'failed') {
      const job = await queue.getJob(jobId);
      if (!job) return;
      if (state === 'completed') await this.storeCompleted(kind, job);
      else await this.storeFailed(kind, job);
    } else if (state === 'active') await this.onActive(kind, jobId);
  }

  private async storeCompleted(kind: JobKind, job: BullJob): Promise<void> {
    const id = job.id!;
    const at = new Date(job.finishedOn ?? Date.now()).toISOString();
    const seconds = job.processedOn && job.finishedOn ? (job.finishedOn - job.processedOn) / 1000 : null;
    if (kind === 'analysis') {
      const value = job.returnvalue as { result?: unknown } | null;
      const parsed = AnalysisResult.safeParse(value?.result);
      if (!parsed.success) {
        if (await this.d.store.analyses.markEnded(id, 'failed', 'bad_result', `the worker returned a result that does not match the schema: ${parsed.error.issues[0]?.message}`, at)) this.after('analysis', id, 'failed', seconds);
        return;
      }
      // Stored as the worker sent it: the parse above only checks it.
      if (await this.d.store.analyses.storeResult(id, value!.result as AnalysisResult, at)) this.after('analysis', id, 'completed', seconds);
    } else if (kind === 'repair') {
      const value = job.returnvalue as { outcome?: unknown } | null;
      if (!value?.outcome) {
        if (await this.d.store.repairs.markEnded(id, 'failed', 'bad_result', 'the worker returned no repair outcome', at)) this.after('repair', id, 'failed', seconds);
        return;
      }
      if (await this.d.store.repairs.storeOutcome(id, value.outcome as never, at)) this.after('repair', id, 'completed', seconds);
      await this.ensureVerification(id);
    } else if (kind === 'batch') {
      await this.completeBatch(id);
    } else {
      // Proxies live in the cache directory, not in the database.
      this.d.events.emit({ type: 'status', kind: 'proxy', id, status: 'completed' });
    }
  }

  private async storeFailed(kind: JobKind, job: BullJob): Promise<void> {
    const id = job.id!;
    const at = new Date(job.finishedOn ?? Date.now()).toISOString();
    const { code, message } = parseFailure(job.failedReason);
    const status = failureStatus(code);
    const seconds = job.processedOn && job.finishedOn ? (job.finishedOn - job.processedOn) / 1000 : null;
    if (kind === 'analysis') {
      if (await this.d.store.analyses.markEnded(id, status, code, message, at)) this.after('analysis', id, status, seconds);
    } else if (kind === 'repair') {
      if (await this.d.store.repairs.markEnded(id, status, code, message, at)) this.after('repair', id, status, seconds);
    } else if (kind === 'batch') {
      await this.completeBatch(id);
    } else {
      this.d.events.emit({ type: 'status', kind: 'proxy', id, status: 'failed' });
    }
  }

  /** Side effects of a record reaching a final status (runs once: only on the transition). */
  private after(kind: 'analysis' | 'repair', id: string, status: string, seconds: number | null): void {
    this.d.metrics.jobFinished(kind, status, seconds);
    this.d.events.emit({ type: 'status', kind, id, status });
    this.d.logger.info({ kind, id, status }, 'job result stored');
    if (kind === 'analysis') void this.safe(async () => {
      const rec = await this.d.store.analyses.get(id);
      if (rec?.batchId) await this.completeBatch(rec.batchId);
      // Operators open results to listen: have the proxies ready (interactive analyses only).
      if (rec && status === 'completed' && !rec.batchId && this.d.proxies) for (const side of ['master', 'dub'] as const) await this.d.proxies.ensure(rec, side);
    });
  }

  private async completeBatch(batchId: string): Promise<void> {
    if (await this.d.store.batches.completeIfDone(batchId, nowIso())) {
      this.d.events.emit({ type: 'status', kind: 'batch', id: batchId, status: 'completed' });
      this.d.logger.info({ batchId }, 'batch completed');
      const b = await this.d.store.batches.get(batchId);
      if (b?.webhookUrl) this.sendWebhook(batchId);
    }
  }

  private sendWebhook(batchId: string): void {
    const p = (async () => {
      const b = await this.d.store.batches.get(batchId);
      if (!b?.webhookUrl || !this.d.webhookSecret) return;
      await this.d.store.batches.setWebhookState(batchId, 'pending', b.webhookAttempts, null, nowIso());
      const counts = await this.d.store.batches.counts(batchId);
      const items = await this.d.store.batches.items(batchId);
      const body = {
        event: 'batch.completed',
        batch: { id: b.id, name: b.name, total: b.total, counts, finished_at: b.finishedAt },
        items: items.map((i) => ({ id: i.id, index: i.batchIndex, episode: i.episode, master: i.masterPath, dub: i.dubPath, status: i.status, verdict: i.verdict, offset_seconds: i.offsetSeconds, confidence: i.confidence, error: i.errorCode ? { code: i.errorCode, message: i.errorMessage } : null })),
      };
      const out = await deliverWebhook(b.webhookUrl, body, {
        secret: this.d.webhookSecret,
        event: 'batch.completed',
        logger: this.d.logger,
        signal: this.webhookAbort.signal,
        ...(this.d.webhookBaseDelayMs ? { baseDelayMs: this.d.webhookBaseDelayMs } : {}),
      });
      await this.d.store.batches.setWebhookState(batchId, out.delivered ? 'delivered' : 'failed', b.webhookAttempts + out.attempts, out.lastError, nowIso());
      this.d.logger.info({ batchId, delivered: out.delivered, attempts: out.attempts }, 'batch webhook');
    })().catch((err: unknown) => this.d.logger.warn({ err, batchId }, 'webhook delivery stopped'));
    this.webhooks.add(p);
    void p.finally(() => this.webhooks.delete(p));
  }

  /** A completed repair with a master to verify against gets its verification analysis (once). */
  private async ensureVerification(repairId: string): Promise<void> {
    const r = await this.d.store.repairs.get(repairId);
    if (!r || r.status !== 'completed' || r.verificationAnalysisId || !r.options.verifyMaster || !r.outputPath) return;
    // The repaired file lives under the output root; the verification reads it from there only
    // when the output root is inside the media root (the usual layout); otherwise it is skipped.
    const outAbs = `${this.d.outputRoot.realRoot}/${r.outputPath}`;
    let dubRel: string;
    try {
      dubRel = (await this.d.mediaRoot.resolveFile(outAbs)).relative;
    } catch {
      this.d.logger.warn({ repairId }, 'repair output is outside the media root: no verification analysis');
      return;
    }
    const master = await this.d.mediaRoot.resolveFile(r.options.verifyMaster);
    const [fm, fd] = await Promise.all([fingerprintFile(master.absolute), fingerprintFile(`${this.d.mediaRoot.realRoot}/${dubRel}`)]);
    const analysis = r.analysisId ? await this.d.store.analyses.get(r.analysisId) : null;
    const options = analysis?.options ?? {};
    const rec = await this.d.store.analyses.create({
      id: newId('an'),
      priority: 'urgent',
      masterPath: master.relative,
      dubPath: dubRel,
      options,
      dedupeKey: dedupeKey(fm, fd, { master: master.relative, dub: dubRel, options, verifies: repairId }, ENGINE_VERSION),
      masterFingerprint: fm,
      dubFingerprint: fd,
      repairId,
    });
    await this.d.store.repairs.setVerification(repairId, rec.id);
    await this.d.queues.add(analysisJob(rec), 'urgent');
    this.d.logger.info({ repairId, analysisId: rec.id }, 'verification analysis queued');
  }

  /** Compares every unfinished record with the queue: store, re-queue or leave. */
  reconcile(): Promise<void> {
    this.reconciling ??= this.doReconcile().finally(() => (this.reconciling = null));
    return this.reconciling;
  }

  private async doReconcile(): Promise<void> {
    if (this.stopped) return;
    let requeued = 0;
    for (const rec of await this.d.store.analyses.listUnfinished()) {
      const job = await this.d.queues.queues.analysis.getJob(rec.id);
      if (job) await this.sync('analysis', rec.id);
      else {
        await this.requeueAnalysis(rec);
        requeued++;
      }
    }
    for (const rec of await this.d.store.repairs.listUnfinished()) {
      const job = await this.d.queues.queues.repair.getJob(rec.id);
      if (job) await this.sync('repair', rec.id);
      else if (rec.outputPath) {
        const analysis = rec.analysisId ? await this.d.store.analyses.get(rec.analysisId) : null;
        await this.d.queues.add(repairJob(rec, analysis), 'urgent');
        requeued++;
      }
    }
    // Repairs completed while the verification step was not reached.
    for (const r of (await this.d.store.repairs.list(100, 0)).items) if (r.status === 'completed' && !r.verificationAnalysisId && r.options.verifyMaster) await this.ensureVerification(r.id);
    for (const b of (await this.d.store.batches.list(100, 0)).items) if (b.status === 'running') await this.completeBatch(b.id);
    for (const b of await this.d.store.batches.listPendingWebhooks()) if (![...this.webhooks].length) this.sendWebhook(b.id);
    if (requeued) this.d.logger.warn({ requeued }, 'queued again submissions that Redis did not have');
    await this.prune();
  }

  private async requeueAnalysis(rec: AnalysisRecord): Promise<void> {
    // Batch children go back as plain jobs: the batch completes from the database's view.
    await this.d.queues.add(analysisJob(rec), rec.priority);
    this.d.logger.warn({ analysisId: rec.id }, 'analysis missing from Redis: queued again');
  }

  /** Removes finished jobs from Redis once stored and older than the kind's retention. */
  async prune(): Promise<number> {
    let removed = 0;
    for (const kind of ['analysis', 'repair', 'batch', 'proxy'] as const) {
      const q = this.d.queues.queues[kind];
      const policy = JOB_POLICY[kind];
      for (const [state, keep] of [['completed', policy.keepCompleted], ['failed', policy.keepFailed]] as const) {
        const jobs = await q.getJobs([state], 0, 999, false);
        // Newest first; anything past `count` or older than `age` may go once stored.
        jobs.sort((a, b) => (b.finishedOn ?? 0) - (a.finishedOn ?? 0));
        for (const [i, job] of jobs.entries()) {
          const old = (job.finishedOn ?? 0) < Date.now() - keep.age * 1000;
          if (!old && i < keep.count) continue;
          if (!(await this.isStored(kind, job.id!))) continue;
          await job.remove().then(() => removed++, () => undefined);
        }
      }
    }
    return removed;
  }

  private async isStored(kind: JobKind, id: string): Promise<boolean> {
    if (kind === 'analysis') {
      const r = await this.d.store.analyses.get(id);
      return !r || FINAL_STATUSES.includes(r.status);
    }
    if (kind === 'repair') {
      const r = await this.d.store.repairs.get(id);
      return !r || FINAL_STATUSES.includes(r.status);
    }
    if (kind === 'proxy') return true;
    const b = await this.d.store.batches.get(id);
    return !b || b.status === 'completed';
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.reconciling?.catch(() => undefined);
    // Webhooks still retrying are abandoned; their 'pending' state re-sends them at next start.
    this.webhookAbort.abort();
    await Promise.allSettled([...this.webhooks]);
    await Promise.allSettled(this.listeners.map((l) => l.close()));
    for (const c of this.connections) c.disconnect();
  }
}
