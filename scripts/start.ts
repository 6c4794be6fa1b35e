// `npm start`: brings up the service on embedded defaults: the API and a worker, SQLite under
// ./data, Redis from REDIS_URL, or (when nothing answers there and it is local) a redis-server
// of its own with appendonly. Says clearly what is missing when it cannot start. Supervision
// (restarts) belongs to the production stack; this is the one-command local run.
import 'dotenv/config';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkTools, resolveTools } from '@sync-analyzer/media';
import { ConfigError, loadConfig, type Config } from '@sync-analyzer/platform';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TSX = import.meta.resolve('tsx');
const say = (msg: string) => console.error(`[start] ${msg}`);

function fail(msg: string): never {
  say(`cannot start: ${msg}`);
  process.exit(1);
}

function reachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function ensureRedis(config: Config): Promise<ChildProcess | null> {
  const url = new URL(config.redisUrl);
  const host = url.hostname || '127.0.0.1';
  const port = Number(url.port || 6379);
  if (await reachable(host, port)) {
    say(`using Redis at ${host}:${port}`);
    return null;
  }
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) fail(`Redis at ${host}:${port} does not answer (REDIS_URL). Start it, or point REDIS_URL at a running Redis.`);
  const dir = path.resolve(config.dataDir, 'redis');
  await mkdir(dir, { recursive: true });
  say(`no Redis at ${host}:${port}: starting redis-server (appendonly, noeviction) with data in ${dir}`);
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--maxmemory', '512mb', '--maxmemory-policy', 'noeviction'], { stdio: ['ignore', 'ignore', 'inherit'] });
  redis.on('error', (e: NodeJS.ErrnoException) => fail(e.code === 'ENOENT' ? 'redis-server is not installed (Debian: apt-get install redis-server), and no Redis answers at REDIS_URL' : e.message));
  for (let i = 0; i < 100; i++) {
    if (await reachable(host, port, 200)) return redis;
    if (redis.exitCode !== null) fail(`redis-server exited with code ${redis.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  fail('redis-server did not start within 10 s');
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }
  try {
    await checkTools(resolveTools(process.env));
  } catch (e) {
    fail(`${(e as Error).message} (Debian: apt-get install ffmpeg; or set FFMPEG_PATH / FFPROBE_PATH)`);
  }
  for (const dir of [config.mediaRoot, config.outputRoot, config.dataDir]) await mkdir(dir, { recursive: true });
  const redis = await ensureRedis(config);
  const env = { ...process.env, REDIS_URL: config.redisUrl };
  const run = (name: string, entry: string) => {
    const child = spawn(process.execPath, ['--import', TSX, path.join(ROOT, entry)], { stdio: 'inherit', env });
    child.on('exit', (code, signal) => {
      if (!stopping) {
        say(`${name} exited unexpectedly (code ${code}, signal ${signal}); stopping everything`);
        void stop(1);
      }
    });
    return child;
  };
  let stopping = false;
  const api = run('api', 'services/api/src/main.ts');
  const worker = run('worker', 'services/worker/src/main.ts');
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping: api and worker first (workers hand unfinished jobs back), then Redis');
    const exited = (c: ChildProcess) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once('exit', () => r())));
    api.kill('SIGTERM');
    worker.kill('SIGTERM');
    await Promise.race([Promise.all([exited(api), exited(worker)]), new Promise((r) => setTimeout(r, config.shutdownDeadlineMs + 5000))]);
    if (redis) {
      redis.kill('SIGTERM');
      await exited(redis);
    }
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  for (let i = 0; i < 600 && !stopping; i++) {
    const res = await fetch(`http://127.0.0.1:${config.port}/readyz`).catch(() => null);
    if (res?.status === 200) {
      say(`ready: API http://127.0.0.1:${config.port}/api/v1 · docs http://127.0.0.1:${config.port}/api/docs · queues http://127.0.0.1:${config.port}/admin/queues`);
      say(`media root ${path.resolve(config.mediaRoot)} · output ${path.resolve(config.outputRoot)} · database ${config.database.client === 'sqlite' ? path.resolve(config.database.filename) : 'PostgreSQL'} · Ctrl-C stops`);
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  if (!stopping) say(`the API did not become ready within 150 s: see GET http://127.0.0.1:${config.port}/readyz for which check fails`);
}

void main();
