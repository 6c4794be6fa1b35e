// HTTP load from a separate process (http-load-child.ts: autocannon on loopback), bounded in
// request count and time; this side spawns it and reads its one-line JSON report.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface EndpointLoad {
  /** Label in the report (e.g. "livez"). */
  name: string;
  /** Path with query, e.g. /api/v1/analyses?limit=20. */
  path: string;
  connections: number;
  /** Upper bound on requests to this endpoint. */
  maxRequests: number;
  /** Open-loop rate over all its connections (req/s); unset: as fast as the API answers. */
  ratePerSecond?: number;
}

export interface HttpLoadSpec {
  baseUrl: string;
  headers: Record<string, string>;
  endpoints: EndpointLoad[];
  /** Upper bound on the run's duration. */
  durationSeconds: number;
  /** Per-request timeout (s): a request over it counts as a timeout, not a hang. */
  timeoutSeconds: number;
}

export interface EndpointLoadResult {
  name: string;
  path: string;
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  /** status code -> count */
  statuses: Record<string, number>;
}

export interface HttpLoadResult {
  seconds: number;
  endpoints: EndpointLoadResult[];
}

export class HttpLoadError extends Error {
  override readonly name = 'HttpLoadError';
}

const CHILD = fileURLToPath(new URL('./http-load-child.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

/**
 * Runs the load in a child process; resolves with its report (rejects if it fails or overruns).
 * onStart runs when the requests begin (the generator's own start-up excluded).
 */
export function runHttpLoad(spec: HttpLoadSpec, onStart?: () => void): Promise<HttpLoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, CHILD, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let started = false;
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (!started && /^start$/m.test(out)) {
        started = true;
        onStart?.();
      }
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-4000)));
    // The child stops itself after durationSeconds; this only guards against a stuck generator.
    const guard = setTimeout(() => child.kill('SIGKILL'), (spec.durationSeconds + spec.timeoutSeconds + 30) * 1000);
    child.on('error', (e) => {
      clearTimeout(guard);
      reject(new HttpLoadError(`cannot start the load generator: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      if (code !== 0) return reject(new HttpLoadError(`load generator ended with ${signal ?? `exit code ${code}`}: ${err.trim()}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as HttpLoadResult);
      } catch {
        reject(new HttpLoadError(`load generator printed no report: ${out.slice(0, 300)} ${err.trim()}`));
      }
    });
  });
}
