// End to end: submit, progress, result, deduplication, list filters, reports, cancel and
// timeout (processes gone by PID), retry, priorities, bad input, auth. Real Redis (private),
// real ffmpeg, real SQLite, real worker.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { symlink, writeFile, mkdir } from 'node:fs/promises';
import { startStack, makeProgramme, makeDub, until, isAlive, type Stack } from './harness.ts';

const KEY = 'test-key-1';
let s: Stack;
const auth = { authorization: `Bearer ${KEY}` };

before(async () => {
  s = await startStack({ env: { API_KEYS: `${KEY},other-key`, SPEECH_DETECTION: 'true' } });
  await mkdir(path.join(s.mediaRoot, 'show'), { recursive: true });
  await makeProgramme(path.join(s.mediaRoot, 'show/master.wav'), 21, 30);
  await makeDub(path.join(s.mediaRoot, 'show/master.wav'), path.join(s.mediaRoot, 'show/dub-late.wav'), 0.48);
  await makeDub(path.join(s.mediaRoot, 'show/master.wav'), path.join(s.mediaRoot, 'show/dub-sync.wav'), 0);
  // A longer pair for cancel/timeout (the job must still be running when we stop it).
  await makeProgramme(path.join(s.mediaRoot, 'long-master.wav'), 22, 240);
  await makeDub(path.join(s.mediaRoot, 'long-master.wav'), path.join(s.mediaRoot, 'long-dub.wav'), 1.2);
  await writeFile(path.join(s.mediaRoot, 'notes.txt'), 'not media');
});
after(async () => {
  await s.close();
  assert.deepEqual(s.contract.violations, [], 'responses that do not match the OpenAPI document');
});

