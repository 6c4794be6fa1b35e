// Hostile requests, end to end (real API, worker, private Redis): malformed JSON, wrong types,
// unknown fields and prototype keys, bodies and sheets past every limit (compressed ones
// too), bodies cut short, formula injection through file names and sheet cells, missing and
// malformed API keys, keys used on other keys' analyses (keys carry no scope), and more event
// streams than the server allows. Each is answered with a precise 4xx/503 and code; the API and
// worker keep answering, and good jobs submitted alongside complete correctly.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { sseMaxSubscribers } from '../services/api/src/http/sse.ts';
import { startStack, makeProgramme, makeDub, until, type Stack } from './harness.ts';

const KEY_A = 'key-a-0123456789';
const KEY_B = 'key-b-9876543210';
const OFFSET = -0.23;
/** Hostile names for real copies of the dub: spreadsheet formulas and HTML. */
const FORMULA_DUB = "=cmd|' /C calc'!A0.wav";
const PLUS_DUB = '+SUM(1,2).wav';
const HTML_DUB = '<img src=x onerror=alert(1)>.wav';
let s: Stack;
let goodId: string;

before(async () => {
  s = await startStack({ env: { API_KEYS: `${KEY_A},${KEY_B}`, RATE_LIMIT_PER_MINUTE: '100000', SSE_MAX_SUBSCRIBERS: '6' } });
  await makeProgramme(path.join(s.mediaRoot, 'master.wav'), 501, 15);
  await makeDub(path.join(s.mediaRoot, 'master.wav'), path.join(s.mediaRoot, 'dub.wav'), OFFSET);
  for (const name of [FORMULA_DUB, PLUS_DUB, HTML_DUB]) {
    // The formula's '/' makes a directory level: "=cmd|' " holds "C calc'!A0.wav".
    await mkdir(path.dirname(path.join(s.mediaRoot, name)), { recursive: true });
    await copyFile(path.join(s.mediaRoot, 'dub.wav'), path.join(s.mediaRoot, name));
  }
  // A good job queued before the barrage; checked at the end.
  const r = await s.request('POST', '/api/v1/analyses', { master: 'master.wav', dub: 'dub.wav' });
  assert.equal(r.status, 202, r.text);
  goodId = r.body.analysis.id;
});

after(async () => {
  await s?.close();
  assert.deepEqual(s.contract.violations, [], 'responses that do not match the OpenAPI document');
});

const JSON_TYPE = { 'content-type': 'application/json' };
const total = async () => (await s.request('GET', '/api/v1/analyses?limit=1')).body.total as number;

/** A raw request (no contract check): for answers produced outside the route table. */
async function raw(method: string, url: string, init: { headers?: Record<string, string>; body?: string | Buffer | FormData; anonymous?: boolean } = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const auth: Record<string, string> = init.anonymous ? {} : { authorization: `Bearer ${KEY_A}` };
  const res = await fetch(`${s.api.url}${url}`, { method, headers: { ...auth, ...(init.headers ?? {}) }, ...(init.body !== undefined ? { body: init.body } : {}) });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body, headers: res.headers };
}

