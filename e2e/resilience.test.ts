// End to end: the stack survives restarts and outages without losing a report. API restart
// with jobs in flight, Redis losing queued jobs, a worker killed mid-job (stalled-job recovery,
// exactly one stored report, no orphan processes), graceful worker shutdown handing the job
// back, Redis down (503, then recovery by itself).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { startStack, makeProgramme, makeDub, until, isAlive, spawnWorkerProcess, freePort, type Stack } from './harness.ts';

let s: Stack;

before(async () => {
  s = await startStack({ worker: false });
  await makeProgramme(path.join(s.mediaRoot, 'master.wav'), 31, 30);
  await makeDub(path.join(s.mediaRoot, 'master.wav'), path.join(s.mediaRoot, 'dub.wav'), -0.3);
  await makeProgramme(path.join(s.mediaRoot, 'long-master.wav'), 32, 240);
  await makeDub(path.join(s.mediaRoot, 'long-master.wav'), path.join(s.mediaRoot, 'long-dub.wav'), 0.7);
});
after(async () => {
  await s.close();
  assert.deepEqual(s.contract.violations, []);
});

const get = async (id: string) => (await s.request('GET', `/api/v1/analyses/${id}`)).body.analysis;
const childrenOf = (pid: number): number[] => {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n').map((l) => Number(l.trim())).filter((n) => n > 0);
  } catch {
    return [];
  }
};

