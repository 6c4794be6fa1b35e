/**
 * Test helpers (not exported): AnalysisResult / record fixtures, valid by construction
 * (AnalysisResult.parse), describing a realistic edited dub at 25 fps from 10:00:00:00.
 */
import { AnalysisResult, DEFAULT_PARAMS, ENGINE_NAME, ENGINE_VERSION, SCHEMA_VERSION, framesTable } from '@sync-analyzer/engine';
import type { MediaInfo, Segment, Gap, TrackPoint } from '@sync-analyzer/engine';
import type { AnalysisRecord, BatchRecord } from '@sync-analyzer/platform';

export function media(over: Partial<MediaInfo> = {}): MediaInfo {
  return {
    path: '/media/show/master.mov',
    format: 'mov,mp4,m4a,3gp,3g2,mj2',
    duration: 60,
    audio_streams: [{ index: 1, codec: 'pcm_s24le', sample_rate: 48000, channels: 2, channel_layout: 'stereo', language: 'eng', title: null, duration: 60 }],
    selected: 'stream 1 (first audio), mixed to mono',
    video_frame_rate: 25,
    video_frame_rate_label: '25',
    start_timecode: '10:00:00:00',
    head: { findings: [{ kind: 'bars_tone', start: 0, end: 1.5, frequency_hz: 1000 }], programme_start: 1.5, tail_start: null },
    ...over,
  };
}

/**
 * Edit map (master seconds -> dub seconds), offsets chosen as whole frames at 25 fps:
 *   seg 1  master  0-20 <- dub  0.52-20.52  (+0.52 s = +13 frames)
 *   removed master 20-22 (2 s)
 *   seg 2  master 22-40 <- dub 20.52-38.52  (-1.48 s = -37 frames)
 *   inserted 3 s in the dub at master 40 (dub 38.52-41.52)
 *   seg 3  master 40-60 <- dub 41.52-61.52  (+1.52 s = +38 frames)
 */
export const SEGMENTS: Segment[] = [
  { master_start: 0, master_end: 20, dub_start: 0.52, dub_end: 20.52, offset_seconds: 0.52, offset_end_seconds: 0.52, confidence: 0.97 },
  { master_start: 22, master_end: 40, dub_start: 20.52, dub_end: 38.52, offset_seconds: -1.48, offset_end_seconds: -1.48, confidence: 0.91 },
  { master_start: 40, master_end: 60, dub_start: 41.52, dub_end: 61.52, offset_seconds: 1.52, offset_end_seconds: 1.52, confidence: 0.88 },
];

export const GAPS: Gap[] = [
  { kind: 'removed', master_start: 20, master_end: 22, dub_start: 20.52, dub_end: 20.52, duration_seconds: 2 },
  { kind: 'inserted', master_start: 40, master_end: 40, dub_start: 38.52, dub_end: 41.52, duration_seconds: 3 },
];

/** One measurement every 4 s; the one at 30 s is an outlier (confidence 0). */
export const TRACK: TrackPoint[] = Array.from({ length: 15 }, (_, i) => {
  const t = 2 + i * 4;
  const seg = SEGMENTS.find((s) => t >= s.master_start && t < s.master_end) ?? SEGMENTS[0]!;
  return { master_time: t, offset_seconds: t === 30 ? 0.25 : seg.offset_seconds + (i % 3) * 0.0004, confidence: t === 30 ? 0 : 0.5 + (i % 5) * 0.1 };
});

