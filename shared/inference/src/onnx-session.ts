/**
 * The one adapter over onnxruntime-node: load a model file with an explicit execution
 * provider, warm it up, and report what is actually active. CUDA failures are a named
 * error (the worker is not ready) unless the caller allows a CPU fallback.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { ModelLoadError, ModelMissingError, ProviderUnavailableError, SessionReleasedError, errorMessage } from './errors.ts';
import type { InferenceLogger } from './logger.ts';

export type ExecutionProvider = 'cpu' | 'cuda';
export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';
export type Feeds = Record<string, Tensor>;

export interface OpenModelOptions {
  modelPath: string;
  provider: ExecutionProvider;
  /** With provider 'cuda': run on CPU (with a warning) when the CUDA session cannot be created. Default false. */
  allowCpuFallback?: boolean;
  /** Threads inside one operator; default: ONNX Runtime's (one per physical core). */
  intraOpThreads?: number;
  graphOptimizationLevel?: GraphOptimizationLevel;
  logger: InferenceLogger;
  /** Feeds for the warm-up run at open; default: zero tensors shaped from the input metadata (free dims = 1). */
  warmupFeeds?: () => Feeds;
  cudaDeviceId?: number;
}

export interface ModelSession {
  /** The provider actually in use (after any fallback). */
  readonly provider: ExecutionProvider;
  readonly requestedProvider: ExecutionProvider;
  /** Why the requested provider is not the active one; absent when it is. */
  readonly fallbackReason?: string;
  /** File name without the .onnx extension. */
  readonly modelName: string;
  readonly modelPath: string;
  readonly modelSha256: string;
  /** Session creation time (ms). */
  readonly loadMs: number;
  /** First-run time (ms): kernel selection, arena allocation, CUDA context. */
  readonly warmupMs: number;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Feeds): Promise<Record<string, Tensor>>;
  /** run() calls and their summed wall time since open (the warm-up run excluded). */
  stats(): { runs: number; runMs: number };
  release(): Promise<void>;
}

const require = createRequire(import.meta.url);

export async function openModel(opts: OpenModelOptions): Promise<ModelSession> {
  const modelPath = path.resolve(opts.modelPath);
  const modelName = path.basename(modelPath).replace(/\.onnx$/i, '');
  const bytes = await readModel(modelPath);
  const modelSha256 = createHash('sha256').update(bytes).digest('hex');

  const base: InferenceSession.SessionOptions = {
    graphOptimizationLevel: opts.graphOptimizationLevel ?? 'all',
    executionMode: 'sequential',
    interOpNumThreads: 1,
    // Fatal only: load and run errors reach the caller as exceptions carrying the same text,
    // and warnings such as "Removing initializer" are noise for a known model.
    logSeverityLevel: 4,
    ...(opts.intraOpThreads ? { intraOpNumThreads: opts.intraOpThreads } : {}),
  };
  const log = opts.logger;
  let provider: ExecutionProvider = opts.provider;
  let fallbackReason: string | undefined;
  let created: Created;

  if (opts.provider === 'cuda') {
    try {
      created = await createAndWarm(modelPath, bytes, { ...base, executionProviders: [{ name: 'cuda', deviceId: opts.cudaDeviceId ?? 0 }] }, opts.warmupFeeds);
    } catch (cudaErr) {
      // A model that CPU cannot load either is a model problem, not a provider one.
      const cpu = await createAndWarm(modelPath, bytes, { ...base, executionProviders: ['cpu'] }, opts.warmupFeeds);
      const reason = cudaErr instanceof ModelLoadError ? `${cudaErr.stage === 'warmup' ? 'warm-up run failed: ' : ''}${cudaErr.detail}` : errorMessage(cudaErr);
      const err = new ProviderUnavailableError('cuda', modelPath, reason, cudaHint(), { cause: cudaErr });
      if (!opts.allowCpuFallback) {
        await cpu.session.release();
        log.error({ err, model: modelName }, 'CUDA execution provider unavailable');
        throw err;
      }
      log.warn({ model: modelName, requested: 'cuda', active: 'cpu', reason: err.reason, hint: err.hint }, 'CUDA execution provider unavailable; falling back to CPU (allowCpuFallback)');
      created = cpu;
      provider = 'cpu';
      fallbackReason = err.message;
    }
  } else {
    created = await createAndWarm(modelPath, bytes, { ...base, executionProviders: ['cpu'] }, opts.warmupFeeds);
  }

  const { session, loadMs, warmupMs } = created;
  log.info({ model: modelName, sha256: modelSha256, provider, requested: opts.provider, loadMs: round(loadMs), warmupMs: round(warmupMs) }, 'model session ready');

  let released = false;
  let runs = 0;
  let runMs = 0;
  return {
    provider,
    requestedProvider: opts.provider,
    ...(fallbackReason ? { fallbackReason } : {}),
    modelName,
    modelPath,
    modelSha256,
    loadMs,
    warmupMs,
    inputNames: [...session.inputNames],
    outputNames: [...session.outputNames],
    async run(feeds) {
      if (released) throw new SessionReleasedError(modelName);
      const t0 = performance.now();
      const out = await session.run(feeds);
      runMs += performance.now() - t0;
      runs++;
      return out as Record<string, Tensor>;
    },
    stats: () => ({ runs, runMs }),
    async release() {
      if (released) return;
      released = true;
      await session.release();
    },
  };
}

