// The API's use cases: submit analyses, batches and repairs; cancel; retry. Every submission is
// written to the database first and queued second, so a Redis outage or crash between the two
// loses nothing (the reconciler queues what Redis does not have).
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ENGINE_VERSION } from '@sync-analyzer/engine';
import {
  FINAL_STATUSES,
  JOB_PAYLOAD_VERSION,
  dedupeKey,
  fingerprintFile,
  type AnalysisOptions,
  type AnalysisRecord,
  type FileFingerprint,
  type JobOf,
  type JobQueues,
  type Logger,
  type MediaRoot,
  type NewAnalysis,
  type OutputRoot,
  type Priority,
  type RepairRecord,
  type Store,
  withTimeout,
} from '@sync-analyzer/platform';
import { ApiError, QueueUnavailableError } from '../http/errors.ts';

export function newId(prefix: 'an' | 'bt' | 'rp'): string {
  return `${prefix}_${randomBytes(10).toString('hex')}`;
}

export function analysisJob(r: AnalysisRecord): JobOf<'analysis'> {
  return {
    kind: 'analysis',
    version: JOB_PAYLOAD_VERSION,
    analysisId: r.id,
    master: r.masterPath,
    dub: r.dubPath,
    options: r.options,
    ...(r.batchId ? { batchId: r.batchId } : {}),
  };
}

export function repairJob(r: RepairRecord, analysis: AnalysisRecord | null): JobOf<'repair'> {
  const res = analysis?.result ?? null;
  return {
    kind: 'repair',
    version: JOB_PAYLOAD_VERSION,
    repairId: r.id,
    dub: r.dubPath,
    output: r.outputPath!,
    offsetSeconds: r.offsetSeconds,
    ...(r.analysisId ? { analysisId: r.analysisId } : {}),
    keepDuration: r.options.keepDuration,
    conformDrift: r.options.conformDrift,
    conformEdits: r.options.conformEdits,
    ...(r.speedRatio !== null ? { speedRatio: r.speedRatio } : {}),
    ...(res && r.options.conformEdits ? { segments: res.segments.map((s) => ({ master_start: s.master_start, master_end: s.master_end, dub_start: s.dub_start, dub_end: s.dub_end })) } : {}),
    ...(analysis?.options.dubSelection ? { dubSelection: analysis.options.dubSelection } : {}),
  };
}

export interface SubmissionDeps {
  store: Store;
  queues: JobQueues;
  mediaRoot: MediaRoot;
  outputRoot: OutputRoot;
  logger: Logger;
  webhookSecret: string | null;
}

export interface AnalysisSubmission {
  master: string;
  dub: string;
  options: AnalysisOptions;
  priority: Priority;
}

export interface BatchItemSubmission {
  master: string;
  dub: string;
  episode?: string | undefined;
  notes?: string | undefined;
  options?: AnalysisOptions | undefined;
}

const nowIso = () => new Date().toISOString();

/** How long a submission waits for Redis before answering 503. */
const QUEUE_ANSWER_MS = 2_000;

export class Submissions {
  constructor(private readonly d: SubmissionDeps) {}

  /**
   * 503 before anything is written when Redis is down (producers fail fast). A Redis that keeps
   * the connection open but does not answer (hung, paused, partitioned) counts as down too.
   */
  private async requireQueue(): Promise<void> {
    try {
      await withTimeout(this.d.queues.connection.ping(), QUEUE_ANSWER_MS, `no answer to PING within ${QUEUE_ANSWER_MS} ms`);
    } catch (e) {
      throw new QueueUnavailableError(e);
    }
  }

  private async enqueue(what: string, id: string, add: () => Promise<void>): Promise<void> {
    try {
      // If the add still lands after the timeout, the reconciler finds the job there (same id).
      await withTimeout(add(), QUEUE_ANSWER_MS, `no answer from Redis within ${QUEUE_ANSWER_MS} ms`);
    } catch (e) {
      this.d.logger.warn({ err: e, id }, 'stored but not queued; the reconciler queues it when Redis is back');
      throw new ApiError(503, 'queue_unavailable', `the ${what} ${id} is stored but could not be queued (Redis unreachable); it will be queued automatically when Redis is back`, { id });
    }
  }