describe('analysis lifecycle', () => {
  test('submit, live progress over SSE, result exactly as the engine reported', async () => {
    const sub = await s.request('POST', '/api/v1/analyses', { master: 'show/master.wav', dub: 'show/dub-late.wav' });
    assert.equal(sub.status, 202, sub.text);
    const id = sub.body.analysis.id as string;
    assert.match(sub.headers.get('location')!, new RegExp(id));
    // SSE with the bearer header (scripts) — collect events until done.
    const res = await fetch(`${s.api.url}/api/v1/analyses/${id}/events`, { headers: auth });
    assert.equal(res.headers.get('content-type')?.startsWith('text/event-stream'), true);
    const events: { event: string; data: any }[] = [];
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (ev && data) events.push({ event: ev, data: JSON.parse(data) });
      }
      if (events.some((e) => e.event === 'done')) break;
    }
    assert.equal(events[0]!.event, 'snapshot');
    const progress = events.filter((e) => e.event === 'progress').map((e) => e.data);
    assert.ok(progress.length >= 3, `progress events: ${progress.length}`);
    const stages = new Set(progress.map((p) => p.stage));
    assert.ok(stages.has('decode'), [...stages].join(','));
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i].percent >= progress[i - 1].percent, 'progress never goes back');
    const done = events.at(-1)!.data;
    assert.equal(done.status, 'completed');
    const got = await s.request('GET', `/api/v1/analyses/${id}`);
    const a = got.body.analysis;
    assert.equal(a.verdict, 'offset');
    assert.ok(Math.abs(a.offset_seconds - 0.48) < 0.001, String(a.offset_seconds));
    // Stored values are the engine's, untouched: the denormalised column equals the document.
    assert.equal(a.offset_seconds, a.result.offset_seconds);
    assert.equal(a.confidence, a.result.confidence);
    assert.equal(a.engine_version, a.result.engine.version);
    assert.equal(a.schema_version, a.result.schema_version);
    assert.equal(a.fingerprints.master.size > 0, true);
    assert.equal(a.progress.percent, 100);
  });

  test('?wait returns the finished analysis; an identical submission is deduplicated', async () => {
    const first = await s.request('POST', '/api/v1/analyses?wait=60', { master: 'show/master.wav', dub: 'show/dub-sync.wav', options: { frameRate: '25' } });
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body.analysis.verdict, 'in_sync');
    // Same files, same options (absolute path this time): the same analysis comes back.
    const again = await s.request('POST', '/api/v1/analyses', { master: path.join(s.mediaRoot, 'show/master.wav'), dub: 'show/dub-sync.wav', options: { frameRate: '25' } });
    assert.equal(again.status, 200);
    assert.equal(again.body.deduplicated, true);
    assert.equal(again.body.analysis.id, first.body.analysis.id);
    // Different options: a new analysis.
    const other = await s.request('POST', '/api/v1/analyses', { master: 'show/master.wav', dub: 'show/dub-sync.wav', options: { frameRate: '24' } });
    assert.equal(other.body.deduplicated, false);
    assert.notEqual(other.body.analysis.id, first.body.analysis.id);
    const waited = await s.request('GET', `/api/v1/analyses/${other.body.analysis.id}?wait=60`);
    assert.equal(waited.status, 200);
    assert.equal(waited.body.analysis.status, 'completed');
  });

  test('list with filters and pagination', async () => {
    await until(async () => (await s.request('GET', '/api/v1/analyses?status=completed')).body.total >= 3, 60_000, 'three completed');
    const all = await s.request('GET', '/api/v1/analyses?limit=2');
    assert.equal(all.status, 200);
    assert.equal(all.body.items.length, 2);
    assert.ok(all.body.total >= 3);
    const page2 = await s.request('GET', '/api/v1/analyses?limit=2&offset=2');
    assert.ok(page2.body.items.every((x: any) => !all.body.items.some((y: any) => y.id === x.id)));
    const late = await s.request('GET', '/api/v1/analyses?verdict=offset&file=dub-late');
    assert.equal(late.body.total, 1);
    assert.equal(late.body.items[0].dub, 'show/dub-late.wav');
    const future = await s.request('GET', `/api/v1/analyses?from=${encodeURIComponent(new Date(Date.now() + 3600_000).toISOString())}`);
    assert.equal(future.body.total, 0);
    const bad = await s.request('GET', '/api/v1/analyses?status=nonsense');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'invalid_request');
  });

  test('reports: JSON, CSV, self-contained HTML with the offset plot, CMX 3600 EDL', async () => {
    const list = await s.request('GET', '/api/v1/analyses?verdict=offset&file=dub-late');
    const id = list.body.items[0].id;
    const json = await s.request('GET', `/api/v1/analyses/${id}/report.json`);
    assert.equal(json.status, 200);
    assert.equal(json.body.result.offset_seconds, list.body.items[0].offset_seconds);
    const csv = await s.request('GET', `/api/v1/analyses/${id}/report.csv`);
    assert.match(csv.headers.get('content-type')!, /text\/csv/);
    assert.match(csv.text, /0\.48/);
    const html = await s.request('GET', `/api/v1/analyses/${id}/report.html?download=1`);
    assert.match(html.headers.get('content-type')!, /text\/html/);
    assert.match(html.headers.get('content-disposition')!, /attachment/);
    assert.match(html.text, /<svg[\s\S]*<\/svg>/);
    assert.doesNotMatch(html.text, /<script|<link[^>]+href=|src="http/);
    const edl = await s.request('GET', `/api/v1/analyses/${id}/report.edl`);
    assert.match(edl.text, /^TITLE:/m);
    assert.match(edl.text, /^FCM: /m);
    assert.match(edl.text, /^001 /m);
  });
});

