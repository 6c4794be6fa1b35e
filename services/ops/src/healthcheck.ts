// `healthcheck`: the one health check that Docker's HEALTHCHECK, `docker exec`, cron
// (scripts/healthcheck.sh) and systemd all run. It asks the service itself (/readyz) and also
// checks, independently, what the service depends on: Redis (reachable, queue-safe settings), the
// database (reachable, migrations applied; api only: workers never touch it), free disk on the
// data and output volumes, and the size of the log directory (rotation working). One line per
// check, exit 0 (healthy) or 1; --json for machines. Every check has a timeout and the process
// exits explicitly, so it never hangs a container's health loop.
import { existsSync } from 'node:fs';
import { lstat, readdir, statfs } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { ConfigError, checkRedisSettings, loadConfig, openStore, type Config } from '@sync-analyzer/platform';
import { EnvFileError, loadEnv, redactUrl, resolveFrom } from './env.ts';

export type ServiceName = 'api' | 'worker';
export type CheckStatus = 'ok' | 'fail' | 'skip';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  ms: number;
}

export interface HealthReport {
  service: ServiceName;
  ok: boolean;
  at: string;
  checks: CheckResult[];
}

export interface HealthcheckOptions {
  service: ServiceName;
  /** Environment as the service sees it (process env over .env). */
  env: Record<string, string | undefined>;
  /** Directory relative paths in the settings are relative to. */
  baseDir: string;
  /** The service's URL (its /readyz is asked) or a full /readyz URL; default 127.0.0.1:PORT or WORKER_HEALTH_PORT. */
  url?: string;
  /** Per-check timeout (default 3000 ms). */
  timeoutMs?: number;
  /** Fail when a data/output volume is fuller than this (default 95 %). DISK_MIN_FREE_MB also applies. */
  diskMaxUsedPercent?: number;
  /** Directory whose size is checked (default: LOG_FILE's directory; none: skipped). */
  logDir?: string;
  /** Fail when the log directory holds more than this (default 1024 MB). */
  logMaxBytes?: number;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const DEFAULT_TIMEOUT_MS = 3000;
const MB = 1024 * 1024;

class CheckTimeout extends Error {
  override readonly name = 'CheckTimeout';
}

/** Runs one check under a deadline; whatever it throws becomes a failed line. */
async function timed(name: string, timeoutMs: number, fn: () => Promise<{ status?: CheckStatus; detail: string }>): Promise<CheckResult> {
  const t0 = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const r = await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CheckTimeout(`no answer within ${(timeoutMs / 1000).toFixed(1)} s`)), timeoutMs);
      }),
    ]);
    return { name, status: r.status ?? 'ok', detail: r.detail, ms: Date.now() - t0 };
  } catch (e) {
    return { name, status: 'fail', detail: errorText(e), ms: Date.now() - t0 };
  } finally {
    clearTimeout(timer);
  }
}

function errorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  // fetch() hides the socket error (ECONNREFUSED...) in `cause`.
  const cause = (e as Error & { cause?: unknown }).cause;
  if (e instanceof TypeError && cause instanceof Error && cause.message && !e.message.includes(cause.message)) return `${e.message}: ${cause.message}`;
  return e.message;
}

function readyzUrl(opts: HealthcheckOptions, config: Config): string {
  if (opts.url) {
    const u = new URL(opts.url);
    if (u.pathname === '/' || u.pathname === '') u.pathname = '/readyz';
    return u.toString();
  }
  return `http://127.0.0.1:${opts.service === 'api' ? config.port : config.workerHealthPort}/readyz`;
}

async function checkReadyz(url: string, timeoutMs: number): Promise<{ status?: CheckStatus; detail: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  const text = await res.text();
  let body: { status?: string; shuttingDown?: boolean; checks?: { name: string; ok: boolean; detail: string }[] } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // Not the service (something else on the port): reported below by status and text.
  }
  const checks = Array.isArray(body.checks) ? body.checks : [];
  if (res.status === 200) return { detail: `ready (${url}${checks.length ? `: ${checks.map((c) => c.name).join(', ')}` : ''})` };
  const failing = checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
  const why = [body.shuttingDown ? 'shutting down' : '', ...failing].filter(Boolean).join('; ');
  throw new Error(`HTTP ${res.status} from ${url}${why ? `: ${why}` : text ? `: ${text.slice(0, 200)}` : ''}`);
}

