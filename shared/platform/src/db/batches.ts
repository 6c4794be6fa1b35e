// The batches table: a sheet of analyses submitted together, with its completion webhook state.
import type { Knex } from 'knex';
import { ANALYSIS_STATUSES, FINAL_STATUSES } from './types.ts';
import type { AnalysisRecord, AnalysisStatus, BatchCounts, BatchRecord, BatchRepository, BatchStatus, NewAnalysis, Priority } from './types.ts';
import { insertAnalyses, requirePriority, toAnalysis, type AnalysisRow } from './analyses.ts';
import { countOf, pageBounds, toIso, type Clock } from './common.ts';
import { StoreInputError, guardWrite } from './errors.ts';

interface BatchRow {
  id: string;
  name: string | null;
  status: BatchStatus;
  priority: Priority;
  total: number;
  webhook_url: string | null;
  webhook_status: string | null;
  webhook_attempts: number;
  webhook_last_error: string | null;
  created_at: string;
  finished_at: string | null;
  updated_at: string;
}

const FINAL: string[] = [...FINAL_STATUSES];
const WEBHOOK_STATES = ['pending', 'delivered', 'failed'];

function toBatch(row: BatchRow): BatchRecord {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    priority: row.priority,
    total: Number(row.total),
    webhookUrl: row.webhook_url,
    webhookStatus: row.webhook_status,
    webhookAttempts: Number(row.webhook_attempts),
    webhookLastError: row.webhook_last_error,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
    updatedAt: row.updated_at,
  };
}

export function batchRepository(k: Knex, clock: Clock): BatchRepository {
  const table = () => k<BatchRow>('batches');

  return {
    async create(b, items: NewAnalysis[]) {
      if (typeof b.id !== 'string' || b.id === '') throw new StoreInputError('batch id must be a non-empty string');
      const at = clock().toISOString();
      const row: BatchRow = {
        id: b.id,
        name: b.name ?? null,
        status: 'running',
        priority: requirePriority(b.priority),
        total: items.length,
        webhook_url: b.webhookUrl ?? null,
        // Pending from the start: a batch that completes while the process is down is still
        // found by listPendingWebhooks and delivered at start-up.
        webhook_status: b.webhookUrl ? 'pending' : null,
        webhook_attempts: 0,
        webhook_last_error: null,
        created_at: at,
        finished_at: null,
        updated_at: at,
      };
      // Items belong to this batch, in sheet order unless they carry their own index.
      const owned = items.map((a, i) => ({ ...a, batchId: b.id, batchIndex: a.batchIndex ?? i }));
      const records = await guardWrite(() =>
        k.transaction(async (trx) => {
          await trx('batches').insert(row);
          return insertAnalyses(trx, owned, at);
        }),
      );
      return { batch: toBatch(row), items: records };
    },

    async get(id) {
      const row = await table().where('id', id).first();
      return row ? toBatch(row as BatchRow) : null;
    },

    async list(limit, offset) {
      const b = pageBounds(limit, offset);
      const countRow = (await k('batches').count({ n: '*' }).first()) as Record<string, unknown> | undefined;
      const rows = (await table()
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(b.limit)
        .offset(b.offset)) as BatchRow[];
      return { items: rows.map(toBatch), total: countOf(countRow), limit: b.limit, offset: b.offset };
    },

    async counts(id) {
      const rows = (await k('analyses').where('batch_id', id).select('status').count({ n: '*' }).groupBy('status')) as { status: AnalysisStatus; n: number | string }[];
      const counts = Object.fromEntries(ANALYSIS_STATUSES.map((s) => [s, 0])) as BatchCounts;
      for (const r of rows) counts[r.status] = Number(r.n);
      return counts;
    },

    async items(id): Promise<AnalysisRecord[]> {
      const rows = (await k('analyses')
        .where('batch_id', id)
        .orderBy([
          { column: 'batch_index', order: 'asc' },
          { column: 'created_at', order: 'asc' },
          { column: 'id', order: 'asc' },
        ])) as AnalysisRow[];
      return rows.map(toAnalysis);
    },

    async completeIfDone(id, at) {
      const ts = toIso(at);
      // One conditional statement: of two concurrent callers only one sees status 'running'.
      const changed = await table()
        .where('id', id)
        .where('status', 'running')
        .whereNotExists(k('analyses').select(k.raw('1')).where('batch_id', id).whereNotIn('status', FINAL))
        .update({ status: 'completed', finished_at: ts, updated_at: ts });
      return changed > 0;
    },

    async reopen(id, at) {
      const ts = toIso(at);
      // The batch will complete again, so its webhook is owed again.
      await table()
        .where('id', id)
        .where('status', 'completed')
        .update({
          status: 'running',
          finished_at: null,
          updated_at: ts,
          webhook_status: k.raw("CASE WHEN webhook_url IS NULL THEN NULL ELSE 'pending' END"),
          webhook_attempts: k.raw('CASE WHEN webhook_url IS NULL THEN webhook_attempts ELSE 0 END'),
          webhook_last_error: k.raw('CASE WHEN webhook_url IS NULL THEN webhook_last_error ELSE NULL END'),
        } as Record<string, unknown>);
    },

    async setWebhookState(id, status, attempts, lastError, at) {
      if (!WEBHOOK_STATES.includes(status)) throw new StoreInputError(`unknown webhook status: ${String(status)}`);
      const ts = toIso(at);
      await table().where('id', id).update({ webhook_status: status, webhook_attempts: attempts, webhook_last_error: lastError, updated_at: ts });
    },

    async listPendingWebhooks() {
      const rows = (await table()
        .where('status', 'completed')
        .where('webhook_status', 'pending')
        .whereNotNull('webhook_url')
        .orderBy([
          { column: 'finished_at', order: 'asc' },
          { column: 'id', order: 'asc' },
        ])) as BatchRow[];
      return rows.map(toBatch);
    },
  };
}
