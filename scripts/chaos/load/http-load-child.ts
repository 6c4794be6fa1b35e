// Entry of the load-generator process: autocannon against the API over loopback, one instance
// per endpoint running side by side, each bounded by a request count AND a duration. It runs in
// its own process so that the generator's CPU time never counts as the API's event-loop time.
// Reads one JSON HttpLoadSpec from argv[2]; writes a `start` line when the load begins (after
// this process's own start-up), then one JSON HttpLoadResult line on stdout.
import { createRequire } from 'node:module';
import type { EndpointLoad, EndpointLoadResult, HttpLoadResult, HttpLoadSpec } from './http-load.ts';

/** The part of autocannon's API this uses (the package ships no types). */
interface AutocannonResult {
  requests: { average: number; total: number; sent: number };
  latency: { p50: number; p90: number; p99: number; max: number; average: number; totalCount: number };
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats?: Record<string, { count: number }>;
}
interface AutocannonInstance {
  stop(): void;
}
type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, res: AutocannonResult) => void) => AutocannonInstance;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === '127.0.0.1' || host === 'localhost' || host === '[::1]';
}

function runOne(spec: HttpLoadSpec, e: EndpointLoad): Promise<EndpointLoadResult> {
  return new Promise((resolve, reject) => {
    let stopTimer: NodeJS.Timeout | null = null;
    const instance = autocannon(
      {
        url: spec.baseUrl,
        connections: e.connections,
        // autocannon ignores `duration` when `amount` is set: the timer below bounds the time.
        amount: e.maxRequests,
        // Per-request latency as measured: with a rate, autocannon's coordinated-omission
        // correction assumes a 1 ms expected interval and would add synthetic samples.
        ...(e.ratePerSecond ? { overallRate: e.ratePerSecond, ignoreCoordinatedOmission: true } : {}),
        timeout: spec.timeoutSeconds,
        headers: spec.headers,
        requests: [{ method: 'GET', path: e.path }],
      },
      (err, r) => {
        if (stopTimer) clearTimeout(stopTimer);
        if (err) return reject(err);
        const statuses: Record<string, number> = {};
        for (const [code, s] of Object.entries(r.statusCodeStats ?? {})) statuses[code] = s.count;
        resolve({
          name: e.name,
          path: e.path,
          requests: r.requests.total,
          seconds: r.duration,
          requestsPerSecond: r.duration > 0 ? r.requests.total / r.duration : 0,
          p50Ms: r.latency.p50,
          p90Ms: r.latency.p90,
          p99Ms: r.latency.p99,
          maxMs: r.latency.max,
          meanMs: r.latency.average,
          errors: r.errors,
          timeouts: r.timeouts,
          non2xx: r.non2xx,
          statuses,
        });
      },
    );
    stopTimer = setTimeout(() => instance.stop(), spec.durationSeconds * 1000);
  });
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as HttpLoadSpec;
  // Loopback only: this is a load test of our own process, never of anything reachable elsewhere.
  if (!isLoopback(spec.baseUrl)) throw new Error(`refusing to load a non-loopback address: ${spec.baseUrl}`);
  process.stdout.write('start\n');
  const t0 = performance.now();
  const endpoints = await Promise.all(spec.endpoints.map((e) => runOne(spec, e)));
  const result: HttpLoadResult = { seconds: (performance.now() - t0) / 1000, endpoints };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`http load failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
