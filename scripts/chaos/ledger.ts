// The invariants every chaos scenario asserts, in one place: it remembers every submitted
// analysis, snapshots each stored report when it first becomes final, and at the end reads the
// store directly (knex, read only, on the stack's SQLite file or PostgreSQL database) and through
// the API:
//   lost       = submitted ids not in a final state (or missing) in the store or via the API
//   duplicated = a submission stored more than once, a job run by two workers at the same time,
//                or a job run again after its result was acknowledged (worker job-event logs)
//   changed    = a stored report (hash of result, status, offset...) that differs from its first
//                final snapshot, or an API answer that differs from the stored row
// Re-runs of a job whose first run never reached the queue's "completed" (the worker or Redis was
// killed in between) are at-least-once delivery, not duplicates: they are counted apart.
import { createHash } from 'node:crypto';
import knex, { type Knex } from 'knex';
import type { AnalysisSnapshot, ExitInfo, JobEvent, StackHealth } from './stack.ts';
import type { Check, ScenarioRow } from './table.ts';

/** A stored analysis row, as the ledger reads it. */
export interface StoredRow {
  id: string;
  status: string;
  result: string | null;
  offset_seconds: number | null;
  verdict: string | null;
  confidence: number | null;
  error_code: string | null;
  error_message: string | null;
  attempts: number;
  finished_at: string | null;
  dedupe_key: string;
  master_path: string;
  dub_path: string;
}

const FINAL = new Set(['completed', 'failed', 'cancelled', 'timed_out']);
const COLUMNS = ['id', 'status', 'result', 'offset_seconds', 'verdict', 'confidence', 'error_code', 'error_message', 'attempts', 'finished_at', 'dedupe_key', 'master_path', 'dub_path'];

/** Read-only access to the report store (never writes; a second process beside the API). */
export class StoreReader {
  private constructor(private readonly k: Knex) {}

