// The analysis result document: one schema for the CLI's --json output, the service's stored
// reports and the published JSON Schema (schemas/analysis-result.schema.json).
//
// Sign convention (everywhere): offset_seconds > 0 means the dub is LATE: content heard at
// master time t is heard in the dub at t + offset. The fix is to advance the dub (trim its head).
import { z } from 'zod';

/**
 * 1.1.0 added `dialogue` and `inference` (optional: 1.0.0 documents are still valid); 1.2.0 adds
 * each dialogue line's edge uncertainty, timing source and review flag, and the review count.
 */
export const SCHEMA_VERSION = '1.2.0';

export const VERDICTS = ['no_match', 'edited', 'drift', 'offset', 'in_sync'] as const;
export const Verdict = z.enum(VERDICTS);
export type Verdict = z.infer<typeof Verdict>;

export const FRAME_RATE_KEYS = ['23.976', '24', '25', '29.97', '29.97df', '30', '50', '59.94', '60'] as const;
export type FrameRateKey = (typeof FRAME_RATE_KEYS)[number];

export const FrameOffset = z.object({
  frames: z.number().describe('signed, fractional frames at this rate (positive: dub late)'),
  timecode: z.string().describe("offset magnitude as ±HH:MM:SS:FF (';' before frames for drop-frame)"),
});

export const Drift = z.object({
  speed_ratio: z.number().describe('d(dub time)/d(master time) for the same content'),
  ppm: z.number().describe('(speed_ratio - 1) * 1e6; positive: the dub drifts late'),
  standard: z.string().nullable().describe('recognised standard fraction, e.g. "1001/1000", or null'),
  direction: z.enum(['none', 'late', 'early']),
});

export const Segment = z.object({
  master_start: z.number(),
  master_end: z.number(),
  dub_start: z.number(),
  dub_end: z.number(),
  offset_seconds: z.number().describe('offset at master_start'),
  offset_end_seconds: z.number().describe('offset at master_end'),
  confidence: z.number().min(0).max(1),
});
export type Segment = z.infer<typeof Segment>;

export const Gap = z.object({
  kind: z.enum(['removed', 'inserted']).describe('removed: master time missing from the dub; inserted: dub time with no master counterpart'),
  master_start: z.number().describe('master in (for inserted: the master time where the insert sits)'),
  master_end: z.number(),
  dub_start: z.number(),
  dub_end: z.number(),
  duration_seconds: z.number(),
});
export type Gap = z.infer<typeof Gap>;

export const TrackPoint = z.object({
  master_time: z.number(),
  offset_seconds: z.number(),
  confidence: z.number().min(0).max(1),
});
export type TrackPoint = z.infer<typeof TrackPoint>;

export const HeadFinding = z.object({
  kind: z.enum(['bars_tone', 'two_pop', 'silence']),
  start: z.number(),
  end: z.number(),
  frequency_hz: z.number().optional(),
});
export type HeadFinding = z.infer<typeof HeadFinding>;

export const HeadReport = z.object({
  findings: z.array(HeadFinding),
  programme_start: z.number().describe('where programme content starts (after bars/tone, 2-pop, slate, silence)'),
  tail_start: z.number().nullable().describe('where trailing silence starts, or null'),
});
export type HeadReport = z.infer<typeof HeadReport>;

export const StreamInfo = z.object({
  index: z.number(),
  codec: z.string(),
  sample_rate: z.number(),
  channels: z.number(),
  channel_layout: z.string().nullable(),
  language: z.string().nullable(),
  title: z.string().nullable(),
  duration: z.number().nullable(),
});

export const MediaInfo = z.object({
  path: z.string(),
  format: z.string(),
  duration: z.number(),
  audio_streams: z.array(StreamInfo),
  selected: z.string().describe('which audio was analysed, in words (stream, channel or mix)'),
  video_frame_rate: z.number().nullable(),
  video_frame_rate_label: z.string().nullable(),
  start_timecode: z.string().nullable(),
  head: HeadReport,
});

export const DialogueLineSchema = z.object({
  index: z.number(),
  master_start: z.number(),
  master_end: z.number(),
  dub_start: z.number().nullable().describe('the paired dub line in dub-file time; null: the dub has no line here'),
  dub_end: z.number().nullable(),
  mapped_start: z.number().nullable().describe('dub line start mapped into master time through the edit map'),
  mapped_end: z.number().nullable(),
  start_diff_ms: z.number().nullable().describe('mapped - master; positive: the dub line starts late'),
  end_diff_ms: z.number().nullable(),
  start_diff_frames: z.number().nullable(),
  end_diff_frames: z.number().nullable(),
  start_uncertainty_ms: z.number().nullable().describe('+- ms on start_diff_ms: an edge under the other file\'s speech has two measures and is taken half-way; null when the edges are the speech model\'s'),
  end_uncertainty_ms: z.number().nullable(),
  timing: z.enum(['waveform', 'speech_model']).nullable().describe('line edges measured on the bed-cancelled waveforms, or (fallback) the speech model\'s segment edges'),
  flagged: z.boolean().describe('a start or end difference reaches the threshold, or the line is missing or untranslated'),
  review: z.boolean().describe('no difference reaches the threshold but one would within its uncertainty: worth a listen'),
  issue: z.enum(['early_start', 'late_start', 'early_end', 'late_end', 'start_and_end', 'missing', 'untranslated']).nullable(),
  same_audio: z.number().nullable().describe('how much of the line is the same recording in both files (0..1): the share of their speech that cancels with the shared bed, or without the waveforms\' separation their correlation'),
});

