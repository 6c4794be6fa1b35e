// Security, end to end, against the real processes: the API (services/api/src/main.ts) and a
// worker (services/worker/src/main.ts) started as the native mode starts them, both given every
// secret (API keys, the webhook secret, a Redis password, a PostgreSQL password: the native
// .env is shared), logging at debug to stdout and to rotated files. Authenticated requests by
// header and by session cookie, a batch with a signed webhook, bad logins, wrong keys, forged
// and expired cookies; then no secret may appear in any log line of either process, in any log
// file, or in any response. Also the access rules of the queue dashboard and the metrics,
// security headers, cookie flags, CORS refusal, and the key-guessing limit.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { connect } from 'node:net';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import knex from 'knex';
import { verifyWebhookSignature } from '@sync-analyzer/platform';
import { ApiKeyAuth, SESSION_COOKIE } from '../services/api/src/http/auth.ts';
import { freePort, makeDub, makeProgramme, until } from './harness.ts';
import { ContractChecker } from './contract.ts';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const hex = (n: number) => randomBytes(n).toString('hex');
const KEY_A = `ka-${hex(20)}`;
const KEY_B = `kb-${hex(20)}`;
const WEBHOOK_SECRET = `whsec-${hex(20)}`;
const REDIS_PASSWORD = `redispw-${hex(16)}`;
const PG_PASSWORD = `pgpw-${hex(16)}`;
/** A token a client put in its webhook URL: its own secret, never to be logged. */
const HOOK_TOKEN = `hooktok-${hex(16)}`;
/** Keys that are almost right: what a client mistyped is a secret too. */
const NEAR_MISS = KEY_A.slice(0, -1) + (KEY_A.endsWith('0') ? '1' : '0');
const GUESSED = `guess-${hex(16)}`;
const SECRETS: Record<string, string> = { KEY_A, KEY_B, WEBHOOK_SECRET, REDIS_PASSWORD, PG_PASSWORD, HOOK_TOKEN, NEAR_MISS, GUESSED };

const PG_ADMIN = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbName = `sa_sec_${process.pid}_${hex(3)}`;

let dir: string;
let redis: ChildProcess;
let api: ChildProcess;
let worker: ChildProcess;
let base: string;
let receiver: http.Server;
let hookUrl: string;
let contract: ContractChecker;
const out = { api: '', worker: '' };
/** Every response body this file received, to be searched for secrets at the end. */
const bodies: string[] = [];
const deliveries: { valid: boolean; body: string }[] = [];

async function admin<T>(fn: (k: ReturnType<typeof knex>) => Promise<T>): Promise<T> {
  const k = knex({ client: 'pg', connection: PG_ADMIN, pool: { min: 0, max: 1 } });
  try {
    return await fn(k);
  } finally {
    await k.destroy();
  }
}

