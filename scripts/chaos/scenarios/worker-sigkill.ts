// Worker SIGKILL mid-analysis, again and again: two worker processes share the queue; whenever
// another tenth of the jobs is done, a worker that is running an analysis (its job child has
// started work) is killed with SIGKILL and restarted at once, as a supervisor would. Every job
// must complete exactly once (BullMQ stalled-job recovery + the store's conditional write), with
// the right offset, and every killed job's child and ffmpeg must be gone within 5 s.
import { Ledger, scenarioRow } from '../ledger.ts';
import { membersOfGroups } from '../proc.ts';
import { ChaosStack, sleep, until } from '../stack.ts';
import type { Scenario } from '../scenario.ts';

interface Kill {
  at: number;
  worker: string;
  pid: number;
  jobIds: string[];
  signal: string | null;
  /** ms until every process of the killed job groups was gone (null: some outlived ORPHAN_LIMIT_MS). */
  orphansGoneMs: number | null;
  orphansLeft: number[];
  restartMs: number;
}

/** A killed worker's job processes must be gone by then (an idle machine: well under 1 s). */
const ORPHAN_LIMIT_MS = 30_000;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : null;
};

export const workerSigkill: Scenario = {
  name: 'worker-sigkill',
  description: 'SIGKILL a worker in the middle of analysis jobs, repeatedly (restarted each time); every job completes exactly once',
  async run(ctx) {
    const jobs = ctx.bounded ? 100 : 200;
    const kills = ctx.bounded ? 10 : 20;
    const stack = await ChaosStack.start({ name: 'worker-sigkill', workers: 2, jobLockSeconds: 5 });
    const ledger = new Ledger(stack);
    try {
      ctx.log(`stack up; generating ${jobs} pairs`);
      const pairs = await stack.media.pairs({ count: jobs, durationSeconds: 8 });
      const t0 = Date.now();
      const { accepted, refused } = await stack.submitPairs(pairs, ledger);
      ctx.log(`${accepted.length} submitted (${refused.length} refused)`);

      const killLog: Kill[] = [];
      const killedJobs = new Set<string>();
      const watches: Promise<void>[] = [];
      // Kill number k waits until k/(kills+1) of the jobs are final, so kills spread over the run.
      const step = Math.max(1, Math.floor(jobs / (kills + 1)));
      let next = 0;
      while (killLog.length < kills) {
        await ledger.observe();
        const unfinished = await stack.unfinishedIds();
        if (!unfinished) {
          await sleep(500);
          continue;
        }
        const done = accepted.filter((id) => !unfinished.has(id)).length;
        if (done >= accepted.length) break;
        if (done < (killLog.length + 1) * step) {
          await sleep(1_000);
          continue;
        }
        // Alternate between the workers; a job already killed once is not the target again
        // (BullMQ fails a job stalled more than maxStalledCount times: that is poison-job
        // handling, not crash recovery).
        const w = stack.workers[next++ % stack.workers.length]!;
        let target;
        try {
          target = await stack.waitForRunningAnalysis(w, { exclude: killedJobs, timeoutMs: 30_000 });
        } catch {
          continue;
        }
        const pid = w.kill('SIGKILL');
        const at = Date.now();
        target.jobIds.forEach((id) => killedJobs.add(id));
        const exit = await w.waitExit(10_000);
        // An orphaned job child ends its group when it notices the closed IPC channel, which a
        // synchronous DSP stage delays on a loaded machine: watched in the background while the
        // supervisor restarts the worker at once.
        const watch = until(() => membersOfGroups(target.procs.groups).length === 0, ORPHAN_LIMIT_MS, 'job groups gone', 50).then(
          () => ({ goneMs: Date.now() - at, left: [] as number[] }),
          () => ({ goneMs: null, left: membersOfGroups(target.procs.groups).map((e) => e.pid) }),
        );
        const restartMs = await w.restart(stack.readyTimeoutMs);
        const kill: Kill = { at, worker: w.name, pid, jobIds: target.jobIds, signal: exit?.signal ?? null, orphansGoneMs: null, orphansLeft: [], restartMs };
        killLog.push(kill);
        watches.push(
          watch.then((r) => {
            kill.orphansGoneMs = r.goneMs;
            kill.orphansLeft = r.left;
          }),
        );
        ctx.log(`kill ${killLog.length}/${kills}: ${w.name} pid ${pid} running ${target.jobIds.join(',')} at ${done}/${accepted.length} done; restarted in ${(restartMs / 1000).toFixed(1)} s`);
      }
      await Promise.all(watches);

      const finals = await stack.waitFinal(ledger.ids(), { timeoutMs: Math.max(600_000, jobs * 8_000), observe: ledger });
      const elapsedMin = (Date.now() - t0) / 60_000;
      const report = await ledger.verify();
      const health = await stack.health();
      const stray = stack.strayProcesses();
      // Recovery of a kill: until the job it interrupted was stored as completed.
      const recoveries = killLog.flatMap((k) =>
        k.jobIds.map((id) => {
          const f = finals.get(id)?.finished_at;
          return f ? (Date.parse(f) - k.at) / 1000 : Number.POSITIVE_INFINITY;
        }),
      );
      const killedNotCompleted = [...killedJobs].filter((id) => finals.get(id)?.status !== 'completed');
      const orphanKills = killLog.filter((k) => k.orphansGoneMs === null);
      return scenarioRow({
        scenario: 'worker-sigkill',
        load: `${accepted.length} analyses (8 s pairs, distinct offsets), 2 workers`,
        faults: `${killLog.length} x worker SIGKILL mid-analysis + restart`,
        report,
        health,
        recoverySeconds: recoveries.length ? Math.max(...recoveries) : null,
        extra: {
          kills: killLog.length,
          jobsPerMin: Math.round((accepted.length / elapsedMin) * 10) / 10,
          medianKillToJobStoredS: median(recoveries.filter(Number.isFinite)) === null ? null : Math.round(median(recoveries.filter(Number.isFinite))! * 10) / 10,
          medianWorkerRestartS: killLog.length ? Math.round(median(killLog.map((k) => k.restartMs))! / 100) / 10 : null,
          maxJobProcessesGoneMs: killLog.length ? Math.max(...killLog.map((k) => k.orphansGoneMs ?? 99_999)) : null,
        },
        checks: [
          { name: `at least ${kills} kills mid-analysis`, ok: killLog.length >= kills, detail: `${killLog.length} kills, each while the worker's job child was running an analysis (${killLog.map((k) => k.jobIds.join('+')).slice(0, 3).join(', ')}...)` },
          { name: `at least ${ctx.bounded ? 100 : 200} jobs`, ok: accepted.length >= jobs && refused.length === 0, detail: `${accepted.length} accepted, ${refused.length} refused${refused.length ? ` (${refused[0]!.status} ${refused[0]!.text.slice(0, 200)})` : ''}` },
          { name: 'killed by SIGKILL', ok: killLog.every((k) => k.signal === 'SIGKILL'), detail: killLog.map((k) => k.signal).join(',') },
          { name: 'every interrupted job completed (once)', ok: killedNotCompleted.length === 0, detail: killedNotCompleted.length ? `not completed: ${killedNotCompleted.join(', ')}` : `${killedJobs.size} interrupted jobs all completed` },
          { name: `no orphan job child or ffmpeg after a kill (all gone within ${ORPHAN_LIMIT_MS / 1000} s)`, ok: orphanKills.length === 0, detail: orphanKills.length ? orphanKills.map((k) => `${k.worker} pid ${k.pid}: left ${k.orphansLeft.join(',')}`).join('; ') : `every killed job group gone, slowest after ${Math.max(...killLog.map((k) => k.orphansGoneMs ?? 0))} ms` },
          { name: 'no stray job processes at the end', ok: stray.length === 0, detail: stray.length ? `pids ${stray.join(', ')}` : 'none' },
        ],
      });
    } finally {
      await ledger.close();
      await stack.close();
    }
  },
};
