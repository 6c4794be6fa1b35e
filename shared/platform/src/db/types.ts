// The report store's records and repository contracts. The API process is the only writer
// (workers hand results back through the queue), so SQLite needs no cross-process locking;
// PostgreSQL is used the same way for multi-host setups.
import type { AnalysisResult, Verdict } from '@sync-analyzer/engine';
import type { AnalysisOptions } from '../jobs.ts';

export const ANALYSIS_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled', 'timed_out'] as const;
export type AnalysisStatus = (typeof ANALYSIS_STATUSES)[number];
/** Statuses after which a record never changes again (the stored report is final). */
export const FINAL_STATUSES: readonly AnalysisStatus[] = ['completed', 'failed', 'cancelled', 'timed_out'];

export const PRIORITIES = ['urgent', 'normal', 'batch'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** What identifies an input file's content without reading all of it. */
export interface FileFingerprint {
  size: number;
  /** Modification time, ms since the epoch. */
  mtimeMs: number;
  /** sha256 (hex) of the first and last MiB (the whole file when smaller than 2 MiB). */
  headTailSha256: string;
}

export interface AnalysisRecord {
  id: string;
  status: AnalysisStatus;
  priority: Priority;
  /** Paths relative to the media root, as submitted after confinement. */
  masterPath: string;
  dubPath: string;
  options: AnalysisOptions;
  /** Hash of both fingerprints + options: identical submissions share it. */
  dedupeKey: string;
  masterFingerprint: FileFingerprint;
  dubFingerprint: FileFingerprint;
  batchId: string | null;
  batchIndex: number | null;
  episode: string | null;
  notes: string | null;
  /** Set when this analysis verifies a repair's output. */
  repairId: string | null;
  progressPercent: number;
  progressStage: string | null;
  attempts: number;
  /** Exactly what the engine reported (never rescaled). */
  result: AnalysisResult | null;
  /** Denormalised from result for filtering and listing. */
  verdict: Verdict | null;
  match: boolean | null;
  offsetSeconds: number | null;
  confidence: number | null;
  engineVersion: string | null;
  schemaVersion: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  /** ISO 8601 UTC. */
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
}

export interface NewAnalysis {
  id: string;
  priority: Priority;
  masterPath: string;
  dubPath: string;
  options: AnalysisOptions;
  dedupeKey: string;
  masterFingerprint: FileFingerprint;
  dubFingerprint: FileFingerprint;
  batchId?: string | null;
  batchIndex?: number | null;
  episode?: string | null;
  notes?: string | null;
  repairId?: string | null;
}

export interface AnalysisFilter {
  status?: AnalysisStatus;
  verdict?: Verdict;
  /** Case-insensitive substring of the master or dub path. */
  file?: string;
  /** ISO 8601 bounds on createdAt (inclusive from, exclusive to). */
  createdFrom?: string;
  createdTo?: string;
  batchId?: string;
  /** 1..500, default 50. */
  limit?: number;
  offset?: number;
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface AnalysisRepository {
  create(a: NewAnalysis): Promise<AnalysisRecord>;
  /** Several at once in one transaction (a batch sheet). */
  createMany(a: NewAnalysis[]): Promise<AnalysisRecord[]>;
  get(id: string): Promise<AnalysisRecord | null>;
  list(filter: AnalysisFilter): Promise<Page<AnalysisRecord>>;
  /** The newest record with this dedupe key whose status is queued, running or completed. */
  findReusable(dedupeKey: string): Promise<AnalysisRecord | null>;
  /** Records not in a final status (start-up reconciliation with the queue). */
  listUnfinished(): Promise<AnalysisRecord[]>;
  /** No-op on a final record. */
  markRunning(id: string, attempt: number, at: string): Promise<void>;
  /** No-op on a final record; percent never decreases within one attempt. */
  updateProgress(id: string, percent: number, stage: string): Promise<void>;
  /**
   * Stores the engine's result and marks the record completed. Idempotent: returns false (and
   * changes nothing) when the record is already final, so a re-run job stores exactly one report.
   */
  storeResult(id: string, result: AnalysisResult, at: string): Promise<boolean>;
  /** Marks failed / cancelled / timed_out with a reason; false when already final. */
  markEnded(id: string, status: Exclude<AnalysisStatus, 'queued' | 'running' | 'completed'>, code: string, message: string, at: string): Promise<boolean>;
  /** Back to queued for a retry (only from failed, cancelled or timed_out); clears result and error. */
  resetForRetry(id: string, at: string): Promise<boolean>;
}

export const BATCH_STATUSES = ['running', 'completed'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

export interface BatchRecord {
  id: string;
  name: string | null;
  status: BatchStatus;
  priority: Priority;
  total: number;
  webhookUrl: string | null;
  /** 'pending' | 'delivered' | 'failed' | null (no webhook) */
  webhookStatus: string | null;
  webhookAttempts: number;
  webhookLastError: string | null;
  createdAt: string;
  finishedAt: string | null;
  updatedAt: string;
}

export interface NewBatch {
  id: string;
  name?: string | null;
  priority: Priority;
  webhookUrl?: string | null;
}

/** Counts of the batch's analyses per status. */
export type BatchCounts = Record<AnalysisStatus, number>;

export interface BatchRepository {
  /** Creates the batch and its analyses in one transaction. */
  create(b: NewBatch, items: NewAnalysis[]): Promise<{ batch: BatchRecord; items: AnalysisRecord[] }>;
  get(id: string): Promise<BatchRecord | null>;
  list(limit: number, offset: number): Promise<Page<BatchRecord>>;
  counts(id: string): Promise<BatchCounts>;
  /** Items in sheet order. */
  items(id: string): Promise<AnalysisRecord[]>;
  /** Marks completed once every item is final; returns true only on the transition. */
  completeIfDone(id: string, at: string): Promise<boolean>;
  /** Reopens a completed batch (an item was retried). */
  reopen(id: string, at: string): Promise<void>;
  setWebhookState(id: string, status: 'pending' | 'delivered' | 'failed', attempts: number, lastError: string | null, at: string): Promise<void>;
  /** Batches that are completed with a webhook still pending (re-delivered at start-up). */
  listPendingWebhooks(): Promise<BatchRecord[]>;
}

export const REPAIR_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled', 'timed_out'] as const;
export type RepairStatus = (typeof REPAIR_STATUSES)[number];

export interface RepairOptions {
  keepDuration: boolean;
  conformDrift: boolean;
  conformEdits: boolean;
  /** Analyse the output against this master once written (null: no verification). */
  verifyMaster?: string | null;
}

/** What the worker reports for a finished repair (stored as-is). */
export interface RepairOutcome {
  outputPath: string;
  /** The ffmpeg argument vector that produced the output. */
  ffmpegArgs: string[];
  inputProbe: unknown;
  outputProbe: unknown;
  /** Checks of the output against the input (codec, rate, layout, timecode, streams). */
  checks: { name: string; ok: boolean; detail: string }[];
}

export interface RepairRecord {
  id: string;
  status: RepairStatus;
  analysisId: string | null;
  /** Relative to the media root. */
  dubPath: string;
  /** The measured offset (result convention); the repair applies its opposite. */
  offsetSeconds: number;
  speedRatio: number | null;
  options: RepairOptions;
  outcome: RepairOutcome | null;
  /** Relative to the output root, once written. */
  outputPath: string | null;
  verificationAnalysisId: string | null;
  progressPercent: number;
  errorCode: string | null;
  errorMessage: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
}

export interface NewRepair {
  id: string;
  analysisId?: string | null;
  dubPath: string;
  offsetSeconds: number;
  speedRatio?: number | null;
  options: RepairOptions;
  /** Reserved output file, relative to the output root (the job writes it). */
  outputPath?: string | null;
}

export interface RepairRepository {
  create(r: NewRepair): Promise<RepairRecord>;
  get(id: string): Promise<RepairRecord | null>;
  list(limit: number, offset: number): Promise<Page<RepairRecord>>;
  listUnfinished(): Promise<RepairRecord[]>;
  markRunning(id: string, at: string): Promise<void>;
  updateProgress(id: string, percent: number): Promise<void>;
  /** Idempotent like AnalysisRepository.storeResult. */
  storeOutcome(id: string, outcome: RepairOutcome, at: string): Promise<boolean>;
  markEnded(id: string, status: 'failed' | 'cancelled' | 'timed_out', code: string, message: string, at: string): Promise<boolean>;
  setVerification(id: string, analysisId: string): Promise<void>;
  resetForRetry(id: string, at: string): Promise<boolean>;
}

export interface Store {
  analyses: AnalysisRepository;
  batches: BatchRepository;
  repairs: RepairRepository;
  /** Names of applied migrations vs the ones this build knows. */
  migrationStatus(): Promise<{ applied: string[]; pending: string[] }>;
  /** A trivial query: the database answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