describe('malformed and mistyped requests', () => {
  test('malformed JSON: 400 invalid_body; JSON that is not an object: 400 invalid_request', async () => {
    const before = await total();
    for (const body of ['{"master": ', '{master: "m.wav"}', "{'master': 'm.wav'}", '{"master": "m.wav",}', 'null', '"master.wav"', '12', '\u0000', '{"master": "m.wav"}}']) {
      const r = await s.request('POST', '/api/v1/analyses', body, JSON_TYPE);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.body.error.code, 'invalid_body', JSON.stringify(body));
    }
    for (const body of ['[]', '[{"master": "master.wav", "dub": "dub.wav"}]']) {
      const r = await s.request('POST', '/api/v1/analyses', body, JSON_TYPE);
      assert.equal(r.status, 400, body);
      assert.equal(r.body.error.code, 'invalid_request');
    }
    // JSON sent as text/plain is not parsed: the fields are missing, and said so.
    const plain = await s.request('POST', '/api/v1/analyses', '{"master":"master.wav","dub":"dub.wav"}', { 'content-type': 'text/plain' });
    assert.equal(plain.status, 400);
    assert.match(plain.body.error.message, /master/);
    // Deeply nested (a million brackets, under the size limit): refused, the process unharmed.
    const deep = '['.repeat(500_000) + ']'.repeat(500_000);
    const d = await s.request('POST', '/api/v1/analyses', deep, JSON_TYPE);
    assert.equal(d.status, 400, d.text.slice(0, 300));
    assert.equal(await total(), before, 'nothing stored');
    assert.equal((await fetch(`${s.api.url}/livez`)).status, 200);
  });

  test('wrong types, out-of-range values and unknown fields: 400 invalid_request naming each field', async () => {
    const before = await total();
    const cases: Array<[unknown, string[]]> = [
      [{ master: 1, dub: true }, ['master', 'dub']],
      [{ master: 'master.wav', dub: 'dub.wav', options: 'fast' }, ['options']],
      [{ master: 'master.wav', dub: 'dub.wav', priority: 'high' }, ['priority']],
      [{ master: 'master.wav', dub: 'dub.wav', options: { frameRate: '23.9' } }, ['options.frameRate']],
      [{ master: 'master.wav', dub: 'dub.wav', options: { inSyncFrames: -1 } }, ['options.inSyncFrames']],
      [{ master: 'master.wav', dub: 'dub.wav', options: { vad: 'yes' } }, ['options.vad']],
      [{ master: 'master.wav', dub: 'dub.wav', options: { dubSelection: { kind: 'channel', channel: 'left' } } }, ['options.dubSelection']],
      [{ master: ['master.wav'], dub: { path: 'dub.wav' } }, ['master', 'dub']],
      // Unknown fields, at the top and inside options (a misspelt option is not ignored).
      [{ master: 'master.wav', dub: 'dub.wav', colour: 'red' }, ['colour']],
      [{ master: 'master.wav', dub: 'dub.wav', options: { frame_rate: '25' } }, ['frame_rate']],
    ];
    for (const [body, fields] of cases) {
      const r = await s.request('POST', '/api/v1/analyses', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.body.error.code, 'invalid_request');
      for (const f of fields) assert.ok(r.body.error.message.includes(f), `${JSON.stringify(body)}: ${r.body.error.message} does not name ${f}`);
    }
    // Keys that would pollute prototypes if merged into objects are unknown fields like any other.
    for (const body of ['{"master":"master.wav","dub":"dub.wav","__proto__":{"polluted":"yes"}}', '{"master":"master.wav","dub":"dub.wav","constructor":{"prototype":{"polluted":"yes"}}}', '{"master":"master.wav","dub":"dub.wav","options":{"__proto__":{"polluted":"yes"}}}']) {
      const r = await s.request('POST', '/api/v1/analyses', body, JSON_TYPE);
      assert.equal(r.status, 400, `${body}: ${r.text}`);
      assert.equal(r.body.error.code, 'invalid_request');
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched (the API runs in this process)');
    // The other bodies: batches (top level, items, options), repairs, login.
    const others: Array<[string, unknown]> = [
      ['/api/v1/batches', { items: [{ master: 'master.wav', dub: 'dub.wav' }], colour: 'red' }],
      ['/api/v1/batches', { items: [{ master: 'master.wav', dub: 'dub.wav', colour: 'red' }] }],
      ['/api/v1/batches', { items: [{ master: 'master.wav', dub: 'dub.wav', options: { turbo: true } }] }],
      ['/api/v1/batches', { items: 'master.wav,dub.wav' }],
      ['/api/v1/batches', { items: [{ master: 'master.wav', dub: 'dub.wav' }], webhook_url: 'file:///etc/passwd' }],
      ['/api/v1/repairs', { dub: 'dub.wav', offset_seconds: 0.1, colour: 'red' }],
      ['/api/v1/repairs', { dub: 'dub.wav', offset_seconds: 1e9 }],
      ['/api/v1/repairs', { dub: 'dub.wav', offset_seconds: '0.1' }],
      ['/api/v1/session', { api_key: KEY_A, remember: true }],
    ];
    for (const [url, body] of others) {
      const r = await s.request('POST', url, body);
      assert.equal(r.status, 400, `${url} ${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.body.error.code, 'invalid_request', `${url} ${JSON.stringify(body)}`);
    }
    // Query strings: bad numbers, repeated parameters, bad dates; ids too long or odd.
    for (const url of ['/api/v1/analyses?limit=0', '/api/v1/analyses?limit=501', '/api/v1/analyses?limit=1.5', '/api/v1/analyses?offset=-1', '/api/v1/analyses?status=queued&status=failed', '/api/v1/analyses?from=yesterday', `/api/v1/analyses/${goodId}?wait=abc`, `/api/v1/analyses/${goodId}?wait=601`, `/api/v1/analyses/${goodId}?wait=-1`, `/api/v1/analyses/${'x'.repeat(101)}`]) {
      const r = await s.request('GET', url);
      assert.equal(r.status, 400, `${url}: ${r.text}`);
      assert.equal(r.body.error.code, 'invalid_request', url);
    }
    for (const url of ['/api/v1/analyses/..%2F..%2Fetc%2Fpasswd', '/api/v1/analyses/an_%00', "/api/v1/analyses/an_'%20OR%20'1'='1", '/api/v1/batches/%E2%80%AE']) {
      const r = await s.request('GET', url);
      assert.equal(r.status, 404, `${url}: ${r.text}`);
      assert.equal(r.body.error.code, 'not_found', url);
    }
    assert.equal(await total(), before, 'nothing stored');
  });
});

describe('bodies and sheets past the limits', () => {
  test('JSON over 2 MB, a gzip bomb, unknown encodings and charsets: 413 or 415 before any parsing', async () => {
    const big = JSON.stringify({ master: 'm'.repeat(3 * 1024 * 1024), dub: 'dub.wav' });
    const r = await s.request('POST', '/api/v1/analyses', big, JSON_TYPE);
    assert.equal(r.status, 413, r.text.slice(0, 300));
    assert.equal(r.body.error.code, 'payload_too_large');
    // 32 MB of JSON whitespace, gzipped to a few tens of KB: the limit applies to what it inflates to.
    const bomb = gzipSync(Buffer.concat([Buffer.from('{"master":"master.wav","dub":"dub.wav"'), Buffer.alloc(32 * 1024 * 1024, ' '), Buffer.from('}')]));
    assert.ok(bomb.length < 200_000, String(bomb.length));
    const b = await raw('POST', '/api/v1/analyses', { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: bomb });
    s.contract.check('POST', '/api/v1/analyses', b.status, b.headers.get('content-type'), b.body);
    assert.equal(b.status, 413, JSON.stringify(b.body));
    assert.equal(b.body.error.code, 'payload_too_large');
    const enc = await raw('POST', '/api/v1/analyses', { headers: { 'content-type': 'application/json', 'content-encoding': 'compress' }, body: '{}' });
    s.contract.check('POST', '/api/v1/analyses', enc.status, enc.headers.get('content-type'), enc.body);
    assert.equal(enc.status, 415, JSON.stringify(enc.body));
    const charset = await s.request('POST', '/api/v1/analyses', '{}', { 'content-type': 'application/json; charset=iso-8859-1' });
    assert.equal(charset.status, 415, charset.text);
    assert.match(charset.body.error.message, /unsupported charset/);
    assert.equal((await fetch(`${s.api.url}/livez`)).status, 200);
  });

  test('sheets: over 5 MB (text or upload) 413; over 10,000 rows, binary junk, broken quoting 400 naming the line; a huge cell 422', async () => {
    const batches = (await s.request('GET', '/api/v1/batches')).body.total;
    const huge = `master,dub,notes\n${`master.wav,dub.wav,${'n'.repeat(1000)}\n`.repeat(5300)}`;
    assert.ok(huge.length > 5 * 1024 * 1024);
    const text = await s.request('POST', '/api/v1/batches/csv', huge, { 'content-type': 'text/csv' });
    assert.equal(text.status, 413, text.text.slice(0, 300));
    assert.equal(text.body.error.code, 'payload_too_large');
    const form = new FormData();
    form.append('file', new Blob([huge], { type: 'text/csv' }), 'huge.csv');
    const up = await raw('POST', '/api/v1/batches/csv', { body: form });
    s.contract.check('POST', '/api/v1/batches/csv', up.status, up.headers.get('content-type'), up.body);
    assert.equal(up.status, 413, JSON.stringify(up.body).slice(0, 300));
    assert.equal(up.body.error.code, 'payload_too_large');
    // Two files, or the sheet under another field name: refused as bad uploads, not server errors.
    const two = new FormData();
    two.append('file', new Blob(['master,dub\nmaster.wav,dub.wav\n']), 'a.csv');
    two.append('file', new Blob(['master,dub\nmaster.wav,dub.wav\n']), 'b.csv');
    const t2 = await raw('POST', '/api/v1/batches/csv', { body: two });
    s.contract.check('POST', '/api/v1/batches/csv', t2.status, t2.headers.get('content-type'), t2.body);
    assert.equal(t2.status, 400, JSON.stringify(t2.body));
    assert.equal(t2.body.error.code, 'invalid_body');
    const other = new FormData();
    other.append('upload', new Blob(['master,dub\nmaster.wav,dub.wav\n']), 'a.csv');
    const o = await raw('POST', '/api/v1/batches/csv', { body: other });
    s.contract.check('POST', '/api/v1/batches/csv', o.status, o.headers.get('content-type'), o.body);
    assert.equal(o.status, 400, JSON.stringify(o.body));
    assert.match(o.body.error.message, /upload/);

    const rows = `master,dub\n${'master.wav,dub.wav\n'.repeat(10_001)}`;
    const many = await s.request('POST', '/api/v1/batches/csv', rows, { 'content-type': 'text/csv' });
    assert.equal(many.status, 400);
    assert.equal(many.body.error.code, 'bad_sheet');
    assert.match(many.body.error.message, /line 10002: the sheet has more than 10000 rows/);
    const junk = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256));
    const j = await raw('POST', '/api/v1/batches/csv', { headers: { 'content-type': 'text/csv' }, body: junk });
    s.contract.check('POST', '/api/v1/batches/csv', j.status, j.headers.get('content-type'), j.body);
    assert.equal(j.status, 400, JSON.stringify(j.body).slice(0, 300));
    assert.equal(j.body.error.code, 'bad_sheet');
    const quote = await s.request('POST', '/api/v1/batches/csv', 'master,dub\nmaster.wav,dub.wav\nmaster.wav,"dub.wav\n', { 'content-type': 'text/csv' });
    assert.equal(quote.status, 400);
    assert.equal(quote.body.error.code, 'bad_sheet');
    assert.match(quote.body.error.message, /line 3/);
    // A 1 MB file name: refused per item (name too long), and the answer stays small.
    const cell = await s.request('POST', '/api/v1/batches/csv', `master,dub\nmaster.wav,${'d'.repeat(1024 * 1024)}.wav\n`, { 'content-type': 'text/csv' });
    assert.equal(cell.status, 422, cell.text.slice(0, 300));
    assert.equal(cell.body.error.code, 'bad_batch_items');
    assert.ok(cell.text.length < 20_000, `answer of ${cell.text.length} bytes`);
    assert.equal((await s.request('GET', '/api/v1/batches')).body.total, batches, 'no refused sheet left a batch');
  });

  test('a body cut short, and oversized headers: the server drops or refuses them and carries on', async () => {
    // Announces 100 kB, sends 20 bytes, hangs up.
    await new Promise<void>((resolve, reject) => {
      const sock = net.connect(s.api.port, '127.0.0.1', () => {
        sock.write(`POST /api/v1/analyses HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY_A}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"master":"master.wa`);
        setTimeout(() => sock.destroy(), 200);
      });
      sock.on('close', () => resolve());
      sock.on('error', reject);
    });
    const big = await fetch(`${s.api.url}/livez`, { headers: { 'x-padding': 'p'.repeat(64 * 1024) } }).then((r) => r.status, () => 'connection closed');
    assert.ok(big === 431 || big === 'connection closed', String(big));
    assert.equal((await fetch(`${s.api.url}/livez`)).status, 200);
    assert.equal((await s.request('GET', '/api/v1/analyses?limit=1')).status, 200);
  });
});

