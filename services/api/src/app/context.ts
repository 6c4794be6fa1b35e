// Everything the HTTP layer needs, built once in main.ts (or by tests) and passed in.
import type { Config, JobQueues, Logger, MediaRoot, OutputRoot, Store } from '@sync-analyzer/platform';
import type { MediaTools } from '@sync-analyzer/media';
import type { ApiKeyAuth } from '../http/auth.ts';
import type { JobEventBus } from '../jobs/events.ts';
import type { JobSync } from '../jobs/job-sync.ts';
import type { Submissions } from '../jobs/submissions.ts';
import type { Metrics } from '../metrics.ts';
import type { HealthService } from '../health.ts';
import type { Proxies } from '../jobs/proxies.ts';

export interface ApiContext {
  config: Config;
  logger: Logger;
  store: Store;
  queues: JobQueues;
  submissions: Submissions;
  sync: JobSync;
  events: JobEventBus;
  mediaRoot: MediaRoot;
  outputRoot: OutputRoot;
  auth: ApiKeyAuth;
  metrics: Metrics;
  health: HealthService;
  tools: MediaTools;
  proxies: Proxies;
  /** Built web UI (default services/web/dist). */
  webDist?: string;
}
