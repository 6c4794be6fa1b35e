// Validates the production stack's configuration with the service's own loader (the same
// zod schema the api and worker apply at start), so a bad .env is refused before any container
// starts instead of as a crash-looping container. Used by deploy/start-production.sh:
//   node --import tsx deploy/check-env.ts --env-file .env [--stop-grace-seconds 60]   (on the host)
//   node --import tsx deploy/check-env.ts [--stop-grace-seconds 60]                   (inside an image: process.env)
// Exit 0 valid (warnings on stderr), 78 invalid (EX_CONFIG, as the services), 2 usage.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parse } from 'dotenv';
import { ConfigError, loadConfig, type Config } from '../shared/platform/src/config.ts';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface CheckOptions {
  /** The worker's stop grace period in the stack (Compose stop_grace_period, Kubernetes terminationGracePeriodSeconds). */
  stopGraceSeconds?: number;
}

export interface CheckResult {
  ok: boolean;
  problems: string[];
  warnings: string[];
  config: Config | null;
}

/** Seconds the worker needs after its shutdown deadline to hand jobs back and close Redis. */
export const SHUTDOWN_MARGIN_SECONDS = 10;

/**
 * Checks an environment as the production stack would run it: NODE_ENV is forced to
 * production (the compose file sets it), then the service's loader validates every variable.
 */
export function checkEnv(env: Record<string, string | undefined>, opts: CheckOptions = {}): CheckResult {
  const problems: string[] = [];
  const warnings: string[] = [];
  let config: Config | null = null;
  try {
    config = loadConfig({ ...env, NODE_ENV: 'production' });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  if (config) {
    const deadline = config.shutdownDeadlineMs / 1000;
    if (opts.stopGraceSeconds !== undefined && deadline + SHUTDOWN_MARGIN_SECONDS > opts.stopGraceSeconds) {
      problems.push(`SHUTDOWN_DEADLINE_SECONDS: ${deadline} s leaves less than ${SHUTDOWN_MARGIN_SECONDS} s before the stack's stop grace period (${opts.stopGraceSeconds} s) ends in SIGKILL; lower it or raise the worker's stop_grace_period`);
    }
    if (config.apiKeys.length === 0) warnings.push('API_KEYS is empty: the API will accept requests without authentication');
  }
  return { ok: problems.length === 0, problems, warnings, config };
}

export function parseArgs(argv: string[]): { envFile: string | null; stopGraceSeconds?: number } {
  let envFile: string | null = null;
  let stopGraceSeconds: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--env-file') envFile = value();
    else if (a === '--stop-grace-seconds') {
      const n = Number(value());
      if (!Number.isFinite(n) || n <= 0) throw new UsageError('--stop-grace-seconds must be a positive number');
      stopGraceSeconds = n;
    } else throw new UsageError(`unknown argument: ${a}`);
  }
  return stopGraceSeconds === undefined ? { envFile } : { envFile, stopGraceSeconds };
}

function main(): number {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`check-env: ${err.message}\nusage: check-env.ts [--env-file PATH] [--stop-grace-seconds N]`);
    return 2;
  }
  let env: Record<string, string | undefined> = process.env;
  const source = args.envFile ?? 'the environment';
  if (args.envFile !== null) {
    try {
      env = parse(readFileSync(args.envFile));
    } catch (err) {
      console.error(`check-env: cannot read ${args.envFile}: ${(err as Error).message}`);
      return 78;
    }
  }
  const result = checkEnv(env, args.stopGraceSeconds === undefined ? {} : { stopGraceSeconds: args.stopGraceSeconds });
  for (const w of result.warnings) console.error(`check-env: warning: ${w}`);
  if (!result.ok) {
    console.error(`check-env: ${source} is not valid:`);
    for (const p of result.problems) console.error(`  - ${p}`);
    return 78;
  }
  console.log(`check-env: ${source} is valid (database: ${result.config?.database.client})`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = main();