describe('formula injection through names and cells', () => {
  test('CSV exports neutralise every formula cell, HTML escapes, JSON keeps the raw text; the jobs themselves are right', async () => {
    const sheet = [
      'master,dub,episode,notes',
      `master.wav,"${FORMULA_DUB.replaceAll('"', '""')}",=1+1,@SUM(A1)`,
      `master.wav,${PLUS_DUB.includes(',') ? `"${PLUS_DUB}"` : PLUS_DUB},-2+3,"=HYPERLINK(""http://evil.example"",""x"")"`,
      `master.wav,${HTML_DUB},"<script>alert(2)</script>",+cmd`,
    ].join('\n');
    const created = await s.request('POST', '/api/v1/batches/csv?name=%3Dinjection', sheet, { 'content-type': 'text/csv' });
    assert.equal(created.status, 201, created.text);
    const id = created.body.batch.id as string;
    const done = await until(async () => {
      const b = await s.request('GET', `/api/v1/batches/${id}`);
      return b.body.batch.status === 'completed' ? b.body : null;
    }, 300_000, 'injection batch completed');
    for (const it of done.items) {
      assert.equal(it.status, 'completed', JSON.stringify(it.error));
      assert.ok(Math.abs(it.offset_seconds - OFFSET) < 0.001, `${it.dub}: ${it.offset_seconds}`);
    }
    assert.deepEqual(done.items.map((i: any) => i.dub), [FORMULA_DUB, PLUS_DUB, HTML_DUB]);

    const dangerous = (cells: string[], where: string) => {
      for (const c of cells) {
        // A spreadsheet evaluates a cell starting with = + - @ TAB CR; numbers and timecodes may start with '-'.
        if (/^[=+\-@\t\r]/.test(c)) assert.match(c, /^-[\d.:;]+$/, `${where}: cell ${JSON.stringify(c)} would be evaluated`);
      }
    };
    const csv = await s.request('GET', `/api/v1/batches/${id}/export.csv`);
    assert.equal(csv.status, 200);
    const table = parse(csv.text, { skip_empty_lines: false, relax_column_count: true }) as string[][];
    dangerous(table.flat(), 'export.csv');
    const rows = parse(csv.text, { columns: true }) as Record<string, string>[];
    assert.deepEqual(rows.map((r) => r.dub), [`'${FORMULA_DUB}`, `'${PLUS_DUB}`, HTML_DUB]);
    assert.deepEqual(rows.map((r) => r.episode), ["'=1+1", "'-2+3", '<script>alert(2)</script>']);
    for (const r of rows) assert.ok(Math.abs(Number(r.offset_seconds) - OFFSET) < 0.001, `offset cell ${JSON.stringify(r.offset_seconds)} is a plain number`);
    for (const it of done.items) {
      const report = await s.request('GET', `/api/v1/analyses/${it.id}/report.csv`);
      dangerous((parse(report.text, { relax_column_count: true }) as string[][]).flat(), `report.csv of ${it.dub}`);
    }
    for (const url of [`/api/v1/batches/${id}/export.html`, `/api/v1/analyses/${done.items[2].id}/report.html`]) {
      const html = await s.request('GET', url);
      assert.equal(html.status, 200);
      assert.doesNotMatch(html.text, /<img src=x|<script>alert/, url);
      assert.match(html.text, /&lt;img src=x onerror=alert\(1\)&gt;/, url);
    }
    const exported = await s.request('GET', `/api/v1/batches/${id}/export.json`);
    assert.deepEqual(exported.body.items.map((i: any) => i.dub), [FORMULA_DUB, PLUS_DUB, HTML_DUB], 'JSON keeps the names as they are');
  });
});

