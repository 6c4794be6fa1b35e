// Queue throughput on PostgreSQL: jobs/minute for short pairs with one worker process, then with
// two (each concurrency 1) sharing the queue; the second must reach 1.5x the first, and no job
// may run on two workers at once (from the workers' job-start/finish log lines). Then a long run
// with RSS of the api and each worker sampled from start to end: memory stays flat.
// Separate network namespaces per worker are not used: the workers are separate processes on one
// host, talking to Redis and PostgreSQL over loopback. Each worker stands for one worker host, so
// each is pinned (taskset, children included) to its own half of the machine's CPUs: without
// that, one worker on a 2-core machine already uses both cores (master and dub decode at once)
// and the figure would measure the machine, not the queue. api, Redis and PostgreSQL float.
import os from 'node:os';
import { NO_CRASH_LOCK_SECONDS } from '../load/lock.ts';
import type { Scenario, ScenarioContext } from '../scenario.ts';
import type { Check, ScenarioRow } from '../table.ts';
import { ChaosStack, until, type ServiceProcess } from '../stack.ts';
import { Ledger, scenarioRow } from '../ledger.ts';
import { UniqueSubmitter } from '../load/submissions.ts';
import { round, slope } from '../load/stats.ts';

const SPEEDUP_REQUIRED = 1.5;

/** CPUs of the n-th worker (0 or 1): its own half of the machine; none when there is one CPU. */
function workerCpus(index: number): number[] | undefined {
  const n = os.availableParallelism();
  const per = Math.floor(n / 2);
  if (per < 1 || index > 1) return undefined;
  return Array.from({ length: per }, (_, i) => index * per + i);
}
/** Memory is flat when end <= start x 1.5 + 50 MB, measured after a warm-up (see memoryCheck). */
const RSS_FACTOR = 1.5;
const RSS_SLACK_MB = 50;

interface Sample {
  /** Jobs completed so far in the memory run. */
  done: number;
  /** kB per process name. */
  rss: Record<string, number>;
}

/** Submits n jobs at once and measures jobs/minute from the first job's start to the last one's end. */
async function measureThroughput(stack: ChaosStack, submitter: UniqueSubmitter, ledger: Ledger, n: number): Promise<{ perMinute: number; seconds: number; ids: string[] }> {
  const accepted = await submitter.submitMany(n, 4);
  const ids = accepted.flatMap((s) => (s.id ? [s.id] : []));
  if (ids.length !== n) throw new Error(`only ${ids.length} of ${n} submissions accepted: ${accepted.filter((s) => !s.id).map((s) => `${s.status} ${s.code}`).join(', ')}`);
  // Generous: the machine is shared; a slow run shows in the figures, a stuck one times out.
  await stack.waitFinal(ids, { timeoutMs: Math.max(600_000, n * 60_000), observe: ledger });
  const mine = new Set(ids);
  const events = stack.jobEvents.filter((e) => mine.has(e.jobId));
  const first = Math.min(...events.filter((e) => e.event === 'started').map((e) => e.at));
  const last = Math.max(...events.filter((e) => e.event === 'completed').map((e) => e.at));
  const seconds = (last - first) / 1000;
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`no job start/completion lines for the measured jobs (${events.length} events)`);
  return { perMinute: (n * 60) / seconds, seconds, ids };
}

function rssOf(procs: ServiceProcess[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of procs) {
    const kb = p.rss();
    if (kb === null) throw new Error(`${p.name} is not running`);
    out[p.name] = kb;
  }
  return out;
}

function memoryCheck(start: Record<string, number>, end: Record<string, number>, samples: Sample[], jobs: number, bounded: boolean): { check: Check; figures: Record<string, number> } {
  const figures: Record<string, number> = {};
  const problems: string[] = [];
  const parts: string[] = [];
  for (const name of Object.keys(start)) {
    const s = start[name]! / 1024;
    const e = end[name]! / 1024;
    const limit = s * RSS_FACTOR + RSS_SLACK_MB;
    // kB per job over the run (least squares through the samples): a leak shows as a steady slope.
    const kbPerJob = slope(samples.map((x) => ({ x: x.done, y: x.rss[name] ?? 0 })));
    figures[`rss.${name}.startMB`] = round(s);
    figures[`rss.${name}.endMB`] = round(e);
    figures[`rss.${name}.kBPerJob`] = round(kbPerJob);
    parts.push(`${name} ${s.toFixed(0)} -> ${e.toFixed(0)} MB (${kbPerJob.toFixed(0)} kB/job)`);
    if (e > limit) problems.push(`${name} ended at ${e.toFixed(0)} MB > ${limit.toFixed(0)} MB`);
  }
  return {
    check: {
      name: `memory flat over ${jobs} jobs (end <= start x ${RSS_FACTOR} + ${RSS_SLACK_MB} MB, after warm-up)`,
      ok: problems.length === 0,
      detail: `${parts.join('; ')}${problems.length ? `; ${problems.join('; ')}` : ''}${bounded ? ' (bounded run: fewer than the full run\'s 500 jobs)' : ''}`,
    },
    figures,
  };
}