describe('cancel, timeout, retry', () => {
  test('cancel stops the job child and its ffmpeg within 5 s; the analysis ends cancelled; retry runs it again', async () => {
    const sub = await s.request('POST', '/api/v1/analyses', { master: 'long-master.wav', dub: 'long-dub.wav' });
    const id = sub.body.analysis.id as string;
    // Wait until the child and at least one ffmpeg run.
    const pids = await until(async () => ((s.spawned.get(id)?.length ?? 0) >= 2 ? s.spawned.get(id)! : null), 30_000, 'job processes');
    assert.ok(pids.every(isAlive) || pids.some(isAlive));
    const t0 = Date.now();
    const c = await s.request('POST', `/api/v1/analyses/${id}/cancel`);
    assert.equal(c.status, 200, c.text);
    await until(async () => pids.every((p) => !isAlive(p)), 5_000, 'job processes gone');
    assert.ok(Date.now() - t0 <= 5_000);
    const rec = await until(async () => {
      const r = await s.request('GET', `/api/v1/analyses/${id}`);
      return r.body.analysis.status === 'cancelled' ? r.body.analysis : null;
    }, 10_000, 'cancelled status');
    assert.equal(rec.error.code, 'cancelled');
    // Cancelling again is a conflict.
    const again = await s.request('POST', `/api/v1/analyses/${id}/cancel`);
    assert.equal(again.status, 409);
    // Retry: runs to completion this time.
    const r = await s.request('POST', `/api/v1/analyses/${id}/retry`);
    assert.equal(r.status, 202, r.text);
    const done = await s.request('GET', `/api/v1/analyses/${id}?wait=120`);
    assert.equal(done.body.analysis.status, 'completed', JSON.stringify(done.body.analysis.error));
    assert.ok(Math.abs(done.body.analysis.offset_seconds - 1.2) < 0.001);
    // Retrying a completed analysis is refused.
    assert.equal((await s.request('POST', `/api/v1/analyses/${id}/retry`)).status, 409);
  });

  test('the per-kind timeout stops the processes and ends the job as timed out', async () => {
    await s.stopWorker();
    const w = await s.startWorker({ timeoutMs: { analysis: 1500 } });
    try {
      const sub = await s.request('POST', '/api/v1/analyses', { master: 'long-master.wav', dub: 'long-dub.wav', options: { frameRate: '24' } });
      const id = sub.body.analysis.id as string;
      const rec = await until(async () => {
        const r = await s.request('GET', `/api/v1/analyses/${id}`);
        return r.body.analysis.status === 'timed_out' ? r.body.analysis : null;
      }, 30_000, 'timed_out');
      assert.equal(rec.error.code, 'timed_out');
      const pids = s.spawned.get(id) ?? [];
      assert.ok(pids.length >= 1);
      await until(async () => pids.every((p) => !isAlive(p)), 5_000, 'timed-out processes gone');
      assert.equal(w.status().active.filter((a) => a.jobId === id).length, 0);
    } finally {
      await s.stopWorker();
      await s.startWorker();
    }
  });

  test('an urgent analysis overtakes a queued batch', async () => {
    await s.stopWorker();
    const batch = await s.request('POST', '/api/v1/batches', {
      name: 'overnight',
      items: [1, 2, 3].map((n) => ({ master: 'show/master.wav', dub: 'show/dub-late.wav', episode: `ep${n}` })),
    });
    assert.equal(batch.status, 201, batch.text);
    const urgent = await s.request('POST', '/api/v1/analyses', { master: 'show/master.wav', dub: 'show/dub-late.wav', priority: 'urgent', options: { frameRate: '30' } });
    assert.equal(urgent.status, 202, urgent.text);
    await s.startWorker();
    const u = (await s.request('GET', `/api/v1/analyses/${urgent.body.analysis.id}?wait=120`)).body.analysis;
    const b = await s.request('GET', `/api/v1/batches/${batch.body.batch.id}`);
    const startedBefore = b.body.items.filter((i: any) => i.started_at && i.started_at < u.started_at);
    assert.equal(startedBefore.length, 0, 'no batch item started before the urgent analysis');
    await until(async () => (await s.request('GET', `/api/v1/batches/${batch.body.batch.id}`)).body.batch.status === 'completed', 180_000, 'batch completed');
  });
});