describe('API keys', () => {
  test('missing, malformed and wrong keys: 401 on every route family; a valid key in any letter case of the scheme works', async () => {
    // Without any Authorization header (a wrong one counts against the key-guessing limit).
    const anon = async (method: string, url: string, headers: Record<string, string> = {}) => {
      const r = await raw(method, url, { anonymous: true, headers: method === 'POST' ? { ...JSON_TYPE, ...headers } : headers, ...(method === 'POST' ? { body: '{}' } : {}) });
      if (!url.startsWith('/admin/')) s.contract.check(method, url, r.status, r.headers.get('content-type'), r.body);
      return r;
    };
    for (const [method, url] of [['GET', '/api/v1/analyses'], ['POST', '/api/v1/analyses'], ['GET', `/api/v1/analyses/${goodId}`], ['GET', `/api/v1/analyses/${goodId}/report.csv`], ['GET', '/api/v1/events'], ['GET', `/api/v1/analyses/${goodId}/events`], ['GET', '/api/v1/files'], ['GET', '/api/v1/batches'], ['POST', '/api/v1/repairs'], ['GET', '/metrics'], ['GET', '/admin/queues']] as const) {
      const r = await anon(method, url);
      assert.equal(r.status, 401, `${method} ${url}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'unauthorized');
      assert.match(r.body.error.message, /an API key is required/);
      assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="sync-analyzer"');
    }
    // Keys are accepted only in the header: not in the query string, not as a forged cookie.
    assert.equal((await anon('GET', `/api/v1/batches?api_key=${KEY_A}`)).status, 401);
    for (const cookie of ['sa_session=garbage', 'sa_session=99999999999999.AAAA', `sa_session=${KEY_A}`]) {
      assert.equal((await anon('GET', '/api/v1/batches', { cookie })).status, 401, cookie);
    }
    // Wrong or malformed credentials (few: guessing is rate limited separately).
    for (const authorization of [`Basic ${Buffer.from(`${KEY_A}:`).toString('base64')}`, 'Bearer', `Bearer ${KEY_A},${KEY_B}`, `Bearer ${KEY_A.toUpperCase()}`, `Token ${KEY_A}`]) {
      const r = await s.request('GET', '/api/v1/analyses', undefined, { authorization });
      assert.equal(r.status, 401, authorization);
      assert.equal(r.body.error.message, 'the API key is not valid');
    }
    for (const authorization of [`bearer ${KEY_A}`, `BEARER  ${KEY_B} `]) {
      assert.equal((await s.request('GET', '/api/v1/analyses?limit=1', undefined, { authorization })).status, 200, authorization);
    }
    assert.ok(!s.logs.some((l) => l.includes(KEY_A) || l.includes(KEY_B)), 'a key was logged');
  });

  test('keys carry no scope (by design): any valid key reads, reports and cancels analyses another key submitted', async () => {
    const asA = { authorization: `Bearer ${KEY_A}` };
    const asB = { authorization: `Bearer ${KEY_B}` };
    const sub = await s.request('POST', '/api/v1/analyses', { master: 'master.wav', dub: 'dub.wav', options: { frameRate: '24' } }, asA);
    assert.equal(sub.status, 202, sub.text);
    const id = sub.body.analysis.id as string;
    assert.equal((await s.request('GET', `/api/v1/analyses/${id}`, undefined, asB)).status, 200);
    const list = await s.request('GET', '/api/v1/analyses?limit=500', undefined, asB);
    assert.ok(list.body.items.some((a: any) => a.id === id), 'listed for the other key');
    const c = await s.request('POST', `/api/v1/analyses/${id}/cancel`, undefined, asB);
    assert.equal(c.status, 200, c.text);
    const fin = await until(async () => {
      const a = (await s.request('GET', `/api/v1/analyses/${id}`, undefined, asA)).body.analysis;
      return a.status === 'cancelled' ? a : null;
    }, 30_000, 'cancelled by the other key');
    assert.equal(fin.error.code, 'cancelled');
  });
});

describe('event streams', () => {
  interface Stream {
    events: { event: string; data: any }[];
    close(): void;
  }

  async function openStream(url: string): Promise<{ status: number; stream: Stream | null; body: any; headers: Headers }> {
    const ctl = new AbortController();
    const res = await fetch(`${s.api.url}${url}`, { headers: { authorization: `Bearer ${KEY_A}` }, signal: ctl.signal });
    if (res.status !== 200) {
      const body = await res.json();
      s.contract.check('GET', url, res.status, res.headers.get('content-type'), body);
      return { status: res.status, stream: null, body, headers: res.headers };
    }
    const events: Stream['events'] = [];
    const decoder = new TextDecoder();
    let buf = '';
    void (async () => {
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buf += decoder.decode(chunk, { stream: true });
          for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event && data) events.push({ event, data: JSON.parse(data) });
          }
        }
      } catch {
        // Aborted by close().
      }
    })();
    return { status: 200, stream: { events, close: () => ctl.abort() }, body: null, headers: res.headers };
  }

  test(`more streams than SSE_MAX_SUBSCRIBERS: the excess gets 503 with a reason; open streams keep working; a closed one frees its place`, async () => {
    const cap = sseMaxSubscribers(s.config);
    const open: Stream[] = [];
    try {
      for (let i = 0; i < cap; i++) {
        const r = await openStream('/api/v1/events');
        assert.equal(r.status, 200, `stream ${i + 1} of ${cap}: ${JSON.stringify(r.body)}`);
        open.push(r.stream!);
      }
      await until(async () => open.every((st) => st.events.some((e) => e.event === 'hello')), 30_000, 'every stream said hello');
      for (const url of ['/api/v1/events', `/api/v1/analyses/${goodId}/events`]) {
        const over = await openStream(url);
        assert.equal(over.status, 503, url);
        assert.equal(over.body.error.code, 'too_many_subscribers');
        assert.match(over.body.error.message, new RegExp(`${cap} event streams are already open`));
        assert.equal(over.body.error.details.limit, cap);
        assert.equal(over.headers.get('retry-after'), '5');
      }
      // The open streams still carry events: a new job's status reaches every one of them.
      const sub = await s.request('POST', '/api/v1/analyses', { master: 'master.wav', dub: 'dub.wav', options: { frameRate: '50' } });
      const id = sub.body.analysis.id as string;
      await until(async () => open.every((st) => st.events.some((e) => e.data?.id === id)), 60_000, 'the new job seen on every open stream');
      // One closes: its place is free again (the server notices the hang-up).
      open.shift()!.close();
      const again = await until(async () => {
        const r = await openStream('/api/v1/events');
        if (r.status === 200) return r.stream;
        assert.equal(r.status, 503);
        await new Promise((res) => setTimeout(res, 200));
        return null;
      }, 15_000, 'a place freed by a closed stream');
      open.push(again);
      const done = await s.request('GET', `/api/v1/analyses/${id}?wait=180`);
      assert.equal(done.body.analysis.status, 'completed', JSON.stringify(done.body.analysis.error));
    } finally {
      for (const st of open) st.close();
    }
    // Everything closed: a per-analysis stream opens again and runs to 'done'.
    const fin = await until(async () => {
      const r = await openStream(`/api/v1/analyses/${goodId}/events`);
      return r.status === 200 ? r.stream : null;
    }, 15_000, 'streams available after closing');
    await until(async () => fin.events.some((e) => e.event === 'done'), 240_000, 'done event');
    fin.close();
  });
});

describe('the service after all that', () => {
  test('the good job queued before the barrage completed correctly; API and worker answer', async () => {
    const a = (await s.request('GET', `/api/v1/analyses/${goodId}?wait=240`)).body.analysis;
    assert.equal(a.status, 'completed', JSON.stringify(a.error));
    assert.ok(Math.abs(a.offset_seconds - OFFSET) < 0.001, String(a.offset_seconds));
    assert.equal((await fetch(`${s.api.url}/readyz`)).status, 200);
    assert.ok((await s.request('GET', '/health')).body.workers.length >= 1);
  });
});
