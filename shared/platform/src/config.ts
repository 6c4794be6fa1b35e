// The service's one typed configuration: read from the environment once at start, validated
// with zod, failing with a message that names every bad variable. An empty variable counts as
// unset (compose files and .env templates leave many empty).
import { isIP } from 'node:net';
import { z } from 'zod';

const port = z.coerce.number().int().min(1).max(65535);
const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

export const Env = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: port.default(8080),
  /** Media root: every path the service reads must resolve inside it. */
  MOUNT_PATH: z.string().min(1).default('./media'),
  /** Where repaired files are written. */
  OUTPUT_ROOT: z.string().min(1).default('./output'),
  /** SQLite file, caches, audio proxies. */
  DATA_DIR: z.string().min(1).default('./data'),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /** postgres://... for PostgreSQL; unset: SQLite under DATA_DIR. */
  DATABASE_URL: z.string().url().optional(),
  /** Comma-separated API keys; empty: auth off (warned at start). */
  API_KEYS: z.string().default(''),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
  WORKER_HEALTH_PORT: port.default(8081),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  LOG_FILE: z.string().optional(),
  FFMPEG_PATH: z.string().optional(),
  FFPROBE_PATH: z.string().optional(),
  /** Seconds a worker may take to finish or hand back its jobs on SIGTERM. */
  SHUTDOWN_DEADLINE_SECONDS: z.coerce.number().positive().default(30),
  /** Refuse to start without the Redis persistence settings production needs. */
  STRICT_REDIS_CHECKS: bool.optional(),
  /** Key prefix of every queue key in Redis (several installations can share one Redis). */
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only').default('sync-analyzer'),
  /** HMAC key for batch completion webhooks (X-SyncAnalyzer-Signature). */
  WEBHOOK_SECRET: z.string().optional(),
  /** Comma-separated origins allowed by CORS; empty: same-origin only. */
  CORS_ORIGINS: z.string().default(''),
  /** API requests per minute per client for API-key clients (the web UI's session is exempt). */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(600),
  /** Disk cache of decoded masters (one master, many dubs). */
  CACHE_MAX_MB: z.coerce.number().int().min(0).default(4096),
  /** /readyz fails when the data or output volume has less free space than this. */
  DISK_MIN_FREE_MB: z.coerce.number().int().min(0).default(1024),
  /** Per-kind timeouts overriding the policy table (seconds). */
  ANALYSIS_TIMEOUT_SECONDS: z.coerce.number().positive().optional(),
  REPAIR_TIMEOUT_SECONDS: z.coerce.number().positive().optional(),
  /** Rotation of LOG_FILE: size per file and number of files kept. */
  LOG_MAX_SIZE: z.string().regex(/^\d+[kmg]$/i, 'a size like 10m').default('10m'),
  LOG_MAX_FILES: z.coerce.number().int().min(1).default(5),
  /** Speech detection (Silero VAD on ONNX Runtime) in every analysis unless a job turns it off. */
  SPEECH_DETECTION: bool.default(true),
  /** ONNX Runtime execution provider: cuda on the GPU worker, cpu elsewhere (explicit, no guessing). */
  INFERENCE_PROVIDER: z.enum(['cpu', 'cuda']).default('cpu'),
  /** When the CUDA provider cannot start: false (default) makes the worker not ready; true runs on CPU with a warning. */
  INFERENCE_ALLOW_CPU_FALLBACK: bool.default(false),
  /** Directory searched for model files before the installed npm packages (never downloaded). */
  MODEL_DIR: z.string().optional(),
  /**
   * Speech model input rate: 16000 (Silero's primary rate) or 8000 (the analysis rate, half the
   * model's cost). Default: 16000 with the cuda provider, 8000 on cpu, where 16 kHz takes a
   * 60-minute pair's analysis past 2.5x its decode floor with the same lines found (scripts/bench/README.md).
   */
  SPEECH_SAMPLE_RATE: z.enum(['8000', '16000']).optional(),
  /** ONNX Runtime intra-op threads per job (default: up to 4). */
  INFERENCE_THREADS: z.coerce.number().int().min(1).max(64).optional(),
  /** A job's lock in Redis (seconds): a crashed worker's jobs are re-run by another within about this long. */
  JOB_LOCK_SECONDS: z.coerce.number().min(1).max(3600).default(60),
  /** Lifetime of a browser session cookie (hours). */
  SESSION_TTL_HOURS: z.coerce.number().positive().default(12),
  /**
   * Which peers' X-Forwarded-For/-Proto the API believes (client address for rate limits, https
   * for Secure cookies): "loopback" (a proxy on this host, the default), "none", a hop count, or
   * a comma list of addresses/CIDRs and the names loopback, linklocal, uniquelocal.
   */
  TRUST_PROXY: z
    .string()
    .default('loopback')
    .refine((v) => parseTrustProxy(v) !== undefined, 'use loopback, none, a hop count 1-10, or a comma list of addresses/CIDRs (loopback, linklocal, uniquelocal allowed)'),
  /** Open event streams (SSE) per API process, all event routes together; past it 503 too_many_subscribers. */
  SSE_MAX_SUBSCRIBERS: z.coerce.number().int().min(1).max(100_000).default(200),
});

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** TRUST_PROXY as Express's "trust proxy" value: false, a hop count or a list; undefined when invalid. */
export function parseTrustProxy(value: string): false | number | string[] | undefined {
  const v = value.trim().toLowerCase();
  if (v === 'none' || v === 'false') return false;
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    return hops >= 1 && hops <= 10 ? hops : undefined;
  }
  const parts = v.split(',').map((x) => x.trim()).filter(Boolean);
  if (parts.length === 0) return undefined;
  const valid = (x: string) => {
    if (PROXY_NAMES.has(x)) return true;
    const [addr, bits, ...rest] = x.split('/');
    const family = isIP(addr ?? '');
    if (!family || rest.length) return false;
    if (bits === undefined) return true;
    return /^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
  };
  return parts.every(valid) ? parts : undefined;
}

