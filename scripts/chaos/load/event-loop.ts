// The API's own event-loop delay, as the API process reports it on /metrics (prom-client's
// default metrics: perf_hooks.monitorEventLoopDelay, sampled every 10 ms). prom-client resets
// that histogram at every scrape, so a scrape at the start of a phase and one at its end give the
// delay over exactly that phase (nothing else may scrape /metrics meanwhile).

/** prom-client's default sampling period (eventLoopMonitoringPrecision): every sample includes it. */
export const API_LOOP_RESOLUTION_MS = 10;
const PREFIX = 'sync_analyzer_api_nodejs_eventloop_lag_';

export interface LoopDelay {
  /** Delay beyond the 10 ms sampling period (ms). */
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

export class MetricsParseError extends Error {
  override readonly name = 'MetricsParseError';
}

/** Reads the event-loop gauges out of a Prometheus text exposition. */
export function parseLoopDelay(metricsText: string): LoopDelay {
  const value = (stat: string): number => {
    const re = new RegExp(`^${PREFIX}${stat}_seconds(?:\\{[^}]*\\})? ([0-9.eE+-]+|NaN)$`, 'm');
    const m = re.exec(metricsText);
    if (!m) throw new MetricsParseError(`/metrics has no ${PREFIX}${stat}_seconds`);
    const seconds = Number(m[1]);
    // An empty window (no sample yet) reads NaN or a huge min; count it as no delay measured.
    if (!Number.isFinite(seconds)) return 0;
    return Math.max(0, seconds * 1000 - API_LOOP_RESOLUTION_MS);
  };
  return { p50Ms: value('p50'), p90Ms: value('p90'), p99Ms: value('p99'), maxMs: value('max'), meanMs: value('mean') };
}

/**
 * Measures the API's event-loop delay over one phase. The phase calls `begin` when its work
 * really starts: that scrape resets the API's histogram.
 */
export async function measureLoopDelay<T>(scrape: () => Promise<string>, phase: (begin: () => void) => Promise<T>): Promise<{ value: T; delay: LoopDelay }> {
  let reset: Promise<string> | null = null;
  const begin = () => void (reset ??= scrape());
  const value = await phase(begin);
  if (!reset) throw new Error('measureLoopDelay: the phase ended without calling begin()');
  await reset;
  return { value, delay: parseLoopDelay(await scrape()) };
}