export const DialogueReportSchema = z.object({
  frame_rate: z.number(),
  threshold_frames: z.number(),
  lines: z.array(DialogueLineSchema),
  missing: z.array(z.object({ master_start: z.number(), master_end: z.number() })),
  untranslated: z.array(z.object({ master_start: z.number(), master_end: z.number(), similarity: z.number() })),
  extra: z.array(z.object({ dub_start: z.number(), dub_end: z.number() })),
  summary: z.object({ lines: z.number(), paired: z.number(), flagged: z.number(), review: z.number(), missing: z.number(), untranslated: z.number(), extra: z.number() }),
});

export const SpeechSummary = z.object({
  segments: z.array(z.object({ start: z.number(), end: z.number(), prob: z.number() })),
  speech_seconds: z.number(),
});

export const InferenceInfo = z.object({
  provider: z.string().describe('ONNX Runtime execution provider that ran the model: cpu or cuda'),
  model: z.string(),
  model_sha256: z.string(),
  warmup_ms: z.number(),
  seconds: z.number().describe('inference time for both files'),
});

export const AnalysisResult = z.object({
  schema_version: z.string().describe('version of this document schema (semver; 1.1.0 adds dialogue and inference; 1.2.0 dialogue line uncertainty and review)'),
  match: z.boolean(),
  verdict: Verdict,
  reasons: z.array(z.string()),
  summary: z.string().describe('the offset in words, e.g. "dub is 1.234 s (29.6 frames @ 23.976) late"'),
  offset_seconds: z.number().nullable().describe('offset at master time 0 along the first segment; null when match is false'),
  confidence: z.number().min(0).max(1).describe('calibrated probability that offset_seconds is within one frame at 24 fps'),
  drift: Drift.nullable(),
  segments: z.array(Segment),
  gaps: z.array(Gap),
  offset_track: z.array(TrackPoint),
  frames: z.record(z.enum(FRAME_RATE_KEYS), FrameOffset).nullable(),
  reference_frame_rate: z.string().describe('frame-rate key used for the verdict and summary'),
  polarity_inverted: z.boolean().nullable(),
  master: MediaInfo,
  dub: MediaInfo,
  timing: z.record(z.string(), z.number()).describe('seconds per stage, and total'),
  resources: z.object({ peak_rss_mb: z.number() }).optional(),
  diagnostics: z.record(z.string(), z.number()).describe('raw scores behind the confidence (for calibration and support)'),
  engine: z.object({ name: z.string(), version: z.string(), parameters: z.record(z.string(), z.unknown()) }),
  speech: z.object({ master: SpeechSummary, dub: SpeechSummary }).nullable().optional().describe('voice activity (Silero VAD) of both files; null when speech detection was off'),
  dialogue: DialogueReportSchema.nullable().optional().describe('dialogue timing QC per master line; null when speech detection was off or there is no match'),
  inference: InferenceInfo.nullable().optional().describe('the speech model run: execution provider, model, warm-up'),
});
export type AnalysisResult = z.infer<typeof AnalysisResult>;
export type MediaInfo = z.infer<typeof MediaInfo>;
export type StreamInfo = z.infer<typeof StreamInfo>;
export type Drift = z.infer<typeof Drift>;
export type FrameOffset = z.infer<typeof FrameOffset>;

/** Channel order and polarity of one dub stream against the master, per channel pair. */
export const ChannelCheck = z.object({
  swapped: z.boolean().describe('the dub\'s first two channels are swapped relative to the master'),
  inverted: z.array(z.boolean()).describe('per dub channel (first two): polarity inverted'),
  similarity: z.array(z.array(z.number())).describe('[master channel][dub channel] signed peak-to-noise of the aligned correlation'),
});
export type ChannelCheck = z.infer<typeof ChannelCheck>;

/** `sync-analyzer analyze --all-streams --json`: one result per audio stream of the dub. */
export const AllStreamsResult = z.object({
  schema_version: z.string(),
  tracks: z.array(
    z.object({
      audio_index: z.number(),
      description: z.string(),
      result: AnalysisResult,
      channels: ChannelCheck.nullable().describe('null when either side has fewer than two channels or there is no match'),
    }),
  ),
});
export type AllStreamsResult = z.infer<typeof AllStreamsResult>;
