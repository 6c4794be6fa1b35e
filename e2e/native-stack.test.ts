// Native production mode for real: start_all.sh brings up redis, api and worker under
// supervisord (temp run dir, free ports, temp media root); an analysis completes through the API;
// the worker is SIGKILLed and supervisord restarts it within seconds; logs/process_status.json
// records the exit; the healthcheck command reports both services healthy again; `start_all.sh
// stop` leaves no process behind. supervisord must be installed (CI installs it): without it
// this test fails, it does not skip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { freePort, makeProgramme, makeDub, until, isAlive } from './harness.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const START_ALL = path.join(ROOT, 'start_all.sh');
const HEALTHCHECK = path.join(ROOT, 'bin/healthcheck');

const descendants = (pid: number): number[] => {
  let out: number[];
  try {
    out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n').map((l) => Number(l.trim())).filter((n) => n > 0);
  } catch {
    return [];
  }
  return [...out, ...out.flatMap(descendants)];
};

/** Runs a command to completion without blocking the event loop; returns code and output. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

test('start_all.sh: supervised stack, analysis, worker SIGKILL restarted and recorded, healthy again, clean stop', { timeout: 300_000 }, async () => {
  const probe = spawnSync('supervisord', ['--version'], { encoding: 'utf8' });
  assert.equal(probe.status, 0, 'supervisord is not installed: the native production mode runs under it (Debian: apt-get install supervisor). CI must install it; this test does not skip.');

  const dir = await mkdtemp(path.join(os.tmpdir(), 'sa-native-'));
  const media = path.join(dir, 'media');
  // REDIS_URL points at a free port: nothing answers there, so start_all.sh runs its own redis-server.
  const env: NodeJS.ProcessEnv = { ...(await stackEnv(dir)), LOG_LEVEL: 'info' };
  const port = Number(env.PORT);
  const logs = path.join(dir, 'run-base', 'logs');
  const conf = path.join(dir, 'run-base', 'run', 'supervisord.conf');
  const pidfile = path.join(dir, 'run-base', 'run', 'supervisord.pid');
  const ctl = (...args: string[]) => run('supervisorctl', ['-c', conf, ...args], env, 15_000);
  const statusDoc = () => (existsSync(path.join(logs, 'process_status.json')) ? (JSON.parse(readFileSync(path.join(logs, 'process_status.json'), 'utf8')) as any) : null);
  let svPid = 0;
  let everything: number[] = [];
  try {
    const started = await run(START_ALL, ['prod'], env, 200_000);
    assert.equal(started.code, 0, `start_all.sh prod failed:\n${started.out}`);
    assert.match(started.out, /running redis-server there \(appendonly/);
    assert.match(started.out, /ready: API/);
    svPid = Number(readFileSync(pidfile, 'utf8').trim());
    assert.ok(isAlive(svPid), 'supervisord runs');

    const st = await ctl('status');
    for (const name of ['redis', 'api', 'worker', 'process_status']) assert.match(st.out, new RegExp(`^${name}\\s+RUNNING`, 'm'), st.out);

    // An analysis through the API, done by the supervised worker.
    await makeProgramme(path.join(media, 'm.wav'), 61, 20);
    await makeDub(path.join(media, 'm.wav'), path.join(media, 'd.wav'), 0.1);
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/analyses?wait=90`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ master: 'm.wav', dub: 'd.wav' }) });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.ok(Math.abs(body.analysis.offset_seconds - 0.1) < 0.001, `offset ${body.analysis.offset_seconds}`);

    // SIGKILL the worker: supervisord starts a new one within seconds.
    const oldPid = Number((await ctl('pid', 'worker')).out.trim());
    assert.ok(oldPid > 0 && isAlive(oldPid));
    const killedAt = Date.now();
    process.kill(oldPid, 'SIGKILL');
    const newPid = await until(
      async () => {
        const s = await ctl('status', 'worker');
        const m = s.out.match(/RUNNING\s+pid (\d+)/);
        return m && Number(m[1]) !== oldPid ? Number(m[1]) : null;
      },
      20_000,
      'worker RUNNING again with a new pid',
    );
    assert.ok(Date.now() - killedAt < 20_000);
    assert.ok(isAlive(newPid) && !isAlive(oldPid));

    // The listener recorded the exit and the restart.
    const worker = await until(async () => {
      const w = statusDoc()?.processes?.worker;
      return w && w.state === 'RUNNING' && w.pid === newPid ? w : null;
    }, 10_000, 'process_status.json current');
    assert.equal(worker.restarts, 1);
    assert.equal(worker.last_exit.pid, oldPid);
    assert.equal(worker.last_exit.expected, false);
    assert.match(worker.last_exit.reason, /SIGKILL/);
    const events = readFileSync(path.join(logs, 'process-events.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(events.some((e: any) => e.event === 'PROCESS_STATE_EXITED' && e.process === 'worker' && e.pid === oldPid));

    // The one healthcheck command: both services healthy again (the worker needs a moment to be ready).
    const hcWorker = await run(HEALTHCHECK, ['--service', 'worker', '--wait', '30'], env, 60_000);
    assert.equal(hcWorker.code, 0, hcWorker.out);
    assert.match(hcWorker.out, /^ok\s+readyz/m);
    assert.match(hcWorker.out, /^ok\s+redis-settings\s+maxmemory \d+, noeviction, appendonly yes/m);
    const hcApi = await run(HEALTHCHECK, ['--service', 'api', '--json', '--log-dir', logs], env, 30_000);
    assert.equal(hcApi.code, 0, hcApi.out);
    const report = JSON.parse(hcApi.out);
    assert.equal(report.ok, true);
    assert.deepEqual(report.checks.filter((c: any) => c.status !== 'ok').map((c: any) => c.name), []);
    // The stack's own record of its settings (stack.env) gives cron the same answer from anywhere.
    const hcFromEnvFile = await run(HEALTHCHECK, ['--service', 'api', '--env-file', path.join(dir, 'run-base', 'run', 'stack.env')], { PATH: process.env.PATH }, 30_000);
    assert.equal(hcFromEnvFile.code, 0, hcFromEnvFile.out);

    // Rotated per-process logs under logs/.
    const files = await readdir(logs);
    for (const f of ['api.log', 'worker.log', 'redis.log', 'supervisord.log', 'process-events.log', 'process_status.json']) assert.ok(files.includes(f), `${f} in ${files.join(', ')}`);
    assert.match(readFileSync(conf, 'utf8'), /stdout_logfile_maxbytes=10MB/);

    // stop: nothing left behind.
    everything = [svPid, ...descendants(svPid)];
    assert.ok(everything.length >= 5, `supervisord + listener + redis + api + worker: ${everything.join(' ')}`);
    const stopped = await run(START_ALL, ['stop'], env, 120_000);
    assert.equal(stopped.code, 0, stopped.out);
    await until(async () => everything.every((p) => !isAlive(p)), 5_000, `no process left (alive: ${everything.filter(isAlive).join(' ')})`);
    const after = statusDoc();
    assert.equal(after.processes.worker.state, 'STOPPED');
    assert.equal(after.processes.api.state, 'STOPPED');
    const again = await run(START_ALL, ['status'], env, 30_000);
    assert.equal(again.code, 3, again.out);
  } finally {
    if (svPid && isAlive(svPid)) {
      const left = [svPid, ...descendants(svPid)];
      for (const p of left) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    for (const p of everything.filter(isAlive)) process.kill(p, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

/** The environment of a stack in a fresh temp dir (nothing runs on its ports yet). */
async function stackEnv(dir: string): Promise<NodeJS.ProcessEnv> {
  return {
    ...process.env,
    SA_RUN_DIR: path.join(dir, 'run-base'),
    SA_START_TIMEOUT: '120',
    NODE_ENV: 'production',
    PORT: String(await freePort()),
    WORKER_HEALTH_PORT: String(await freePort()),
    REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
    QUEUE_PREFIX: `native-${randomBytes(4).toString('hex')}`,
    MOUNT_PATH: path.join(dir, 'media'),
    OUTPUT_ROOT: path.join(dir, 'output'),
    DATA_DIR: path.join(dir, 'data'),
    DISK_MIN_FREE_MB: '1',
    SHUTDOWN_DEADLINE_SECONDS: '5',
    FFMPEG_PATH: '/usr/bin/ffmpeg',
    FFPROBE_PATH: '/usr/bin/ffprobe',
  };
}

