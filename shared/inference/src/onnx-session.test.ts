import { createHash, randomBytes } from 'node:crypto';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from 'onnxruntime-node';
import { ModelLoadError, ModelMissingError, ProviderUnavailableError, SessionReleasedError } from './errors.ts';
import { nullLogger } from './logger.ts';
import { resolveModelPath } from './model-path.ts';
import { openModel } from './onnx-session.ts';
import { capturingLogger, identityModel, makeTempDir } from './test-fixtures.ts';

const SILERO = 'silero_vad_16k_op15.onnx';
const sileroFeeds = (): Record<string, Tensor> => ({
  input: new Tensor('float32', new Float32Array(576), [1, 576]),
  state: new Tensor('float32', new Float32Array(256), [2, 1, 128]),
  sr: new Tensor('int64', BigInt64Array.from([16000n]), []),
});
const cudaLib = path.join(
  path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node')),
  '..', 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so',
);

test('resolveModelPath finds the Silero weights inside the installed npm package', () => {
  const p = resolveModelPath(SILERO);
  assert.ok(path.isAbsolute(p));
  assert.match(p, /node_modules[\\/]@jjhbw[\\/]silero-vad[\\/]weights[\\/]silero_vad_16k_op15\.onnx$/);
  assert.ok(existsSync(p));
});

test('resolveModelPath: the configured directory wins over the package; an empty one falls through to it', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    assert.equal(resolveModelPath(SILERO, { modelDir: dir }), resolveModelPath(SILERO));
    await copyFile(resolveModelPath(SILERO), path.join(dir, SILERO));
    assert.equal(resolveModelPath(SILERO, { modelDir: dir }), path.join(dir, SILERO));
  } finally {
    await cleanup();
  }
});

test('resolveModelPath reports every place it looked when the model is nowhere', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    assert.throws(
      () => resolveModelPath('no_such_model.onnx', { modelDir: dir }),
      (e: unknown) => {
        assert.ok(e instanceof ModelMissingError);
        assert.equal(e.model, 'no_such_model.onnx');
        assert.equal(e.searched.length, 2);
        assert.ok(e.message.includes(path.join(dir, 'no_such_model.onnx')), e.message);
        assert.match(e.message, /no installed npm package is known to ship no_such_model\.onnx/);
        assert.match(e.message, /never downloaded/);
        return true;
      },
    );
    assert.throws(() => resolveModelPath('/abs/missing.onnx'), (e: unknown) => e instanceof ModelMissingError && e.searched[0] === '/abs/missing.onnx');
  } finally {
    await cleanup();
  }
});

test('openModel: a present model loads on CPU, is warmed up, and reports name, hash and run counts', async () => {
  const modelPath = resolveModelPath(SILERO);
  const { logger, lines } = capturingLogger();
  const s = await openModel({ modelPath, provider: 'cpu', intraOpThreads: 1, graphOptimizationLevel: 'all', logger, warmupFeeds: sileroFeeds });
  try {
    assert.equal(s.provider, 'cpu');
    assert.equal(s.requestedProvider, 'cpu');
    assert.equal(s.fallbackReason, undefined);
    assert.equal(s.modelName, 'silero_vad_16k_op15');
    assert.equal(s.modelSha256, createHash('sha256').update(await readFile(modelPath)).digest('hex'));
    assert.ok(Number.isFinite(s.warmupMs) && s.warmupMs > 0, `warmupMs ${s.warmupMs}`);
    assert.ok(s.loadMs > 0);
    assert.deepEqual([...s.inputNames].sort(), ['input', 'sr', 'state']);
    assert.deepEqual([...s.outputNames], ['output', 'stateN']);
    assert.deepEqual(s.stats(), { runs: 0, runMs: 0 });
    const out = await s.run(sileroFeeds());
    assert.deepEqual(out.output!.dims, [1, 1]);
    const p = (out.output!.data as Float32Array)[0]!;
    assert.ok(p >= 0 && p < 0.2, `silence should not be speech, got ${p}`);
    assert.equal(s.stats().runs, 1);
    assert.ok(lines.some((l) => l.level === 'info' && l.msg === 'model session ready'));
  } finally {
    await s.release();
  }
  await assert.rejects(s.run(sileroFeeds()), SessionReleasedError);
});