  private async resolvePair(master: string, dub: string) {
    const [m, d] = await Promise.all([this.d.mediaRoot.resolveFile(master), this.d.mediaRoot.resolveFile(dub)]);
    return { m, d };
  }

  async submitAnalysis(s: AnalysisSubmission): Promise<{ record: AnalysisRecord; deduplicated: boolean }> {
    await this.requireQueue();
    const { m, d } = await this.resolvePair(s.master, s.dub);
    const [fm, fd] = await Promise.all([fingerprintFile(m.absolute), fingerprintFile(d.absolute)]);
    const key = dedupeKey(fm, fd, { master: m.relative, dub: d.relative, options: s.options }, ENGINE_VERSION);
    const existing = await this.d.store.analyses.findReusable(key);
    if (existing) {
      this.d.logger.info({ analysisId: existing.id }, 'identical submission: returning the existing analysis');
      return { record: existing, deduplicated: true };
    }
    const record = await this.d.store.analyses.create({
      id: newId('an'),
      priority: s.priority,
      masterPath: m.relative,
      dubPath: d.relative,
      options: s.options,
      dedupeKey: key,
      masterFingerprint: fm,
      dubFingerprint: fd,
    });
    await this.enqueue('analysis', record.id, () => this.d.queues.add(analysisJob(record), record.priority));
    this.d.logger.info({ analysisId: record.id, priority: record.priority }, 'analysis queued');
    return { record, deduplicated: false };
  }

  async createBatch(b: { name?: string | undefined; items: BatchItemSubmission[]; options: AnalysisOptions; priority: Priority; webhookUrl?: string | undefined }) {
    if (b.webhookUrl && !this.d.webhookSecret) throw new ApiError(400, 'webhook_not_configured', 'this server has no WEBHOOK_SECRET, so it cannot sign webhooks; ask the operator to set it, or leave webhook_url out');
    await this.requireQueue();
    // Fingerprint every distinct file once (one master is usually shared by many dubs).
    const fingerprints = new Map<string, Promise<{ relative: string; fp: FileFingerprint }>>();
    const resolve = (p: string) => {
      let f = fingerprints.get(p);
      if (!f) {
        f = this.d.mediaRoot.resolveFile(p).then(async (r) => ({ relative: r.relative, fp: await fingerprintFile(r.absolute) }));
        fingerprints.set(p, f);
      }
      return f;
    };
    const problems: { item: number; field: string; message: string }[] = [];
    const batchId = newId('bt');
    const rows: NewAnalysis[] = [];
    await Promise.all(
      b.items.map(async (it, i) => {
        const [m, d] = await Promise.all([
          resolve(it.master).catch((e: Error) => void problems.push({ item: i + 1, field: 'master', message: e.message })),
          resolve(it.dub).catch((e: Error) => void problems.push({ item: i + 1, field: 'dub', message: e.message })),
        ]);
        if (!m || !d) return;
        const options = { ...b.options, ...(it.options ?? {}) };
        rows[i] = {
          id: newId('an'),
          priority: b.priority,
          masterPath: m.relative,
          dubPath: d.relative,
          options,
          dedupeKey: dedupeKey(m.fp, d.fp, { master: m.relative, dub: d.relative, options }, ENGINE_VERSION),
          masterFingerprint: m.fp,
          dubFingerprint: d.fp,
          batchId,
          batchIndex: i,
          episode: it.episode ?? null,
          notes: it.notes ?? null,
        };
      }),
    );
    if (problems.length) {
      problems.sort((x, y) => x.item - y.item);
      throw new ApiError(422, 'bad_batch_items', `${problems.length} item(s) cannot be analysed: ${problems.slice(0, 5).map((p) => `item ${p.item} ${p.field}: ${p.message}`).join('; ')}${problems.length > 5 ? '; ...' : ''}`, { problems });
    }
    const { batch, items } = await this.d.store.batches.create({ id: batchId, name: b.name ?? null, priority: b.priority, webhookUrl: b.webhookUrl ?? null }, rows);
    await this.enqueue('batch', batch.id, () =>
      this.d.queues.addBatch({ kind: 'batch', version: JOB_PAYLOAD_VERSION, batchId: batch.id, analysisIds: items.map((i) => i.id) }, items.map(analysisJob), batch.priority),
    );
    this.d.logger.info({ batchId: batch.id, items: items.length }, 'batch queued');
    return { batch, items };
  }

