// The worker's speech model at start: CPU works and is reported (worker health, heartbeat in
// the API's /health, each result's metadata); CUDA requested on a host without the CUDA
// provider makes the worker NOT ready with the reason, unless CPU fallback is allowed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startStack, spawnWorkerProcess, freePort, until, makeProgramme, makeDub, type Stack } from './harness.ts';

let s: Stack;
before(async () => {
  s = await startStack({ worker: false });
});
after(async () => {
  await s.close();
  assert.deepEqual(s.contract.violations, []);
});

async function health(port: number) {
  const res = await fetch(`http://127.0.0.1:${port}/health`).catch(() => null);
  return res ? { status: res.status, body: (await res.json()) as any } : null;
}

test('CUDA requested without the CUDA provider: not ready, with the reason; with fallback allowed: ready on CPU', async () => {
  const port = await freePort();
  const w = spawnWorkerProcess(s, { INFERENCE_PROVIDER: 'cuda', WORKER_HEALTH_PORT: String(port) });
  try {
    const h = await until(async () => health(port), 60_000, 'worker health');
    assert.equal(h.status, 503);
    const check = h.body.checks.find((c: any) => c.name === 'inference');
    assert.equal(check.ok, false);
    assert.match(check.detail, /cuda execution provider not usable/i);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(ready.status, 503);
  } finally {
    w.kill('SIGTERM');
    await new Promise((r) => w.once('exit', r));
  }
  const port2 = await freePort();
  const w2 = spawnWorkerProcess(s, { INFERENCE_PROVIDER: 'cuda', INFERENCE_ALLOW_CPU_FALLBACK: 'true', WORKER_HEALTH_PORT: String(port2) });
  try {
    const h = await until(async () => {
      const x = await health(port2);
      return x?.status === 200 ? x : null;
    }, 60_000, 'worker ready with fallback');
    assert.equal(h.body.worker.inference.provider, 'cpu');
    assert.equal(h.body.worker.inference.requested, 'cuda');
    assert.ok(h.body.worker.inference.fallbackReason);
    assert.match(h.body.checks.find((c: any) => c.name === 'inference').detail, /CPU fallback/);
  } finally {
    w2.kill('SIGTERM');
    await new Promise((r) => w2.once('exit', r));
  }
});

test('CPU: the provider and model are in the worker heartbeat (API /health) and in every result', async () => {
  const port = await freePort();
  const w = spawnWorkerProcess(s, { WORKER_HEALTH_PORT: String(port) });
  try {
    await until(async () => (await health(port))?.status === 200, 60_000, 'worker ready');
    // This worker's heartbeat: the previous test's workers may still have one (20 s expiry).
    const beat = await until(async () => {
      const r = await s.request('GET', '/health');
      return (r.body.workers as any[] | undefined)?.find((x) => x.pid === w.pid) ?? null;
    }, 20_000, 'heartbeat');
    assert.equal(beat.inference.provider, 'cpu');
    assert.match(beat.inference.model, /silero/i);
    await makeProgramme(path.join(s.mediaRoot, 'm.wav'), 91, 20);
    await makeDub(path.join(s.mediaRoot, 'm.wav'), path.join(s.mediaRoot, 'd.wav'), 0.3);
    const a = (await s.request('POST', '/api/v1/analyses?wait=90', { master: 'm.wav', dub: 'd.wav' })).body.analysis;
    assert.equal(a.status, 'completed');
    assert.equal(a.result.inference.provider, 'cpu');
    assert.match(a.result.inference.model, /silero/i);
    assert.ok(a.result.speech.master.segments !== undefined);
    const off = (await s.request('POST', '/api/v1/analyses?wait=90', { master: 'm.wav', dub: 'd.wav', options: { vad: false } })).body.analysis;
    assert.equal(off.status, 'completed');
    assert.equal(off.result.inference, null);
    assert.equal(off.result.dialogue, null);
    assert.ok(Math.abs(off.offset_seconds - a.offset_seconds) < 0.0005);
  } finally {
    w.kill('SIGTERM');
    await new Promise((r) => w.once('exit', r));
  }
});
