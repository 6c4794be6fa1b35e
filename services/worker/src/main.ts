// Worker process entry: config, logger, queue workers, health server, ordered shutdown.
import 'dotenv/config';
import path from 'node:path';
import { mkdir, statfs } from 'node:fs/promises';
import { checkTools, resolveTools } from '@sync-analyzer/media';
import { checkRedisSettings, loadConfigOrExit, onShutdownSignal, runService, serviceLogger } from '@sync-analyzer/platform';
import { WorkerService } from './worker-service.ts';
import { openSpeechBackend } from '@sync-analyzer/analysis';
import { startHealthServer, type HealthCheck } from './health-server.ts';

async function main(): Promise<void> {
  const config = loadConfigOrExit('worker');
  const logger = serviceLogger(config, 'worker');
  await mkdir(config.dataDir, { recursive: true });
  const tools = resolveTools(process.env);
  let toolsOk: HealthCheck = { name: 'ffmpeg', ok: false, detail: 'not checked yet' };
  let ffmpegVersion = 'unknown';
  try {
    const v = await checkTools(tools);
    ffmpegVersion = v.ffmpegVersion;
    toolsOk = { name: 'ffmpeg', ok: true, detail: v.ffmpegVersion };
  } catch (e) {
    toolsOk = { name: 'ffmpeg', ok: false, detail: (e as Error).message };
    logger.error({ err: e }, 'ffmpeg/ffprobe missing: the worker cannot run jobs');
  }
  // The speech model is opened once at start to prove the configured execution provider works:
  // in GPU mode a CUDA failure makes the worker not ready (unless CPU fallback is allowed).
  let inference: Record<string, unknown> = { enabled: config.inference.speechDetection };
  let inferenceCheck: HealthCheck = { name: 'inference', ok: true, detail: 'speech detection off (SPEECH_DETECTION=false)' };
  if (config.inference.speechDetection) {
    try {
      const t0 = performance.now();
      const backend = await openSpeechBackend({ ...config.inference, sessions: 1, logger });
      const info = backend.info();
      inference = { enabled: true, requested: config.inference.provider, ...info, fallbackReason: backend.fallbackReason, startMs: Math.round(performance.now() - t0) };
      await backend.close();
      inferenceCheck = { name: 'inference', ok: true, detail: `${info.model} on ${info.provider}${backend.fallbackReason ? ` (CPU fallback: ${backend.fallbackReason})` : ''}, warm-up ${Math.round(info.warmupMs)} ms` };
      logger.info({ inference }, 'speech model ready');
    } catch (e) {
      inference = { enabled: true, requested: config.inference.provider, error: (e as Error).message };
      inferenceCheck = { name: 'inference', ok: false, detail: `${config.inference.provider} execution provider not usable: ${(e as Error).message}` };
      logger.error({ err: e, provider: config.inference.provider }, 'speech model could not start: the worker is not ready');
    }
  }
  const service = new WorkerService({
    redisUrl: config.redisUrl,
    prefix: config.queuePrefix,
    logger,
    concurrency: config.workerConcurrency,
    timeoutMs: config.timeoutsMs,
    lockDurationMs: config.jobLockMs,
    stalledIntervalMs: Math.max(500, config.jobLockMs / 2),
    settings: {
      mediaRoot: path.resolve(config.mediaRoot),
      outputRoot: path.resolve(config.outputRoot),
      dataDir: path.resolve(config.dataDir),
      ffmpegPath: tools.ffmpeg,
      ffprobePath: tools.ffprobe,
      logLevel: config.logLevel,
      cacheMaxBytes: config.cacheMaxBytes,
      cacheNamespace: `ffmpeg ${ffmpegVersion}`,
      inference: config.inference,
    },
    inferenceStatus: () => inference,
  });
  let shuttingDown = false;
  let redisProblems: string[] = [];
  const health = await startHealthServer(config.workerHealthPort, {
    shuttingDown: () => shuttingDown,
    detail: () => ({ worker: service.status(), redisSettings: redisProblems }),
    checks: async () => {
      const st = service.status();
      const answers = await service.redisAnswers(2_000);
      const checks: HealthCheck[] = [
        { name: 'redis', ok: answers, detail: answers ? st.redis : `${st.redis}, no answer to PING within 2 s` },
        { name: 'queue', ok: st.running, detail: st.running ? 'workers running' : 'workers not running' },
        toolsOk,
        inferenceCheck,
      ];
      if (config.strictRedisChecks) checks.push({ name: 'redis-settings', ok: redisProblems.length === 0, detail: redisProblems.join('; ') || 'ok' });
      try {
        const fs = await statfs(config.dataDir);
        const free = fs.bavail * fs.bsize;
        checks.push({ name: 'disk', ok: free >= config.diskMinFreeBytes, detail: `${Math.round(free / 1048576)} MB free in DATA_DIR` });
      } catch (e) {
        checks.push({ name: 'disk', ok: false, detail: (e as Error).message });
      }
      return checks;
    },
  });
  logger.info({ port: health.port }, 'worker health server listening');
  await service.start();
  const probe = async () => {
    try {
      const { Redis } = await import('ioredis');
      const r = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
      await r.connect();
      const rep = await checkRedisSettings(r, config.env === 'production');
      await r.quit();
      redisProblems = rep.problems;
      for (const p of rep.problems) (config.strictRedisChecks ? logger.error : logger.warn)({ problem: p }, 'redis setting');
    } catch (e) {
      logger.warn({ err: e }, 'redis settings not checked (retrying in 30 s)');
      setTimeout(() => void probe(), 30_000).unref();
    }
  };
  void probe();

  onShutdownSignal(logger, config.shutdownDeadlineMs + 15_000, async () => {
    shuttingDown = true;
    await service.stop(config.shutdownDeadlineMs);
    await health.close();
  });
}

runService('worker', main);
