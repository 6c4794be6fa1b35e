// What every service process does the same way around its own work: read the config once
// (exit 78, EX_CONFIG, naming the bad variable, so a supervisor does not restart-loop), build
// its logger, stop in order on SIGTERM/SIGINT with a hard deadline, and report a failed start.
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createLogger, type Logger } from './logger.ts';

export function loadConfigOrExit(service: string, env: Record<string, string | undefined> = process.env): Config {
  try {
    return loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`sync-analyzer ${service}: ${e.message}`);
      process.exit(78);
    }
    throw e;
  }
}

export function serviceLogger(config: Config, service: string): Logger {
  return createLogger({ level: config.logLevel, service, file: config.logFile, maxSize: config.logMaxSize, maxFiles: config.logMaxFiles });
}

/**
 * Runs `stop` once on the first SIGTERM or SIGINT, then flushes the logger and exits 0; exits 1
 * if stopping takes longer than `hardDeadlineMs`.
 */
export function onShutdownSignal(logger: Logger, hardDeadlineMs: number, stop: () => Promise<void>): void {
  let down = false;
  const shutdown = async (signal: string) => {
    if (down) return;
    down = true;
    logger.info({ signal }, 'shutdown requested');
    setTimeout(() => process.exit(1), hardDeadlineMs).unref();
    await stop();
    await logger.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/** Starts a service's main; a failure to start is one line on stderr and exit 1. */
export function runService(service: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    console.error(`sync-analyzer ${service} failed to start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
