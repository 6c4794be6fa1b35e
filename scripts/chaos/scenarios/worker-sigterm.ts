// Worker SIGTERM during jobs: in each round, with analyses running, one worker (odd rounds) or
// both (even rounds) get SIGTERM. Each must exit 0 within SHUTDOWN_DEADLINE_SECONDS plus a margin,
// its running jobs either finishing or handed back to the queue (then completed after the
// restart, by either worker); no job may fail because of the shutdown.
import { Ledger, scenarioRow } from '../ledger.ts';
import { membersOfGroups } from '../proc.ts';
import { ChaosStack, type ServiceProcess } from '../stack.ts';
import type { Scenario } from '../scenario.ts';

/** Short: a job signalled early in its analysis is handed back (one signalled near its end may still finish). */
const DEADLINE_S = 1;
/** BullMQ's close, the hand-back and Redis/log flushing after the deadline, on a busy machine. */
const MARGIN_S = 10;
/**
 * Programme length: an analysis must usually outlast the deadline, or nothing is ever handed back
 * (8 s pairs took under 2 s each once speech detection ran at 8 kHz, and a bounded run handed
 * back none); a job signalled near its end still finishes within it.
 */
const PAIR_SECONDS = 300;

interface Stop {
  round: number;
  worker: string;
  pid: number;
  runningAtSignal: string[];
  exitMs: number | null;
  code: number | null;
  signal: string | null;
  handedBack: string[];
  finished: string[];
  leftProcesses: number[];
}

