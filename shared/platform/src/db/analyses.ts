// The analyses table: one row per submitted master/dub pair, holding the engine's report once done.
import type { Knex } from 'knex';
import type { AnalysisResult, Verdict } from '@sync-analyzer/engine';
import type { AnalysisOptions } from '../jobs.ts';
import { FINAL_STATUSES, PRIORITIES } from './types.ts';
import type { AnalysisFilter, AnalysisRecord, AnalysisRepository, AnalysisStatus, FileFingerprint, NewAnalysis, Page, Priority } from './types.ts';
import { clampPercent, countOf, insertChunked, likeContains, pageBounds, toBool, toIso, type Clock, type Db } from './common.ts';
import { StoreInputError, guardWrite } from './errors.ts';
import { parseJson, stringifyExact } from './json.ts';

export interface AnalysisRow {
  id: string;
  status: AnalysisStatus;
  priority: Priority;
  master_path: string;
  dub_path: string;
  master_path_lc: string;
  dub_path_lc: string;
  options: string;
  dedupe_key: string;
  master_fingerprint: string;
  dub_fingerprint: string;
  batch_id: string | null;
  batch_index: number | null;
  episode: string | null;
  notes: string | null;
  repair_id: string | null;
  progress_percent: number;
  progress_stage: string | null;
  attempts: number;
  result: string | null;
  verdict: Verdict | null;
  match: boolean | number | null;
  offset_seconds: number | null;
  confidence: number | null;
  engine_version: string | null;
  schema_version: string | null;
  error_code: string | null;
  error_message: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
}

const FINAL: string[] = [...FINAL_STATUSES];
/** markEnded's statuses, and the ones a retry may start from. */
const ENDED = ['failed', 'cancelled', 'timed_out'] as const;
/** findReusable: a failed or cancelled run is not worth sharing. */
const REUSABLE = ['queued', 'running', 'completed'];
const UNFINISHED = ['queued', 'running'];

function requireText(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new StoreInputError(`${what} must be a non-empty string`);
  return v;
}

export function requirePriority(p: unknown): Priority {
  if (!(PRIORITIES as readonly unknown[]).includes(p)) throw new StoreInputError(`unknown priority: ${String(p)}`);
  return p as Priority;
}

/** The row for a new analysis (status queued). */
export function newAnalysisRow(a: NewAnalysis, at: string): AnalysisRow {
  const masterPath = requireText(a.masterPath, 'masterPath');
  const dubPath = requireText(a.dubPath, 'dubPath');
  return {
    id: requireText(a.id, 'id'),
    status: 'queued',
    priority: requirePriority(a.priority),
    master_path: masterPath,
    dub_path: dubPath,
    master_path_lc: masterPath.toLowerCase(),
    dub_path_lc: dubPath.toLowerCase(),
    options: stringifyExact(a.options ?? {}),
    dedupe_key: requireText(a.dedupeKey, 'dedupeKey'),
    master_fingerprint: stringifyExact(a.masterFingerprint),
    dub_fingerprint: stringifyExact(a.dubFingerprint),
    batch_id: a.batchId ?? null,
    batch_index: a.batchIndex ?? null,
    episode: a.episode ?? null,
    notes: a.notes ?? null,
    repair_id: a.repairId ?? null,
    progress_percent: 0,
    progress_stage: null,
    attempts: 0,
    result: null,
    verdict: null,
    match: null,
    offset_seconds: null,
    confidence: null,
    engine_version: null,
    schema_version: null,
    error_code: null,
    error_message: null,
    created_at: at,
    started_at: null,
    finished_at: null,
    updated_at: at,
  };
}

export function toAnalysis(row: AnalysisRow): AnalysisRecord {
  const result = row.result === null ? null : parseJson<AnalysisResult>(row.result);
  return {
    id: row.id,
    status: row.status,
    priority: row.priority,
    masterPath: row.master_path,
    dubPath: row.dub_path,
    options: parseJson<AnalysisOptions>(row.options),
    dedupeKey: row.dedupe_key,
    masterFingerprint: parseJson<FileFingerprint>(row.master_fingerprint),
    dubFingerprint: parseJson<FileFingerprint>(row.dub_fingerprint),
    batchId: row.batch_id,
    batchIndex: row.batch_index === null ? null : Number(row.batch_index),
    episode: row.episode,
    notes: row.notes,
    repairId: row.repair_id,
    progressPercent: Number(row.progress_percent),
    progressStage: row.progress_stage,
    attempts: Number(row.attempts),
    result,
    // Read from the stored document rather than the columns: the columns exist for filtering,
    // and neither database keeps a -0 offset, which the document does.
    verdict: result ? result.verdict : row.verdict,
    match: result ? result.match : toBool(row.match),
    offsetSeconds: result ? result.offset_seconds : row.offset_seconds,
    confidence: result ? result.confidence : row.confidence,
    engineVersion: result ? (result.engine?.version ?? null) : row.engine_version,
    schemaVersion: result ? (result.schema_version ?? null) : row.schema_version,
    errorCode: row.error_code,
    errorMessage: row.error_message,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    updatedAt: row.updated_at,
  };
}

/** Inserts new analyses (inside the caller's transaction when given one). */
export async function insertAnalyses(db: Db, items: NewAnalysis[], at: string): Promise<AnalysisRecord[]> {
  const rows = items.map((a) => newAnalysisRow(a, at));
  await insertChunked(db, 'analyses', rows);
  return rows.map(toAnalysis);
}

