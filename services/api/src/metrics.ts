// Prometheus metrics (prom-client) with low-cardinality labels: the route pattern, never the
// raw URL; job kind and outcome, never ids.
import client from 'prom-client';
import type { Redis } from 'ioredis';
import type { JobQueues } from '@sync-analyzer/platform';

export class Metrics {
  readonly registry = new client.Registry();
  private readonly httpRequests = new client.Counter({ name: 'sync_analyzer_http_requests_total', help: 'HTTP requests by method, route pattern and status', labelNames: ['method', 'route', 'status'] as const, registers: [this.registry] });
  private readonly httpDuration = new client.Histogram({ name: 'sync_analyzer_http_request_duration_seconds', help: 'HTTP request duration', labelNames: ['method', 'route'] as const, buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60], registers: [this.registry] });
  private readonly jobs = new client.Counter({ name: 'sync_analyzer_jobs_total', help: 'Finished jobs by kind and outcome', labelNames: ['kind', 'outcome'] as const, registers: [this.registry] });
  private readonly jobDuration = new client.Histogram({ name: 'sync_analyzer_job_duration_seconds', help: 'Job run time (worker) by kind', labelNames: ['kind'] as const, buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600], registers: [this.registry] });
  readonly submissions = new client.Counter({ name: 'sync_analyzer_submissions_total', help: 'Accepted submissions by kind (deduplicated ones counted apart)', labelNames: ['kind', 'deduplicated'] as const, registers: [this.registry] });

  constructor(queues: JobQueues | null, redis: Redis | null, heartbeats: () => Promise<{ busy: boolean }[]>) {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'sync_analyzer_api_' });
    new client.Gauge({
      name: 'sync_analyzer_queue_jobs',
      help: 'Jobs in the queue by kind and state',
      labelNames: ['kind', 'state'] as const,
      registers: [this.registry],
      async collect() {
        if (!queues || redis?.status !== 'ready') return;
        for (const [kind, q] of Object.entries(queues.queues)) {
          const counts = await q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed', 'waiting-children').catch(() => null);
          if (counts) for (const [state, n] of Object.entries(counts)) this.set({ kind, state }, n);
        }
      },
    });
    const workers = new client.Gauge({ name: 'sync_analyzer_workers', help: 'Worker processes with a live heartbeat, by busy state', labelNames: ['busy'] as const, registers: [this.registry] });
    new client.Gauge({
      name: 'sync_analyzer_workers_busy',
      help: 'Worker processes running at least one job',
      registers: [this.registry],
      async collect() {
        const hb = await heartbeats().catch(() => []);
        const busy = hb.filter((h) => h.busy).length;
        this.set(busy);
        workers.set({ busy: 'true' }, busy);
        workers.set({ busy: 'false' }, hb.length - busy);
      },
    });
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.httpRequests.inc({ method, route, status: String(status) });
    this.httpDuration.observe({ method, route }, seconds);
  }

  jobFinished(kind: string, outcome: string, seconds: number | null): void {
    this.jobs.inc({ kind, outcome });
    if (seconds !== null) this.jobDuration.observe({ kind }, seconds);
  }
}
