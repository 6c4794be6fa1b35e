// Composition of the API process: connections, store, queues, job sync, HTTP server, and the
// ordered shutdown. main.ts calls it with the real config; tests call it with their own.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir } from 'node:fs/promises';
import { resolveTools } from '@sync-analyzer/media';
import { JobQueues, MediaRoot, OutputRoot, checkRedisSettings, connectRedis, openStore, type Config, type Logger } from '@sync-analyzer/platform';
import { buildApp } from './app/app.ts';
import type { ApiContext } from './app/context.ts';
import { ApiKeyAuth } from './http/auth.ts';
import { JobEventBus } from './jobs/events.ts';
import { JobSync } from './jobs/job-sync.ts';
import { Submissions } from './jobs/submissions.ts';
import { Metrics } from './metrics.ts';
import { HealthService } from './health.ts';
import { Proxies } from './jobs/proxies.ts';
import path from 'node:path';

export interface ApiServer {
  ctx: ApiContext;
  port: number;
  url: string;
  openapi: Record<string, unknown>;
  /** Ordered shutdown: not ready, stop accepting, close streams, stop syncing, close Redis and database. */
  stop(): Promise<void>;
}

export interface ApiServerOptions {
  /** Host to bind (default 0.0.0.0). */
  host?: string;
  reconcileEveryMs?: number;
  webhookBaseDelayMs?: number;
}

export async function startApiServer(config: Config, logger: Logger, opts: ApiServerOptions = {}): Promise<ApiServer> {
  if (config.apiKeys.length === 0) logger.warn({}, 'API_KEYS is empty: authentication is OFF; anyone who can reach this port can use the API');
  await mkdir(config.dataDir, { recursive: true });
  const [mediaRoot, outputRoot] = await Promise.all([MediaRoot.open(config.mediaRoot), OutputRoot.open(config.outputRoot)]);
  const store = await openStore(config.database, logger);
  const redis = connectRedis(config.redisUrl, 'producer', logger, 'api');
  const queues = new JobQueues(redis, config.queuePrefix);
  const tools = resolveTools({ ...process.env, ...(config.ffmpegPath ? { FFMPEG_PATH: config.ffmpegPath } : {}), ...(config.ffprobePath ? { FFPROBE_PATH: config.ffprobePath } : {}) });
  const health = new HealthService(config, store, queues, redis, tools);
  await health.checkToolsOnce();
  const events = new JobEventBus();
  const metrics = new Metrics(queues, redis, () => health.workers() as Promise<{ busy: boolean }[]>);
  const proxies = new Proxies(path.resolve(config.dataDir, 'proxies'), queues);
  const sync = new JobSync({ proxies, store, queues, redisUrl: config.redisUrl, prefix: config.queuePrefix, logger, events, metrics, mediaRoot, outputRoot, webhookSecret: config.webhookSecret, ...(opts.reconcileEveryMs ? { reconcileEveryMs: opts.reconcileEveryMs } : {}), ...(opts.webhookBaseDelayMs ? { webhookBaseDelayMs: opts.webhookBaseDelayMs } : {}) });
  const submissions = new Submissions({ store, queues, mediaRoot, outputRoot, logger, webhookSecret: config.webhookSecret });
  const auth = new ApiKeyAuth(config.apiKeys, config.sessionTtlMs);
  const ctx: ApiContext = { config, logger, store, queues, submissions, sync, events, mediaRoot, outputRoot, auth, metrics, health, tools, proxies };
  const { app, openapi } = buildApp(ctx);

  // Redis settings: a warning in development, not ready in production (see HealthService).
  void checkRedisSettings(redis, config.env === 'production').then(
    (rep) => rep.problems.forEach((p) => (config.strictRedisChecks ? logger.error : logger.warn)({ problem: p }, 'redis setting')),
    () => logger.warn({ redisUrl: redact(config.redisUrl) }, 'redis unreachable at start: submissions answer 503 until it is back'),
  );
  await sync.start();

  const server = http.createServer(app);
  server.keepAliveTimeout = 65_000;
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ port, mediaRoot: mediaRoot.realRoot, outputRoot: outputRoot.realRoot, database: config.database.client, auth: auth.required }, 'api listening');

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      health.shuttingDown = true;
      logger.info({}, 'api stopping');
      const closed = new Promise<void>((r) => server.close(() => r()));
      // Long-lived SSE streams and idle keep-alive sockets would hold close() open.
      setTimeout(() => sockets.forEach((s) => s.destroy()), 2_000).unref();
      server.closeIdleConnections();
      await closed;
      await sync.stop();
      await queues.close();
      redis.disconnect();
      await store.close();
      logger.info({}, 'api stopped');
    })());
  return { ctx, port, url: `http://127.0.0.1:${port}`, openapi, stop };
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

