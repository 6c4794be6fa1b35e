// Redis unreachable for 30 s with jobs flowing: paused with SIGSTOP (the socket stays open and
// nothing answers: a hung or partitioned Redis), and in the full run also stopped (SIGTERM, then
// started again). Health must show it (api /readyz 503 and /health degraded, every worker
// /readyz 503), submissions must be refused quickly rather than hang, and afterwards api and
// workers must be healthy again by themselves: same processes, no restart.
import { Ledger, scenarioRow } from '../ledger.ts';
import { ChaosStack, sleep, until } from '../stack.ts';
import type { Check } from '../table.ts';
import type { Scenario } from '../scenario.ts';

const OUTAGE_S = 30;
/** A refused submission must come back at least this fast. */
const SUBMIT_MAX_MS = 5_000;

interface Sample {
  at: number;
  apiReady: number;
  apiHealth: string | null;
  workersReady: number[];
  submit: { status: number; ms: number; code: string | null };
}

export const redisOutage: Scenario = {
  name: 'redis-outage',
  description: `Redis unreachable for ${OUTAGE_S} s (paused; full run: also stopped) with jobs flowing; health degraded, then healthy without restarts`,
  async run(ctx) {
    const modes: ('pause' | 'stop')[] = ctx.bounded ? ['pause'] : ['pause', 'stop'];
    const jobsPerPhase = ctx.bounded ? 8 : 30;
    // Job locks outlive the outage, as with the product default (60 s): a lock that expires while
    // Redis is away lets another worker take the job while its first run is still going.
    const stack = await ChaosStack.start({ name: 'redis-outage', workers: 2, jobLockSeconds: 60 });
    const ledger = new Ledger(stack);
    try {
      const checks: Check[] = [];
      const recoveries: number[] = [];
      const extra: Record<string, number | string | null> = {};
      let submitted = 0;
      const pidsBefore = [stack.api.pid, ...stack.workers.map((w) => w.pid)];
      for (const [phase, mode] of modes.entries()) {
        const pairs = await stack.media.pairs({ count: jobsPerPhase + 3, durationSeconds: 8, first: 2000 + phase * 100 });
        const probePair = pairs.at(-1)!;
        await stack.submitPairs(pairs.slice(0, jobsPerPhase), ledger);
        submitted += jobsPerPhase;
        // Jobs flowing: at least one done and one running when Redis goes away.
        await until(async () => {
          const u = await stack.unfinishedIds();
          return u !== null && ledger.ids().some((id) => !u.has(id));
        }, 300_000, 'a job done');
        await stack.waitForRunningAnalysis(stack.workers[phase % 2]!, { timeoutMs: 60_000 }).catch(() => null);

        const t0 = Date.now();
        if (mode === 'pause') stack.redis.pause();
        else await stack.redis.stop();
        ctx.log(`redis ${mode === 'pause' ? 'paused (SIGSTOP)' : 'stopped'} for ${OUTAGE_S} s`);
        const samples: Sample[] = [];
        while (Date.now() - t0 < OUTAGE_S * 1000) {
          const [apiReady, apiHealth, workersReady, submit] = await Promise.all([
            stack.api.probe('/readyz', 4_000),
            stack.api.probe('/health', 4_000),
            Promise.all(stack.workers.map((w) => w.probe('/readyz', 4_000))),
            stack.submitAnalysis(probePair.master, probePair.dub, {}, undefined, 10_000),
          ]);
          if (submit.id) ledger.record(submit.id, { offsetSeconds: probePair.offsetSeconds });
          samples.push({
            at: Date.now() - t0,
            apiReady: apiReady.status,
            apiHealth: (apiHealth.body?.status as string | undefined) ?? null,
            workersReady: workersReady.map((r) => r.status),
            submit: { status: submit.status, ms: submit.ms, code: submit.body?.error?.code ?? null },
          });
          await sleep(2_000);
        }
        const resumedAt = Date.now();
        if (mode === 'pause') stack.redis.resume();
        else await stack.redis.start();
        let recoveryMs: number | null = null;
        let notHealthy = '';
        try {
          recoveryMs = await stack.waitHealthy(120_000);
          recoveries.push(recoveryMs / 1000);
        } catch (e) {
          notHealthy = (e as Error).message;
        }
        ctx.log(`redis back (${mode}); ${recoveryMs !== null ? `healthy in ${(recoveryMs / 1000).toFixed(1)} s` : notHealthy}`);
        // After the first few seconds, every sample must show the outage.
        const settled = samples.filter((s) => s.at >= 4_000);
        const after = await stack.submitPairs(pairs.slice(jobsPerPhase, jobsPerPhase + 2), ledger);
        submitted += 2;
        extra[`${mode}RecoveryS`] = recoveryMs === null ? null : Math.round(recoveryMs / 100) / 10;
        extra[`${mode}MaxSubmitMs`] = samples.length ? Math.round(Math.max(...samples.map((s) => s.submit.ms))) : null;
        extra[`${mode}Samples`] = samples.length;
        checks.push(
          { name: `${mode}: api /readyz 503 during the outage`, ok: settled.length > 0 && settled.every((s) => s.apiReady === 503), detail: samples.map((s) => s.apiReady).join(',') },
          { name: `${mode}: api /health degraded during the outage`, ok: settled.length > 0 && settled.every((s) => s.apiHealth === 'degraded'), detail: samples.map((s) => s.apiHealth).join(',') },
          { name: `${mode}: every worker /readyz 503 during the outage`, ok: settled.length > 0 && settled.every((s) => s.workersReady.every((r) => r === 503)), detail: samples.map((s) => s.workersReady.join('/')).join(',') },
          {
            name: `${mode}: submissions refused (503) within ${SUBMIT_MAX_MS} ms, not hanging`,
            ok: samples.length > 0 && samples.every((s) => s.submit.status === 503 && s.submit.ms <= SUBMIT_MAX_MS),
            detail: samples.map((s) => `${s.submit.status}${s.submit.code ? ` ${s.submit.code}` : ''} ${Math.round(s.submit.ms)} ms`).join(', '),
          },
          { name: `${mode}: healthy again by itself within 120 s`, ok: recoveryMs !== null, detail: recoveryMs !== null ? `${(recoveryMs / 1000).toFixed(1)} s after Redis came back` : `${notHealthy} (${((Date.now() - resumedAt) / 1000).toFixed(0)} s after)` },
          { name: `${mode}: submissions accepted again`, ok: after.refused.length === 0, detail: `${after.accepted.length} accepted, ${after.refused.length} refused` },
        );
      }
      const pidsAfter = [stack.api.pid, ...stack.workers.map((w) => w.pid)];
      checks.push({ name: 'no process restarted', ok: pidsAfter.every((p, i) => p === pidsBefore[i]), detail: `${pidsBefore.join(',')} -> ${pidsAfter.join(',')}` });
      await stack.waitFinal(ledger.ids(), { timeoutMs: 600_000, observe: ledger });
      const report = await ledger.verify();
      const health = await stack.health();
      return scenarioRow({
        scenario: 'redis-outage',
        load: `${report.submitted} analyses (8 s pairs), 2 workers; a submission and health probes every 2 s`,
        faults: modes.map((m) => `Redis ${m === 'pause' ? 'SIGSTOP' : 'stopped'} ${OUTAGE_S} s`).join(', '),
        report,
        health,
        recoverySeconds: recoveries.length === modes.length ? Math.max(...recoveries) : null,
        extra: { ...extra, batchSubmitted: submitted },
        checks: [...checks, { name: 'no submission stored behind a refusal', ok: report.unknownRows === 0, detail: `${report.unknownRows} stored analyses no client was given an id for` }],
      });
    } finally {
      await ledger.close();
      await stack.close();
    }
  },
};