  async createRepair(r: { analysisId?: string | undefined; dub?: string | undefined; offsetSeconds?: number | undefined; keepDuration: boolean; conformDrift: boolean; conformEdits: boolean; verify: boolean; master?: string | undefined }): Promise<RepairRecord> {
    let analysis: AnalysisRecord | null = null;
    let dubPath: string;
    let offset: number;
    let speedRatio: number | null = null;
    let verifyMaster: string | null = null;
    if (r.analysisId) {
      if (r.dub !== undefined || r.offsetSeconds !== undefined) throw new ApiError(400, 'invalid_request', 'give either analysis_id, or dub with offset_seconds, not both');
      analysis = await this.d.store.analyses.get(r.analysisId);
      if (!analysis) throw new ApiError(404, 'not_found', `no analysis ${r.analysisId}`);
      const res = analysis.result;
      if (analysis.status !== 'completed' || !res) throw new ApiError(409, 'not_completed', `analysis ${analysis.id} is ${analysis.status}; only a completed analysis can drive a repair`);
      if (!res.match || res.offset_seconds === null) throw new ApiError(409, 'no_match', `analysis ${analysis.id} found no match between master and dub: there is nothing to repair by`);
      if (r.conformEdits && res.segments.length === 0) throw new ApiError(409, 'no_edit_map', 'the analysis has no edit map to conform to');
      dubPath = analysis.dubPath;
      offset = res.offset_seconds;
      speedRatio = res.drift?.speed_ratio ?? null;
      if (r.verify) verifyMaster = analysis.masterPath;
      // The dub must still be the file that was measured.
      const d = await this.d.mediaRoot.resolveFile(dubPath);
      const fp = await fingerprintFile(d.absolute);
      if (fp.headTailSha256 !== analysis.dubFingerprint.headTailSha256 || fp.size !== analysis.dubFingerprint.size) {
        throw new ApiError(409, 'input_changed', `${dubPath} changed since analysis ${analysis.id} measured it; analyse it again`);
      }
    } else {
      if (r.dub === undefined || r.offsetSeconds === undefined) throw new ApiError(400, 'invalid_request', 'give analysis_id, or dub with offset_seconds');
      if (r.conformEdits || r.conformDrift) throw new ApiError(400, 'invalid_request', 'conform_drift and conform_edits need an analysis_id (they use its drift and edit map)');
      dubPath = (await this.d.mediaRoot.resolveFile(r.dub)).relative;
      offset = r.offsetSeconds;
      if (r.verify && r.master) verifyMaster = (await this.d.mediaRoot.resolveFile(r.master)).relative;
    }
    await this.requireQueue();
    const id = newId('rp');
    const ext = path.extname(dubPath);
    const base = path.basename(dubPath, ext);
    const out = await this.d.outputRoot.allocate(path.join('repairs', nowIso().slice(0, 10)), `${base}.synced-${id.slice(3, 11)}${ext}`);
    const repair = await this.d.store.repairs.create({
      id,
      analysisId: analysis?.id ?? null,
      dubPath,
      offsetSeconds: offset,
      speedRatio: r.conformDrift ? speedRatio : null,
      outputPath: out.relative,
      options: { keepDuration: r.keepDuration, conformDrift: r.conformDrift, conformEdits: r.conformEdits, verifyMaster },
    });
    await this.enqueue('repair', repair.id, () => this.d.queues.add(repairJob(repair, analysis), 'urgent'));
    this.d.logger.info({ repairId: repair.id, analysisId: analysis?.id, output: out.relative }, 'repair queued');
    return repair;
  }

