// The IPC protocol between a worker and the job child process it forks per job. Heavy work
// (ffmpeg decoding, DSP, ONNX Runtime) runs in the child so the worker's event loop stays free
// for lock renewal, progress and health, and so cancel/timeout can end everything by killing
// one process group.
import type { Job } from '@sync-analyzer/platform';

export interface ChildSettings {
  mediaRoot: string;
  outputRoot: string;
  dataDir: string;
  ffmpegPath: string | null;
  ffprobePath: string | null;
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  cacheMaxBytes: number;
  /** Mixed into cache keys (the ffmpeg version: another decoder may decode differently). */
  cacheNamespace?: string;
  inference: { speechDetection: boolean; provider: 'cpu' | 'cuda'; allowCpuFallback: boolean; modelDir: string | null; threads: number | null; sampleRate: 8000 | 16000 };
}

export type ParentMessage = { type: 'run'; job: Job; settings: ChildSettings; logFields: Record<string, unknown> };

export interface SerializedError {
  name: string;
  message: string;
  code: string;
  retryable: boolean;
}

export type ChildMessage =
  | { type: 'progress'; percent: number; stage: string }
  | { type: 'spawned'; pid: number }
  | { type: 'result'; value: unknown }
  | { type: 'error'; error: SerializedError };