describe('bad input and security', () => {
  test('unknown ids, bad bodies, files that are not media', async () => {
    for (const url of ['/api/v1/analyses/an_nope', '/api/v1/batches/bt_nope', '/api/v1/repairs/rp_nope', '/api/v1/analyses/an_nope/report.html']) {
      const r = await s.request('GET', url);
      assert.equal(r.status, 404, url);
      assert.equal(r.body.error.code, 'not_found');
    }
    assert.equal((await s.request('POST', '/api/v1/analyses/an_nope/cancel')).status, 404);
    const missing = await s.request('POST', '/api/v1/analyses', { master: 'show/master.wav' });
    assert.equal(missing.status, 400);
    assert.match(missing.body.error.message, /dub/);
    const extra = await s.request('POST', '/api/v1/analyses', { master: 'a', dub: 'b', colour: 'red' });
    assert.equal(extra.status, 400);
    const notJson = await s.request('POST', '/api/v1/analyses', '{"master": ', { 'content-type': 'application/json' });
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.error.code, 'invalid_body');
    const nofile = await s.request('POST', '/api/v1/analyses', { master: 'show/master.wav', dub: 'show/none.wav' });
    assert.equal(nofile.status, 404);
    const text = await s.request('POST', '/api/v1/analyses?wait=30', { master: 'show/master.wav', dub: 'notes.txt' });
    // Accepted (it is a file), then the worker reports it cannot be read as media: a clear, final, non-retried failure.
    const a = text.body.analysis;
    assert.equal(a.status, 'failed', JSON.stringify(a));
    assert.equal(a.attempts, 1);
    assert.match(a.error.message, /not a readable audio\/video file|notes\.txt/);
  });

  test('paths outside the media root are refused, including through symlinks', async () => {
    await symlink('/etc', path.join(s.mediaRoot, 'etc-link'));
    await symlink('/etc/hostname', path.join(s.mediaRoot, 'host-link.wav'));
    for (const p of ['../outside.wav', '/etc/hostname', 'show/../../x.wav', 'etc-link/hostname', 'host-link.wav']) {
      const r = await s.request('POST', '/api/v1/analyses', { master: 'show/master.wav', dub: p });
      assert.ok([400, 403].includes(r.status), `${p}: ${r.status} ${r.text}`);
      assert.doesNotMatch(r.text, /\/etc\/hostname"?\s*$/);
    }
    const ls = await s.request('GET', '/api/v1/files?path=etc-link');
    assert.equal(ls.status, 403);
    const root = await s.request('GET', '/api/v1/files');
    assert.equal(root.status, 200);
    const names = root.body.entries.map((e: any) => e.name);
    assert.ok(names.includes('show') && names.includes('long-master.wav'));
    assert.ok(!names.includes('etc-link') && !names.includes('host-link.wav'), 'escaping symlinks are hidden');
    const probe = await s.request('GET', '/api/v1/files/probe?path=show/master.wav');
    assert.equal(probe.status, 200);
    assert.equal(probe.body.probe.audioStreams.length, 1);
    assert.equal((await s.request('GET', '/api/v1/files/probe?path=../../etc/passwd')).status, 400);
  });

  test('API keys: missing or wrong key 401, health exempt, browser session cookie', async () => {
    const noKey = await fetch(`${s.api.url}/api/v1/analyses`);
    assert.equal(noKey.status, 401);
    assert.equal(((await noKey.json()) as any).error.code, 'unauthorized');
    const wrong = await s.request('GET', '/api/v1/analyses', undefined, { authorization: 'Bearer nope' });
    assert.equal(wrong.status, 401);
    assert.equal((await fetch(`${s.api.url}/livez`)).status, 200);
    assert.equal((await fetch(`${s.api.url}/readyz`)).status, 200);
    const badLogin = await fetch(`${s.api.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api_key: 'nope' }) });
    assert.equal(badLogin.status, 401);
    const login = await fetch(`${s.api.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api_key: 'other-key' }) });
    assert.equal(login.status, 200);
    const cookie = login.headers.get('set-cookie')!;
    assert.match(cookie, /HttpOnly/i);
    assert.match(cookie, /SameSite=Strict/i);
    const withCookie = await fetch(`${s.api.url}/api/v1/analyses?limit=1`, { headers: { cookie: cookie.split(';')[0]! } });
    assert.equal(withCookie.status, 200);
    // A tampered cookie is refused.
    const tampered = cookie.split(';')[0]!.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    assert.equal((await fetch(`${s.api.url}/api/v1/analyses?limit=1`, { headers: { cookie: tampered } })).status, 401);
    // Secrets never reach the logs.
    assert.ok(!s.logs.some((l) => l.includes(KEY) || l.includes('other-key')), 'an API key was logged');
  });

  test('security headers, metrics, docs, queue dashboard', async () => {
    const r = await fetch(`${s.api.url}/livez`);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.ok(r.headers.get('content-security-policy'));
    assert.ok(r.headers.get('x-request-id'));
    const m = await s.request('GET', '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.text, /sync_analyzer_http_requests_total\{method="POST",route="\/api\/v1\/analyses",status="202"\}/);
    assert.match(m.text, /sync_analyzer_queue_jobs\{kind="analysis",state="completed"\}/);
    assert.match(m.text, /sync_analyzer_jobs_total\{kind="analysis",outcome="completed"\}/);
    assert.match(m.text, /sync_analyzer_workers_busy/);
    assert.doesNotMatch(m.text, /an_[0-9a-f]{20}/, 'no ids as labels');
    const doc = await s.request('GET', '/api/openapi.json');
    assert.equal(doc.body.openapi, '3.1.0');
    const docs = await fetch(`${s.api.url}/api/docs/`);
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /swagger/i);
    assert.equal((await fetch(`${s.api.url}/admin/queues`)).status, 401);
    const board = await fetch(`${s.api.url}/admin/queues`, { headers: auth });
    assert.equal(board.status, 200);
    const health = await s.request('GET', '/health');
    assert.equal(health.body.status, 'ok');
    assert.ok(health.body.workers.length >= 1, 'worker heartbeat visible');
  });
});