async function call(method: string, url: string, opts: { body?: unknown; headers?: Record<string, string>; key?: string | null } = {}) {
  const key = opts.key === undefined ? KEY_A : opts.key;
  const res = await fetch(`${base}${url}`, {
    method,
    redirect: 'manual',
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(opts.headers ?? {}) },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  bodies.push(text);
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  // The queue dashboard and the docs page are not operations of the API document.
  if (!/^\/(admin\/queues|api\/docs)/.test(url)) contract?.check(method, url, res.status, res.headers.get('content-type'), body);
  return { status: res.status, headers: res.headers, text, body };
}

function startService(name: 'api' | 'worker', env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(REPO, `services/${name}/src/main.ts`)], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c: Buffer) => (out[name] += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out[name] += c.toString()));
  return child;
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sa-security-'));
  const media = path.join(dir, 'media');
  await mkdir(path.join(dir, 'output'), { recursive: true });
  await mkdir(media, { recursive: true });
  await makeProgramme(path.join(media, 'master.wav'), 81, 20);
  await makeDub(path.join(media, 'master.wav'), path.join(media, 'dub.wav'), 0.3);
  await makeDub(path.join(media, 'master.wav'), path.join(media, 'dub2.wav'), -0.2);

  // A Redis that requires a password (noeviction, maxmemory, AOF: queue-safe).
  const redisPort = await freePort();
  await mkdir(path.join(dir, 'redis'));
  redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', path.join(dir, 'redis'), '--save', '', '--appendonly', 'yes', '--maxmemory', '128mb', '--maxmemory-policy', 'noeviction', '--requirepass', REDIS_PASSWORD], { stdio: 'ignore' });
  await until(() => answers(redisPort), 10_000, 'redis-server');

  // PostgreSQL with a password in the URL (trust auth accepts it; it must still never be logged).
  await admin((k) => k.raw(`CREATE DATABASE "${dbName}"`));
  const dbUrl = new URL(PG_ADMIN);
  dbUrl.pathname = `/${dbName}`;
  dbUrl.password = PG_PASSWORD;

  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const valid = verifyWebhookSignature(WEBHOOK_SECRET, String(req.headers['x-syncanalyzer-timestamp']), body, req.headers['x-syncanalyzer-signature'] as string, { toleranceSeconds: 300 });
      deliveries.push({ valid, body });
      // The first attempt fails, so the retry path (and its log lines) runs too.
      res.writeHead(deliveries.length === 1 ? 503 : 200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook?token=${HOOK_TOKEN}`;

  const apiPort = await freePort();
  base = `http://127.0.0.1:${apiPort}`;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    NODE_ENV: 'production',
    PORT: String(apiPort),
    WORKER_HEALTH_PORT: String(await freePort()),
    MOUNT_PATH: media,
    OUTPUT_ROOT: path.join(dir, 'output'),
    DATA_DIR: path.join(dir, 'data'),
    REDIS_URL: `redis://:${REDIS_PASSWORD}@127.0.0.1:${redisPort}`,
    DATABASE_URL: dbUrl.toString(),
    API_KEYS: `${KEY_A},${KEY_B}`,
    WEBHOOK_SECRET,
    CORS_ORIGINS: 'https://ui.example',
    QUEUE_PREFIX: `sec-${hex(4)}`,
    LOG_LEVEL: 'debug',
    FFMPEG_PATH: '/usr/bin/ffmpeg',
    FFPROBE_PATH: '/usr/bin/ffprobe',
    DISK_MIN_FREE_MB: '1',
    SPEECH_DETECTION: 'false',
  };
  api = startService('api', { ...env, LOG_FILE: path.join(dir, 'logs', 'api.log') });
  worker = startService('worker', { ...env, LOG_FILE: path.join(dir, 'logs', 'worker.log') });
  await until(async () => {
    if (api.exitCode !== null || worker.exitCode !== null) throw new Error(`a service exited:\n${out.api}\n${out.worker}`);
    const a = await fetch(`${base}/readyz`).catch(() => null);
    const w = await fetch(`http://127.0.0.1:${env.WORKER_HEALTH_PORT}/readyz`).catch(() => null);
    return a?.status === 200 && w?.status === 200;
  }, 120_000, 'api and worker ready');
  contract = new ContractChecker((await (await fetch(`${base}/api/openapi.json`)).json()) as Record<string, any>);
});

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

