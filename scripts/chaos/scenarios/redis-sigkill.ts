// redis-server SIGKILL with jobs queued and running, then a restart from its appendonly file on
// the same port and dir. While Redis is away the API must answer (503 for a submission, quickly;
// /livez 200; /readyz 503; stored reports readable) and stay alive; afterwards every queued job
// still runs (from the AOF, or queued again by the API's reconciler from the database), and the
// api and workers reconnect by themselves.
import { Ledger, scenarioRow } from '../ledger.ts';
import { ChaosStack, sleep, until, type HttpResult } from '../stack.ts';
import type { Scenario } from '../scenario.ts';

/** A refused submission must come back at least this fast (not a hang). */
const SUBMIT_503_MAX_MS = 3_000;

export const redisSigkill: Scenario = {
  name: 'redis-sigkill',
  description: 'SIGKILL redis-server with jobs queued and running, restart it from its AOF; 503 meanwhile, every job still runs',
  async run(ctx) {
    const jobs = ctx.bounded ? 12 : 60;
    const downSeconds = ctx.bounded ? 6 : 15;
    // Job locks outlive the outage (product default 60 s): no worker dies here, so nothing stalls.
    const stack = await ChaosStack.start({ name: 'redis-sigkill', workers: 2, jobLockSeconds: 60 });
    const ledger = new Ledger(stack);
    let requeued = 0;
    const stopCounting = stack.onLogLine((l) => {
      if (l.process === 'api' && l.json?.message === 'analysis missing from Redis: queued again') requeued++;
    });
    try {
      const pairs = await stack.media.pairs({ count: jobs, durationSeconds: 8, first: 1000 });
      const extraPairs = await stack.media.pairs({ count: 3, durationSeconds: 8, first: 1100 });
      const { accepted, refused } = await stack.submitPairs(pairs, ledger);
      // Queued and running: a few done, some running, most still waiting.
      const known = await until(async () => {
        const unfinished = await stack.unfinishedIds();
        const done = unfinished ? accepted.filter((id) => !unfinished.has(id)) : [];
        return done.length >= 2 ? done[0] : null;
      }, 300_000, 'two analyses done');
      await stack.waitForRunningAnalysis(stack.workers[0]!, { timeoutMs: 60_000 }).catch(() => null);
      const pidsBefore = { api: stack.api.pid, workers: stack.workers.map((w) => w.pid) };
      const unfinishedAtKill = (await stack.unfinishedIds())?.size ?? null;

      const killAt = Date.now();
      await stack.redis.kill9();
      ctx.log(`redis-server killed with ${unfinishedAtKill} analyses unfinished`);
      const submits: HttpResult[] = [];
      const readyz: number[] = [];
      const livez: number[] = [];
      const reads: number[] = [];
      const downUntil = Date.now() + downSeconds * 1000;
      while (Date.now() < downUntil) {
        const p = extraPairs[submits.length % extraPairs.length]!;
        const s = await stack.submitAnalysis(p.master, p.dub, {}, undefined, 30_000);
        // A 503 that says the record is stored (queued later by the reconciler) must run too.
        if (s.id) ledger.record(s.id, { offsetSeconds: p.offsetSeconds });
        submits.push(s);
        readyz.push((await stack.api.probe('/readyz', 10_000)).status);
        livez.push((await stack.api.probe('/livez', 10_000)).status);
        reads.push((await stack.request('GET', `/api/v1/analyses/${known}`)).status);
        await sleep(1_000);
      }
      const apiAliveDuring = stack.api.alive;
      const workersAliveDuring = stack.workers.every((w) => w.alive);

      const restartAt = Date.now();
      await stack.redis.restart();
      const recoveryMs = await stack.waitHealthy(120_000);
      ctx.log(`redis-server restarted from its AOF; stack healthy in ${(recoveryMs / 1000).toFixed(1)} s`);
      // The submissions refused meanwhile go in now.
      const after = await stack.submitPairs(extraPairs, ledger);

      await stack.waitFinal(ledger.ids(), { timeoutMs: 600_000, observe: ledger });
      // appendfsync everysec: up to the last second before the kill may be lost by design.
      const report = await ledger.verify({ redisLossWindows: [[killAt - 1_500, killAt]] });
      const health = await stack.health();
      const bad503 = submits.filter((s) => s.status !== 503 || s.body?.error?.code !== 'queue_unavailable' || s.ms > SUBMIT_503_MAX_MS);
      const restarted = stack.api.pid !== pidsBefore.api || stack.workers.some((w, i) => w.pid !== pidsBefore.workers[i]);
      return scenarioRow({
        scenario: 'redis-sigkill',
        load: `${accepted.length + after.accepted.length} analyses (8 s pairs), 2 workers; ${unfinishedAtKill} unfinished at the kill`,
        faults: `redis-server SIGKILL, down ${downSeconds} s, restart from AOF`,
        report,
        health,
        recoverySeconds: recoveryMs / 1000,
        extra: {
          submitsWhileDown: submits.length,
          max503Ms: submits.length ? Math.round(Math.max(...submits.map((s) => s.ms))) : null,
          requeuedByReconciler: requeued,
          redisDownS: Math.round((restartAt - killAt) / 100) / 10,
        },
        checks: [
          { name: `submissions answer 503 queue_unavailable within ${SUBMIT_503_MAX_MS} ms while Redis is down`, ok: submits.length > 0 && bad503.length === 0, detail: submits.map((s) => `${s.status} ${Math.round(s.ms)} ms`).join(', ') },
          { name: '/readyz 503 and /livez 200 while Redis is down', ok: readyz.every((s) => s === 503) && livez.every((s) => s === 200), detail: `readyz ${readyz.join(',')}; livez ${livez.join(',')}` },
          { name: 'stored reports readable while Redis is down', ok: reads.every((s) => s === 200), detail: reads.join(',') },
          { name: 'api and workers stayed up and reconnected by themselves', ok: apiAliveDuring && workersAliveDuring && !restarted, detail: `api ${pidsBefore.api}->${stack.api.pid}, workers ${pidsBefore.workers.join(',')}->${stack.workers.map((w) => w.pid).join(',')}` },
          { name: 'no submission stored behind a refusal', ok: report.unknownRows === 0, detail: `${report.unknownRows} stored analyses no client was given an id for` },
          { name: 'submissions accepted again after the restart', ok: after.refused.length === 0 && refused.length === 0, detail: `${after.accepted.length} accepted after, ${after.refused.length + refused.length} refused` },
        ],
      });
    } finally {
      stopCounting();
      await ledger.close();
      await stack.close();
    }
  },
};
