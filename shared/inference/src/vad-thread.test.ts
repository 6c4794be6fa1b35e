import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { ModelMissingError, ProviderUnavailableError, VadWorkerError } from './errors.ts';
import { nullLogger } from './logger.ts';
import { SileroVad } from './silero-vad.ts';
import type { VadResult } from './silero-vad.ts';
import { SR, buildProgramme, capturingLogger, makeTempDir, repeatTo } from './test-fixtures.ts';
import type { Programme } from './test-fixtures.ts';
import { VadWorker } from './vad-thread.ts';

let prog: Programme;
let local: SileroVad;
let worker: VadWorker;
const { logger, lines } = capturingLogger();

before(async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    [prog, local, worker] = await Promise.all([
      buildProgramme(dir),
      SileroVad.open({ provider: 'cpu', threads: 2, logger: nullLogger }),
      VadWorker.start({ provider: 'cpu', threads: 2, logger }),
    ]);
  } finally {
    await cleanup();
  }
});
after(async () => {
  await worker?.close();
  await local?.close();
});

test('the worker thread opens the same model and forwards its logs', () => {
  const a = worker.info();
  const b = local.info();
  assert.equal(a.provider, 'cpu');
  assert.equal(a.model, b.model);
  assert.equal(a.sha256, b.sha256);
  assert.ok(a.warmupMs > 0);
  assert.ok(lines.some((l) => l.level === 'info' && l.msg === 'model session ready'), 'log lines from the thread reach the logger');
});

test('the worker gives the same result as SileroVad in the main thread, and takes the buffer', async () => {
  const opts = { threshold: 0.5, minSilenceMs: 120 };
  const mine = await local.detect(prog.pcm, opts);
  const input = prog.pcm.slice();
  const theirs = await worker.detect(input, opts);
  assert.equal(input.length, 0, 'the PCM buffer was transferred to the thread');
  assert.deepEqual(theirs.probs, mine.probs);
  assert.deepEqual(theirs.segments, mine.segments);
  assert.equal(theirs.stats.runs, mine.stats.runs);

  // A view on a larger buffer is copied, not transferred: the owner keeps its data.
  const big = new Float32Array(prog.pcm.length + 1000);
  big.set(prog.pcm, 1000);
  const view = big.subarray(1000);
  const r = await worker.detect(view, opts);
  assert.equal(big.length, prog.pcm.length + 1000);
  assert.deepEqual(r.probs, mine.probs);
});

test('requests run concurrently and each gets its own answer', async () => {
  const a = prog.pcm.slice(0, SR * 10);
  const b = prog.pcm.slice(SR * 18, SR * 28);
  const [ra, rb] = await Promise.all([worker.detect(a.slice()), worker.detect(b.slice())]);
  assert.deepEqual(ra.probs, (await local.detect(a)).probs);
  assert.deepEqual(rb.probs, (await local.detect(b)).probs);
});

test('errors from the thread keep their class', async () => {
  await assert.rejects(worker.detect(new Float32Array(10), { batch: 0 }), RangeError);
  await assert.rejects(VadWorker.start({ provider: 'cpu', modelFile: 'missing_model.onnx', modelDir: '/nonexistent', logger: nullLogger }), (e: unknown) => {
    assert.ok(e instanceof ModelMissingError, String(e));
    assert.ok(e.searched.some((s) => s.includes('/nonexistent/missing_model.onnx')));
    return true;
  });
  // Not ready in GPU mode: the thread reports the provider error instead of silently using CPU.
  const cuda = await VadWorker.start({ provider: 'cuda', logger: nullLogger }).catch((e: unknown) => e);
  if (cuda instanceof VadWorker) {
    assert.equal(cuda.info().provider, 'cuda');
    await cuda.close();
  } else {
    assert.ok(cuda instanceof ProviderUnavailableError, String(cuda));
    const fallback = await VadWorker.start({ provider: 'cuda', allowCpuFallback: true, logger: nullLogger });
    assert.equal(fallback.info().provider, 'cpu');
    assert.equal(fallback.info().requestedProvider, 'cuda');
    await fallback.close();
  }
});

test('a closed worker rejects new requests', async () => {
  const w = await VadWorker.start({ provider: 'cpu', threads: 1, logger: nullLogger });
  await w.close();
  await assert.rejects(w.detect(new Float32Array(1000)), VadWorkerError);
});

test('event-loop delay: idle vs inference in the worker vs inference in the main thread (reported, not asserted)', async () => {
  const pcm = repeatTo(prog.pcm, 300);
  const measure = async (what: () => Promise<unknown>): Promise<string> => {
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    await what();
    h.disable();
    const ms = (ns: number): string => (ns / 1e6).toFixed(1);
    return `p50 ${ms(h.percentile(50))} ms, p99 ${ms(h.percentile(99))} ms, max ${ms(h.max)} ms`;
  };
  let inWorker: VadResult | undefined;
  let inMain: VadResult | undefined;
  const idle = await measure(() => sleep(500));
  const threaded = await measure(async () => (inWorker = await worker.detect(pcm.slice())));
  const blocking = await measure(async () => (inMain = await local.detect(pcm)));
  console.log(
    `# event-loop delay (5 ms sampling interval included), ${(pcm.length / SR / 60).toFixed(0)} min of audio ` +
      `(${inWorker!.stats.runs} run() calls of ${inWorker!.stats.streams} streams):`,
  );
  console.log(`#   idle baseline:       ${idle}`);
  console.log(`#   VAD in worker:       ${threaded} (${inWorker!.stats.totalMs.toFixed(0)} ms)`);
  console.log(`#   VAD in main thread:  ${blocking} (${inMain!.stats.totalMs.toFixed(0)} ms)`);
  assert.deepEqual(inWorker!.probs, inMain!.probs);
});
