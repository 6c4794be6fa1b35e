// The repairs table: a dub re-timed by the worker, its outcome and the analysis that verifies it.
import type { Knex } from 'knex';
import { FINAL_STATUSES } from './types.ts';
import type { NewRepair, RepairOptions, RepairOutcome, RepairRecord, RepairRepository, RepairStatus } from './types.ts';
import { clampPercent, countOf, pageBounds, toIso, type Clock } from './common.ts';
import { StoreInputError, guardWrite } from './errors.ts';
import { parseJson, stringifyExact } from './json.ts';

interface RepairRow {
  id: string;
  status: RepairStatus;
  analysis_id: string | null;
  dub_path: string;
  offset_seconds: number;
  speed_ratio: number | null;
  options: string;
  outcome: string | null;
  output_path: string | null;
  verification_analysis_id: string | null;
  progress_percent: number;
  error_code: string | null;
  error_message: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
}

const FINAL: string[] = [...FINAL_STATUSES];
const ENDED = ['failed', 'cancelled', 'timed_out'];

function toRepair(row: RepairRow): RepairRecord {
  return {
    id: row.id,
    status: row.status,
    analysisId: row.analysis_id,
    dubPath: row.dub_path,
    offsetSeconds: Number(row.offset_seconds),
    speedRatio: row.speed_ratio === null ? null : Number(row.speed_ratio),
    options: parseJson<RepairOptions>(row.options),
    outcome: row.outcome === null ? null : parseJson<RepairOutcome>(row.outcome),
    outputPath: row.output_path,
    verificationAnalysisId: row.verification_analysis_id,
    progressPercent: Number(row.progress_percent),
    errorCode: row.error_code,
    errorMessage: row.error_message,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    updatedAt: row.updated_at,
  };
}

export function repairRepository(k: Knex, clock: Clock): RepairRepository {
  const table = () => k<RepairRow>('repairs');
  const notFinal = () => table().whereNotIn('status', FINAL);

  return {
    async create(r: NewRepair) {
      if (typeof r.id !== 'string' || r.id === '') throw new StoreInputError('repair id must be a non-empty string');
      if (typeof r.dubPath !== 'string' || r.dubPath === '') throw new StoreInputError('dubPath must be a non-empty string');
      if (!Number.isFinite(r.offsetSeconds)) throw new StoreInputError('offsetSeconds must be a finite number');
      const at = clock().toISOString();
      const row: RepairRow = {
        id: r.id,
        status: 'queued',
        analysis_id: r.analysisId ?? null,
        dub_path: r.dubPath,
        offset_seconds: r.offsetSeconds,
        speed_ratio: r.speedRatio ?? null,
        options: stringifyExact(r.options),
        outcome: null,
        output_path: r.outputPath ?? null,
        verification_analysis_id: null,
        progress_percent: 0,
        error_code: null,
        error_message: null,
        created_at: at,
        started_at: null,
        finished_at: null,
        updated_at: at,
      };
      await guardWrite(() => k('repairs').insert(row));
      return toRepair(row);
    },

    async get(id) {
      const row = await table().where('id', id).first();
      return row ? toRepair(row as RepairRow) : null;
    },

    async list(limit, offset) {
      const b = pageBounds(limit, offset);
      const countRow = (await k('repairs').count({ n: '*' }).first()) as Record<string, unknown> | undefined;
      const rows = (await table()
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(b.limit)
        .offset(b.offset)) as RepairRow[];
      return { items: rows.map(toRepair), total: countOf(countRow), limit: b.limit, offset: b.offset };
    },

    async listUnfinished() {
      const rows = (await table()
        .whereIn('status', ['queued', 'running'])
        .orderBy([
          { column: 'created_at', order: 'asc' },
          { column: 'id', order: 'asc' },
        ])) as RepairRow[];
      return rows.map(toRepair);
    },

    async markRunning(id, at) {
      const ts = toIso(at);
      // A new run starts from 0; a repeated notice for the run already going keeps its state.
      await notFinal()
        .where('id', id)
        .update({
          status: 'running',
          progress_percent: k.raw("CASE WHEN status = 'running' THEN progress_percent ELSE 0 END"),
          started_at: k.raw("CASE WHEN status = 'running' THEN started_at ELSE ? END", [ts]),
          updated_at: ts,
        } as Record<string, unknown>);
    },

    async updateProgress(id, percent) {
      const p = clampPercent(percent);
      await notFinal().where('id', id).where('progress_percent', '<=', p).update({ progress_percent: p, updated_at: clock().toISOString() });
    },

    async storeOutcome(id, outcome, at) {
      if (outcome === null || typeof outcome !== 'object') throw new StoreInputError('outcome must be a RepairOutcome object');
      const ts = toIso(at);
      const changed = await notFinal()
        .where('id', id)
        .update({
          status: 'completed',
          outcome: stringifyExact(outcome),
          output_path: outcome.outputPath ?? null,
          progress_percent: 100,
          error_code: null,
          error_message: null,
          finished_at: ts,
          updated_at: ts,
        });
      return changed > 0;
    },

    async markEnded(id, status, code, message, at) {
      if (!ENDED.includes(status)) throw new StoreInputError(`markEnded takes failed, cancelled or timed_out, got ${String(status)}`);
      const ts = toIso(at);
      const changed = await notFinal().where('id', id).update({ status, error_code: code, error_message: message, finished_at: ts, updated_at: ts });
      return changed > 0;
    },

    async setVerification(id, analysisId) {
      await guardWrite(() => table().where('id', id).update({ verification_analysis_id: analysisId, updated_at: clock().toISOString() }));
    },

    async resetForRetry(id, at) {
      const ts = toIso(at);
      // The output is written again, so the old outcome and its verification no longer apply.
      const changed = await table()
        .where('id', id)
        .whereIn('status', ENDED)
        .update({
          status: 'queued',
          outcome: null,
          output_path: null,
          verification_analysis_id: null,
          progress_percent: 0,
          error_code: null,
          error_message: null,
          started_at: null,
          finished_at: null,
          updated_at: ts,
        });
      return changed > 0;
    },
  };
}