export const throughput: Scenario = {
  name: 'throughput',
  description: 'PostgreSQL; jobs/minute with 1 then 2 worker processes on one queue (>= 1.5x), no job run twice at once; RSS of api and workers flat over a long run',
  async run(ctx: ScenarioContext): Promise<ScenarioRow> {
    const perPhase = ctx.bounded ? 16 : 40;
    const memoryJobs = ctx.bounded ? 40 : 500;
    const stack = await ChaosStack.start({ name: 'throughput', workers: 1, database: 'postgres', jobLockSeconds: NO_CRASH_LOCK_SECONDS, workerCpus });
    const ledger = new Ledger(stack);
    try {
      const pairs = await stack.media.pairs({ count: 6 });
      const submitter = new UniqueSubmitter(stack, pairs, ledger);
      // Warm-up, one job per pair: the decoded master is cached and each file's listening proxy
      // (made once per file after its first analysis) exists, so both phases do the same work.
      await submitter.submitMany(pairs.length, 2);
      await stack.waitFinal(ledger.ids(), { timeoutMs: 600_000, observe: ledger });

      const one = await measureThroughput(stack, submitter, ledger, perPhase);
      ctx.log(`1 worker: ${one.perMinute.toFixed(1)} jobs/min (${perPhase} jobs in ${one.seconds.toFixed(1)} s)`);

      const second = await stack.addWorker();
      // The new process's first job pays for its job child's first start; not measured.
      await submitter.submitMany(2, 2);
      await stack.waitFinal(ledger.ids(), { timeoutMs: 600_000, observe: ledger });
      const two = await measureThroughput(stack, submitter, ledger, perPhase);
      const speedup = two.perMinute / one.perMinute;
      ctx.log(`2 workers: ${two.perMinute.toFixed(1)} jobs/min (${speedup.toFixed(2)}x)`);
      const mine = new Set(two.ids);
      const byWorker: Record<string, number> = {};
      for (const e of stack.jobEvents) if (e.event === 'completed' && mine.has(e.jobId)) byWorker[e.worker] = (byWorker[e.worker] ?? 0) + 1;

      // The long run: RSS at the start (after the warm-up above) and end, sampled in between.
      const procs = [stack.api, ...stack.workers];
      const rssStart = rssOf(procs);
      const samples: Sample[] = [{ done: 0, rss: rssStart }];
      const runIds = new Set<string>();
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          await new Promise((r) => setTimeout(r, 2_000));
          const done = stack.jobEvents.filter((e) => e.event === 'completed' && runIds.has(e.jobId)).length;
          samples.push({ done, rss: rssOf(procs) });
        }
      })();
      let t0 = 0;
      try {
        t0 = Date.now();
        const accepted = await submitter.submitMany(memoryJobs, 4);
        for (const s of accepted) if (s.id) runIds.add(s.id);
        if (runIds.size !== memoryJobs) throw new Error(`only ${runIds.size} of ${memoryJobs} submissions accepted`);
        await stack.waitFinal([...runIds], { timeoutMs: Math.max(900_000, memoryJobs * 30_000), observe: ledger });
      } finally {
        sampling = false;
        await sampler;
      }
      const longRunSeconds = (Date.now() - t0) / 1000;
      // Settle: the proxies of the last analyses, then a final reading.
      await until(async () => (await Promise.all(stack.workers.map((w) => stack.activeJobs(w)))).every((a) => a.length === 0), 60_000, 'workers idle', 500);
      const rssEnd = rssOf(procs);
      samples.push({ done: memoryJobs, rss: rssEnd });
      const memory = memoryCheck(rssStart, rssEnd, samples, memoryJobs, ctx.bounded);
      ctx.log(memory.check.detail);

      const report = await ledger.verify();
      const health = await stack.health();
      const checks: Check[] = [
        { name: `2 workers (${workerCpus(0) ? 'each on its own half of the CPUs' : 'unpinned: one CPU'}) reach ${SPEEDUP_REQUIRED}x the jobs/minute of 1`, ok: speedup >= SPEEDUP_REQUIRED, detail: `1 worker ${one.perMinute.toFixed(1)}/min, 2 workers ${two.perMinute.toFixed(1)}/min: ${speedup.toFixed(2)}x` },
        {
          name: 'both workers took jobs in the 2-worker phase',
          ok: Object.keys(byWorker).length === 2,
          detail: Object.entries(byWorker).map(([w, n]) => `${w} ${n}`).join(', ') || 'no completions logged',
        },
        {
          name: 'no job ran on two workers at the same time',
          ok: report.concurrentRuns.length === 0,
          detail: report.concurrentRuns.length ? report.concurrentRuns.slice(0, 3).map((c) => `${c.jobId} on ${c.workers.join(' + ')}`).join('; ') : `${stack.jobEvents.filter((e) => e.event === 'started').length} job starts checked for overlap`,
        },
        memory.check,
      ];
      return scenarioRow({
        scenario: 'throughput',
        load: `PostgreSQL; ${perPhase} jobs on 1 worker, ${perPhase} on 2; long run of ${memoryJobs} jobs${ctx.bounded ? ' (bounded; full run: 500)' : ''}`,
        faults: 'none (throughput and memory)',
        report,
        health,
        recoverySeconds: null,
        extra: {
          'jobsPerMinute.1worker': round(one.perMinute),
          'jobsPerMinute.2workers': round(two.perMinute),
          speedup: round(speedup, 2),
          longRunJobs: memoryJobs,
          longRunSeconds: round(longRunSeconds),
          ...memory.figures,
          secondWorker: second.name,
          netns: 'not used (workers are separate processes on one host)',
          cpuPinning: [0, 1].map((i) => `worker-${i + 1}: ${workerCpus(i)?.join('+') ?? 'any'}`).join('; ') + ` of ${os.availableParallelism()} CPUs`,
        },
        checks,
      });
    } finally {
      await ledger.close();
      await stack.close();
    }
  },
};