async function checkRedis(config: Config, timeoutMs: number): Promise<CheckResult[]> {
  const redis = new Redis(config.redisUrl, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    // One attempt: a health check reports, it does not wait for Redis to come back.
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  const where = redactUrl(config.redisUrl);
  try {
    let version = '';
    const reach = await timed('redis', timeoutMs, async () => {
      const t0 = Date.now();
      await redis.connect();
      const pong = await redis.ping();
      if (pong !== 'PONG') throw new Error(`PING answered "${pong}"`);
      const ms = Date.now() - t0;
      version = (await redis.info('server')).match(/^redis_version:(.*)$/m)?.[1]?.trim() ?? 'unknown';
      return { detail: `reachable at ${where} (redis ${version}, ${ms} ms)` };
    });
    if (reach.status !== 'ok') return [{ ...reach, detail: `${where}: ${reach.detail}` }, { name: 'redis-settings', status: 'skip', detail: 'redis not reachable', ms: 0 }];
    const settings = await timed('redis-settings', timeoutMs, async () => {
      const rep = await checkRedisSettings(redis, config.env === 'production');
      const summary = `maxmemory ${rep.settings.maxmemory}, ${rep.settings.maxmemoryPolicy}, appendonly ${rep.settings.appendonly}`;
      if (rep.ok) return { detail: summary };
      // Same rule as the service's own readiness: strict (production) fails, otherwise a warning.
      if (config.strictRedisChecks) throw new Error(rep.problems.join('; '));
      return { detail: `warning: ${rep.problems.join('; ')} (${summary})` };
    });
    return [reach, settings];
  } finally {
    redis.disconnect();
  }
}

const silentLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

async function checkDatabase(config: Config): Promise<{ status?: CheckStatus; detail: string }> {
  const db = config.database;
  // Opening would create an empty SQLite file; a missing database is a finding, not something to fix here.
  if (db.client === 'sqlite' && !existsSync(db.filename)) throw new Error(`no database at ${db.filename} (the api creates it when it starts)`);
  const store = await openStore(db, silentLogger, { migrate: false });
  try {
    await store.ping();
    const m = await store.migrationStatus();
    const where = db.client === 'sqlite' ? `sqlite ${db.filename}` : redactUrl(db.url);
    if (m.pending.length) throw new Error(`${where}: migrations pending: ${m.pending.join(', ')} (the api applies them at start)`);
    return { detail: `${where}, ${m.applied.length} migrations applied` };
  } finally {
    await store.close().catch(() => undefined);
  }
}

async function checkDisk(dir: string, label: string, minFreeBytes: number, maxUsedPercent: number): Promise<{ status?: CheckStatus; detail: string }> {
  let fs;
  try {
    fs = await statfs(dir);
  } catch (e) {
    throw new Error(`${label} ${dir}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (e as Error).message}`, { cause: e });
  }
  const free = fs.bavail * fs.bsize;
  const used = (fs.blocks - fs.bfree) * fs.bsize;
  // As df counts it: space reserved for root is neither used nor available to the service.
  const usedPercent = used + free > 0 ? (100 * used) / (used + free) : 0;
  const detail = `${Math.round(free / MB)} MB free, ${usedPercent.toFixed(1)}% used (${label} ${dir})`;
  const problems = [];
  if (free < minFreeBytes) problems.push(`below DISK_MIN_FREE_MB=${Math.round(minFreeBytes / MB)}`);
  if (usedPercent > maxUsedPercent) problems.push(`above ${maxUsedPercent}% used`);
  if (problems.length) throw new Error(`${detail}: ${problems.join(', ')}`);
  return { detail };
}

/** Total size of the regular files under dir (symlinks not followed). */
async function dirSize(dir: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.isFile()) {
        bytes += (await lstat(p)).size;
        files += 1;
      }
    }
  };
  await walk(dir);
  return { bytes, files };
}