export function analysisRepository(k: Knex, clock: Clock): AnalysisRepository {
  const table = (db: Db = k) => db<AnalysisRow>('analyses');
  const notFinal = (db: Db = k) => table(db).whereNotIn('status', FINAL);

  return {
    async create(a) {
      const at = clock().toISOString();
      const [rec] = await guardWrite(() => insertAnalyses(k, [a], at));
      return rec!;
    },

    async createMany(items) {
      if (items.length === 0) return [];
      const at = clock().toISOString();
      return guardWrite(() => k.transaction((trx) => insertAnalyses(trx, items, at)));
    },

    async get(id) {
      const row = await table().where('id', id).first();
      return row ? toAnalysis(row as AnalysisRow) : null;
    },

    async list(filter: AnalysisFilter): Promise<Page<AnalysisRecord>> {
      const { limit, offset } = pageBounds(filter.limit, filter.offset);
      const from = filter.createdFrom === undefined ? undefined : toIso(filter.createdFrom, 'createdFrom');
      const to = filter.createdTo === undefined ? undefined : toIso(filter.createdTo, 'createdTo');
      const filtered = (qb: Knex.QueryBuilder): Knex.QueryBuilder => {
        if (filter.status !== undefined) qb.where('status', filter.status);
        if (filter.verdict !== undefined) qb.where('verdict', filter.verdict);
        if (filter.batchId !== undefined) qb.where('batch_id', filter.batchId);
        if (from !== undefined) qb.where('created_at', '>=', from);
        if (to !== undefined) qb.where('created_at', '<', to);
        if (filter.file !== undefined && filter.file !== '') {
          const pattern = likeContains(filter.file.toLowerCase());
          qb.where((w) => {
            w.whereRaw("master_path_lc LIKE ? ESCAPE '\\'", [pattern]).orWhereRaw("dub_path_lc LIKE ? ESCAPE '\\'", [pattern]);
          });
        }
        return qb;
      };
      const countRow = (await filtered(k('analyses')).count({ n: '*' }).first()) as Record<string, unknown> | undefined;
      const rows = (await filtered(k('analyses').select('*'))
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(limit)
        .offset(offset)) as AnalysisRow[];
      return { items: rows.map(toAnalysis), total: countOf(countRow), limit, offset };
    },

    async findReusable(dedupeKey) {
      const row = await table()
        .where('dedupe_key', dedupeKey)
        .whereIn('status', REUSABLE)
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .first();
      return row ? toAnalysis(row as AnalysisRow) : null;
    },

    async listUnfinished() {
      const rows = (await table()
        .whereIn('status', UNFINISHED)
        .orderBy([
          { column: 'created_at', order: 'asc' },
          { column: 'id', order: 'asc' },
        ])) as AnalysisRow[];
      return rows.map(toAnalysis);
    },

    async markRunning(id, attempt, at) {
      if (!Number.isInteger(attempt) || attempt < 1) throw new StoreInputError(`attempt must be a positive integer, got ${String(attempt)}`);
      const ts = toIso(at);
      // A repeated notice for the attempt already running (a re-delivered event) keeps its progress
      // and start time; a new attempt starts again from 0.
      const same = "status = 'running' AND attempts = ?";
      await notFinal()
        .where('id', id)
        .update({
          status: 'running',
          progress_percent: k.raw(`CASE WHEN ${same} THEN progress_percent ELSE 0 END`, [attempt]),
          progress_stage: k.raw(`CASE WHEN ${same} THEN progress_stage ELSE NULL END`, [attempt]),
          started_at: k.raw(`CASE WHEN ${same} THEN started_at ELSE ? END`, [attempt, ts]),
          attempts: attempt,
          updated_at: ts,
        } as Record<string, unknown>);
    },

    async updateProgress(id, percent, stage) {
      const p = clampPercent(percent);
      // The guard on the stored percent keeps it monotonic even when events arrive out of order.
      await notFinal()
        .where('id', id)
        .where('progress_percent', '<=', p)
        .update({ progress_percent: p, progress_stage: stage, updated_at: clock().toISOString() });
    },

    async storeResult(id, result, at) {
      if (result === null || typeof result !== 'object') throw new StoreInputError('result must be an AnalysisResult object');
      const ts = toIso(at);
      const changed = await notFinal()
        .where('id', id)
        .update({
          status: 'completed',
          result: stringifyExact(result),
          verdict: result.verdict,
          match: result.match,
          offset_seconds: result.offset_seconds,
          confidence: result.confidence,
          engine_version: result.engine?.version ?? null,
          schema_version: result.schema_version ?? null,
          progress_percent: 100,
          error_code: null,
          error_message: null,
          finished_at: ts,
          updated_at: ts,
        });
      return changed > 0;
    },

    async markEnded(id, status, code, message, at) {
      if (!(ENDED as readonly string[]).includes(status)) throw new StoreInputError(`markEnded takes failed, cancelled or timed_out, got ${String(status)}`);
      const ts = toIso(at);
      const changed = await notFinal()
        .where('id', id)
        .update({ status, error_code: code, error_message: message, finished_at: ts, updated_at: ts });
      return changed > 0;
    },

    async resetForRetry(id, at) {
      const ts = toIso(at);
      const changed = await table()
        .where('id', id)
        .whereIn('status', ENDED as readonly string[] as string[])
        .update({
          status: 'queued',
          result: null,
          verdict: null,
          match: null,
          offset_seconds: null,
          confidence: null,
          engine_version: null,
          schema_version: null,
          error_code: null,
          error_message: null,
          progress_percent: 0,
          progress_stage: null,
          started_at: null,
          finished_at: null,
          updated_at: ts,
        });
      return changed > 0;
    },
  };
}
