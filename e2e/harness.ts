// End-to-end test support: a private redis-server per test file, a temp media root with
// ffmpeg-generated programmes, the real API server and a real worker (both in this process;
// every analysis still runs in its own child process, as in production), unique queue prefix.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { createLogger, loadConfig, type Config, type Logger } from '@sync-analyzer/platform';
import { startApiServer, type ApiServer, type ApiServerOptions } from '../services/api/src/server.ts';
import { WorkerService, type WorkerServiceOptions } from '../services/worker/src/worker-service.ts';
import { ContractChecker } from './contract.ts';

export { makeProgramme, makeDub, ff } from '../services/cli/src/testing/media-fixtures.ts';
export { freePort } from './net.ts';
import { freePort } from './net.ts';

export interface PrivateRedis {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
  /** Stops and starts it again on the same port with the same data dir (AOF on). */
  restart(): Promise<void>;
}

/** A redis-server of our own (appendonly, noeviction) on a free port. */
export async function startRedis(dir: string): Promise<PrivateRedis> {
  const port = await freePort();
  await mkdir(dir, { recursive: true });
  const launch = async () => {
    const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--maxmemory', '256mb', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await canConnect(port)) return p;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('redis-server did not start');
  };
  let proc = await launch();
  const stop = async () => {
    if (proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get process() {
      return proc;
    },
    stop,
    async restart() {
      await stop();
      proc = await launch();
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface Stack {
  dir: string;
  mediaRoot: string;
  outputRoot: string;
  redis: PrivateRedis;
  config: Config;
  api: ApiServer;
  worker: WorkerService | null;
  logger: Logger;
  logs: string[];
  /** Every response received through request() is checked against the OpenAPI document. */
  contract: ContractChecker;
  spawned: Map<string, number[]>;
  request(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers; text: string }>;
  startWorker(extra?: Partial<WorkerServiceOptions>): Promise<WorkerService>;
  stopWorker(): Promise<void>;
  restartApi(opts?: ApiServerOptions): Promise<void>;
  close(): Promise<void>;
}

export interface StackOptions {
  env?: Record<string, string>;
  worker?: boolean | Partial<WorkerServiceOptions>;
  api?: ApiServerOptions;
  /** Use this database instead of a temp SQLite file. */
  databaseUrl?: string;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sa-e2e-'));
  const mediaRoot = path.join(dir, 'media');
  const outputRoot = path.join(mediaRoot, 'output');
  await mkdir(outputRoot, { recursive: true });
  const redis = await startRedis(path.join(dir, 'redis'));
  const logs: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (c: Buffer) => logs.push(...c.toString().split('\n').filter(Boolean)));
  const logger = createLogger({ level: 'debug', service: 'e2e', stream });
  const parsed = loadConfig({
    NODE_ENV: 'test',
    MOUNT_PATH: mediaRoot,
    OUTPUT_ROOT: outputRoot,
    DATA_DIR: path.join(dir, 'data'),
    REDIS_URL: redis.url,
    QUEUE_PREFIX: `e2e-${randomBytes(4).toString('hex')}`,
    FFMPEG_PATH: '/usr/bin/ffmpeg',
    FFPROBE_PATH: '/usr/bin/ffprobe',
    LOG_LEVEL: 'debug',
    DISK_MIN_FREE_MB: '1',
    // Speech detection doubles an analysis's CPU time on these two cores; the service mechanics
    // tested here do not depend on it. Tests of the speech path turn it on (analyses, inference).
    SPEECH_DETECTION: 'false',
    ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : {}),
    ...(opts.env ?? {}),
  });
  // Port 0: the kernel picks a free one (PORT itself must be 1-65535).
  const config: Config = { ...parsed, port: 0 };
  let api = await startApiServer(config, logger.child({ service: 'api' }), { host: '127.0.0.1', reconcileEveryMs: 1000, ...(opts.api ?? {}) });
  const spawned = new Map<string, number[]>();
  const contract = new ContractChecker(api.openapi);
  let worker: WorkerService | null = null;
  const stack: Stack = {
    dir,
    mediaRoot,
    outputRoot,
    redis,
    config,
    get api() {
      return api;
    },
    get worker() {
      return worker;
    },
    logger,
    logs,
    contract,
    spawned,
    async request(method, url, body, headers = {}) {
      const auth: Record<string, string> = config.apiKeys[0] ? { authorization: `Bearer ${config.apiKeys[0]}` } : {};
      const res = await fetch(`${api.url}${url}`, {
        method,
        headers: { ...auth, ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}), ...headers } as Record<string, string>,
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
      contract.check(method, url, res.status, res.headers.get('content-type'), parsed);
      return { status: res.status, body: parsed, headers: res.headers, text };
    },
    async startWorker(extra = {}) {
      worker = new WorkerService({
        redisUrl: redis.url,
        prefix: config.queuePrefix,
        logger: logger.child({ service: 'worker' }),
        concurrency: 1,
        settings: { mediaRoot, outputRoot, dataDir: path.join(dir, 'data'), ffmpegPath: '/usr/bin/ffmpeg', ffprobePath: '/usr/bin/ffprobe', logLevel: 'warn', cacheMaxBytes: 512 * 1024 * 1024, inference: config.inference },
        onSpawn: (jobId, pid) => spawned.set(jobId, [...(spawned.get(jobId) ?? []), pid]),
        ...extra,
      });
      await worker.start();
      return worker;
    },
    async stopWorker() {
      await worker?.stop(5_000);
      worker = null;
    },
    async restartApi(o) {
      await api.stop();
      api = await startApiServer(config, logger.child({ service: 'api' }), { host: '127.0.0.1', reconcileEveryMs: 1000, ...(opts.api ?? {}), ...(o ?? {}) });
    },
    async close() {
      await worker?.stop(2_000).catch(() => undefined);
      await api.stop().catch(() => undefined);
      await redis.stop();
      await logger.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  if (opts.worker !== false) await stack.startWorker(typeof opts.worker === 'object' ? opts.worker : {});
  return stack;
}

/** Polls until fn returns a truthy value (or throws after timeoutMs). */
export async function until<T>(fn: () => Promise<T | null | undefined | false>, timeoutMs = 60_000, what = 'condition'): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

/** Starts the real worker process (services/worker/src/main.ts) against this stack. */
export function spawnWorkerProcess(s: Stack, env: Record<string, string> = {}): ChildProcess & { output: () => string } {
  let out = '';
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(REPO, 'services/worker/src/main.ts')], {
    cwd: s.dir,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      MOUNT_PATH: s.mediaRoot,
      OUTPUT_ROOT: s.outputRoot,
      DATA_DIR: s.config.dataDir,
      REDIS_URL: s.redis.url,
      QUEUE_PREFIX: s.config.queuePrefix,
      FFMPEG_PATH: '/usr/bin/ffmpeg',
      FFPROBE_PATH: '/usr/bin/ffprobe',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  return Object.assign(child, { output: () => out });
}

/**
 * How many times the worker started the job, from its structured log ("job started", one per
 * attempt), rather than from a stored attempts count derived from a queue snapshot.
 */
export function runsOf(s: Pick<Stack, 'logs'>, id: string): number {
  return s.logs.filter((l) => {
    try {
      const o = JSON.parse(l) as { jobId?: string; message?: string };
      return o.jobId === id && o.message === 'job started';
    } catch {
      return false;
    }
  }).length;
}
