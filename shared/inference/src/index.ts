/** @sync-analyzer/inference: ONNX Runtime sessions and the Silero speech detector. */
export { ModelLoadError, ModelMissingError, ProviderUnavailableError, SessionReleasedError, VadWorkerError } from './errors.ts';
export { nullLogger } from './logger.ts';
export type { InferenceLogger } from './logger.ts';
export { BUNDLED_MODELS, resolveModelPath } from './model-path.ts';
export type { ResolveModelOptions } from './model-path.ts';
export { cudaHint, openModel } from './onnx-session.ts';
export type { ExecutionProvider, Feeds, GraphOptimizationLevel, ModelSession, OpenModelOptions } from './onnx-session.ts';
export { DEFAULT_BATCH, DEFAULT_VAD_MODEL, DEFAULT_WARMUP_FRAMES, SileroVad, VAD_CONTEXT_SAMPLES, VAD_FRAME_SAMPLES, VAD_SAMPLE_RATE, planStreams } from './silero-vad.ts';
export type { SileroVadOptions, StreamPlan, VadDetectOptions, VadInfo, VadResult, VadRunStats } from './silero-vad.ts';
export { VadWorker } from './vad-thread.ts';
export { resolveSegmentOptions, speechSegments } from './vad-postprocess.ts';
export type { ResolvedSegmentOptions, SegmentOptions, SpeechSegment } from './vad-postprocess.ts';
