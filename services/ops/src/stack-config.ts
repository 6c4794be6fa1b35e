// The service's effective settings for the shell tools (start_all.sh, backup.sh, restore.sh,
// healthcheck.sh): the app's own validation (loadConfig) over the environment and .env, with
// paths made absolute against the app's directory. Prints `KEY<TAB>value` lines that bash reads
// without eval; exits 78 (EX_CONFIG) naming the bad variables, exactly as the api would.
// --write-env FILE also writes them as a dotenv file (mode 600: it may hold DATABASE_URL) that
// the healthcheck reads with --env-file, so cron checks the ports the stack really uses.
import { chmodSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '@sync-analyzer/platform';
import { EnvFileError, loadEnv, resolveFrom } from './env.ts';

export interface StackConfig {
  ENV_FILE: string;
  NODE_ENV: string;
  PORT: string;
  WORKER_HEALTH_PORT: string;
  REDIS_URL: string;
  /** "1" when REDIS_URL was configured (start_all.sh then never starts a Redis of its own elsewhere). */
  REDIS_URL_SET: string;
  REDIS_HOST: string;
  REDIS_PORT: string;
  MOUNT_PATH: string;
  OUTPUT_ROOT: string;
  DATA_DIR: string;
  DB_CLIENT: string;
  SQLITE_FILE: string;
  DATABASE_URL: string;
  SHUTDOWN_DEADLINE_SECONDS: string;
  LOG_FILE: string;
  LOG_MAX_SIZE: string;
  LOG_MAX_FILES: string;
  QUEUE_PREFIX: string;
  STRICT_REDIS_CHECKS: string;
  DISK_MIN_FREE_MB: string;
}

export class StackConfigError extends Error {
  override readonly name = 'StackConfigError';
}

export function stackConfig(env: Record<string, string | undefined>, baseDir: string, envFile: string | null): StackConfig {
  const c = loadConfig(env);
  const abs = (p: string) => resolveFrom(baseDir, p);
  const redis = new URL(c.redisUrl);
  return {
    ENV_FILE: envFile ?? '',
    NODE_ENV: c.env,
    PORT: String(c.port),
    WORKER_HEALTH_PORT: String(c.workerHealthPort),
    REDIS_URL: c.redisUrl,
    REDIS_URL_SET: env.REDIS_URL?.trim() ? '1' : '0',
    REDIS_HOST: redis.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    REDIS_PORT: redis.port || '6379',
    MOUNT_PATH: abs(c.mediaRoot),
    OUTPUT_ROOT: abs(c.outputRoot),
    DATA_DIR: abs(c.dataDir),
    DB_CLIENT: c.database.client,
    SQLITE_FILE: c.database.client === 'sqlite' ? abs(c.database.filename) : '',
    DATABASE_URL: c.database.client === 'pg' ? c.database.url : '',
    SHUTDOWN_DEADLINE_SECONDS: String(c.shutdownDeadlineMs / 1000),
    LOG_FILE: c.logFile ? abs(c.logFile) : '',
    LOG_MAX_SIZE: c.logMaxSize,
    LOG_MAX_FILES: String(c.logMaxFiles),
    QUEUE_PREFIX: c.queuePrefix,
    STRICT_REDIS_CHECKS: String(c.strictRedisChecks),
    DISK_MIN_FREE_MB: String(Math.round(c.diskMinFreeBytes / 1048576)),
  };
}

/** KEY<TAB>value lines; a value with a tab or newline cannot be passed this way and is refused. */
export function toLines(cfg: StackConfig): string {
  return Object.entries(cfg)
    .map(([k, v]) => {
      if (/[\t\n\r]/.test(v)) throw new StackConfigError(`${k} contains a tab or newline, which the shell tools cannot take`);
      return `${k}\t${v}\n`;
    })
    .join('');
}

/** The settings a healthcheck needs, as a dotenv file (single-quoted: taken literally by dotenv). */
export function toDotenv(cfg: StackConfig): string {
  const keys: (keyof StackConfig)[] = ['NODE_ENV', 'PORT', 'WORKER_HEALTH_PORT', 'REDIS_URL', 'DATABASE_URL', 'MOUNT_PATH', 'OUTPUT_ROOT', 'DATA_DIR', 'LOG_FILE', 'LOG_MAX_SIZE', 'LOG_MAX_FILES', 'QUEUE_PREFIX', 'STRICT_REDIS_CHECKS', 'DISK_MIN_FREE_MB', 'SHUTDOWN_DEADLINE_SECONDS'];
  const lines = ['# Written by start_all.sh: the settings the running stack was started with (read by healthcheck --env-file).'];
  for (const k of keys) {
    const v = cfg[k];
    if (v.includes("'")) throw new StackConfigError(`${k} contains a single quote, which this file cannot hold`);
    lines.push(`${k}='${v}'`);
  }
  return lines.join('\n') + '\n';
}

function main(argv: string[]): number {
  let envFile: string | null = null;
  let base: string | null = null;
  let writeEnv: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--env-file') envFile = argv[++i] ?? null;
    else if (a === '--base') base = argv[++i] ?? null;
    else if (a === '--write-env') writeEnv = argv[++i] ?? null;
    else {
      process.stderr.write(`stack-config: unknown argument "${a}" (usage: stack-config [--env-file FILE] [--base DIR] [--write-env FILE])\n`);
      return 64;
    }
  }
  try {
    const loaded = loadEnv({ envFile });
    const cfg = stackConfig(loaded.env, base ? path.resolve(base) : loaded.baseDir, loaded.envFile);
    process.stdout.write(toLines(cfg));
    if (writeEnv) {
      const tmp = `${writeEnv}.${process.pid}.tmp`;
      writeFileSync(tmp, toDotenv(cfg), { mode: 0o600 });
      chmodSync(tmp, 0o600);
      renameSync(tmp, writeEnv);
    }
    return 0;
  } catch (e) {
    if (e instanceof ConfigError || e instanceof EnvFileError || e instanceof StackConfigError) {
      process.stderr.write(`${e.message}\n`);
      return 78;
    }
    throw e;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
