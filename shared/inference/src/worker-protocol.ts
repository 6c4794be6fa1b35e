/**
 * Messages between VadWorker and its thread. Errors cross the thread boundary as plain
 * objects and are rebuilt as the same named classes, so callers can tell a missing model
 * from an unavailable provider whichever side failed.
 */
import { ModelLoadError, ModelMissingError, ProviderUnavailableError, SessionReleasedError, VadWorkerError } from './errors.ts';
import type { SileroVadOptions, VadDetectOptions, VadInfo, VadResult } from './silero-vad.ts';

export type WorkerOptions = Omit<SileroVadOptions, 'logger'>;
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type ToWorker = { type: 'detect'; id: number; pcm: Float32Array; opts: VadDetectOptions } | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; info: VadInfo }
  | { type: 'failed'; error: SerializedError }
  | { type: 'log'; level: LogLevel; obj: object; msg?: string }
  | { type: 'result'; id: number; result: VadResult }
  | { type: 'error'; id: number; error: SerializedError }
  | { type: 'closed' };

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  model?: string;
  searched?: string[];
  modelPath?: string;
  stage?: 'read' | 'load' | 'warmup';
  detail?: string;
  reason?: string;
  hint?: string;
}

export function serializeError(e: unknown): SerializedError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  const out: SerializedError = { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) };
  if (e instanceof ModelMissingError) Object.assign(out, { model: e.model, searched: [...e.searched] });
  if (e instanceof ModelLoadError) Object.assign(out, { modelPath: e.modelPath, stage: e.stage, detail: e.detail });
  if (e instanceof ProviderUnavailableError) Object.assign(out, { modelPath: e.modelPath, reason: e.reason, hint: e.hint });
  return out;
}

export function deserializeError(s: SerializedError): Error {
  let e: Error;
  switch (s.name) {
    case 'ModelMissingError':
      e = new ModelMissingError(s.model ?? '?', s.searched ?? []);
      break;
    case 'ModelLoadError':
      e = new ModelLoadError(s.modelPath ?? '?', s.stage ?? 'load', s.detail ?? '');
      break;
    case 'ProviderUnavailableError':
      e = new ProviderUnavailableError('cuda', s.modelPath ?? '?', s.reason ?? '', s.hint ?? '');
      break;
    case 'SessionReleasedError':
      e = new SessionReleasedError('?');
      e.message = s.message;
      break;
    case 'RangeError':
      e = new RangeError(s.message);
      break;
    case 'TypeError':
      e = new TypeError(s.message);
      break;
    default:
      e = new VadWorkerError(`VAD worker: ${s.name}: ${s.message}`);
  }
  if (s.stack) e.stack = `${e.name}: ${e.message}\n    (in the VAD worker thread)\n${s.stack.split('\n').slice(1).join('\n')}`;
  return e;
}

/** Log objects may hold Errors, which do not survive postMessage with their fields. */
export function cloneableLogObject(obj: object): object {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = v instanceof Error ? serializeError(v) : v;
  return out;
}
