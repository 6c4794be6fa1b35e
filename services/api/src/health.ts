// Health of the API process: /livez (the process answers), /readyz (everything a request
// needs: Redis, database with migrations applied, ffmpeg, disk space; 503 while shutting down)
// and /health (the same plus detail for humans and the healthcheck command, including every
// worker's heartbeat from Redis).
import { statfs } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import { checkRedisSettings, withTimeout, type Config, type JobQueues, type Store } from '@sync-analyzer/platform';
import { checkTools, type MediaTools } from '@sync-analyzer/media';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** How long one health probe waits for Redis, the database or the disk. */
const PROBE_TIMEOUT_MS = 2_000;

const withinTimeout = <T>(p: Promise<T>): Promise<T> => withTimeout(p, PROBE_TIMEOUT_MS, `no answer within ${PROBE_TIMEOUT_MS / 1000} s`);

export class HealthService {
  shuttingDown = false;
  private tools: Check = { name: 'ffmpeg', ok: false, detail: 'not checked yet' };
  private readonly startedAt = new Date().toISOString();

  constructor(
    private readonly config: Config,
    private readonly store: Store,
    private readonly queues: JobQueues,
    private readonly redis: Redis,
    private readonly mediaTools: MediaTools,
  ) {}

  async checkToolsOnce(): Promise<void> {
    try {
      const v = await checkTools(this.mediaTools);
      this.tools = { name: 'ffmpeg', ok: true, detail: v.ffmpegVersion };
    } catch (e) {
      this.tools = { name: 'ffmpeg', ok: false, detail: (e as Error).message };
    }
  }

  async checks(): Promise<Check[]> {
    const timed = async (name: string, fn: () => Promise<string>): Promise<Check> => {
      try {
        const detail = await withinTimeout(fn());
        return { name, ok: true, detail };
      } catch (e) {
        return { name, ok: false, detail: (e as Error).message };
      }
    };
    const checks = await Promise.all([
      timed('redis', async () => {
        await this.redis.ping();
        return 'reachable';
      }),
      timed('redis-settings', async () => {
        const rep = await checkRedisSettings(this.redis, this.config.env === 'production');
        if (!rep.ok && this.config.strictRedisChecks) throw new Error(rep.problems.join('; '));
        return rep.ok ? `maxmemory ${rep.settings.maxmemory}, ${rep.settings.maxmemoryPolicy}, appendonly ${rep.settings.appendonly}` : `warning: ${rep.problems.join('; ')}`;
      }),
      timed('database', async () => {
        await this.store.ping();
        const m = await this.store.migrationStatus();
        if (m.pending.length) throw new Error(`migrations pending: ${m.pending.join(', ')}`);
        return `${this.config.database.client}, ${m.applied.length} migrations applied`;
      }),
      ...[['disk-data', this.config.dataDir], ['disk-output', this.config.outputRoot]].map(([name, dir]) =>
        timed(name!, async () => {
          const fs = await statfs(dir!);
          const free = fs.bavail * fs.bsize;
          const mb = Math.round(free / 1048576);
          if (free < this.config.diskMinFreeBytes) throw new Error(`${mb} MB free, below DISK_MIN_FREE_MB=${Math.round(this.config.diskMinFreeBytes / 1048576)}`);
          return `${mb} MB free`;
        }),
      ),
    ]);
    return [...checks, this.tools];
  }

  async workers(): Promise<Record<string, unknown>[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', this.queues.keys.workerPattern, 'COUNT', 100);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    if (keys.length === 0) return [];
    const values = await this.redis.mget(...keys);
    return values.flatMap((v) => (v ? [JSON.parse(v) as Record<string, unknown>] : []));
  }

  async detail(): Promise<Record<string, unknown>> {
    // A paused or hung Redis keeps its socket open and never answers: every Redis read here is
    // bounded, so /health answers "degraded" instead of hanging.
    const [checks, workers, counts] = await Promise.all([
      this.checks(),
      withinTimeout(this.workers()).catch(() => []),
      Promise.all(Object.entries(this.queues.queues).map(async ([k, q]) => [k, await withinTimeout(q.getJobCounts()).catch(() => null)] as const)),
    ]);
    const ok = !this.shuttingDown && checks.every((c) => c.ok);
    return {
      status: ok ? 'ok' : 'degraded',
      shutting_down: this.shuttingDown,
      started_at: this.startedAt,
      pid: process.pid,
      checks,
      workers,
      queues: Object.fromEntries(counts),
    };
  }
}