export function makeResult(over: Partial<AnalysisResult> = {}): AnalysisResult {
  const offset = over.offset_seconds === undefined ? 0.52 : over.offset_seconds;
  return AnalysisResult.parse({
    schema_version: SCHEMA_VERSION,
    match: true,
    verdict: 'edited',
    reasons: ['3 segments with different offsets; 2 edit(s): removed 2.00 s at master 20.00 s, inserted 3.00 s at master 40.00 s'],
    summary: 'dub is 0.520 s (13.0 frames @ 25) late',
    offset_seconds: offset,
    confidence: 0.93,
    drift: { speed_ratio: 1, ppm: 0, standard: null, direction: 'none' },
    segments: SEGMENTS,
    gaps: GAPS,
    offset_track: TRACK,
    frames: offset === null ? null : framesTable(offset),
    reference_frame_rate: '25',
    polarity_inverted: false,
    master: media(),
    dub: media({ path: '/media/show/dub.wav', format: 'wav', duration: 61.6, start_timecode: null, video_frame_rate: null, video_frame_rate_label: null, head: { findings: [], programme_start: 0, tail_start: 61.2 } }),
    timing: { decode: 0.8, features: 0.4, total: 1.6 },
    diagnostics: { pMatch: 0.93, agreeShare: 0.86 },
    engine: { name: ENGINE_NAME, version: ENGINE_VERSION, parameters: DEFAULT_PARAMS as unknown as Record<string, unknown> },
    ...over,
  });
}

/** A no-match result as the engine reports it. */
export function makeNoMatchResult(): AnalysisResult {
  return makeResult({
    match: false,
    verdict: 'no_match',
    reasons: ['the evidence for a match is weak (12% likely)'],
    summary: 'no match: the evidence for a match is weak (12% likely)',
    offset_seconds: null,
    confidence: 0.88,
    drift: null,
    segments: [],
    gaps: [],
    offset_track: [],
    frames: null,
    polarity_inverted: null,
  });
}

const FP = { size: 5_760_044, mtimeMs: Date.UTC(2024, 4, 1, 12, 0, 0), headTailSha256: 'ab'.repeat(32) };

export function makeRecord(over: Partial<AnalysisRecord> = {}): AnalysisRecord {
  const result = over.result === undefined ? makeResult() : over.result;
  return {
    id: 'an_0001',
    status: 'completed',
    priority: 'normal',
    masterPath: 'show/ep01/master.mov',
    dubPath: 'show/ep01/dub_de.wav',
    options: { frameRate: '25' },
    dedupeKey: 'k'.repeat(64),
    masterFingerprint: FP,
    dubFingerprint: { ...FP, size: 11_000_000, headTailSha256: 'cd'.repeat(32) },
    batchId: null,
    batchIndex: null,
    episode: null,
    notes: null,
    repairId: null,
    progressPercent: 100,
    progressStage: 'done',
    attempts: 1,
    result,
    verdict: result?.verdict ?? null,
    match: result?.match ?? null,
    offsetSeconds: result?.offset_seconds ?? null,
    confidence: result?.confidence ?? null,
    engineVersion: result?.engine.version ?? null,
    schemaVersion: result?.schema_version ?? null,
    errorCode: null,
    errorMessage: null,
    createdAt: '2024-05-01T12:00:00.000Z',
    startedAt: '2024-05-01T12:00:02.000Z',
    finishedAt: '2024-05-01T12:00:05.500Z',
    updatedAt: '2024-05-01T12:00:05.500Z',
    ...over,
  };
}

export function makeFailedRecord(over: Partial<AnalysisRecord> = {}): AnalysisRecord {
  return makeRecord({
    status: 'failed',
    result: null,
    verdict: null,
    match: null,
    offsetSeconds: null,
    confidence: null,
    engineVersion: null,
    schemaVersion: null,
    errorCode: 'DECODE_ERROR',
    errorMessage: 'ffmpeg could not decode <dub.wav>: Invalid data found when processing input',
    finishedAt: '2024-05-01T12:00:03.000Z',
    ...over,
  });
}

export function makeBatch(over: Partial<BatchRecord> = {}): BatchRecord {
  return {
    id: 'ba_0001',
    name: 'Season 1 <German>',
    status: 'completed',
    priority: 'batch',
    total: 3,
    webhookUrl: null,
    webhookStatus: null,
    webhookAttempts: 0,
    webhookLastError: null,
    createdAt: '2024-05-01T11:00:00.000Z',
    finishedAt: '2024-05-01T11:30:00.000Z',
    updatedAt: '2024-05-01T11:30:00.000Z',
    ...over,
  };
}
