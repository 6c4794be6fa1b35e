// End to end on PostgreSQL (a uniquely named database, dropped after): batch from an uploaded
// CSV sheet with exports, formula injection neutralised, HMAC-signed completion webhook
// retried against a receiver that fails twice.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { readdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import knex from 'knex';
import { parse } from 'csv-parse/sync';
import { verifyWebhookSignature } from '@sync-analyzer/platform';
import { startStack, makeProgramme, makeDub, until, type Stack } from './harness.ts';

const PG_ADMIN = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbName = `sa_e2e_${process.pid}_${randomBytes(3).toString('hex')}`;
const SECRET = 'whsec-test';
let s: Stack;
let receiver: http.Server;
let receiverUrl: string;
const deliveries: { headers: http.IncomingHttpHeaders; body: string; status: number }[] = [];

async function admin<T>(fn: (k: ReturnType<typeof knex>) => Promise<T>): Promise<T> {
  const k = knex({ client: 'pg', connection: PG_ADMIN, pool: { min: 0, max: 1 } });
  try {
    return await fn(k);
  } finally {
    await k.destroy();
  }
}

before(async () => {
  await admin((k) => k.raw(`CREATE DATABASE "${dbName}"`));
  const url = new URL(PG_ADMIN);
  url.pathname = `/${dbName}`;
  s = await startStack({ databaseUrl: url.toString(), env: { WEBHOOK_SECRET: SECRET }, api: { webhookBaseDelayMs: 50 } });
  await makeProgramme(path.join(s.mediaRoot, 'ep1-master.wav'), 41, 25);
  await makeDub(path.join(s.mediaRoot, 'ep1-master.wav'), path.join(s.mediaRoot, 'ep1-fr.wav'), 0);
  await makeDub(path.join(s.mediaRoot, 'ep1-master.wav'), path.join(s.mediaRoot, 'ep1-de.wav'), -0.25);
  await makeProgramme(path.join(s.mediaRoot, 'other.wav'), 99, 25);
  // A receiver that fails twice (503), then accepts.
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const status = deliveries.length < 2 ? 503 : 200;
      deliveries.push({ headers: req.headers, body, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
});

after(async () => {
  await s?.close();
  receiver?.close();
  await admin((k) => k.raw(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`));
  assert.deepEqual(s.contract.violations, []);
});

describe('batches (PostgreSQL store)', () => {
  test('CSV sheet upload (header aliases), per-item results, exports, signed webhook after two failures', async () => {
    const sheet = ['aref,wild,episode,notes', 'ep1-master.wav,ep1-fr.wav,101,French', 'ep1-master.wav,ep1-de.wav,101,"=HYPERLINK(""http://x"")"', 'ep1-master.wav,other.wav,102,unrelated'].join('\n');
    const form = new FormData();
    form.append('file', new Blob([sheet], { type: 'text/csv' }), 'sheet.csv');
    form.append('name', 'Episode 101 deliveries');
    form.append('webhook_url', receiverUrl);
    const res = await fetch(`${s.api.url}/api/v1/batches/csv`, { method: 'POST', body: form });
    const created = (await res.json()) as any;
    s.contract.check('POST', '/api/v1/batches/csv', res.status, res.headers.get('content-type'), created);
    assert.equal(res.status, 201, JSON.stringify(created));
    assert.equal(created.batch.total, 3);
    assert.equal(created.batch.name, 'Episode 101 deliveries');
    const id = created.batch.id as string;
    const done = await until(async () => {
      const b = await s.request('GET', `/api/v1/batches/${id}`);
      return b.body.batch.status === 'completed' ? b.body : null;
    }, 180_000, 'batch completed');
    const [fr, de, other] = done.items;
    assert.equal(fr.verdict, 'in_sync');
    assert.equal(de.verdict, 'offset');
    assert.ok(Math.abs(de.offset_seconds + 0.25) < 0.001);
    assert.equal(other.match, false);
    assert.equal(done.batch.counts.completed, 3);
    // One master, three dubs: the master was decoded once and reused from the cache.
    const cached = await readdir(path.join(s.config.dataDir, 'cache', 'prepared')).catch(() => []);
    assert.equal(cached.filter((n) => !n.startsWith('.')).length, 1, cached.join(','));

    const csv = await s.request('GET', `/api/v1/batches/${id}/export.csv`);
    assert.equal(csv.status, 200);
    const rows = parse(csv.text, { columns: true, skip_empty_lines: true }) as Record<string, string>[];
    assert.equal(rows.length, 3);
    const deRow = rows.find((r) => r.dub === 'ep1-de.wav')!;
    assert.ok(Object.values(deRow).some((v) => v === '-0.25' || v.startsWith('-0.25')), JSON.stringify(deRow));
    assert.ok(Object.values(deRow).some((v) => v.startsWith("'=HYPERLINK")), 'formula neutralised');
    const json = await s.request('GET', `/api/v1/batches/${id}/export.json`);
    assert.equal(json.body.items.length, 3);
    const html = await s.request('GET', `/api/v1/batches/${id}/export.html`);
    assert.match(html.text, /ep1-fr\.wav/);
    assert.doesNotMatch(html.text, /<a [^>]*href="http:\/\/x"/);

    // Webhook: two 503s, then delivered; same delivery id each time; signature verifies.
    const b = await until(async () => {
      const r = await s.request('GET', `/api/v1/batches/${id}`);
      return r.body.batch.webhook?.status === 'delivered' ? r.body.batch : null;
    }, 20_000, 'webhook delivered');
    assert.equal(b.webhook.attempts, 3);
    assert.equal(deliveries.length, 3);
    assert.deepEqual(deliveries.map((d) => d.status), [503, 503, 200]);
    assert.equal(new Set(deliveries.map((d) => d.headers['x-syncanalyzer-delivery'])).size, 1);
    const last = deliveries[2]!;
    assert.ok(verifyWebhookSignature(SECRET, String(last.headers['x-syncanalyzer-timestamp']), last.body, String(last.headers['x-syncanalyzer-signature'])));
    const payload = JSON.parse(last.body);
    assert.equal(payload.event, 'batch.completed');
    assert.equal(payload.batch.id, id);
    assert.equal(payload.items.length, 3);
  });

  test('bad sheets and bad items are refused with the line or item named', async () => {
    const noDub = await s.request('POST', '/api/v1/batches/csv', 'master,episode\nep1-master.wav,1\n', { 'content-type': 'text/csv' });
    assert.equal(noDub.status, 400);
    assert.equal(noDub.body.error.code, 'bad_sheet');
    const missingFile = await s.request('POST', '/api/v1/batches/csv', 'master,dub\nep1-master.wav,ep1-fr.wav\nep1-master.wav,nope.wav\n', { 'content-type': 'text/csv' });
    assert.equal(missingFile.status, 422);
    assert.match(missingFile.body.error.message, /item 2 dub/);
    const json = await s.request('POST', '/api/v1/batches', { items: [] });
    assert.equal(json.status, 400);
    const list = await s.request('GET', '/api/v1/batches');
    assert.equal(list.body.total, 1, 'refused sheets left nothing behind');
  });
});
