// The job queue (BullMQ on Redis): one queue per job kind, so each kind has its own worker
// concurrency; batches are BullMQ flows (a `batch` parent whose children are analyses).
// Jobs carry their database id as the BullMQ job id, so a submission is queued at most once and
// a re-run (stalled-job recovery, retry) updates the same stored record.
import { FlowProducer, Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { JOB_POLICY, type Job, type JobKind, type JobOf } from './jobs.ts';
import type { Priority } from './db/types.ts';

export const JOB_KINDS: readonly JobKind[] = ['analysis', 'repair', 'batch', 'proxy'];

/** BullMQ priority: lower runs first. An urgent analysis overtakes a queued overnight batch. */
export const PRIORITY_RANK: { readonly [P in Priority]: number } = { urgent: 1, normal: 5, batch: 10 };

/** Key layout shared by the API and the workers (prefix: QUEUE_PREFIX, unique per test run). */
export function queueKeys(prefix: string) {
  return {
    prefix,
    /** Cancellation requests: a key per job (survives a missed message) plus a channel. */
    cancelKey: (jobId: string) => `${prefix}:cancel:${jobId}`,
    cancelChannel: `${prefix}:cancel`,
    /** Worker heartbeats (JSON with a TTL). */
    workerKey: (workerId: string) => `${prefix}:worker:${workerId}`,
    workerPattern: `${prefix}:worker:*`,
  };
}

export function jobOptions(kind: JobKind, jobId: string, priority: Priority): JobsOptions {
  const p = JOB_POLICY[kind];
  return {
    jobId,
    attempts: p.attempts,
    backoff: { type: 'exponential', delay: p.backoffMs },
    priority: PRIORITY_RANK[priority],
    // Never dropped by BullMQ: the API removes finished jobs once their result is stored.
    removeOnComplete: false,
    removeOnFail: false,
  };
}

export function jobIdOf(job: Job): string {
  switch (job.kind) {
    case 'analysis':
      return job.analysisId;
    case 'repair':
      return job.repairId;
    case 'batch':
      return job.batchId;
    case 'proxy':
      return `px_${job.proxyKey}`;
  }
}

/** The producer side: the API's handle on the queues. */
export class JobQueues {
  readonly queues: { readonly [K in JobKind]: Queue };
  private readonly flow: FlowProducer;
  readonly keys: ReturnType<typeof queueKeys>;

  constructor(
    readonly connection: Redis,
    prefix: string,
  ) {
    this.keys = queueKeys(prefix);
    const q = (kind: JobKind) => new Queue(kind, { connection, prefix });
    this.queues = { analysis: q('analysis'), repair: q('repair'), batch: q('batch'), proxy: q('proxy') };
    this.flow = new FlowProducer({ connection, prefix });
  }

  /** Queues one job (idempotent: a job id already in Redis is left as it is). */
  async add(job: Job, priority: Priority): Promise<void> {
    const id = jobIdOf(job);
    await this.queues[job.kind].add(job.kind, job, jobOptions(job.kind, id, priority));
  }

  /** Queues a batch parent with its analyses as children; a failed child does not block the parent. */
  async addBatch(batch: JobOf<'batch'>, children: JobOf<'analysis'>[], priority: Priority): Promise<void> {
    await this.flow.add({
      name: 'batch',
      queueName: 'batch',
      data: batch,
      opts: jobOptions('batch', batch.batchId, priority),
      children: children.map((c) => ({
        name: 'analysis',
        queueName: 'analysis',
        data: c,
        opts: { ...jobOptions('analysis', c.analysisId, priority), ignoreDependencyOnFailure: true },
      })),
    });
  }

  /** Asks whichever worker runs (or will pick up) this job to stop it. */
  async requestCancel(jobId: string): Promise<void> {
    await this.connection.set(this.keys.cancelKey(jobId), '1', 'EX', 7 * 86_400);
    await this.connection.publish(this.keys.cancelChannel, jobId);
  }

  async clearCancel(jobId: string): Promise<void> {
    await this.connection.del(this.keys.cancelKey(jobId));
  }

  async close(): Promise<void> {
    await Promise.all([...Object.values(this.queues).map((q) => q.close()), this.flow.close()]);
  }
}