export const workerSigterm: Scenario = {
  name: 'worker-sigterm',
  description: 'SIGTERM workers with jobs running: they exit within the deadline, jobs finish or are handed back, none fails',
  async run(ctx) {
    const rounds = ctx.bounded ? 3 : 8;
    const perRound = 4;
    // Job locks as long as the product default (60 s): a job must come back by the hand-back, not
    // by stalled-job recovery after a lock expired.
    const stack = await ChaosStack.start({ name: 'worker-sigterm', workers: 2, shutdownDeadlineSeconds: DEADLINE_S, jobLockSeconds: 60 });
    const ledger = new Ledger(stack);
    try {
      const pairs = await stack.media.pairs({ count: rounds * perRound, durationSeconds: PAIR_SECONDS, first: 500 });
      const refusedAll = [];
      const stops: Stop[] = [];
      const readyAgainMs: number[] = [];
      // The submitted analyses (the workers also run listening-proxy jobs, which are not counted).
      const analyses = new Set<string>();
      for (let round = 1; round <= rounds; round++) {
        const { accepted, refused } = await stack.submitPairs(pairs.slice((round - 1) * perRound, round * perRound), ledger);
        refusedAll.push(...refused);
        accepted.forEach((id) => analyses.add(id));
        const targets: ServiceProcess[] = round % 2 === 1 ? [stack.workers[(round >> 1) % 2]!] : [...stack.workers];
        // Every target must be in the middle of an analysis when the signal comes.
        // Early in an analysis, so that it usually outlasts the deadline and is handed back (a job
        // signalled near its end finishes within it instead).
        const running = await Promise.all(targets.map((w) => stack.waitForRunningAnalysis(w, { timeoutMs: 120_000, maxPercent: 30 }).catch(() => null)));
        // Both seen running: look once more right before the signals (one may have finished since).
        const seenAt = Date.now();
        const current = await Promise.all(targets.map((w) => stack.activeJobs(w)));
        const sent = targets.map((w, i) => ({ w, at: Date.now(), pid: w.kill('SIGTERM'), job: running[i], jobIds: current[i]!.filter((a) => a.kind === 'analysis').map((a) => a.jobId) }));
        for (const s of sent) {
          const exit = await s.w.waitExit((DEADLINE_S + MARGIN_S + 20) * 1000);
          // Every line it logged, then its job processes (which end with it).
          await s.w.waitOutput(10_000);
          const mine = stack.jobEvents.filter((e) => e.pid === s.pid && e.at >= seenAt && analyses.has(e.jobId));
          const left = s.job ? membersOfGroups(s.job.procs.groups).map((e) => e.pid) : [];
          stops.push({
            round,
            worker: s.w.name,
            pid: s.pid,
            runningAtSignal: s.jobIds,
            exitMs: exit ? exit.at - s.at : null,
            code: exit?.code ?? null,
            signal: exit?.signal ?? null,
            handedBack: mine.filter((e) => e.event === 'handed_back').map((e) => e.jobId),
            finished: mine.filter((e) => e.event === 'completed').map((e) => e.jobId),
            leftProcesses: left,
          });
          const st = stops.at(-1)!;
          ctx.log(`round ${round}: ${s.w.name} exited ${st.code}/${st.signal} in ${st.exitMs} ms; running ${st.runningAtSignal.join(',') || 'none'}: handed back ${st.handedBack.length}, finished ${st.finished.length}`);
        }
        await Promise.all(targets.map((w) => w.restart(stack.readyTimeoutMs)));
        // Back in service: from the signal until the restarted worker is ready.
        for (const s of sent) readyAgainMs.push(Date.now() - s.at);
      }
      const finals = await stack.waitFinal(ledger.ids(), { timeoutMs: 600_000, observe: ledger });
      const report = await ledger.verify();
      const health = await stack.health();
      const handedBack = [...new Set(stops.flatMap((s) => s.handedBack))];
      const handedBackNotCompleted = handedBack.filter((id) => finals.get(id)?.status !== 'completed');
      const limitMs = (DEADLINE_S + MARGIN_S) * 1000;
      const slow = stops.filter((s) => s.exitMs === null || s.exitMs > limitMs || s.code !== 0);
      const shutdownFailures = Object.entries(report.failedReasons).filter(([code]) => code === 'shutdown' || code === 'worker_crash');
      const attempts = handedBack.map((id) => finals.get(id)?.attempts ?? 0);
      const unaccounted = stops.flatMap((s) => s.runningAtSignal.filter((id) => !s.handedBack.includes(id) && !s.finished.includes(id)).map((id) => `${s.worker}#${s.round}: ${id}`));
      return scenarioRow({
        scenario: 'worker-sigterm',
        load: `${report.submitted} analyses (${PAIR_SECONDS} s pairs), 2 workers`,
        faults: `${stops.length} x worker SIGTERM mid-job (deadline ${DEADLINE_S} s) + restart`,
        report,
        health,
        recoverySeconds: readyAgainMs.length ? Math.max(...readyAgainMs) / 1000 : null,
        extra: {
          stops: stops.length,
          handedBack: handedBack.length,
          finishedDuringShutdown: stops.reduce((n, s) => n + s.finished.length, 0),
          maxExitS: stops.length ? Math.max(...stops.map((s) => (s.exitMs ?? 0) / 1000)) : null,
          maxAttemptsOfHandedBack: attempts.length ? Math.max(...attempts) : null,
        },
        checks: [
          { name: `exit 0 within the deadline + ${MARGIN_S} s`, ok: slow.length === 0, detail: stops.map((s) => `${s.worker}#${s.round} ${s.code}/${s.signal} ${s.exitMs} ms`).join(', ') },
          { name: 'every SIGTERM came with an analysis running', ok: stops.every((s) => s.runningAtSignal.length > 0), detail: stops.map((s) => s.runningAtSignal.join('+') || 'none').join(', ') },
          { name: 'every job running at SIGTERM finished or was handed back', ok: unaccounted.length === 0, detail: unaccounted.length ? unaccounted.join(', ') : `${stops.reduce((n, s) => n + s.runningAtSignal.length, 0)} accounted for` },
          { name: 'jobs were handed back (the path was exercised)', ok: handedBack.length > 0, detail: `${handedBack.length} handed back, ${stops.reduce((n, s) => n + s.finished.length, 0)} finished within the deadline` },
          { name: 'handed-back jobs completed later', ok: handedBackNotCompleted.length === 0, detail: handedBackNotCompleted.length ? handedBackNotCompleted.join(', ') : `${handedBack.length} completed` },
          { name: 'no job failed because of the shutdown', ok: report.failed === 0 && shutdownFailures.length === 0, detail: `${report.failed} failed ${JSON.stringify(report.failedReasons)}` },
          { name: 'job processes ended with their worker', ok: stops.every((s) => s.leftProcesses.length === 0), detail: stops.filter((s) => s.leftProcesses.length).map((s) => `${s.worker}: ${s.leftProcesses.join(',')}`).join('; ') || 'none left' },
          { name: 'no submission refused', ok: refusedAll.length === 0, detail: `${refusedAll.length} refused` },
        ],
      });
    } finally {
      await ledger.close();
      await stack.close();
    }
  },
};
