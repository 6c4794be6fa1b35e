// The webhook sender against real local HTTP receivers (node:http on an ephemeral port).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { nullLogger } from '@sync-analyzer/media';
import { deliverWebhook, signWebhook, verifyWebhookSignature, WebhookAbortedError } from './webhook.ts';

const SECRET = 'test-secret';

interface Received {
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A receiver answering each request with `respond(n)` (n from 1); returns its URL and log. */
async function receiver(respond: (n: number, res: ServerResponse) => void): Promise<{ url: string; got: Received[]; close: () => Promise<void> }> {
  const got: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ method: req.method!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      respond(got.length, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/sync?token=abc`,
    got,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const answer = (status: number, extra: Record<string, string> = {}) => (_n: number, res: ServerResponse) => {
  res.writeHead(status, { 'content-type': 'text/plain', ...extra });
  res.end(`status ${status}`);
};

const header = (h: IncomingHttpHeaders, name: string) => {
  const v = h[name.toLowerCase()];
  assert.equal(typeof v, 'string', name);
  return v as string;
};

describe('deliverWebhook', () => {
  test('two 503s then 200: three attempts, same delivery id, signatures verify, delays grow', async () => {
    const r = await receiver((n, res) => answer(n <= 2 ? 503 : 200)(n, res));
    try {
      const body = { event: 'batch.completed', batchId: 'b1', counts: { completed: 3 }, note: 'ünïcode' };
      const out = await deliverWebhook(r.url, body, { secret: SECRET, baseDelayMs: 20, logger: nullLogger });
      assert.equal(out.delivered, true);
      assert.equal(out.attempts, 3);
      assert.equal(out.lastError, null);
      assert.equal(r.got.length, 3);
      const ids = new Set(r.got.map((g) => header(g.headers, 'X-SyncAnalyzer-Delivery')));
      assert.equal(ids.size, 1);
      assert.deepEqual([...ids], [out.deliveryId]);
      for (const g of r.got) {
        assert.equal(g.method, 'POST');
        assert.match(header(g.headers, 'Content-Type'), /^application\/json/);
        assert.equal(header(g.headers, 'X-SyncAnalyzer-Event'), 'batch.completed');
        const ts = header(g.headers, 'X-SyncAnalyzer-Timestamp');
        assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 30, ts);
        const sig = header(g.headers, 'X-SyncAnalyzer-Signature');
        assert.match(sig, /^sha256=[0-9a-f]{64}$/);
        assert.equal(verifyWebhookSignature(SECRET, ts, g.body, sig), true);
        assert.equal(verifyWebhookSignature('wrong-secret', ts, g.body, sig), false);
        assert.equal(verifyWebhookSignature(SECRET, String(Number(ts) + 1), g.body, sig), false);
        assert.deepEqual(JSON.parse(g.body), body);
      }
      // Backoff: 20 ms then 40 ms (timer granularity allows a little less).
      assert.ok(r.got[1]!.at - r.got[0]!.at >= 15, `first gap ${r.got[1]!.at - r.got[0]!.at}`);
      assert.ok(r.got[2]!.at - r.got[1]!.at >= 35, `second gap ${r.got[2]!.at - r.got[1]!.at}`);
    } finally {
      await r.close();
    }
  });

  test('a 400 is final: one attempt, not delivered', async () => {
    const r = await receiver(answer(400));
    try {
      const out = await deliverWebhook(r.url, { x: 1 }, { secret: SECRET, baseDelayMs: 20, logger: nullLogger });
      assert.deepEqual({ ...out, deliveryId: '' }, { delivered: false, attempts: 1, lastError: 'HTTP 400', deliveryId: '' });
      assert.equal(r.got.length, 1);
    } finally {
      await r.close();
    }
  });

  test('429 is retried; a redirect is not followed', async () => {
    const r = await receiver((n, res) => answer(n === 1 ? 429 : 204)(n, res));
    const redirect = await receiver(answer(302, { location: 'http://127.0.0.1:9/elsewhere' }));
    try {
      const out = await deliverWebhook(r.url, {}, { secret: SECRET, baseDelayMs: 20, logger: nullLogger, event: 'analysis.completed' });
      assert.equal(out.delivered, true);
      assert.equal(out.attempts, 2);
      assert.equal(header(r.got[0]!.headers, 'X-SyncAnalyzer-Event'), 'analysis.completed');
      const red = await deliverWebhook(redirect.url, {}, { secret: SECRET, baseDelayMs: 20, logger: nullLogger });
      assert.equal(red.delivered, false);
      assert.equal(red.attempts, 1);
      assert.equal(red.lastError, 'HTTP 302');
    } finally {
      await r.close();
      await redirect.close();
    }
  });

  test('a receiver that never answers: each timeout is a failed attempt', async () => {
    const r = await receiver(() => {});
    try {
      const t0 = Date.now();
      const out = await deliverWebhook(r.url, { x: 1 }, { secret: SECRET, attempts: 2, baseDelayMs: 20, timeoutMs: 200, logger: nullLogger });
      assert.equal(out.delivered, false);
      assert.equal(out.attempts, 2);
      assert.match(out.lastError!, /timed out after 200 ms/);
      assert.equal(r.got.length, 2);
      assert.ok(Date.now() - t0 >= 400);
    } finally {
      await r.close();
    }
  });

  test('connection refused is retried and reported', async () => {
    const r = await receiver(answer(200));
    const url = r.url;
    await r.close();
    const out = await deliverWebhook(url, {}, { secret: SECRET, attempts: 3, baseDelayMs: 10, logger: nullLogger });
    assert.equal(out.delivered, false);
    assert.equal(out.attempts, 3);
    assert.match(out.lastError!, /ECONNREFUSED/);
  });

  test('a bad URL sends nothing', async () => {
    for (const url of ['not a url', 'file:///etc/passwd']) {
      const out = await deliverWebhook(url, {}, { secret: SECRET, logger: nullLogger });
      assert.equal(out.delivered, false);
      assert.equal(out.attempts, 0);
      assert.match(out.lastError!, /invalid webhook URL/);
    }
  });

  test("the caller's abort stops the retries", async () => {
    const r = await receiver(answer(503));
    try {
      const ctrl = new AbortController();
      setTimeout(() => ctrl.abort(), 100);
      await assert.rejects(deliverWebhook(r.url, {}, { secret: SECRET, baseDelayMs: 5000, logger: nullLogger, signal: ctrl.signal }), WebhookAbortedError);
      assert.equal(r.got.length, 1);
    } finally {
      await r.close();
    }
  });
});

describe('verifyWebhookSignature', () => {
  test('matches signWebhook; refuses tampering, junk and stale timestamps when asked', () => {
    const raw = '{"a":1}';
    const sig = signWebhook(SECRET, 1700000000, raw);
    assert.equal(verifyWebhookSignature(SECRET, '1700000000', raw, sig), true);
    assert.equal(verifyWebhookSignature(SECRET, 1700000000, Buffer.from(raw), sig), true);
    assert.equal(verifyWebhookSignature(SECRET, '1700000000', '{"a":2}', sig), false);
    assert.equal(verifyWebhookSignature(SECRET, '1700000000', raw, sig.slice(0, -1)), false);
    assert.equal(verifyWebhookSignature(SECRET, '1700000000', raw, undefined), false);
    assert.equal(verifyWebhookSignature(SECRET, 'abc', raw, sig), false);
    assert.equal(verifyWebhookSignature(SECRET, '1700000000', raw, sig, { toleranceSeconds: 300, nowSeconds: 1700000100 }), true);
    assert.equal(verifyWebhookSignature(SECRET, '1700000000', raw, sig, { toleranceSeconds: 300, nowSeconds: 1700000400 }), false);
  });
});
