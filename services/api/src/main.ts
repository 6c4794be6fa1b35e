// API process entry: config (validated once), logger, server, ordered shutdown on signals.
import 'dotenv/config';
import { ConfigError, createLogger, loadConfig } from '@sync-analyzer/platform';
import { startApiServer } from './server.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`sync-analyzer api: ${e.message}`);
      process.exit(78); // EX_CONFIG: a supervisor should not restart-loop on this
    }
    throw e;
  }
  const logger = createLogger({ level: config.logLevel, service: 'api', file: config.logFile, maxSize: config.logMaxSize, maxFiles: config.logMaxFiles });
  const server = await startApiServer(config, logger);
  let down = false;
  const shutdown = async (signal: string) => {
    if (down) return;
    down = true;
    logger.info({ signal }, 'shutdown requested');
    setTimeout(() => process.exit(1), config.shutdownDeadlineMs).unref();
    await server.stop();
    await logger.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

void main().catch((err: unknown) => {
  console.error(`sync-analyzer api failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
