// Request and response schemas of the HTTP API. The same zod objects validate requests and
// generate the OpenAPI document, so the two cannot disagree.
import { z } from 'zod';
import { AnalysisResult, VERDICTS } from '@sync-analyzer/engine';
import { AnalysisOptionsSchema, ANALYSIS_STATUSES, PRIORITIES, REPAIR_STATUSES, BATCH_STATUSES } from '@sync-analyzer/platform';

export const ErrorBody = z
  .object({ error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }) })
  .meta({ id: 'Error' });

const pathField = z.string().min(1).max(4096).describe('absolute inside the media root, or relative to it');
/** Unknown option names are refused, not dropped: a misspelt option would otherwise be ignored silently. */
const StrictOptions = AnalysisOptionsSchema.strict();

export const AnalysisRequest = z
  .object({
    master: pathField,
    dub: pathField,
    options: StrictOptions.default({}),
    priority: z.enum(['urgent', 'normal']).default('normal').describe('urgent overtakes queued batches'),
  })
  .strict()
  .meta({ id: 'AnalysisRequest' });

export const Progress = z.object({ percent: z.number(), stage: z.string().nullable() });
const ApiErrorInfo = z.object({ code: z.string(), message: z.string() }).nullable();

export const FingerprintView = z.object({ size: z.number(), mtime_ms: z.number(), head_tail_sha256: z.string() });

export const AnalysisView = z
  .object({
    id: z.string(),
    status: z.enum(ANALYSIS_STATUSES),
    priority: z.enum(PRIORITIES),
    master: z.string(),
    dub: z.string(),
    options: z.record(z.string(), z.unknown()),
    progress: Progress,
    attempts: z.number().int(),
    verdict: z.enum(VERDICTS).nullable(),
    match: z.boolean().nullable(),
    offset_seconds: z.number().nullable(),
    confidence: z.number().nullable(),
    result: AnalysisResult.nullable(),
    error: ApiErrorInfo,
    fingerprints: z.object({ master: FingerprintView, dub: FingerprintView }),
    engine_version: z.string().nullable(),
    schema_version: z.string().nullable(),
    batch_id: z.string().nullable(),
    batch_index: z.number().int().nullable(),
    episode: z.string().nullable(),
    notes: z.string().nullable(),
    repair_id: z.string().nullable(),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
    links: z.record(z.string(), z.string()),
  })
  .meta({ id: 'Analysis' });

export const AnalysisEnvelope = z.object({ analysis: AnalysisView, deduplicated: z.boolean().optional() }).meta({ id: 'AnalysisEnvelope' });

export const AnalysisListQuery = z.object({
  status: z.enum(ANALYSIS_STATUSES).optional(),
  verdict: z.enum(VERDICTS).optional(),
  file: z.string().max(500).optional().describe('substring of the master or dub path'),
  from: z.iso.datetime({ offset: true }).optional().describe('created at or after (ISO 8601)'),
  to: z.iso.datetime({ offset: true }).optional().describe('created before (ISO 8601)'),
  batch: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

export const pageOf = <T extends z.ZodType>(item: T, id: string) =>
  z.object({ items: z.array(item), total: z.number().int(), limit: z.number().int(), offset: z.number().int() }).meta({ id });

export const AnalysisPage = pageOf(AnalysisView, 'AnalysisPage');

export const WaitQuery = z.object({
  wait: z.coerce.number().min(0).max(600).optional().describe('seconds to wait for the job to finish before answering'),
});

export const IdParams = z.object({ id: z.string().min(1).max(100) });

export const BatchItemRequest = z
  .object({ master: pathField, dub: pathField, episode: z.string().max(200).optional(), notes: z.string().max(2000).optional(), options: StrictOptions.optional() })
  .strict();

export const BatchRequest = z
  .object({
    name: z.string().max(200).optional(),
    items: z.array(BatchItemRequest).min(1).max(10_000),
    options: StrictOptions.default({}).describe('defaults for every item'),
    priority: z.enum(['normal', 'batch']).default('batch'),
    webhook_url: z.url({ protocol: /^https?$/ }).optional().describe('POSTed (HMAC-signed) when the batch completes'),
  })
  .strict()
  .meta({ id: 'BatchRequest' });

export const BatchCsvFields = z.object({
  name: z.string().max(200).optional(),
  priority: z.enum(['normal', 'batch']).default('batch'),
  webhook_url: z.url({ protocol: /^https?$/ }).optional(),
});

export const BatchView = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    status: z.enum(BATCH_STATUSES),
    priority: z.enum(PRIORITIES),
    total: z.number().int(),
    counts: z.record(z.string(), z.number().int()),
    webhook: z.object({ url: z.string(), status: z.string().nullable(), attempts: z.number().int(), last_error: z.string().nullable() }).nullable(),
    created_at: z.string(),
    finished_at: z.string().nullable(),
    links: z.record(z.string(), z.string()),
  })
  .meta({ id: 'Batch' });