  /** Cancels a queued or running analysis; waits briefly for a running one to stop. */
  async cancelAnalysis(id: string): Promise<AnalysisRecord> {
    const rec = await this.d.store.analyses.get(id);
    if (!rec) throw new ApiError(404, 'not_found', `no analysis ${id}`);
    if (FINAL_STATUSES.includes(rec.status)) throw new ApiError(409, 'already_finished', `analysis ${id} is already ${rec.status}`);
    await this.requireQueue();
    await this.d.queues.requestCancel(id);
    const job = await this.d.queues.queues.analysis.getJob(id);
    const state = job ? await job.getState() : 'missing';
    if (state !== 'active') {
      // Not running: take it out of the queue (a batch child is failed by the worker when reached).
      if (job && !rec.batchId && ['waiting', 'delayed', 'prioritized', 'wait'].includes(state)) await job.remove().catch(() => undefined);
      await this.d.store.analyses.markEnded(id, 'cancelled', 'cancelled', 'cancelled before it ran', nowIso());
      return (await this.d.store.analyses.get(id))!;
    }
    // Running: the worker kills its process group; the failure event stores the status.
    for (let i = 0; i < 50; i++) {
      const now = await this.d.store.analyses.get(id);
      if (now && now.status !== 'running' && now.status !== 'queued') return now;
      await new Promise((r) => setTimeout(r, 200));
    }
    return (await this.d.store.analyses.get(id))!;
  }

  async retryAnalysis(id: string): Promise<AnalysisRecord> {
    const rec = await this.d.store.analyses.get(id);
    if (!rec) throw new ApiError(404, 'not_found', `no analysis ${id}`);
    if (!['failed', 'cancelled', 'timed_out'].includes(rec.status)) throw new ApiError(409, 'not_retryable', `analysis ${id} is ${rec.status}; only failed, cancelled or timed-out analyses can be retried`);
    await this.requireQueue();
    await this.d.queues.clearCancel(id);
    const job = await this.d.queues.queues.analysis.getJob(id);
    if (job) await job.remove({ removeChildren: false }).catch(() => undefined);
    await this.d.store.analyses.resetForRetry(id, nowIso());
    if (rec.batchId) await this.d.store.batches.reopen(rec.batchId, nowIso());
    const fresh = (await this.d.store.analyses.get(id))!;
    await this.enqueue('analysis', id, () => this.d.queues.add(analysisJob(fresh), fresh.priority === 'batch' ? 'normal' : fresh.priority));
    return fresh;
  }

  async cancelRepair(id: string): Promise<RepairRecord> {
    const rec = await this.d.store.repairs.get(id);
    if (!rec) throw new ApiError(404, 'not_found', `no repair ${id}`);
    if (!['queued', 'running'].includes(rec.status)) throw new ApiError(409, 'already_finished', `repair ${id} is already ${rec.status}`);
    await this.requireQueue();
    await this.d.queues.requestCancel(id);
    const job = await this.d.queues.queues.repair.getJob(id);
    const state = job ? await job.getState() : 'missing';
    if (state !== 'active') {
      if (job) await job.remove().catch(() => undefined);
      await this.d.store.repairs.markEnded(id, 'cancelled', 'cancelled', 'cancelled before it ran', nowIso());
    }
    for (let i = 0; i < 50; i++) {
      const now = await this.d.store.repairs.get(id);
      if (now && now.status !== 'running' && now.status !== 'queued') return now;
      await new Promise((r) => setTimeout(r, 200));
    }
    return (await this.d.store.repairs.get(id))!;
  }
}
