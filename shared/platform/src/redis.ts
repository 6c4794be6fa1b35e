// Redis connections for BullMQ. Producers (the API) fail fast so a request answers 503 at once
// while Redis is down, and reconnect by themselves; consumers (workers) wait and retry forever.
// The persistence settings a job queue needs are checked at start.
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.ts';

export type RedisRole = 'producer' | 'consumer';

export function redisOptions(role: RedisRole): RedisOptions {
  const retry = (times: number) => Math.min(200 * 2 ** Math.min(times, 5), 5_000);
  return role === 'producer'
    ? // Commands fail at once while disconnected instead of queueing behind a dead socket.
      { maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: retry, connectTimeout: 3_000, lazyConnect: false }
    : // BullMQ workers require maxRetriesPerRequest null (blocking commands); retry forever.
      { maxRetriesPerRequest: null, enableOfflineQueue: true, retryStrategy: retry, connectTimeout: 5_000 };
}

export function connectRedis(url: string, role: RedisRole, logger: Logger, name: string): Redis {
  const redis = new Redis(url, { ...redisOptions(role), connectionName: name });
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) logger.warn({ err, role, connection: name }, 'redis connection error');
    down = true;
  });
  redis.on('ready', () => {
    if (down) logger.info({ role, connection: name }, 'redis connection restored');
    down = false;
  });
  return redis;
}

export interface RedisSettingsReport {
  ok: boolean;
  problems: string[];
  settings: { maxmemory: number; maxmemoryPolicy: string; appendonly: string; version: string };
}

/**
 * A job queue must never have its keys evicted (`maxmemory-policy noeviction`, with a
 * `maxmemory` limit so Redis refuses writes instead of the host killing it) and, in production,
 * must survive a restart (`appendonly yes`).
 */
export async function checkRedisSettings(redis: Redis, production: boolean): Promise<RedisSettingsReport> {
  const get = async (key: string): Promise<string> => {
    try {
      const r = (await redis.config('GET', key)) as string[];
      return r[1] ?? '';
    } catch {
      // CONFIG may be renamed/disabled on managed Redis: fall back to INFO.
      const info = await redis.info(key === 'appendonly' ? 'persistence' : 'memory');
      const m = info.match(new RegExp(`^${key === 'appendonly' ? 'aof_enabled' : key.replace(/-/g, '_')}:(.*)$`, 'm'));
      const v = (m?.[1] ?? '').trim();
      return key === 'appendonly' ? (v === '1' ? 'yes' : 'no') : v;
    }
  };
  const [maxmemory, policy, appendonly, info] = await Promise.all([get('maxmemory'), get('maxmemory-policy'), get('appendonly'), redis.info('server')]);
  const version = info.match(/^redis_version:(.*)$/m)?.[1]?.trim() ?? 'unknown';
  const problems: string[] = [];
  if (policy !== 'noeviction') problems.push(`maxmemory-policy is "${policy}"; a job queue needs "noeviction" (evicted keys are lost jobs)`);
  if (!(Number(maxmemory) > 0)) problems.push('maxmemory is not set; set it below the host or container memory limit so Redis refuses writes instead of being killed');
  if (production && appendonly !== 'yes') problems.push('appendonly is "no"; production needs "appendonly yes" so queued jobs survive a Redis restart');
  return { ok: problems.length === 0, problems, settings: { maxmemory: Number(maxmemory), maxmemoryPolicy: policy, appendonly, version } };
}