  static open(db: { sqliteFile: string | null; databaseUrl: string | null }): StoreReader {
    if (db.databaseUrl) {
      return new StoreReader(
        knex({
          client: 'pg',
          connection: { connectionString: db.databaseUrl, application_name: 'chaos-ledger' },
          pool: {
            min: 0,
            max: 1,
            afterCreate(conn: { query(sql: string, cb: (err: Error | null) => void): void }, done: (err: Error | null, conn: unknown) => void) {
              conn.query('SET default_transaction_read_only = on', (err) => done(err, conn));
            },
          },
        }),
      );
    }
    if (!db.sqliteFile) throw new Error('StoreReader needs a SQLite file or a PostgreSQL URL');
    return new StoreReader(
      knex({
        client: 'better-sqlite3',
        connection: { filename: db.sqliteFile, options: { readonly: true } },
        useNullAsDefault: true,
        pool: {
          min: 1,
          max: 1,
          afterCreate(conn: { pragma(s: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
            try {
              // Waits out the writer's locks (the API, or a chaos fault holding the database).
              conn.pragma('busy_timeout = 10000');
              done(null, conn);
            } catch (e) {
              done(e as Error, conn);
            }
          },
        },
      }),
    );
  }

  /** Every analysis row (ids given: only those). */
  async rows(ids?: readonly string[]): Promise<StoredRow[]> {
    const out: StoredRow[] = [];
    if (!ids) return (await this.k('analyses').select(COLUMNS)) as StoredRow[];
    for (let i = 0; i < ids.length; i += 500) out.push(...((await this.k('analyses').select(COLUMNS).whereIn('id', ids.slice(i, i + 500))) as StoredRow[]));
    return out;
  }

  /** Rows per table (for backup/restore comparisons). */
  async counts(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const t of ['analyses', 'batches', 'repairs']) {
      const [row] = (await this.k(t).count({ n: '*' })) as { n: number | string }[];
      out[t] = Number(row?.n ?? 0);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.k.destroy();
  }
}

/** What the ledger knows about a submission. */
export interface Expectation {
  /** Known offset of the dub (seconds, positive: late); checked against the stored offset. */
  offsetSeconds?: number;
  /** Allowed |stored - known| (default DEFAULT_OFFSET_TOLERANCE). */
  toleranceSeconds?: number;
  /** The final status this submission must reach (default 'completed'). */
  expectStatus?: string;
}

/** The engine's accuracy on clean constant-offset pairs is well within 1 ms (bench). */
export const DEFAULT_OFFSET_TOLERANCE = 0.001;

/** What the ledger reads from a stack (ChaosStack satisfies it). */
export interface LedgerSource {
  sqliteFile: string | null;
  databaseUrl: string | null;
  getAnalysis(id: string): Promise<AnalysisSnapshot | null>;
  jobEvents: readonly JobEvent[];
  processExits(): (ExitInfo & { pid: number; process: string })[];
}

export interface LedgerReport {
  submitted: number;
  completed: number;
  failed: number;
  failedReasons: Record<string, number>;
  lost: number;
  lostIds: string[];
  duplicated: number;
  /** Submissions with more than one stored row (same dedupe key and paths). */
  duplicateRows: number;
  /** Jobs two worker processes ran at the same time. */
  concurrentRuns: { jobId: string; workers: string[] }[];
  /** Jobs started again after their result had been stored (not explained by a crash). */
  rerunAfterStored: string[];
  /** Runs beyond the first, each explained by a crash (the earlier run never finished). */
  reruns: number;
  changed: number;
  changedIds: string[];
  /** API answers that differ from the stored row (status, offset or result). */
  apiMismatches: string[];
  offsetMismatches: { id: string; expected: number; got: number | null }[];
  /** Submissions that did not reach the status they were expected to. */
  unexpectedStatus: { id: string; expected: string; got: string }[];
  /** Rows in the store that no one recorded (a submission the client thinks failed). */
  unknownRows: number;
}

export function hashRow(r: StoredRow): string {
  return createHash('sha256')
    .update(JSON.stringify([r.status, r.result, r.offset_seconds, r.verdict, r.confidence, r.error_code, r.error_message, r.finished_at]))
    .digest('hex');
}

export interface VerifyOptions {
  /**
   * Periods when Redis lost acknowledged writes on purpose (a SIGKILL with appendfsync everysec
   * loses up to the last second): a job whose result was stored inside one may legitimately run
   * again. [from, to] in ms since the epoch.
   */
  redisLossWindows?: [number, number][];
}

export class Ledger {
  private readonly expected = new Map<string, Expectation & { at: number }>();
  private readonly firstFinal = new Map<string, string>();
  private reader: StoreReader | null = null;

  constructor(private readonly source: LedgerSource) {}

  record(id: string, e: Expectation = {}): void {
    if (!this.expected.has(id)) this.expected.set(id, { ...e, at: Date.now() });
  }

  ids(): string[] {
    return [...this.expected.keys()];
  }

  get size(): number {
    return this.expected.size;
  }

  private store(): StoreReader {
    this.reader ??= StoreReader.open(this.source);
    return this.reader;
  }

  /** Snapshots every recorded report that has become final since the last call. */
  async observe(): Promise<void> {
    const pending = this.ids().filter((id) => !this.firstFinal.has(id));
    if (pending.length === 0) return;
    let rows: StoredRow[];
    try {
      rows = await this.store().rows(pending);
    } catch {
      return; // The database may be busy or locked on purpose; the next round retries.
    }
    for (const r of rows) if (FINAL.has(r.status)) this.firstFinal.set(r.id, hashRow(r));
  }

  /** The whole account: reads the store and the API once per submission. */
  async verify(o: VerifyOptions = {}): Promise<LedgerReport> {
    await this.observe();
    const ids = this.ids();
    const all = await this.store().rows();
    const byId = new Map(all.map((r) => [r.id, r]));
    const rep: LedgerReport = {
      submitted: ids.length,
      completed: 0,
      failed: 0,
      failedReasons: {},
      lost: 0,
      lostIds: [],
      duplicated: 0,
      duplicateRows: 0,
      concurrentRuns: [],
      rerunAfterStored: [],
      reruns: 0,
      changed: 0,
      changedIds: [],
      apiMismatches: [],
      offsetMismatches: [],
      unexpectedStatus: [],
      unknownRows: all.filter((r) => !this.expected.has(r.id)).length,
    };
    for (const id of ids) {
      const row = byId.get(id);
      const exp = this.expected.get(id)!;
      const api = await this.source.getAnalysis(id);
      if (!row || !FINAL.has(row.status) || !api || !FINAL.has(api.status)) {
        rep.lostIds.push(id);
        continue;
      }
      if (row.status === 'completed') rep.completed++;
      else {
        rep.failed++;
        const code = row.error_code ?? row.status;
        rep.failedReasons[code] = (rep.failedReasons[code] ?? 0) + 1;
      }
      const wantStatus = exp.expectStatus ?? 'completed';
      if (row.status !== wantStatus) rep.unexpectedStatus.push({ id, expected: wantStatus, got: `${row.status}${row.error_code ? ` (${row.error_code}: ${row.error_message})` : ''}` });
      const first = this.firstFinal.get(id);
      if (first && first !== hashRow(row)) rep.changedIds.push(id);
      const apiResult = JSON.stringify(api.result ?? null);
      const storedResult = JSON.stringify(row.result === null ? null : JSON.parse(row.result));
      if (api.status !== row.status || api.offset_seconds !== row.offset_seconds || apiResult !== storedResult) rep.apiMismatches.push(id);
      if (exp.offsetSeconds !== undefined && row.status === 'completed') {
        const tol = exp.toleranceSeconds ?? DEFAULT_OFFSET_TOLERANCE;
        if (row.offset_seconds === null || Math.abs(row.offset_seconds - exp.offsetSeconds) > tol) rep.offsetMismatches.push({ id, expected: exp.offsetSeconds, got: row.offset_seconds });
      }
    }
    rep.lost = rep.lostIds.length;
    // A submission is identified by its dedupe key and paths; more than one row is a duplicate.
    const groups = new Map<string, number>();
    for (const r of all) {
      const key = `${r.dedupe_key}\u0000${r.master_path}\u0000${r.dub_path}`;
      groups.set(key, (groups.get(key) ?? 0) + 1);
    }
    rep.duplicateRows = [...groups.values()].reduce((s, n) => s + Math.max(0, n - 1), 0);
    const runs = analyseRuns(this.source.jobEvents, this.source.processExits(), byId, o.redisLossWindows ?? []);
    rep.concurrentRuns = runs.concurrent;
    rep.rerunAfterStored = runs.rerunAfterStored;
    rep.reruns = runs.reruns;
    rep.duplicated = rep.duplicateRows + rep.concurrentRuns.length + rep.rerunAfterStored.length;
    rep.changed = rep.changedIds.length + rep.apiMismatches.length;
    return rep;
  }

  async close(): Promise<void> {
    await this.reader?.close();
    this.reader = null;
  }
}

interface Run {
  jobId: string;
  worker: string;
  pid: number;
  start: number;
  end: number;
}

/**
 * Per job, the runs from the workers' 'job started' lines to the run's end (its completed,
 * handed-back, stopped or failed line, or the worker process's exit).
 */
export function analyseRuns(
  events: readonly JobEvent[],
  exits: readonly (ExitInfo & { pid: number })[],
  rows: Map<string, StoredRow>,
  lossWindows: readonly [number, number][],
): { concurrent: { jobId: string; workers: string[] }[]; rerunAfterStored: string[]; reruns: number } {
  const exitAt = new Map(exits.map((e) => [e.pid, e.at]));
  const open = new Map<string, Run>();
  const runs: Run[] = [];
  const now = Date.now();
  for (const e of [...events].sort((a, b) => a.at - b.at)) {
    const key = `${e.pid}\u0000${e.jobId}`;
    if (e.event === 'started') {
      const prev = open.get(key);
      if (prev) runs.push({ ...prev, end: e.at });
      open.set(key, { jobId: e.jobId, worker: e.worker, pid: e.pid, start: e.at, end: Number.POSITIVE_INFINITY });
    } else {
      const run = open.get(key);
      if (run) {
        runs.push({ ...run, end: e.at });
        open.delete(key);
      }
    }
  }
  for (const run of open.values()) runs.push({ ...run, end: exitAt.get(run.pid) ?? now });
  const byJob = new Map<string, Run[]>();
  for (const r of runs) byJob.set(r.jobId, [...(byJob.get(r.jobId) ?? []), r]);
  const concurrent: { jobId: string; workers: string[] }[] = [];
  const rerunAfterStored: string[] = [];
  let reruns = 0;
  // Timestamps of different processes come from the same clock; 100 ms absorbs log latency.
  const SLACK = 100;
  for (const [jobId, list] of byJob) {
    list.sort((a, b) => a.start - b.start);
    reruns += list.length - 1;
    const overlap = overlappingPair(list, SLACK);
    if (overlap) concurrent.push({ jobId, workers: overlap.map((r) => `${r.worker} (pid ${r.pid})`) });
    const row = rows.get(jobId);
    const storedAt = row?.finished_at ? Date.parse(row.finished_at) : null;
    if (storedAt !== null && FINAL.has(row!.status)) {
      const excused = lossWindows.some(([from, to]) => storedAt >= from && storedAt <= to);
      if (!excused && list.some((r) => r.start > storedAt + SLACK)) rerunAfterStored.push(jobId);
    }
  }
  return { concurrent, rerunAfterStored, reruns };
}

/** The first two runs (sorted by start) of different processes that overlap in time. */
function overlappingPair(sorted: readonly Run[], slackMs: number): [Run, Run] | null {
  for (let i = 0; i < sorted.length; i++)
    for (let j = i + 1; j < sorted.length; j++) if (sorted[j]!.pid !== sorted[i]!.pid && sorted[j]!.start < sorted[i]!.end - slackMs) return [sorted[i]!, sorted[j]!];
  return null;
}

/** The four checks every scenario makes (issue 7), from the ledger's account and the end health. */
export function invariantChecks(rep: LedgerReport, health: StackHealth): Check[] {
  const ids = (xs: readonly string[]) => (xs.length ? `: ${xs.slice(0, 5).join(', ')}${xs.length > 5 ? ', ...' : ''}` : '');
  return [
    { name: 'no job lost', ok: rep.lost === 0, detail: `${rep.lost} of ${rep.submitted} not final in the store and via the API${ids(rep.lostIds)}` },
    {
      name: 'no report duplicated',
      ok: rep.duplicated === 0,
      detail: `${rep.duplicateRows} duplicate rows, ${rep.concurrentRuns.length} jobs run twice at once${rep.concurrentRuns.length ? ` (${rep.concurrentRuns.slice(0, 3).map((c) => `${c.jobId} on ${c.workers.join(' + ')}`).join('; ')})` : ''}, ${rep.rerunAfterStored.length} re-run after being stored${ids(rep.rerunAfterStored)}; ${rep.reruns} crash re-runs (at-least-once, not duplicates)`,
    },
    { name: 'no stored report changed', ok: rep.changed === 0, detail: `${rep.changedIds.length} changed after final${ids(rep.changedIds)}; ${rep.apiMismatches.length} API answers differ from the store${ids(rep.apiMismatches)}` },
    { name: 'healthy at end', ok: health.healthy, detail: health.detail },
  ];
}

/** Checks on the outcome of each submission: expected status and, where known, the offset. */
export function outcomeChecks(rep: LedgerReport): Check[] {
  return [
    {
      name: 'every job reached its expected status',
      ok: rep.unexpectedStatus.length === 0,
      detail: rep.unexpectedStatus.length ? rep.unexpectedStatus.slice(0, 5).map((u) => `${u.id}: ${u.got} (expected ${u.expected})`).join('; ') : `${rep.completed} completed, ${rep.failed} failed as expected`,
    },
    {
      name: 'stored offsets match the known offsets',
      ok: rep.offsetMismatches.length === 0,
      detail: rep.offsetMismatches.length ? rep.offsetMismatches.slice(0, 5).map((m) => `${m.id}: expected ${m.expected}, got ${m.got}`).join('; ') : 'all within tolerance',
    },
  ];
}

/** A result row with the ledger's figures and the invariant checks (scenario checks appended). */
export function scenarioRow(o: {
  scenario: string;
  load: string;
  faults: string;
  report: LedgerReport;
  health: StackHealth;
  recoverySeconds: number | null;
  extra?: ScenarioRow['extra'];
  checks?: Check[];
  /** Add outcomeChecks (default true). */
  outcomes?: boolean;
}): ScenarioRow {
  const r = o.report;
  return {
    scenario: o.scenario,
    load: o.load,
    faults: o.faults,
    submitted: r.submitted,
    completed: r.completed,
    failed: r.failed,
    failedReasons: r.failedReasons,
    lost: r.lost,
    duplicated: r.duplicated,
    changed: r.changed,
    recoverySeconds: o.recoverySeconds,
    healthyAtEnd: o.health.healthy,
    extra: { reruns: r.reruns, unknownRows: r.unknownRows, ...(o.extra ?? {}) },
    checks: [...invariantChecks(r, o.health), ...(o.outcomes === false ? [] : outcomeChecks(r)), ...(o.checks ?? [])],
  };
}
