// The SQLite report store locked by another process: a long write transaction (BEGIN IMMEDIATE
// and a real UPDATE, rolled back at the end) held for longer than the API's busy deadline while
// two workers finish jobs. The service must keep serving health and reads, refuse a submission
// with a clear reason instead of hanging, store every result once the lock is gone (job events
// retried, then the reconciler), and leave the database intact (PRAGMA integrity_check).
import knex from 'knex';
import { NO_CRASH_LOCK_SECONDS } from '../load/lock.ts';
import type { Scenario, ScenarioContext } from '../scenario.ts';
import type { Check, ScenarioRow } from '../table.ts';
import { ChaosStack, until } from '../stack.ts';
import { Ledger, scenarioRow } from '../ledger.ts';
import { UniqueSubmitter, type Submitted } from '../load/submissions.ts';
import { ProbeLoop, statusText, type ProbeStats } from '../load/probe-loop.ts';
import { holdSqliteWriteLock } from '../load/sqlite-lock.ts';
import { round } from '../load/stats.ts';

/** How long the API keeps retrying a write that meets the lock (shared/platform/src/db/busy.ts). */
const API_BUSY_DEADLINE_S = 5;
/** The reconciler's period in the API process (15 s), plus time to run. */
const RECOVERY_LIMIT_S = 45;

async function integrityCheck(file: string): Promise<string> {
  const k = knex({ client: 'better-sqlite3', connection: { filename: file, options: { readonly: true } }, useNullAsDefault: true });
  try {
    const rows = (await k.raw('PRAGMA integrity_check')) as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check).join('; ');
  } finally {
    await k.destroy();
  }
}

const stat = (all: ProbeStats[], name: string): ProbeStats => all.find((s) => s.name === name)!;
const allOk = (s: ProbeStats) => s.requests > 0 && Object.keys(s.statuses).every((k) => k === '200');