test('start_all.sh refuses a bad configuration (exit 78) and a busy port, starting nothing', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sa-native-'));
  try {
    const env = await stackEnv(dir);
    const bad = await run(START_ALL, ['prod'], { ...env, PORT: 'eighty' }, 60_000);
    assert.equal(bad.code, 78, bad.out);
    assert.match(bad.out, /PORT/);
    assert.match(bad.out, /nothing was started/);
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(Number(env.PORT), '127.0.0.1', () => r()));
    try {
      const r = await run(START_ALL, ['prod'], env, 60_000);
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, new RegExp(`port ${env.PORT} \\(PORT\\) is already in use`));
    } finally {
      busy.close();
    }
    assert.equal(existsSync(path.join(dir, 'run-base', 'run', 'supervisord.pid')), false, 'no supervisord started');
    const usage = await run(START_ALL, ['launch'], env, 30_000);
    assert.equal(usage.code, 64);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('start_all.sh without supervisord: plain background processes with a warning; stop leaves nothing', { timeout: 200_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sa-native-'));
  const pidsFile = path.join(dir, 'run-base', 'run', 'fallback.pids');
  let pids: number[] = [];
  try {
    const env: NodeJS.ProcessEnv = { ...(await stackEnv(dir)), SUPERVISORD: path.join(dir, 'no-such-supervisord') };
    const started = await run(START_ALL, ['prod'], env, 150_000);
    assert.equal(started.code, 0, started.out);
    assert.match(started.out, /WARNING: supervisord is not installed/);
    assert.match(started.out, /NOT restarted/);
    pids = readFileSync(pidsFile, 'utf8').trim().split('\n').map((l) => Number(l.split(' ')[1]));
    assert.equal(pids.length, 3, 'redis, api, worker');
    assert.ok(pids.every(isAlive));
    const ready = await fetch(`http://127.0.0.1:${env.PORT}/readyz`);
    assert.equal(ready.status, 200);
    const st = await run(START_ALL, ['status'], env, 60_000);
    assert.equal(st.code, 0, st.out);
    assert.match(st.out, /^worker +RUNNING +pid \d+/m);
    const stopped = await run(START_ALL, ['stop'], env, 120_000);
    assert.equal(stopped.code, 0, stopped.out);
    await until(async () => pids.every((p) => !isAlive(p)), 5_000, `no process left (alive: ${pids.filter(isAlive).join(' ')})`);
    assert.equal(existsSync(pidsFile), false);
  } finally {
    for (const p of pids.filter(isAlive)) process.kill(p, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