describe('no lost reports', () => {
  test('a result produced while the API is down is stored when it comes back', async () => {
    const sub = await s.request('POST', '/api/v1/analyses', { master: 'master.wav', dub: 'dub.wav' });
    const id = sub.body.analysis.id as string;
    await s.api.stop();
    // The worker runs and finishes the job with no API process alive.
    await s.startWorker();
    const conn = new Redis(s.redis.url, { maxRetriesPerRequest: null });
    const q = new Queue('analysis', { connection: conn, prefix: s.config.queuePrefix });
    await until(async () => (await q.getJob(id))?.finishedOn, 60_000, 'job finished in Redis');
    await s.restartApi();
    const rec = await until(async () => {
      const r = await get(id);
      return r.status === 'completed' ? r : null;
    }, 10_000, 'stored after restart');
    assert.ok(Math.abs(rec.offset_seconds + 0.3) < 0.001);
    await s.stopWorker();
    await q.close();
    conn.disconnect();
  });

  test('submissions Redis lost are queued again by the API and then run', async () => {
    const sub = await s.request('POST', '/api/v1/analyses', { master: 'master.wav', dub: 'dub.wav', options: { frameRate: '25' } });
    const id = sub.body.analysis.id as string;
    // Redis loses everything (e.g. restarted without persistence).
    const r = new Redis(s.redis.url);
    await r.flushall();
    r.disconnect();
    await s.restartApi();
    await s.startWorker();
    const rec = await until(async () => {
      const a = await get(id);
      return a.status === 'completed' ? a : null;
    }, 60_000, 'requeued analysis completed');
    assert.equal(rec.verdict, 'offset');
    assert.ok(s.logs.some((l) => l.includes('analysis missing from Redis: queued again') && l.includes(id)));
    await s.stopWorker();
  });

  test('a worker killed mid-job: its job child and ffmpeg end, another worker re-runs the job, exactly one report', async () => {
    const healthPort = await freePort();
    const proc = spawnWorkerProcess(s, { JOB_LOCK_SECONDS: '2', WORKER_HEALTH_PORT: String(healthPort) });
    try {
      await until(async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => null))?.status === 200, 30_000, 'worker ready');
      const live = await fetch(`http://127.0.0.1:${healthPort}/health`);
      assert.equal(((await live.json()) as any).status, 'ok');
      const sub = await s.request('POST', '/api/v1/analyses', { master: 'long-master.wav', dub: 'long-dub.wav' });
      const id = sub.body.analysis.id as string;
      await until(async () => (await get(id)).status === 'running', 30_000, 'running');
      const jobChildren = await until(async () => {
        const c = childrenOf(proc.pid!);
        return c.length ? c : null;
      }, 10_000, 'job child');
      const grandChildren = jobChildren.flatMap(childrenOf);
      proc.kill('SIGKILL');
      await until(async () => [...jobChildren, ...grandChildren].every((p) => !isAlive(p)), 5_000, 'orphans gone');
      // Another worker picks the stalled job up once its lock expires.
      await s.startWorker({ lockDurationMs: 2_000, stalledIntervalMs: 1_000 });
      const rec = await until(async () => {
        const a = await get(id);
        return a.status === 'completed' ? a : null;
      }, 120_000, 'completed after stall');
      assert.ok(Math.abs(rec.offset_seconds - 0.7) < 0.001);
      const list = await s.request('GET', `/api/v1/analyses?file=long-dub&limit=50`);
      assert.equal(list.body.items.filter((a: any) => a.id === id).length, 1, 'one record');
      assert.ok(rec.attempts >= 1);
    } finally {
      proc.kill('SIGKILL');
      await s.stopWorker();
    }
  });

  test('a worker that loses its job lock stops the job at once: it never runs twice concurrently', async () => {
    const healthPort = await freePort();
    const proc = spawnWorkerProcess(s, { JOB_LOCK_SECONDS: '2', WORKER_HEALTH_PORT: String(healthPort) });
    const redis = new Redis(s.redis.url);
    let id = '';
    try {
      await until(async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => null))?.status === 200, 30_000, 'worker ready');
      const sub = await s.request('POST', '/api/v1/analyses', { master: 'long-master.wav', dub: 'long-dub.wav', options: { frameRate: '24' } });
      id = sub.body.analysis.id as string;
      await until(async () => (await get(id)).status === 'running', 30_000, 'running');
      const jobChildren = await until(async () => {
        const c = childrenOf(proc.pid!);
        return c.length ? c : null;
      }, 10_000, 'job child');
      // What a lock that expired while the worker was stalled (or was taken by the stalled-job
      // check) looks like to the worker at its next renewal.
      assert.equal(await redis.del(`${s.config.queuePrefix}:analysis:${id}:lock`), 1);
      await until(async () => /the job lock was lost/.test(proc.output()), 10_000, 'lock loss noticed');
      await until(async () => jobChildren.every((p) => !isAlive(p)), 10_000, 'job child stopped');
      assert.equal(proc.exitCode, null, 'the worker itself keeps running');
    } finally {
      proc.kill('SIGKILL');
      redis.disconnect();
    }
    // The stalled-job check hands the job to a fresh worker; one report in the end.
    await s.startWorker({ lockDurationMs: 2_000, stalledIntervalMs: 1_000 });
    try {
      const rec = await until(async () => {
        const a = await get(id);
        return a.status === 'completed' ? a : null;
      }, 120_000, 'completed after the lock loss');
      assert.ok(Math.abs(rec.offset_seconds - 0.7) < 0.001);
      const list = await s.request('GET', `/api/v1/analyses?file=long-dub&limit=50`);
      assert.equal(list.body.items.filter((a: any) => a.id === id).length, 1, 'one record');
    } finally {
      await s.stopWorker();
    }
  });

  test('SIGTERM: the worker hands its running job back within the deadline and exits; the job completes elsewhere', async () => {
    const healthPort = await freePort();
    const proc = spawnWorkerProcess(s, { SHUTDOWN_DEADLINE_SECONDS: '1', WORKER_HEALTH_PORT: String(healthPort) });
    await until(async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => null))?.status === 200, 30_000, 'worker ready');
    const sub = await s.request('POST', '/api/v1/analyses', { master: 'long-master.wav', dub: 'long-dub.wav', options: { frameRate: '25' } });
    const id = sub.body.analysis.id as string;
    await until(async () => (await get(id)).status === 'running', 30_000, 'running');
    const kids = childrenOf(proc.pid!);
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    proc.kill('SIGTERM');
    const code = await exited;
    assert.equal(code, 0, proc.output().slice(-2000));
    assert.ok(kids.every((p) => !isAlive(p)), 'job processes ended with the worker');
    assert.match(proc.output(), /handed back to the queue/);
    await s.startWorker();
    const rec = await until(async () => {
      const a = await get(id);
      return a.status === 'completed' ? a : null;
    }, 120_000, 'completed by the next worker');
    assert.ok(Math.abs(rec.offset_seconds - 0.7) < 0.001);
    await s.stopWorker();
  });

  test('Redis down: submissions get 503 with a clear body, stored reports stay readable, service recovers by itself', async () => {
    const done = await s.request('GET', '/api/v1/analyses?status=completed&limit=1');
    const known = done.body.items[0].id;
    await s.redis.stop();
    const r = await s.request('POST', '/api/v1/analyses', { master: 'master.wav', dub: 'dub.wav', options: { frameRate: '30' } });
    assert.equal(r.status, 503);
    assert.equal(r.body.error.code, 'queue_unavailable');
    assert.match(r.body.error.message, /Redis/);
    assert.equal((await s.request('GET', `/api/v1/analyses/${known}`)).status, 200);
    const ready = await s.request('GET', '/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.checks.find((c: any) => c.name === 'redis').ok, false);
    assert.equal((await s.request('GET', '/livez')).status, 200);
    await s.redis.restart();
    await until(async () => (await s.request('GET', '/readyz')).status === 200, 20_000, 'ready again');
    const again = await s.request('POST', '/api/v1/analyses', { master: 'master.wav', dub: 'dub.wav', options: { frameRate: '30' } });
    assert.equal(again.status, 202, again.text);
  });

  test('Redis paused (socket open, no answers): health says degraded and submissions get 503, each within seconds; then healthy by itself', async () => {
    await until(async () => (await s.request('GET', '/readyz')).status === 200, 20_000, 'ready before');
    s.redis.process.kill('SIGSTOP');
    try {
      const timed = async (fn: () => Promise<any>) => {
        const t0 = performance.now();
        const r = await fn();
        return { r, ms: performance.now() - t0 };
      };
      const health = await timed(() => s.request('GET', '/health'));
      assert.equal(health.r.status, 503);
      assert.equal(health.r.body.status, 'degraded');
      assert.equal(health.r.body.checks.find((c: any) => c.name === 'redis').ok, false);
      assert.ok(health.ms < 6_000, `/health took ${Math.round(health.ms)} ms`);
      const ready = await timed(() => s.request('GET', '/readyz'));
      assert.equal(ready.r.status, 503);
      assert.ok(ready.ms < 6_000, `/readyz took ${Math.round(ready.ms)} ms`);
      const sub = await timed(() => s.request('POST', '/api/v1/analyses', { master: 'master.wav', dub: 'dub.wav', options: { frameRate: '50' } }));
      assert.equal(sub.r.status, 503, sub.r.text);
      assert.ok(sub.ms < 6_000, `submission took ${Math.round(sub.ms)} ms`);
      assert.equal((await s.request('GET', '/livez')).status, 200);
    } finally {
      s.redis.process.kill('SIGCONT');
    }
    await until(async () => (await s.request('GET', '/health')).body.status === 'ok', 30_000, 'healthy again');
  });
});
