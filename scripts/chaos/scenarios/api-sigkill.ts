// API SIGKILL with jobs in flight: the workers keep going with no API alive (they never touch
// the database); once several jobs have finished meanwhile, the API is started again and its
// reconciler must store every result produced while it was down, visible through the API with
// the right offsets. Recovery time: from the restart until all of them are visible.
import { Ledger, scenarioRow } from '../ledger.ts';
import { ChaosStack, until } from '../stack.ts';
import type { Scenario } from '../scenario.ts';

export const apiSigkill: Scenario = {
  name: 'api-sigkill',
  description: 'SIGKILL the API with jobs in flight; results produced while it is down are stored and visible after its restart',
  async run(ctx) {
    const jobs = ctx.bounded ? 12 : 48;
    const whileDown = ctx.bounded ? 4 : 10;
    // No worker dies here: job locks as long as the product default (60 s).
    const stack = await ChaosStack.start({ name: 'api-sigkill', workers: 2, jobLockSeconds: 60 });
    const ledger = new Ledger(stack);
    try {
      const pairs = await stack.media.pairs({ count: jobs, durationSeconds: 8, first: 3000 });
      const expected = new Map(pairs.map((p) => [p.dub, p.offsetSeconds]));
      const { accepted, refused } = await stack.submitPairs(pairs, ledger);
      await until(async () => {
        const u = await stack.unfinishedIds();
        return u !== null && accepted.filter((id) => !u.has(id)).length >= 2;
      }, 300_000, 'two analyses done');
      await stack.waitForRunningAnalysis(stack.workers[0]!, { timeoutMs: 60_000 }).catch(() => null);
      const workerPids = stack.workers.map((w) => w.pid);

      const apiPid = stack.api.kill('SIGKILL');
      const killAt = Date.now();
      const exit = await stack.api.waitExit(10_000);
      ctx.log(`api pid ${apiPid} killed (${exit?.signal}); waiting for ${whileDown} jobs to finish without it`);
      const acceptedSet = new Set(accepted);
      const finishedWhileDown = () => [...new Set(stack.jobEvents.filter((e) => e.event === 'completed' && e.at > killAt && acceptedSet.has(e.jobId)).map((e) => e.jobId))];
      await until(() => finishedWhileDown().length >= whileDown || null, 300_000, `${whileDown} jobs finished with the API down`);
      // With the API down nothing answers: a client sees a refused connection, not a wrong answer.
      const probe = await stack.request('GET', '/livez', undefined, { timeoutMs: 5_000 });
      const doneWhileDown = finishedWhileDown();

      const restartAt = Date.now();
      await stack.api.restart(stack.readyTimeoutMs);
      const readyMs = Date.now() - restartAt;
      const visibleMs = await until(async () => {
        for (const id of doneWhileDown) if ((await stack.getAnalysis(id))?.status !== 'completed') return null;
        return Date.now() - restartAt;
      }, 120_000, 'results produced while the API was down visible', 200).catch(() => null);
      ctx.log(`api restarted (ready in ${(readyMs / 1000).toFixed(1)} s); ${doneWhileDown.length} results visible after ${visibleMs} ms`);
      const wrongOffsets: string[] = [];
      for (const id of doneWhileDown) {
        const a = await stack.getAnalysis(id);
        const want = a ? expected.get(a.dub) : undefined;
        if (!a || a.offset_seconds === null || want === undefined || Math.abs(a.offset_seconds - want) > 0.001) wrongOffsets.push(id);
      }

      await stack.waitFinal(ledger.ids(), { timeoutMs: 600_000, observe: ledger });
      const report = await ledger.verify();
      const health = await stack.health();
      return scenarioRow({
        scenario: 'api-sigkill',
        load: `${accepted.length} analyses (8 s pairs), 2 workers`,
        faults: `API SIGKILL, ${Math.round((restartAt - killAt) / 1000)} s down, restart`,
        report,
        health,
        recoverySeconds: visibleMs === null ? null : visibleMs / 1000,
        extra: { finishedWhileApiDown: doneWhileDown.length, apiReadyAfterRestartS: Math.round(readyMs / 100) / 10 },
        checks: [
          { name: 'api killed by SIGKILL', ok: exit?.signal === 'SIGKILL', detail: `pid ${apiPid}: ${exit?.code}/${exit?.signal}` },
          { name: `at least ${whileDown} jobs finished while the API was down`, ok: doneWhileDown.length >= whileDown, detail: `${doneWhileDown.length}` },
          { name: 'nothing answered on the API port while it was down', ok: probe.status === 0, detail: `${probe.status} ${probe.error ?? ''}` },
          { name: 'results produced meanwhile stored and visible after the restart', ok: visibleMs !== null, detail: visibleMs === null ? 'not all visible within 120 s' : `${doneWhileDown.length} visible ${(visibleMs / 1000).toFixed(1)} s after the restart began` },
          { name: 'their offsets are right', ok: wrongOffsets.length === 0, detail: wrongOffsets.length ? wrongOffsets.join(', ') : 'all within 1 ms' },
          { name: 'workers kept running (not restarted)', ok: stack.workers.every((w, i) => w.pid === workerPids[i]), detail: `${workerPids.join(',')} -> ${stack.workers.map((w) => w.pid).join(',')}` },
          { name: 'no submission refused', ok: refused.length === 0, detail: `${refused.length}` },
        ],
      });
    } finally {
      await ledger.close();
      await stack.close();
    }
  },
};