export const BatchEnvelope = z.object({ batch: BatchView, items: z.array(AnalysisView) }).meta({ id: 'BatchEnvelope' });
export const BatchPage = pageOf(BatchView, 'BatchPage');

export const RepairRequest = z
  .object({
    analysis_id: z.string().optional().describe('repair with what this analysis measured'),
    dub: pathField.optional().describe('with offset_seconds: repair this file by an explicit offset'),
    offset_seconds: z.number().min(-3600).max(3600).optional().describe('the measured offset (positive: dub late); the repair applies its opposite'),
    keep_duration: z.boolean().default(false),
    conform_drift: z.boolean().default(false),
    conform_edits: z.boolean().default(false),
    verify: z.boolean().default(true).describe('analyse the output against the master afterwards (needs analysis_id or master)'),
    master: pathField.optional().describe('master for the verification analysis when no analysis_id is given'),
  })
  .strict()
  .meta({ id: 'RepairRequest' });

export const RepairView = z
  .object({
    id: z.string(),
    status: z.enum(REPAIR_STATUSES),
    analysis_id: z.string().nullable(),
    dub: z.string(),
    offset_seconds: z.number(),
    applied_shift_seconds: z.number().describe('what the repair applies: the opposite of offset_seconds'),
    speed_ratio: z.number().nullable(),
    options: z.object({ keep_duration: z.boolean(), conform_drift: z.boolean(), conform_edits: z.boolean() }),
    output: z.string().nullable().describe('relative to the output root'),
    ffmpeg_args: z.array(z.string()).nullable(),
    checks: z.array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string() })).nullable(),
    verification_analysis_id: z.string().nullable(),
    progress: Progress,
    error: ApiErrorInfo,
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
    links: z.record(z.string(), z.string()),
  })
  .meta({ id: 'Repair' });

export const RepairEnvelope = z.object({ repair: RepairView }).meta({ id: 'RepairEnvelope' });
export const RepairPage = pageOf(RepairView, 'RepairPage');

export const PageQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50), offset: z.coerce.number().int().min(0).default(0) });

export const FilesQuery = z.object({ path: z.string().max(4096).default('') });
export const FileEntry = z.object({ name: z.string(), path: z.string(), type: z.enum(['dir', 'file']), size: z.number().nullable(), mtime: z.string(), media: z.boolean() });
export const FileListing = z.object({ path: z.string(), entries: z.array(FileEntry), truncated: z.boolean() }).meta({ id: 'FileListing' });
export const ProbeView = z.object({ path: z.string(), probe: z.record(z.string(), z.unknown()) }).meta({ id: 'Probe' });

export const SessionRequest = z.object({ api_key: z.string().min(1).max(500) }).strict();
export const SessionView = z.object({ authenticated: z.boolean(), auth_required: z.boolean(), expires_at: z.string().nullable() }).meta({ id: 'Session' });

export const HealthView = z
  .object({ status: z.string(), shutting_down: z.boolean().optional(), checks: z.array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string() })).optional() })
  .passthrough()
  .meta({ id: 'Health' });

export const ProxyPending = z.object({ status: z.literal('pending'), retry_after_seconds: z.number() }).meta({ id: 'ProxyPending' });
const Overview = z.object({ hop_seconds: z.number(), duration_seconds: z.number(), db: z.array(z.number()) }).nullable();
export const OverviewView = z.object({ pending: z.boolean(), master: Overview, dub: Overview }).meta({ id: 'Overview' });
