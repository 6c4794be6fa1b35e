// The healthcheck command (bin/healthcheck) against a real redis-server and the real API
// process: healthy; each dependency failing in turn (Redis down behind a running API, unsafe
// Redis settings in production, database missing or not migrated, disk thresholds, an oversized
// log directory, bad configuration); and a server that accepts connections but never answers,
// which must cost a timeout, never a hang.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { openStore } from '@sync-analyzer/platform';
import { formatText, parseArgs, UsageError } from './healthcheck.ts';
import { freePort } from '../../../e2e/net.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BIN = path.join(ROOT, 'bin', 'healthcheck');
const HOST_SCRIPT = path.join(ROOT, 'scripts', 'healthcheck.sh');
const TSX = fileURLToPath(import.meta.resolve('tsx'));

async function until(fn: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!(await fn())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs bin/healthcheck (asynchronously: the API in this test must keep answering). */
function healthcheck(args: string[], env: Record<string, string>, cmd = BIN): Promise<{ code: number | null; out: string; err: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    // cwd: a directory without .env, so only the given environment counts.
    const child = spawn(cmd, args, { cwd: dir, env: { PATH: process.env.PATH!, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('close', (code) => resolve({ code, out, err, ms: Date.now() - t0 }));
  });
}

const line = (out: string, name: string) => out.split('\n').find((l) => l.slice(5).startsWith(name + ' ')) ?? '';

let dir: string;
let redis: ChildProcess;
let redisPort: number;
let api: ChildProcess | null = null;
let apiPort: number;
let env: Record<string, string>;

async function startRedis(): Promise<void> {
  redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', path.join(dir, 'redis'), '--save', '', '--appendonly', 'yes', '--maxmemory', '64mb', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  const r = new Redis(redisPort, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  r.on('error', () => undefined);
  await until(async () => r.connect().then(() => true, () => false), 10_000, 'redis');
  r.disconnect();
}

async function stopRedis(): Promise<void> {
  if (redis.exitCode !== null) return;
  const gone = new Promise((r) => redis.once('exit', r));
  redis.kill('SIGTERM');
  await gone;
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sa-hc-'));
  mkdirSync(path.join(dir, 'redis'));
  redisPort = await freePort();
  apiPort = await freePort();
  await startRedis();
  env = {
    NODE_ENV: 'production',
    PORT: String(apiPort),
    WORKER_HEALTH_PORT: String(await freePort()),
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    QUEUE_PREFIX: `hc-${randomBytes(4).toString('hex')}`,
    MOUNT_PATH: path.join(dir, 'media'),
    OUTPUT_ROOT: path.join(dir, 'output'),
    DATA_DIR: path.join(dir, 'data'),
    LOG_FILE: path.join(dir, 'logs', 'api.log'),
    DISK_MIN_FREE_MB: '1',
    FFMPEG_PATH: '/usr/bin/ffmpeg',
    FFPROBE_PATH: '/usr/bin/ffprobe',
    LOG_LEVEL: 'warn',
  };
  for (const d of ['media', 'output']) mkdirSync(path.join(dir, d));
  api = spawn(process.execPath, ['--import', TSX, path.join(ROOT, 'services/api/src/main.ts')], { cwd: dir, env: { ...process.env, ...env }, stdio: 'ignore' });
  await until(async () => (await fetch(`http://127.0.0.1:${apiPort}/readyz`).catch(() => null))?.status === 200, 60_000, 'the API ready');
});

after(async () => {
  if (api && api.exitCode === null) {
    const gone = new Promise((r) => api!.once('exit', r));
    api.kill('SIGTERM');
    await gone;
  }
  await stopRedis();
  rmSync(dir, { recursive: true, force: true });
});

test('arguments: defaults, flags, usage errors', () => {
  assert.deepEqual(parseArgs([], {}), { service: 'api', json: false, timeoutMs: 3000, waitMs: 0 });
  const a = parseArgs(['--service=worker', '--json', '--url', 'http://h:1', '--timeout', '0.5', '--wait', '10', '--log-max-mb', '2'], { HEALTHCHECK_DISK_MAX_PERCENT: '90' });
  assert.deepEqual(a, { service: 'worker', json: true, url: 'http://h:1', timeoutMs: 500, waitMs: 10_000, logMaxBytes: 2 * 1024 * 1024, diskMaxUsedPercent: 90 });
  assert.throws(() => parseArgs(['--service', 'db'], {}), UsageError);
  assert.throws(() => parseArgs(['--timeout', 'soon'], {}), UsageError);
  assert.throws(() => parseArgs(['--url', 'not a url'], {}), UsageError);
  assert.throws(() => parseArgs(['--frobnicate'], {}), UsageError);
  const text = formatText({ service: 'api', ok: false, at: '', checks: [{ name: 'redis', status: 'fail', detail: 'down', ms: 1 }, { name: 'logs', status: 'skip', detail: 'unset', ms: 0 }] });
  assert.equal(text, 'FAIL redis  down\nskip logs   unset\nUNHEALTHY: api (redis)\n');
});

test('healthy api: one ok line per check, exit 0; --json is one object', async () => {
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const r = await healthcheck(['--service', 'api'], env);
  assert.equal(r.code, 0, r.out + r.err);
  for (const name of ['readyz', 'redis', 'redis-settings', 'database', 'disk-data', 'disk-output', 'logs']) assert.match(line(r.out, name), /^ok {3}/, `${name}: ${r.out}`);
  assert.match(line(r.out, 'redis-settings'), /noeviction, appendonly yes/);
  assert.match(line(r.out, 'database'), /1 migrations applied|\d+ migrations applied/);
  assert.match(r.out, /^healthy: api$/m);
  const j = await healthcheck(['--json'], env);
  assert.equal(j.code, 0);
  const report = JSON.parse(j.out);
  assert.equal(report.ok, true);
  assert.equal(report.service, 'api');
  assert.deepEqual(report.checks.map((c: any) => c.name), ['readyz', 'redis', 'redis-settings', 'database', 'disk-data', 'disk-output', 'logs']);
});

test('the worker is not checked against the database (it never uses it)', async () => {
  const r = await healthcheck(['--service', 'worker', '--json'], env);
  const report = JSON.parse(r.out);
  assert.equal(report.checks.find((c: any) => c.name === 'database').status, 'skip');
  // No worker runs in this test: its /readyz does not answer, so it is unhealthy.
  assert.equal(r.code, 1);
  assert.match(report.checks.find((c: any) => c.name === 'readyz').detail, /ECONNREFUSED/);
});

test('thresholds: free disk, used percent, log directory size', async () => {
  let r = await healthcheck([], { ...env, DISK_MIN_FREE_MB: '999999999' });
  assert.equal(r.code, 1);
  assert.match(line(r.out, 'disk-data'), /^FAIL .*below DISK_MIN_FREE_MB=999999999/);
  r = await healthcheck(['--disk-max-percent', '1'], env);
  assert.equal(r.code, 1);
  assert.match(line(r.out, 'disk-output'), /^FAIL .*above 1% used/);
  writeFileSync(path.join(dir, 'logs', 'api-2026-11-29.log'), Buffer.alloc(2 * 1024 * 1024, 120));
  r = await healthcheck(['--log-max-mb', '1'], env);
  assert.equal(r.code, 1);
  assert.match(line(r.out, 'logs'), /^FAIL .*2\.0 MB in \d+ files.*is log rotation working/);
  assert.equal((await healthcheck([], env)).code, 0, 'under the default limit');
  r = await healthcheck([], { ...env, LOG_FILE: '' });
  assert.match(line(r.out, 'logs'), /^skip .*LOG_FILE unset/);
});

test('database: missing file (not created by the check) and pending migrations', async () => {
  const other = path.join(dir, 'data2');
  mkdirSync(other);
  let r = await healthcheck([], { ...env, DATA_DIR: other });
  assert.equal(r.code, 1);
  assert.match(line(r.out, 'database'), /^FAIL .*no database at .*data2\/sync-analyzer\.sqlite/);
  assert.equal(existsSync(path.join(other, 'sync-analyzer.sqlite')), false, 'the check must not create a database');
  const store = await openStore({ client: 'sqlite', filename: path.join(other, 'sync-analyzer.sqlite') }, { debug() {}, info() {}, warn() {}, error() {} }, { migrate: false });
  await store.close();
  r = await healthcheck([], { ...env, DATA_DIR: other });
  assert.match(line(r.out, 'database'), /^FAIL .*migrations pending: 0001_initial/);
});

test('redis settings: strict in production, a warning in development', async () => {
  const r0 = new Redis(redisPort, '127.0.0.1');
  try {
    await r0.config('SET', 'maxmemory-policy', 'allkeys-lru');
    let r = await healthcheck([], env);
    assert.equal(r.code, 1);
    assert.match(line(r.out, 'redis-settings'), /^FAIL .*needs "noeviction"/);
    r = await healthcheck(['--url', `http://127.0.0.1:${apiPort}`], { ...env, NODE_ENV: 'development' });
    assert.match(line(r.out, 'redis-settings'), /^ok {3}redis-settings {2}warning: maxmemory-policy is "allkeys-lru"/);
  } finally {
    await r0.config('SET', 'maxmemory-policy', 'noeviction');
    r0.disconnect();
  }
});

test('bad configuration is a failed check, not a crash; bad arguments exit 64', async () => {
  const r = await healthcheck([], { ...env, PORT: 'eighty' });
  assert.equal(r.code, 1);
  assert.match(r.out, /^FAIL config +invalid configuration: PORT/m);
  const u = await healthcheck(['--service', 'database'], env);
  assert.equal(u.code, 64);
  assert.match(u.err, /--service must be api or worker/);
});

test('a server that accepts but never answers costs one timeout, never a hang', async () => {
  const sockets: net.Socket[] = [];
  const blackhole = net.createServer((s) => sockets.push(s));
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', () => r()));
  const port = (blackhole.address() as net.AddressInfo).port;
  try {
    const r = await healthcheck(['--timeout', '1', '--url', `http://127.0.0.1:${port}/readyz`], { ...env, REDIS_URL: `redis://127.0.0.1:${port}` });
    assert.equal(r.code, 1);
    assert.match(line(r.out, 'readyz'), /^FAIL /);
    assert.match(line(r.out, 'redis'), /^FAIL .*(no answer within 1\.0 s|timed? ?out)/i);
    assert.match(line(r.out, 'redis-settings'), /^skip /);
    assert.ok(r.ms < 15_000, `took ${r.ms} ms`);
  } finally {
    for (const s of sockets) s.destroy();
    blackhole.close();
  }
});

test('scripts/healthcheck.sh: one log line per run, alert on failure and once on recovery, exit status', async () => {
  const runBase = path.join(dir, 'host');
  mkdirSync(runBase);
  const alerts = path.join(dir, 'alerts.txt');
  const hostEnv = { ...env, SA_RUN_DIR: runBase, HEALTHCHECK_ALERT_CMD: `{ echo "ALERT $HEALTHCHECK_STATUS|$HEALTHCHECK_SUMMARY"; cat; } >> '${alerts}'` };
  const logLines = () => readFileSync(path.join(runBase, 'logs', 'healthcheck.log'), 'utf8').trim().split('\n');
  const alertLines = () => (existsSync(alerts) ? readFileSync(alerts, 'utf8').split('\n').filter((l) => l.startsWith('ALERT ')) : []);

  // No worker runs here: the worker fails, the api is fine.
  let r = await healthcheck([], hostEnv, HOST_SCRIPT);
  assert.equal(r.code, 1, r.out + r.err);
  assert.match(logLines()[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ FAIL api=ok worker=FAIL\[readyz: .*ECONNREFUSED.*\]$/);
  assert.deepEqual(alertLines().map((l) => l.split('|')[0]), ['ALERT fail']);
  assert.match(readFileSync(alerts, 'utf8'), /== worker \(exit 1\)\nFAIL readyz/, 'the full report on stdin');
  r = await healthcheck([], hostEnv, HOST_SCRIPT);
  assert.equal(r.code, 1);
  assert.equal(alertLines().length, 1, 'no repeat within HEALTHCHECK_ALERT_REPEAT_MIN');
  r = await healthcheck(['--services', 'api'], hostEnv, HOST_SCRIPT);
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(logLines()[2]!, /Z ok api=ok$/);
  assert.deepEqual(alertLines().map((l) => l.split('|')[0]), ['ALERT fail', 'ALERT recovered']);
  assert.equal((await healthcheck(['--services', 'api'], hostEnv, HOST_SCRIPT)).code, 0);
  assert.equal(alertLines().length, 2, 'recovery is announced once');
  assert.equal(logLines().length, 4);
  // A repeat interval of 0 minutes alerts on every failed run.
  for (let i = 0; i < 2; i++) assert.equal((await healthcheck([], { ...hostEnv, HEALTHCHECK_ALERT_REPEAT_MIN: '0' }, HOST_SCRIPT)).code, 1);
  assert.deepEqual(alertLines().map((l) => l.split('|')[0]), ['ALERT fail', 'ALERT recovered', 'ALERT fail', 'ALERT fail']);
});

test('scripts/healthcheck.sh --install-cron: adds its line once, keeps the others', async () => {
  const bin = path.join(dir, 'stub-bin');
  mkdirSync(bin);
  const table = path.join(dir, 'crontab.txt');
  writeFileSync(table, '0 3 * * * /usr/local/bin/nightly-job\n');
  // A crontab that keeps the table in a file: -l prints it, - replaces it from stdin.
  writeFileSync(path.join(bin, 'crontab'), `#!/bin/sh\nif [ "$1" = -l ]; then cat '${table}'; elif [ "$1" = - ]; then cat > '${table}'; else exit 2; fi\n`);
  chmodSync(path.join(bin, 'crontab'), 0o755);
  const cronEnv = { PATH: `${bin}:${process.env.PATH}` };
  const printed = await healthcheck(['--print-cron'], cronEnv, HOST_SCRIPT);
  assert.equal(printed.code, 0);
  assert.match(printed.out, /^\*\/5 \* \* \* \* cd \S+ && PATH=\S+ scripts\/healthcheck\.sh >\/dev\/null 2>&1 # sync-analyzer-healthcheck\n$/);
  for (let i = 0; i < 2; i++) assert.equal((await healthcheck(['--install-cron'], cronEnv, HOST_SCRIPT)).code, 0);
  const lines = readFileSync(table, 'utf8').trim().split('\n');
  assert.deepEqual(lines, ['0 3 * * * /usr/local/bin/nightly-job', printed.out.trim()]);
});

test('Redis down behind a running API: readyz says why, redis fails, exit 1; --wait sees it come back', async () => {
  await stopRedis();
  const r = await healthcheck([], env);
  assert.equal(r.code, 1);
  assert.match(line(r.out, 'readyz'), /^FAIL .*HTTP 503.*redis/);
  assert.match(line(r.out, 'redis'), /^FAIL /);
  const waiting = healthcheck(['--wait', '40'], env);
  await new Promise((res) => setTimeout(res, 1500));
  await startRedis();
  const w = await waiting;
  assert.equal(w.code, 0, w.out);
});
