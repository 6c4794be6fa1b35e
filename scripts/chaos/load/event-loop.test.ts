// The event-loop figures the api-load scenario reads from the API's /metrics: prom-client's own
// exposition (the same collectDefaultMetrics call and prefix as services/api/src/metrics.ts),
// parsed after a real stall of this process's event loop, and the reset between scrapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import client from 'prom-client';
import { API_LOOP_RESOLUTION_MS, MetricsParseError, measureLoopDelay, parseLoopDelay } from './event-loop.ts';

function stallFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    /* a synchronous stall: what a blocked API event loop looks like */
  }
}

test('reads the delay beyond the sampling period from prom-client metrics; each scrape starts a new window', async () => {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'sync_analyzer_api_' });
  const scrape = () => registry.metrics();
  const stalled = await measureLoopDelay(scrape, async (begin) => {
    begin();
    await new Promise((r) => setTimeout(r, 100));
    stallFor(300);
    await new Promise((r) => setTimeout(r, 100));
  });
  // One sample waited out the whole 300 ms stall (the period itself subtracted).
  assert.ok(stalled.delay.maxMs >= 300 - API_LOOP_RESOLUTION_MS - 5, `max ${stalled.delay.maxMs} ms`);
  assert.ok(stalled.delay.p50Ms < 50, `p50 ${stalled.delay.p50Ms} ms`);
  const calm = await measureLoopDelay(scrape, async (begin) => {
    begin();
    await new Promise((r) => setTimeout(r, 300));
  });
  assert.ok(calm.delay.maxMs < 200, `the stall leaked into the next window: max ${calm.delay.maxMs} ms`);
});

test('a metrics text without the event-loop gauges is an error, not zero', () => {
  assert.throws(() => parseLoopDelay('# nothing here\nsome_other_metric 1\n'), MetricsParseError);
});