after(async () => {
  const stop = (p: ChildProcess | undefined) => (p && p.exitCode === null ? new Promise((r) => (p.once('exit', r), p.kill('SIGTERM'))) : null);
  await Promise.all([stop(api), stop(worker)]);
  await stop(redis);
  receiver?.close();
  await admin((k) => k.raw(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`)).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

test('authenticated work: header key, session cookie; a batch whose webhook is signed with the secret', async () => {
  const a = await call('POST', '/api/v1/analyses?wait=120', { body: { master: 'master.wav', dub: 'dub.wav' }, headers: { 'x-request-id': 'sec-analysis-1' } });
  assert.equal(a.body.analysis.status, 'completed', a.text);
  const login = await call('POST', '/api/v1/session', { key: null, body: { api_key: KEY_B } });
  assert.equal(login.status, 200);
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  const viaCookie = await call('GET', `/api/v1/analyses/${a.body.analysis.id}`, { key: null, headers: { cookie } });
  assert.equal(viaCookie.status, 200);
  const batch = await call('POST', '/api/v1/batches', { body: { name: 'sec', items: [{ master: 'master.wav', dub: 'dub.wav' }, { master: 'master.wav', dub: 'dub2.wav' }], webhook_url: hookUrl } });
  assert.equal(batch.status, 201, batch.text);
  await until(async () => deliveries.length >= 2, 180_000, 'webhook delivered after one failure');
  assert.deepEqual(deliveries.map((d) => d.valid), [true, true], 'every delivery is signed with WEBHOOK_SECRET');
  // The receiver sees the request before the API has read its 200 and stored the outcome.
  let b: any;
  await until(async () => {
    b = (await call('GET', `/api/v1/batches/${batch.body.batch.id}`)).body.batch;
    return b.webhook.status !== 'pending';
  }, 30_000, 'webhook outcome stored');
  assert.equal(b.webhook.status, 'delivered');
});

test('the session cookie: only for a valid key, HttpOnly, SameSite=Strict, Secure behind TLS, signed, expiring', async () => {
  for (const key of [GUESSED, NEAR_MISS]) {
    const bad = await call('POST', '/api/v1/session', { key: null, body: { api_key: key } });
    assert.equal(bad.status, 401);
    assert.equal(bad.headers.get('set-cookie'), null, 'no cookie for a wrong key');
  }
  const empty = await call('POST', '/api/v1/session', { key: null, body: { api_key: '' } });
  assert.equal(empty.status, 400);
  assert.equal(empty.headers.get('set-cookie'), null);
  // A valid key in the header does not stand in for the body's key.
  const headerOnly = await call('POST', '/api/v1/session', { body: { api_key: GUESSED } });
  assert.equal(headerOnly.status, 401);
  assert.equal(headerOnly.headers.get('set-cookie'), null);

  const ok = await call('POST', '/api/v1/session', { key: null, body: { api_key: KEY_A } });
  const set = ok.headers.get('set-cookie')!;
  assert.match(set, new RegExp(`^${SESSION_COOKIE}=`));
  assert.match(set, /; HttpOnly/i);
  assert.match(set, /; SameSite=Strict/i);
  assert.match(set, /; Path=\//i);
  assert.match(set, /; Expires=/i);
  assert.doesNotMatch(set, /; Secure/i, 'plain HTTP: a Secure cookie would never come back');
  // Behind a TLS-terminating proxy on this host (trust proxy: loopback), the cookie is Secure.
  const tls = await call('POST', '/api/v1/session', { key: null, body: { api_key: KEY_A }, headers: { 'x-forwarded-proto': 'https' } });
  assert.match(tls.headers.get('set-cookie')!, /; Secure/i);

  const valid = set.split(';')[0]!;
  const value = valid.slice(SESSION_COOKIE.length + 1);
  const [exp, sig] = value.split('.');
  const withCookie = async (v: string) => (await call('GET', '/api/v1/analyses?limit=1', { key: null, headers: { cookie: `${SESSION_COOKIE}=${v}` } })).status;
  assert.equal(await withCookie(value), 200);
  // Forged: another expiry with the same signature, a signature from another key, an expired one.
  assert.equal(await withCookie(`${Number(exp) + 3_600_000}.${sig}`), 401, 'a longer expiry needs a new signature');
  assert.equal(await withCookie(new ApiKeyAuth([GUESSED], 3_600_000).sessionCookieValue(GUESSED)!.value), 401, 'signed with a key the server does not have');
  assert.equal(await withCookie(new ApiKeyAuth([KEY_A], -60_000).sessionCookieValue(KEY_A)!.value), 401, 'expired');
  assert.equal(await withCookie(`${exp}.${sig!.slice(0, -2)}`), 401, 'truncated signature');
  assert.equal(await withCookie('garbage'), 401);
  // Logging out clears the cookie in the browser.
  const out = await call('DELETE', '/api/v1/session', { key: null, headers: { cookie: valid } });
  assert.match(out.headers.get('set-cookie')!, new RegExp(`^${SESSION_COOKIE}=;.*Expires=Thu, 01 Jan 1970`, 'i'));
});

test('the queue dashboard and /metrics need a key or a session; health probes are open and hold no secret', async () => {
  const login = await call('POST', '/api/v1/session', { key: null, body: { api_key: KEY_B } });
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  // bull-board's page, its JSON API, and its job-changing endpoints.
  for (const [method, url] of [['GET', '/admin/queues'], ['GET', '/admin/queues/api/queues'], ['PUT', '/admin/queues/api/queues/analysis/pause'], ['PUT', '/admin/queues/api/queues/analysis/clean/completed']] as const) {
    assert.equal((await call(method, url, { key: null })).status, 401, `${method} ${url} without a key`);
    assert.equal((await call(method, url, { key: GUESSED })).status, 401, `${method} ${url} with a wrong key`);
  }
  assert.equal((await call('GET', '/admin/queues', {})).status, 200);
  assert.equal((await call('GET', '/admin/queues', { key: null, headers: { cookie } })).status, 200);
  const queues = await call('GET', '/admin/queues/api/queues', {});
  assert.equal(queues.status, 200);
  assert.ok(Array.isArray(queues.body.queues));
  assert.equal((await call('GET', '/metrics', { key: null })).status, 401);
  const metrics = await call('GET', '/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.text, /sync_analyzer_http_requests_total/);
  for (const url of ['/livez', '/readyz', '/health']) {
    const r = await call('GET', url, { key: null });
    assert.equal(r.status, 200, `${url}: ${r.text}`);
  }
});

test('security headers on API answers, pages and reports; CORS refuses unknown origins', async () => {
  const a = (await call('GET', '/api/v1/analyses?limit=1')).body.items[0];
  for (const url of ['/livez', '/api/v1/analyses?limit=1', '/api/docs/', '/admin/queues', `/api/v1/analyses/${a.id}/report.html`]) {
    const r = await call('GET', url);
    const h = r.headers;
    assert.equal(h.get('x-content-type-options'), 'nosniff', url);
    assert.equal(h.get('x-frame-options'), 'SAMEORIGIN', url);
    assert.equal(h.get('referrer-policy'), 'no-referrer', url);
    assert.equal(h.get('cross-origin-opener-policy'), 'same-origin', url);
    assert.equal(h.get('cross-origin-resource-policy'), 'same-origin', url);
    assert.match(h.get('strict-transport-security') ?? '', /max-age=\d+/, url);
    assert.equal(h.get('x-powered-by'), null, url);
    const csp = h.get('content-security-policy') ?? '';
    assert.match(csp, /default-src '(self|none)'/, `${url}: ${csp}`);
    assert.doesNotMatch(csp, /script-src[^;]*'unsafe-inline'/, `${url}: inline scripts allowed`);
  }
  const report = await call('GET', `/api/v1/analyses/${a.id}/report.html`);
  assert.match(report.headers.get('content-security-policy')!, /^default-src 'none'/, 'a report runs no script at all');

  // Preflight from an unknown origin: no CORS grant (the browser blocks the request).
  const preflight = (origin: string) =>
    fetch(`${base}/api/v1/analyses`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
  const evil = await preflight('https://evil.example');
  assert.equal(evil.headers.get('access-control-allow-origin'), null);
  assert.equal(evil.headers.get('access-control-allow-credentials'), null);
  const good = await preflight('https://ui.example');
  assert.equal(good.headers.get('access-control-allow-origin'), 'https://ui.example');
  assert.equal(good.headers.get('access-control-allow-credentials'), 'true');
  // A simple cross-origin read from an unknown origin gets no grant either.
  const read = await call('GET', '/api/v1/analyses?limit=1', { headers: { origin: 'https://evil.example' } });
  assert.equal(read.headers.get('access-control-allow-origin'), null);
});

test('error answers say what is wrong without echoing keys or naming server paths outside the root', async () => {
  const cases = [
    await call('POST', '/api/v1/session', { key: null, body: { api_key: NEAR_MISS } }),
    await call('POST', '/api/v1/session', { key: null, body: { api_key: `${GUESSED}${'x'.repeat(600)}` } }),
    await call('POST', '/api/v1/session', { key: null, body: { api_key: GUESSED, extra: KEY_A } }),
    await call('GET', '/api/v1/analyses', { key: NEAR_MISS }),
    await call('POST', '/api/v1/analyses', { body: { master: '../../etc/passwd', dub: 'dub.wav' } }),
    await call('POST', '/api/v1/analyses', { body: { master: '/etc/passwd', dub: 'dub.wav' } }),
    await call('GET', '/api/v1/files?path=../..'),
  ];
  for (const r of cases) {
    assert.ok(r.status >= 400 && r.status < 500, `${r.status} ${r.text}`);
    assert.ok(r.body?.error?.code && r.body.error.message, r.text);
    assert.ok(!r.text.includes(dir), `the server's own paths: ${r.text}`);
  }
});

test('keys only in the Authorization header; wrong keys are limited per address without locking out valid ones', async () => {
  // A key in the query string (it would end up in proxy and browser history logs) is not accepted.
  assert.equal((await call('GET', `/api/v1/analyses?api_key=${KEY_A}`, { key: null })).status, 401);
  assert.equal((await call('GET', `/api/v1/analyses?token=${KEY_A}`, { key: null })).status, 401);
  const wrong = await call('GET', '/api/v1/analyses', { key: GUESSED });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.headers.get('www-authenticate'), 'Bearer realm="sync-analyzer"');
  assert.equal(wrong.headers.get('ratelimit-policy'), '20;w=60', 'wrong keys: 20 a minute per address');
  // Earlier tests sent a few wrong keys too; the window is fixed (it may roll over once here).
  let limitedAt = 0;
  for (let i = 2; i <= 45 && !limitedAt; i++) if ((await call('GET', '/api/v1/analyses', { key: i % 2 ? GUESSED : NEAR_MISS })).status === 429) limitedAt = i;
  assert.ok(limitedAt >= 10, `wrong keys limited, but not before about 20 (429 at attempt ${limitedAt})`);
  const stillLimited = await call('GET', '/api/v1/analyses', { key: GUESSED });
  assert.equal(stillLimited.status, 429);
  assert.equal(stillLimited.body.error.code, 'rate_limited');
  // Another client behind a trusted proxy (TRUST_PROXY=loopback, the default: the test's
  // requests come from 127.0.0.1) is counted under its own forwarded address.
  const viaProxy = await call('GET', '/api/v1/analyses', { key: GUESSED, headers: { 'x-forwarded-for': '203.0.113.9' } });
  assert.equal(viaProxy.status, 401, 'a forwarded client has its own budget');
  // The same address with a valid key, or without any key, is not refused by that limit.
  assert.equal((await call('GET', '/api/v1/analyses?limit=1')).status, 200);
  assert.equal((await call('GET', '/api/v1/analyses?limit=1', { key: null })).status, 401);
});

