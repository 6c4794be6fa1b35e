// Contract: every operation of the OpenAPI document is called at least once, and every answer
// (status and JSON body) validates against the document. Also rate limiting (API-key clients
// limited, the browser session not), CORS from config, and strict Redis checks making the
// service not ready.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startStack, makeProgramme, makeDub, until, type Stack } from './harness.ts';

const KEY = 'contract-key';
let s: Stack;

before(async () => {
  s = await startStack({ env: { API_KEYS: KEY, RATE_LIMIT_PER_MINUTE: '200', CORS_ORIGINS: 'https://ui.example', STRICT_REDIS_CHECKS: 'true' } });
  await makeProgramme(path.join(s.mediaRoot, 'm.wav'), 71, 20);
  await makeDub(path.join(s.mediaRoot, 'm.wav'), path.join(s.mediaRoot, 'd.wav'), 0.2);
});
after(async () => {
  await s.close();
});

test('every documented operation answers as documented', async () => {
  const a = (await s.request('POST', '/api/v1/analyses?wait=60', { master: 'm.wav', dub: 'd.wav' })).body.analysis;
  assert.equal(a.status, 'completed');
  const id = a.id;
  const b = (await s.request('POST', '/api/v1/batches', { items: [{ master: 'm.wav', dub: 'd.wav', episode: '1' }] })).body.batch;
  await s.request('POST', '/api/v1/batches/csv?name=sheet', 'master,dub\nm.wav,d.wav\n', { 'content-type': 'text/csv' });
  const r = (await s.request('POST', '/api/v1/repairs', { analysis_id: id })).body.repair;
  await until(async () => (await s.request('GET', `/api/v1/repairs/${r.id}`)).body.repair.status === 'completed', 60_000, 'repair');
  const cancelMe = (await s.request('POST', '/api/v1/analyses', { master: 'm.wav', dub: 'd.wav', options: { frameRate: '50' } })).body.analysis;
  await s.request('POST', `/api/v1/analyses/${cancelMe.id}/cancel`);
  await s.request('POST', `/api/v1/analyses/${cancelMe.id}/retry`);
  const calls: [string, string][] = [
    ['GET', '/livez'], ['GET', '/readyz'], ['GET', '/health'], ['GET', '/metrics'], ['GET', '/api/openapi.json'],
    ['GET', '/api/v1/session'], ['DELETE', '/api/v1/session'],
    ['GET', '/api/v1/analyses'], ['GET', `/api/v1/analyses/${id}`], ['GET', `/api/v1/analyses/${id}/report.json`], ['GET', `/api/v1/analyses/${id}/report.csv`], ['GET', `/api/v1/analyses/${id}/report.html`], ['GET', `/api/v1/analyses/${id}/report.edl`],
    ['GET', `/api/v1/analyses/${id}/events`], ['GET', `/api/v1/analyses/${id}/overview`], ['GET', `/api/v1/analyses/${id}/proxy/master`], ['GET', '/api/v1/batches'], ['GET', `/api/v1/batches/${b.id}`], ['GET', `/api/v1/batches/${b.id}/export.csv`], ['GET', `/api/v1/batches/${b.id}/export.json`], ['GET', `/api/v1/batches/${b.id}/export.html`],
    ['GET', '/api/v1/repairs'], ['GET', `/api/v1/repairs/${r.id}`], ['POST', `/api/v1/repairs/${r.id}/cancel`], ['GET', '/api/v1/files'], ['GET', '/api/v1/files/probe?path=m.wav'],
  ];
  for (const [m, u] of calls) await s.request(m, u);
  await s.request('POST', '/api/v1/session', { api_key: KEY });
  // The all-events stream: read its first event, then drop it.
  const ctl = new AbortController();
  const ev = await fetch(`${s.api.url}/api/v1/events`, { headers: { authorization: `Bearer ${KEY}` }, signal: ctl.signal });
  s.contract.check('GET', '/api/v1/events', ev.status, ev.headers.get('content-type'), null);
  ctl.abort();
  const missing = s.contract.operations.filter((o) => !s.contract.seen.has(o));
  assert.deepEqual(missing, [], 'operations never exercised');
  assert.deepEqual(s.contract.violations, []);
});

test('strict Redis checks: the test Redis is queue-safe, so ready; the check is listed', async () => {
  const r = await s.request('GET', '/readyz');
  assert.equal(r.status, 200);
  assert.ok(r.body.checks.some((c: any) => c.name === 'redis-settings' && c.ok));
  // Turn eviction on: in strict mode the service becomes not ready, naming the setting.
  const { Redis } = await import('ioredis');
  const conn = new Redis(s.redis.url);
  await conn.config('SET', 'maxmemory-policy', 'allkeys-lru');
  const bad = await s.request('GET', '/readyz');
  assert.equal(bad.status, 503);
  assert.match(bad.body.checks.find((c: any) => c.name === 'redis-settings').detail, /noeviction/);
  await conn.config('SET', 'maxmemory-policy', 'noeviction');
  conn.disconnect();
  assert.equal((await s.request('GET', '/readyz')).status, 200);
});

test('rate limit: API-key clients get 429 past the limit; the browser session is not throttled; CORS from config', async () => {
  let limited = 0;
  // In parallel batches: one at a time, a loaded machine can spread the requests past the
  // limiter's 60 s window, which then resets and never refuses.
  for (let sent = 0; sent < 230 && limited === 0; sent += 25) {
    const statuses = await Promise.all(Array.from({ length: 25 }, () => s.request('GET', '/api/v1/analyses?limit=1').then((r) => r.status)));
    limited += statuses.filter((st) => st === 429).length;
  }
  assert.ok(limited >= 1, 'a key client is limited');
  const login = await fetch(`${s.api.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api_key: KEY }) });
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  for (let i = 0; i < 30; i++) assert.equal((await fetch(`${s.api.url}/api/v1/analyses?limit=1`, { headers: { cookie } })).status, 200);
  const ok = await fetch(`${s.api.url}/livez`, { headers: { origin: 'https://ui.example' } });
  assert.equal(ok.headers.get('access-control-allow-origin'), 'https://ui.example');
  const other = await fetch(`${s.api.url}/livez`, { headers: { origin: 'https://evil.example' } });
  assert.equal(other.headers.get('access-control-allow-origin'), null);
});