export interface Config {
  env: 'development' | 'production' | 'test';
  port: number;
  mediaRoot: string;
  outputRoot: string;
  dataDir: string;
  redisUrl: string;
  database: { client: 'sqlite'; filename: string } | { client: 'pg'; url: string };
  apiKeys: string[];
  workerConcurrency: number;
  workerHealthPort: number;
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  logFile: string | null;
  ffmpegPath: string | null;
  ffprobePath: string | null;
  shutdownDeadlineMs: number;
  strictRedisChecks: boolean;
  queuePrefix: string;
  webhookSecret: string | null;
  corsOrigins: string[];
  rateLimitPerMinute: number;
  cacheMaxBytes: number;
  diskMinFreeBytes: number;
  timeoutsMs: { analysis?: number; repair?: number };
  logMaxSize: string;
  logMaxFiles: number;
  sessionTtlMs: number;
  jobLockMs: number;
  sseMaxSubscribers: number;
  trustProxy: false | number | string[];
  inference: { speechDetection: boolean; provider: 'cpu' | 'cuda'; allowCpuFallback: boolean; modelDir: string | null; threads: number | null; sampleRate: 8000 | 16000 };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
  }
}

const SECRET_KEYS = new Set(['API_KEYS', 'WEBHOOK_SECRET']);

/** scheme://user:secret@host -> scheme://user:***@host */
export function maskUrlPassword(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@\s]*@/i, '$1:***@');
}

/** Parses and validates the environment; throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const parsed = Env.safeParse(cleaned);
  if (!parsed.success) {
    // Values are echoed to help the operator, except credentials (and passwords inside URLs).
    const shown = (key: string, v: unknown) => (SECRET_KEYS.has(key) ? '(hidden)' : maskUrlPassword(String(v)));
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}${'input' in i && i.input !== undefined ? ` (got "${shown(String(i.path[0] ?? ''), i.input)}")` : ''}`));
  }
  const e = parsed.data;
  const databaseUrl = e.DATABASE_URL;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError([`DATABASE_URL: only postgres:// URLs are supported (unset it for SQLite), got "${maskUrlPassword(databaseUrl)}"`]);
  }
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    mediaRoot: e.MOUNT_PATH,
    outputRoot: e.OUTPUT_ROOT,
    dataDir: e.DATA_DIR,
    redisUrl: e.REDIS_URL,
    database: databaseUrl ? { client: 'pg', url: databaseUrl } : { client: 'sqlite', filename: `${e.DATA_DIR.replace(/\/+$/, '')}/sync-analyzer.sqlite` },
    apiKeys: e.API_KEYS.split(',').map((k) => k.trim()).filter(Boolean),
    workerConcurrency: e.WORKER_CONCURRENCY,
    workerHealthPort: e.WORKER_HEALTH_PORT,
    logLevel: e.LOG_LEVEL,
    logFile: e.LOG_FILE ?? null,
    ffmpegPath: e.FFMPEG_PATH ?? null,
    ffprobePath: e.FFPROBE_PATH ?? null,
    shutdownDeadlineMs: e.SHUTDOWN_DEADLINE_SECONDS * 1000,
    strictRedisChecks: e.STRICT_REDIS_CHECKS ?? e.NODE_ENV === 'production',
    queuePrefix: e.QUEUE_PREFIX,
    webhookSecret: e.WEBHOOK_SECRET ?? null,
    corsOrigins: e.CORS_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean),
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    cacheMaxBytes: e.CACHE_MAX_MB * 1024 * 1024,
    diskMinFreeBytes: e.DISK_MIN_FREE_MB * 1024 * 1024,
    timeoutsMs: {
      ...(e.ANALYSIS_TIMEOUT_SECONDS ? { analysis: e.ANALYSIS_TIMEOUT_SECONDS * 1000 } : {}),
      ...(e.REPAIR_TIMEOUT_SECONDS ? { repair: e.REPAIR_TIMEOUT_SECONDS * 1000 } : {}),
    },
    logMaxSize: e.LOG_MAX_SIZE,
    logMaxFiles: e.LOG_MAX_FILES,
    sessionTtlMs: e.SESSION_TTL_HOURS * 3600_000,
    jobLockMs: e.JOB_LOCK_SECONDS * 1000,
    sseMaxSubscribers: e.SSE_MAX_SUBSCRIBERS,
    trustProxy: parseTrustProxy(e.TRUST_PROXY)!,
    inference: { speechDetection: e.SPEECH_DETECTION, provider: e.INFERENCE_PROVIDER, allowCpuFallback: e.INFERENCE_ALLOW_CPU_FALLBACK, modelDir: e.MODEL_DIR ?? null, threads: e.INFERENCE_THREADS ?? null, sampleRate: speechSampleRate(e.SPEECH_SAMPLE_RATE, e.INFERENCE_PROVIDER) },
  };
}

/** The speech model's input rate: as set, else 16 kHz on the GPU provider and 8 kHz on the CPU (see SPEECH_SAMPLE_RATE). */
export function speechSampleRate(set: '8000' | '16000' | undefined, provider: 'cpu' | 'cuda'): 8000 | 16000 {
  if (set) return set === '16000' ? 16000 : 8000;
  return provider === 'cuda' ? 16000 : 8000;
}