test('no secret in any log line of either process, in the log files, or in any response', async () => {
  // Let the processes flush (the file transport buffers), then read everything they wrote.
  await new Promise((r) => setTimeout(r, 1500));
  const files: string[] = [];
  for (const f of await readdir(path.join(dir, 'logs'))) if (/\.log$/.test(f)) files.push(await readFile(path.join(dir, 'logs', f), 'utf8'));
  const logs = { 'api stdout/stderr': out.api, 'worker stdout/stderr': out.worker, 'log files': files.join('\n') };
  // The capture is real: the lines this file caused are there.
  assert.match(out.api, /"requestId":"sec-analysis-1"/);
  assert.match(out.api, /webhook attempt failed/);
  assert.match(out.api, /webhook delivered/);
  assert.match(out.api, /"status":401/);
  assert.match(out.worker, /"service":"worker"/);
  assert.match(logs['log files'], /"requestId":"sec-analysis-1"/);
  for (const [where, text] of Object.entries(logs)) {
    for (const [name, secret] of Object.entries(SECRETS)) assert.ok(!text.includes(secret), `${name} appears in the ${where}`);
  }
  // Responses: no key, password or secret (the client's own webhook URL, token included, is
  // the one thing the API gives back to key holders).
  for (const body of bodies) {
    for (const [name, secret] of Object.entries(SECRETS)) if (name !== 'HOOK_TOKEN') assert.ok(!body.includes(secret), `${name} in a response: ${body.slice(0, 300)}`);
  }
  assert.deepEqual(contract.violations, [], 'responses that do not match the OpenAPI document');
});