async function checkLogs(dir: string, maxBytes: number): Promise<{ status?: CheckStatus; detail: string }> {
  let size;
  try {
    size = await dirSize(dir);
  } catch (e) {
    throw new Error(`log directory ${dir}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (e as Error).message}`, { cause: e });
  }
  const detail = `${(size.bytes / MB).toFixed(1)} MB in ${size.files} files in ${dir} (limit ${Math.round(maxBytes / MB)} MB)`;
  if (size.bytes > maxBytes) throw new Error(`${detail}: over the limit, is log rotation working?`);
  return { detail };
}

export async function runHealthcheck(opts: HealthcheckOptions): Promise<HealthReport> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const at = new Date().toISOString();
  let config: Config;
  try {
    config = loadConfig(opts.env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return { service: opts.service, ok: false, at, checks: [{ name: 'config', status: 'fail', detail: e.message, ms: 0 }] };
  }
  const abs = (p: string) => resolveFrom(opts.baseDir, p);
  config = {
    ...config,
    dataDir: abs(config.dataDir),
    outputRoot: abs(config.outputRoot),
    database: config.database.client === 'sqlite' ? { client: 'sqlite', filename: abs(config.database.filename) } : config.database,
  };
  const maxUsed = opts.diskMaxUsedPercent ?? 95;
  const logDir = opts.logDir ? abs(opts.logDir) : config.logFile ? path.dirname(abs(config.logFile)) : null;
  const url = readyzUrl(opts, config);
  const groups = await Promise.all([
    timed('readyz', timeoutMs, () => checkReadyz(url, timeoutMs)).then((r) => [r]),
    checkRedis(config, timeoutMs),
    opts.service === 'api'
      ? timed('database', timeoutMs, () => checkDatabase(config)).then((r) => [r])
      : Promise.resolve([{ name: 'database', status: 'skip' as const, detail: 'not used by the worker (results go back through the queue)', ms: 0 }]),
    timed('disk-data', timeoutMs, () => checkDisk(config.dataDir, 'DATA_DIR', config.diskMinFreeBytes, maxUsed)).then((r) => [r]),
    timed('disk-output', timeoutMs, () => checkDisk(config.outputRoot, 'OUTPUT_ROOT', config.diskMinFreeBytes, maxUsed)).then((r) => [r]),
    logDir
      ? timed('logs', timeoutMs, () => checkLogs(logDir, opts.logMaxBytes ?? 1024 * MB)).then((r) => [r])
      : Promise.resolve([{ name: 'logs', status: 'skip' as const, detail: 'LOG_FILE unset: logs go to stdout (rotated by Docker, supervisord or journald)', ms: 0 }]),
  ]);
  const checks = groups.flat();
  return { service: opts.service, ok: checks.every((c) => c.status !== 'fail'), at, checks };
}

export function formatText(report: HealthReport): string {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  const lines = report.checks.map((c) => `${(c.status === 'fail' ? 'FAIL' : c.status).padEnd(4)} ${c.name.padEnd(width)}  ${c.detail}`);
  const failed = report.checks.filter((c) => c.status === 'fail').map((c) => c.name);
  lines.push(report.ok ? `healthy: ${report.service}` : `UNHEALTHY: ${report.service} (${failed.join(', ')})`);
  return lines.join('\n') + '\n';
}

export interface CliArgs {
  service: ServiceName;
  json: boolean;
  url?: string;
  envFile?: string;
  timeoutMs: number;
  waitMs: number;
  diskMaxUsedPercent?: number;
  logDir?: string;
  logMaxBytes?: number;
}

export const USAGE = `usage: healthcheck [--service api|worker] [--json] [--url URL] [--env-file FILE]
                   [--timeout SECONDS] [--wait SECONDS] [--disk-max-percent N]
                   [--log-dir DIR] [--log-max-mb N]
Checks the service's /readyz, Redis, the database (api), free disk and the log directory size.
Exit 0: healthy; 1: unhealthy (one line per check says why); 64: bad arguments.
Defaults from the environment: HEALTHCHECK_SERVICE, HEALTHCHECK_DISK_MAX_PERCENT (95),
HEALTHCHECK_LOG_DIR (LOG_FILE's directory), HEALTHCHECK_LOG_MAX_MB (1024).`;

