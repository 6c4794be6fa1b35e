// `npm start` on embedded defaults: with no Redis at REDIS_URL it starts its own (appendonly),
// brings up the API and a worker, an analysis completes through the API, and Ctrl-C (SIGINT)
// stops everything, leaving no process behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtemp, rm, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, makeProgramme, makeDub, until, isAlive } from './harness.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const descendants = (pid: number): number[] => {
  let out: number[];
  try {
    out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n').map((l) => Number(l.trim())).filter((n) => n > 0);
  } catch {
    return [];
  }
  return [...out, ...out.flatMap(descendants)];
};

test('npm start: own Redis with appendonly, API + worker, analysis through the API, clean stop', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sa-start-'));
  const [port, healthPort, redisPort] = [await freePort(), await freePort(), await freePort()];
  const media = path.join(dir, 'media');
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(ROOT, 'scripts/start.ts')], {
    cwd: dir,
    env: { ...process.env, PORT: String(port), WORKER_HEALTH_PORT: String(healthPort), REDIS_URL: `redis://127.0.0.1:${redisPort}`, MOUNT_PATH: media, OUTPUT_ROOT: path.join(dir, 'output'), DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'warn', FFMPEG_PATH: '/usr/bin/ffmpeg' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c));
  child.stderr.on('data', (c: Buffer) => (out += c));
  try {
    await until(async () => /\[start\] ready/.test(out), 60_000, `ready (output so far: ${out.slice(-500)})`);
    assert.match(out, /starting redis-server \(appendonly/);
    await makeProgramme(path.join(media, 'm.wav'), 61, 20);
    await makeDub(path.join(media, 'm.wav'), path.join(media, 'd.wav'), 0.1);
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/analyses?wait=90`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ master: 'm.wav', dub: 'd.wav' }) });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.ok(Math.abs(body.analysis.offset_seconds - 0.1) < 0.001);
    const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as any;
    assert.match(health.checks.find((c: any) => c.name === 'redis-settings').detail, /appendonly yes/);
    assert.ok((await readdir(path.join(dir, 'data'))).includes('sync-analyzer.sqlite'));
    const procs = descendants(child.pid!);
    assert.ok(procs.length >= 3, 'redis, api, worker');
    child.kill('SIGINT');
    await until(async () => child.exitCode !== null, 30_000, 'start script exit');
    assert.equal(child.exitCode, 0, out.slice(-1000));
    await until(async () => procs.every((p) => !isAlive(p)), 5_000, 'no process left behind');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    for (const p of descendants(child.pid!)) process.kill(p, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
