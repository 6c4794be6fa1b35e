// Records as the API shows them (snake_case, like the result document). Values are passed
// through untouched: the offset is exactly what the engine reported, in its sign convention.
import type { AnalysisRecord, BatchCounts, BatchRecord, FileFingerprint, RepairRecord } from '@sync-analyzer/platform';
import type { z } from 'zod';
import type { AnalysisView, BatchView, RepairView } from './schemas.ts';

const API = '/api/v1';

const fp = (f: FileFingerprint) => ({ size: f.size, mtime_ms: f.mtimeMs, head_tail_sha256: f.headTailSha256 });

export function analysisView(r: AnalysisRecord): z.output<typeof AnalysisView> {
  const base = `${API}/analyses/${r.id}`;
  return {
    id: r.id,
    status: r.status,
    priority: r.priority,
    master: r.masterPath,
    dub: r.dubPath,
    options: r.options as Record<string, unknown>,
    progress: { percent: r.progressPercent, stage: r.progressStage },
    attempts: r.attempts,
    verdict: r.verdict,
    match: r.match,
    offset_seconds: r.offsetSeconds,
    confidence: r.confidence,
    result: r.result,
    error: r.errorCode ? { code: r.errorCode, message: r.errorMessage ?? '' } : null,
    fingerprints: { master: fp(r.masterFingerprint), dub: fp(r.dubFingerprint) },
    engine_version: r.engineVersion,
    schema_version: r.schemaVersion,
    batch_id: r.batchId,
    batch_index: r.batchIndex,
    episode: r.episode,
    notes: r.notes,
    repair_id: r.repairId,
    created_at: r.createdAt,
    started_at: r.startedAt,
    finished_at: r.finishedAt,
    links: {
      self: base,
      events: `${base}/events`,
      cancel: `${base}/cancel`,
      retry: `${base}/retry`,
      report_json: `${base}/report.json`,
      report_csv: `${base}/report.csv`,
      report_html: `${base}/report.html`,
      report_edl: `${base}/report.edl`,
    },
  };
}

export function batchView(b: BatchRecord, counts: BatchCounts): z.output<typeof BatchView> {
  const base = `${API}/batches/${b.id}`;
  return {
    id: b.id,
    name: b.name,
    status: b.status,
    priority: b.priority,
    total: b.total,
    counts,
    webhook: b.webhookUrl ? { url: b.webhookUrl, status: b.webhookStatus, attempts: b.webhookAttempts, last_error: b.webhookLastError } : null,
    created_at: b.createdAt,
    finished_at: b.finishedAt,
    links: { self: base, export_csv: `${base}/export.csv`, export_json: `${base}/export.json`, export_html: `${base}/export.html` },
  };
}

export function repairView(r: RepairRecord): z.output<typeof RepairView> {
  return {
    id: r.id,
    status: r.status,
    analysis_id: r.analysisId,
    dub: r.dubPath,
    offset_seconds: r.offsetSeconds,
    applied_shift_seconds: r.offsetSeconds === 0 ? 0 : -r.offsetSeconds,
    speed_ratio: r.speedRatio,
    options: { keep_duration: r.options.keepDuration, conform_drift: r.options.conformDrift, conform_edits: r.options.conformEdits },
    output: r.outputPath,
    ffmpeg_args: r.outcome?.ffmpegArgs ?? null,
    checks: r.outcome?.checks ?? null,
    verification_analysis_id: r.verificationAnalysisId,
    progress: { percent: r.progressPercent, stage: r.status === 'running' ? 'repair' : null },
    error: r.errorCode ? { code: r.errorCode, message: r.errorMessage ?? '' } : null,
    created_at: r.createdAt,
    started_at: r.startedAt,
    finished_at: r.finishedAt,
    links: { self: `${API}/repairs/${r.id}`, cancel: `${API}/repairs/${r.id}/cancel`, ...(r.verificationAnalysisId ? { verification: `${API}/analyses/${r.verificationAnalysisId}` } : {}) },
  };
}
