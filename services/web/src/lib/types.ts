// Shapes of the API's answers as the UI reads them (services/api/src/http/schemas.ts is the
// source; the result document is the engine's own type, so a schema change breaks the build).
import type { AnalysisResult, Verdict, Segment, Gap, TrackPoint, HeadFinding, FrameRateKey } from '@sync-analyzer/engine';

export type { AnalysisResult, Verdict, Segment, Gap, TrackPoint, HeadFinding, FrameRateKey };

export const ANALYSIS_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled', 'timed_out'] as const;
export type AnalysisStatus = (typeof ANALYSIS_STATUSES)[number];
export const FINAL_STATUSES: readonly string[] = ['completed', 'failed', 'cancelled', 'timed_out'];
export const isFinal = (status: string): boolean => FINAL_STATUSES.includes(status);

export const VERDICT_KEYS = ['in_sync', 'offset', 'drift', 'edited', 'no_match'] as const satisfies readonly Verdict[];
export const FRAME_RATES: readonly FrameRateKey[] = ['23.976', '24', '25', '29.97', '29.97df', '30', '50', '59.94', '60'];

export interface ApiErrorInfo {
  code: string;
  message: string;
}

export interface Progress {
  percent: number;
  stage: string | null;
}

export interface AnalysisView {
  id: string;
  status: AnalysisStatus;
  priority: 'urgent' | 'normal' | 'batch';
  master: string;
  dub: string;
  options: Record<string, unknown>;
  progress: Progress;
  attempts: number;
  verdict: Verdict | null;
  match: boolean | null;
  offset_seconds: number | null;
  confidence: number | null;
  result: AnalysisResult | null;
  error: ApiErrorInfo | null;
  batch_id: string | null;
  batch_index: number | null;
  episode: string | null;
  notes: string | null;
  repair_id: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  links: Record<string, string>;
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface BatchView {
  id: string;
  name: string | null;
  status: 'running' | 'completed';
  priority: string;
  total: number;
  counts: Record<string, number>;
  webhook: { url: string; status: string | null; attempts: number; last_error: string | null } | null;
  created_at: string;
  finished_at: string | null;
  links: Record<string, string>;
}

export interface BatchEnvelope {
  batch: BatchView;
  items: AnalysisView[];
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface RepairView {
  id: string;
  status: AnalysisStatus;
  analysis_id: string | null;
  dub: string;
  offset_seconds: number;
  applied_shift_seconds: number;
  speed_ratio: number | null;
  options: { keep_duration: boolean; conform_drift: boolean; conform_edits: boolean };
  output: string | null;
  ffmpeg_args: string[] | null;
  checks: Check[] | null;
  verification_analysis_id: string | null;
  progress: Progress;
  error: ApiErrorInfo | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  links: Record<string, string>;
}

export interface FileEntry {
  name: string;
  path: string;
  type: 'dir' | 'file';
  size: number | null;
  mtime: string;
  media: boolean;
}

export interface FileListing {
  path: string;
  entries: FileEntry[];
  truncated: boolean;
}

/** What /files/probe reports (shared/media ProbeResult). */
export interface ProbeStream {
  index: number;
  audioIndex: number;
  codec: string;
  sampleRate: number;
  channels: number;
  channelLayout: string | null;
  language: string | null;
  title: string | null;
  duration: number | null;
}

export interface ProbeInfo {
  path: string;
  format: string;
  duration: number | null;
  audioStreams: ProbeStream[];
  videoFrameRate: number | null;
  videoFrameRateLabel: string | null;
  startTimecode: string | null;
}

export interface SessionView {
  authenticated: boolean;
  auth_required: boolean;
  expires_at: string | null;
}

export interface WorkerBeat {
  id: string;
  host?: string;
  pid?: number;
  startedAt?: string;
  stopping?: boolean;
  concurrency?: number;
  busy?: boolean;
  completed?: number;
  failed?: number;
  active?: { jobId: string; kind: string; percent: number; stage: string | null; runningSeconds: number }[];
  redis?: string;
  running?: boolean;
  heartbeatAt?: string;
  /** The speech model as the worker opened it (services/worker/src/main.ts); null when not reported. */
  inference?: { enabled?: boolean; requested?: string; provider?: string; model?: string; fallbackReason?: string; error?: string; warmupMs?: number; [k: string]: unknown } | null;
}

export interface HealthView {
  status: string;
  shutting_down?: boolean;
  started_at?: string;
  checks?: Check[];
  workers?: WorkerBeat[];
  queues?: Record<string, Record<string, number> | null>;
}

export interface OverviewSide {
  hop_seconds: number;
  duration_seconds: number;
  db: number[];
}

export interface OverviewView {
  pending: boolean;
  master: OverviewSide | null;
  dub: OverviewSide | null;
}

/** /api/v1/events payloads (services/api/src/jobs/events.ts). */
export type JobEvent =
  | { type: 'progress'; kind: 'analysis' | 'repair'; id: string; percent: number; stage: string | null }
  | { type: 'status'; kind: 'analysis' | 'repair' | 'batch' | 'proxy'; id: string; status: string; batchId?: string | null }
  | { type: 'hello' };

/** AudioSelection (shared/platform jobs.ts). */
export type AudioSelection =
  | { kind: 'auto' }
  | { kind: 'stream'; audioIndex: number }
  | { kind: 'channel'; audioIndex?: number; channel: number }
  | { kind: 'mix'; audioIndex?: number };