test('openModel: default warm-up feeds (zeros shaped from the metadata) run a generic model', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    const modelPath = path.join(dir, 'identity.onnx');
    await writeFile(modelPath, identityModel());
    const s = await openModel({ modelPath, provider: 'cpu', logger: nullLogger });
    assert.equal(s.modelName, 'identity');
    const out = await s.run({ x: new Tensor('float32', Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), [2, 4]) });
    assert.deepEqual(Array.from(out.y!.data as Float32Array), [1, 2, 3, 4, 5, 6, 7, 8]);
    await s.release();
  } finally {
    await cleanup();
  }
});

test('openModel: a model whose warm-up run fails is a ModelLoadError at stage warmup', async () => {
  // Silero's STFT cannot take the default [1, 1] zero input.
  await assert.rejects(openModel({ modelPath: resolveModelPath(SILERO), provider: 'cpu', logger: nullLogger }), (e: unknown) => {
    assert.ok(e instanceof ModelLoadError);
    assert.equal(e.stage, 'warmup');
    assert.match(e.message, /warm-up run failed/);
    return true;
  });
});

test('openModel: a missing path is a ModelMissingError naming it', async () => {
  const missing = path.join('/nonexistent-models', 'x.onnx');
  await assert.rejects(openModel({ modelPath: missing, provider: 'cpu', logger: nullLogger }), (e: unknown) => {
    assert.ok(e instanceof ModelMissingError);
    assert.deepEqual(e.searched, [missing]);
    assert.ok(e.message.includes(missing));
    return true;
  });
});

test('openModel: random bytes or an empty file are a ModelLoadError, also when CUDA was requested', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    const corrupt = path.join(dir, 'corrupt.onnx');
    await writeFile(corrupt, randomBytes(4096));
    const empty = path.join(dir, 'empty.onnx');
    await writeFile(empty, '');
    for (const modelPath of [corrupt, empty]) {
      for (const provider of ['cpu', 'cuda'] as const) {
        await assert.rejects(openModel({ modelPath, provider, allowCpuFallback: true, logger: nullLogger }), (e: unknown) => {
          assert.ok(e instanceof ModelLoadError, `${modelPath} ${provider}: ${String(e)}`);
          assert.equal(e.stage, 'load');
          assert.equal(e.modelPath, modelPath);
          assert.ok(e.message.startsWith(`${modelPath}: not a loadable ONNX model`), e.message);
          return true;
        });
      }
    }
  } finally {
    await cleanup();
  }
});

test('openModel: provider cuda is explicit: unavailable is a ProviderUnavailableError, or falls back to CPU only when allowed', async () => {
  const modelPath = resolveModelPath(SILERO);
  let strict: Awaited<ReturnType<typeof openModel>> | null = null;
  try {
    strict = await openModel({ modelPath, provider: 'cuda', logger: nullLogger, warmupFeeds: sileroFeeds });
  } catch (e) {
    assert.ok(e instanceof ProviderUnavailableError, String(e));
    assert.equal(e.provider, 'cuda');
    assert.equal(e.modelPath, modelPath);
    assert.ok(e.reason.length > 0);
    if (!existsSync(cudaLib)) assert.ok(e.hint.includes('libonnxruntime_providers_cuda.so') && e.hint.includes('ONNXRUNTIME_NODE_INSTALL=cuda12'), e.hint);
  }
  if (strict) {
    // A host where the CUDA provider really works: it must say so.
    assert.ok(existsSync(cudaLib), 'a CUDA session without the CUDA provider library cannot be');
    assert.equal(strict.provider, 'cuda');
    await strict.release();
    console.log('# CUDA execution provider is available on this host');
    return;
  }

  const { logger, lines } = capturingLogger();
  const s = await openModel({ modelPath, provider: 'cuda', allowCpuFallback: true, logger, warmupFeeds: sileroFeeds });
  try {
    assert.equal(s.provider, 'cpu');
    assert.equal(s.requestedProvider, 'cuda');
    assert.match(s.fallbackReason ?? '', /cuda execution provider unavailable/);
    const warn = lines.find((l) => l.level === 'warn');
    assert.ok(warn, 'the fallback is logged as a warning');
    assert.match(warn.msg ?? '', /falling back to CPU/);
    assert.deepEqual(Object.keys((await s.run(sileroFeeds())) as object).sort(), ['output', 'stateN']);
  } finally {
    await s.release();
  }
});