export function parseArgs(argv: string[], env: Record<string, string | undefined> = process.env): CliArgs {
  const num = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || v.trim() === '' || !Number.isFinite(n) || n < min) throw new UsageError(`${flag} needs a number >= ${min}, got "${v ?? ''}"`);
    return n;
  };
  const service = env.HEALTHCHECK_SERVICE || 'api';
  const args: CliArgs = { service: service as ServiceName, json: false, timeoutMs: DEFAULT_TIMEOUT_MS, waitMs: 0 };
  if (env.HEALTHCHECK_DISK_MAX_PERCENT) args.diskMaxUsedPercent = num('HEALTHCHECK_DISK_MAX_PERCENT', env.HEALTHCHECK_DISK_MAX_PERCENT, 1);
  if (env.HEALTHCHECK_LOG_DIR) args.logDir = env.HEALTHCHECK_LOG_DIR;
  if (env.HEALTHCHECK_LOG_MAX_MB) args.logMaxBytes = num('HEALTHCHECK_LOG_MAX_MB', env.HEALTHCHECK_LOG_MAX_MB, 0) * MB;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--service':
        args.service = value() as ServiceName;
        break;
      case '--json':
        args.json = true;
        break;
      case '--url':
        args.url = value();
        try {
          new URL(args.url);
        } catch {
          throw new UsageError(`--url: not a URL: "${args.url}"`);
        }
        break;
      case '--env-file':
        args.envFile = value();
        break;
      case '--timeout':
        args.timeoutMs = num('--timeout', value(), 0.1) * 1000;
        break;
      case '--wait':
        args.waitMs = num('--wait', value(), 0) * 1000;
        break;
      case '--disk-max-percent':
        args.diskMaxUsedPercent = num('--disk-max-percent', value(), 1);
        break;
      case '--log-dir':
        args.logDir = value();
        break;
      case '--log-max-mb':
        args.logMaxBytes = num('--log-max-mb', value(), 0) * MB;
        break;
      case '-h':
      case '--help':
        throw new UsageError('');
      default:
        throw new UsageError(`unknown argument "${a}"`);
    }
  }
  if (args.service !== 'api' && args.service !== 'worker') throw new UsageError(`--service must be api or worker, got "${args.service}"`);
  return args;
}

/** The command: returns the exit code (0 healthy, 1 unhealthy, 64 usage). */
export async function main(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let args: CliArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err.write(`${e.message ? `healthcheck: ${e.message}\n` : ''}${USAGE}\n`);
    return e.message ? 64 : 0;
  }
  let report: HealthReport;
  try {
    const loaded = loadEnv({ envFile: args.envFile ?? null });
    const opts: HealthcheckOptions = { service: args.service, env: loaded.env, baseDir: loaded.baseDir, timeoutMs: args.timeoutMs };
    if (args.url) opts.url = args.url;
    if (args.diskMaxUsedPercent !== undefined) opts.diskMaxUsedPercent = args.diskMaxUsedPercent;
    if (args.logDir) opts.logDir = args.logDir;
    if (args.logMaxBytes !== undefined) opts.logMaxBytes = args.logMaxBytes;
    const deadline = Date.now() + args.waitMs;
    // --wait: start scripts poll until healthy; only the last report is printed.
    for (;;) {
      report = await runHealthcheck(opts);
      if (report.ok || Date.now() + 1000 > deadline) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
  } catch (e) {
    if (!(e instanceof EnvFileError)) throw e;
    report = { service: args.service, ok: false, at: new Date().toISOString(), checks: [{ name: 'config', status: 'fail', detail: e.message, ms: 0 }] };
  }
  out.write(args.json ? JSON.stringify(report) + '\n' : formatText(report));
  return report.ok ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // Open handles (a stuck socket, the database pool) must not keep a health check alive: every
  // check is already bounded; this is the backstop.
  const argv = process.argv.slice(2);
  let backstopMs = 15_000;
  try {
    const a = parseArgs(argv);
    // Checks run in parallel; Redis's two are in sequence: three timeouts cover one round.
    backstopMs = a.waitMs + 3 * a.timeoutMs + 5_000;
  } catch {
    // main() reports the usage error.
  }
  setTimeout(() => {
    process.stderr.write('healthcheck: gave up (internal deadline)\n');
    process.exit(1);
  }, backstopMs).unref();
  main(argv).then(
    (code) => process.stdout.write('', () => process.exit(code)),
    (e: unknown) => {
      process.stderr.write(`healthcheck: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(1);
    },
  );
}
