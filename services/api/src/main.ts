// API process entry: config (validated once), logger, server, ordered shutdown on signals.
import 'dotenv/config';
import { loadConfigOrExit, onShutdownSignal, runService, serviceLogger } from '@sync-analyzer/platform';
import { startApiServer } from './server.ts';

runService('api', async () => {
  const config = loadConfigOrExit('api');
  const logger = serviceLogger(config, 'api');
  const server = await startApiServer(config, logger);
  onShutdownSignal(logger, config.shutdownDeadlineMs, () => server.stop());
});