export const dbBusy: Scenario = {
  name: 'db-busy',
  description: 'another process holds a long SQLite write transaction while jobs complete: health and reads keep answering, submissions refused clearly, results stored after the release, integrity_check ok',
  async run(ctx: ScenarioContext): Promise<ScenarioRow> {
    const holdSeconds = ctx.bounded ? 12 : 25;
    const jobs = ctx.bounded ? 10 : 24;
    const stack = await ChaosStack.start({ name: 'db-busy', workers: 2, jobLockSeconds: NO_CRASH_LOCK_SECONDS });
    const ledger = new Ledger(stack);
    const file = stack.sqliteFile!;
    try {
      const pairs = await stack.media.pairs({ count: 8 });
      const submitter = new UniqueSubmitter(stack, pairs, ledger);
      const first = await submitter.submit();
      if (!first.id) throw new Error(`the first submission was refused: ${first.status} ${first.code}`);
      await stack.waitFinal([first.id], { timeoutMs: 300_000, observe: ledger });
      await submitter.submitMany(jobs - 1, 4);
      await until(async () => (await Promise.all(stack.workers.map((w) => stack.activeJobs(w)))).some((a) => a.length > 0), 120_000, 'a job running', 200);

      // API writes that met the lock: its "not applied, the reconciler will retry" warnings.
      let unapplied = 0;
      const stopListening = stack.onLogLine((l) => {
        if (l.process === 'api' && l.json?.message === 'job event not applied (the reconciler will retry)') unapplied++;
      });
      const lock = await holdSqliteWriteLock(file, holdSeconds * 1000);
      const lockedAt = Date.now();
      ctx.log(`store locked by pid ${lock.pid} for ${holdSeconds} s`);
      const probes = new ProbeLoop(stack, [
        { name: 'livez', path: '/livez' },
        { name: 'readyz', path: '/readyz' },
        { name: 'status', path: `/api/v1/analyses/${first.id}` },
        { name: 'list', path: '/api/v1/analyses?limit=20' },
      ]);
      probes.start();
      // A submission while the lock is held: stored (after the lock) or refused clearly, never a hang.
      await new Promise((r) => setTimeout(r, 1_000));
      const refused: Submitted = await submitter.submit(30_000);
      const releasedPerf = await lock.released;
      const releasedAt = Date.now();
      const during = await probes.stop();
      stopListening();
      ctx.log(`released after ${((releasedPerf - lock.lockedAt) / 1000).toFixed(1)} s; livez max ${stat(during, 'livez').maxMs} ms; submission during the lock: ${refused.status} ${refused.code ?? ''} in ${refused.ms.toFixed(0)} ms`);
      const mine = new Set(ledger.ids());
      const completedDuringLock = stack.jobEvents.filter((e) => e.event === 'completed' && e.at >= lockedAt && e.at <= releasedAt && mine.has(e.jobId)).length;
      // Recovery: every result the workers had produced by the release is stored (job events
      // retried, or the reconciler's next round); the jobs still queued then are not counted.
      const doneByRelease = [...new Set(stack.jobEvents.filter((e) => e.event === 'completed' && e.at <= releasedAt && mine.has(e.jobId)).map((e) => e.jobId))];
      await stack.waitFinal(doneByRelease, { timeoutMs: 120_000, everyMs: 500 });
      const recoverySeconds = (Date.now() - releasedAt) / 1000;
      await stack.waitFinal(ledger.ids(), { timeoutMs: 600_000, observe: ledger });
      const integrity = await integrityCheck(file);
      const report = await ledger.verify();
      const health = await stack.health();

      const livez = stat(during, 'livez');
      const readyz = stat(during, 'readyz');
      const reads = [stat(during, 'status'), stat(during, 'list')];
      const checks: Check[] = [
        { name: 'the API kept answering /livez during the lock', ok: allOk(livez) && livez.maxMs < 1_000, detail: `${statusText(livez.statuses)}, p99 ${livez.p99Ms} ms, max ${livez.maxMs} ms (limit 1000 ms)` },
        { name: '/readyz answered 200 during the lock', ok: allOk(readyz) && readyz.maxMs < 3_000, detail: `${statusText(readyz.statuses)}, max ${readyz.maxMs} ms` },
        { name: 'reads answered during the lock', ok: reads.every((r) => allOk(r) && r.maxMs < 2_000), detail: reads.map((r) => `${r.name} ${statusText(r.statuses)}, p99 ${r.p99Ms} ms, max ${r.maxMs} ms`).join('; ') },
        {
          name: 'a submission during the lock is refused with a clear reason, in bounded time',
          ok: refused.status === 503 && refused.code === 'store_busy' && refused.ms < (API_BUSY_DEADLINE_S + 10) * 1000,
          detail: `${refused.status} ${refused.code ?? ''} after ${(refused.ms / 1000).toFixed(1)} s (expected 503 store_busy after about ${API_BUSY_DEADLINE_S} s)`,
        },
        { name: 'the refused submission stored nothing', ok: report.unknownRows === 0, detail: `${report.unknownRows} rows no submission accounts for` },
        { name: 'jobs finished while the store was locked', ok: completedDuringLock >= 1, detail: `${completedDuringLock} analyses completed during the lock; ${unapplied} API writes (status, progress or result) gave up on the lock and were left to the reconciler` },
        { name: `results produced by the release stored within ${RECOVERY_LIMIT_S} s of it`, ok: recoverySeconds <= RECOVERY_LIMIT_S, detail: `${doneByRelease.length} results stored ${recoverySeconds.toFixed(1)} s after the release` },
        { name: 'PRAGMA integrity_check ok after the lock', ok: integrity === 'ok', detail: integrity },
      ];
      return scenarioRow({
        scenario: 'db-busy',
        load: `${report.submitted} analyses, 2 workers, SQLite`,
        faults: `SQLite write lock held ${holdSeconds} s by another process`,
        report,
        health,
        recoverySeconds: round(recoverySeconds),
        extra: {
          lockSeconds: round((releasedPerf - lock.lockedAt) / 1000),
          'livez.p99Ms': livez.p99Ms,
          'livez.maxMs': livez.maxMs,
          'reads.maxMs': Math.max(...reads.map((r) => r.maxMs)),
          refusedSubmission: `${refused.status} ${refused.code ?? ''}`.trim(),
          completedDuringLock,
          writesLeftToReconciler: unapplied,
        },
        checks,
      });
    } finally {
      await ledger.close();
      await stack.close();
    }
  },
};