interface Created {
  session: InferenceSession;
  loadMs: number;
  warmupMs: number;
}

async function createAndWarm(
  modelPath: string,
  bytes: Uint8Array,
  options: InferenceSession.SessionOptions,
  warmupFeeds: (() => Feeds) | undefined,
): Promise<Created> {
  const t0 = performance.now();
  let session: InferenceSession;
  try {
    session = await InferenceSession.create(bytes, options);
  } catch (e) {
    throw new ModelLoadError(modelPath, 'load', errorMessage(e), { cause: e });
  }
  const t1 = performance.now();
  try {
    await session.run(warmupFeeds ? warmupFeeds() : zeroFeeds(session));
  } catch (e) {
    await session.release().catch(() => undefined);
    throw new ModelLoadError(modelPath, 'warmup', errorMessage(e), { cause: e });
  }
  return { session, loadMs: t1 - t0, warmupMs: performance.now() - t1 };
}

async function readModel(modelPath: string): Promise<Uint8Array> {
  try {
    return await readFile(modelPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ModelMissingError(modelPath, [modelPath], { cause: e });
    throw new ModelLoadError(modelPath, 'read', errorMessage(e), { cause: e });
  }
}

/** Zero tensors for every input, free dimensions set to 1: enough to run most models once. */
function zeroFeeds(session: InferenceSession): Feeds {
  const feeds: Feeds = {};
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor) throw new Error(`input ${meta.name} is not a tensor: pass warmupFeeds`);
    const dims = meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    const size = dims.reduce((a, b) => a * b, 1);
    feeds[meta.name] = zeroTensor(meta.type, size, dims);
  }
  return feeds;
}

function zeroTensor(type: Tensor.Type, size: number, dims: number[]): Tensor {
  switch (type) {
    case 'float32':
      return new Tensor('float32', new Float32Array(size), dims);
    case 'int64':
      return new Tensor('int64', new BigInt64Array(size), dims);
    case 'int32':
      return new Tensor('int32', new Int32Array(size), dims);
    case 'bool':
      return new Tensor('bool', new Uint8Array(size), dims);
    default:
      throw new Error(`no default warm-up tensor for input type ${type}: pass warmupFeeds`);
  }
}

/** What to check when the CUDA provider cannot be created, based on what is installed. */
export function cudaHint(): string {
  let binDir: string;
  try {
    binDir = path.join(path.dirname(require.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return 'onnxruntime-node is not installed';
  }
  const lib = path.join(path.normalize(binDir), 'libonnxruntime_providers_cuda.so');
  if (!existsSync(lib)) {
    return (
      `the CUDA provider library is not installed (${lib} missing): install onnxruntime-node with ` +
      'ONNXRUNTIME_NODE_INSTALL=cuda12 (not skip), on an NVIDIA host with the CUDA 12 runtime and cuDNN 9'
    );
  }
  return 'the CUDA provider library is installed: check that the CUDA 12 runtime and cuDNN 9 libraries are on the library path and a GPU is visible (nvidia-smi)';
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
