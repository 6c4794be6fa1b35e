// A detailed ffprobe of every stream (not only audio, as the media package's probeMedia does):
// the repair needs codecs, bit rates, sample formats, dispositions and tags of all streams to
// rebuild the file, and the same picture of the output to check it.
import { spawn } from 'node:child_process';
import { AbortedError } from '@sync-analyzer/media';
import type { MediaTools } from '@sync-analyzer/media';
import { lastLines, spawnError, stopChild } from '@sync-analyzer/media';

export type StreamType = 'video' | 'audio' | 'subtitle' | 'data' | 'attachment' | 'unknown';

export interface StreamSummary {
  /** Absolute stream index in the container. */
  index: number;
  type: StreamType;
  codec: string | null;
  /** Container codec tag, e.g. 'tmcd' for a QuickTime timecode track. */
  codecTag: string | null;
  language: string | null;
  title: string | null;
  /** Seconds, from the stream, else its DURATION tag (Matroska); null when unknown. */
  duration: number | null;
  /** Stream start in seconds (ffprobe start_time), or null. */
  startTime: number | null;
  /** Frames (video) or packets; null when the container does not say. */
  frameCount: number | null;
  bitRate: number | null;
  /** Disposition flags that are set, e.g. ['default']. */
  disposition: string[];
  tags: Record<string, string>;
  // Audio only (null otherwise).
  sampleRate: number | null;
  channels: number | null;
  channelLayout: string | null;
  sampleFormat: string | null;
  bitsPerRawSample: number | null;
  /** Samples, when the stream's time base is 1/sample rate (exact for PCM); else null. */
  durationSamples: number | null;
  // Video only (null otherwise).
  frameRate: number | null;
}

export interface MediaSummary {
  path: string;
  /** ffprobe's format_name. */
  format: string;
  duration: number | null;
  startTime: number | null;
  startTimecode: string | null;
  tags: Record<string, string>;
  chapters: number;
  streams: StreamSummary[];
}

interface RawStream {
  index?: number;
  codec_type?: string;
  codec_name?: string;
  codec_tag_string?: string;
  sample_rate?: string;
  sample_fmt?: string;
  bits_per_raw_sample?: string;
  channels?: number;
  channel_layout?: string;
  time_base?: string;
  duration_ts?: number;
  duration?: string;
  start_time?: string;
  nb_frames?: string;
  bit_rate?: string;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  disposition?: Record<string, number>;
  tags?: Record<string, string>;
}

interface RawProbe {
  streams?: RawStream[];
  format?: { format_name?: string; duration?: string; start_time?: string; tags?: Record<string, string> };
  chapters?: unknown[];
}

/** Runs ffprobe on `file` and summarises it. Throws RepairProbeError when ffprobe fails. */
export async function summarizeMedia(file: string, tools: MediaTools, signal?: AbortSignal): Promise<MediaSummary> {
  const args = ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', '-show_chapters', '-i', file];
  const { code, stdout, stderr } = await collect(tools.ffprobe, args, signal);
  if (code !== 0) throw new RepairProbeError(file, lastLines(stderr, 3) || `ffprobe exited with ${code}`);
  let json: RawProbe;
  try {
    json = JSON.parse(stdout) as RawProbe;
  } catch (err) {
    throw new RepairProbeError(file, 'ffprobe output was not JSON', { cause: err });
  }
  return parseSummary(file, json);
}

/** ffprobe failed on a file that probeMedia accepted (or on the output just written). */
export class RepairProbeError extends Error {
  override readonly name = 'RepairProbeError';
  readonly code = 'probe_failed';
  readonly retryable = false;
  constructor(
    readonly path: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${path}: ffprobe failed: ${detail}`, options);
  }
}

/** Turns ffprobe's JSON into a MediaSummary (exported for unit tests). */
export function parseSummary(file: string, json: RawProbe): MediaSummary {
  const format = json.format ?? {};
  const streams = (json.streams ?? []).map((s, i) => streamSummary(s, i));
  const formatTags = format.tags ?? {};
  return {
    path: file,
    format: format.format_name ?? 'unknown',
    duration: num(format.duration),
    startTime: num(format.start_time),
    startTimecode: tag(formatTags, 'timecode') ?? streams.map((s) => tag(s.tags, 'timecode')).find((t) => t !== null) ?? null,
    tags: formatTags,
    chapters: Array.isArray(json.chapters) ? json.chapters.length : 0,
    streams,
  };
}

function streamSummary(s: RawStream, i: number): StreamSummary {
  const type = (['video', 'audio', 'subtitle', 'data', 'attachment'] as const).find((t) => t === s.codec_type) ?? 'unknown';
  const tags = s.tags ?? {};
  const sampleRate = type === 'audio' ? num(s.sample_rate) : null;
  const duration = num(s.duration) ?? tagDuration(tags);
  let durationSamples: number | null = null;
  if (sampleRate && s.time_base === `1/${sampleRate}` && typeof s.duration_ts === 'number') durationSamples = s.duration_ts;
  return {
    index: s.index ?? i,
    type,
    codec: s.codec_name ?? null,
    codecTag: s.codec_tag_string && !s.codec_tag_string.startsWith('[') ? s.codec_tag_string : null,
    language: tag(tags, 'language', ['und']),
    title: tag(tags, 'title'),
    duration,
    startTime: num(s.start_time),
    frameCount: num(s.nb_frames),
    bitRate: num(s.bit_rate) ?? num(tag(tags, 'bps') ?? undefined),
    disposition: Object.entries(s.disposition ?? {})
      .filter(([, v]) => v === 1)
      .map(([k]) => k),
    tags,
    sampleRate,
    channels: type === 'audio' ? (s.channels ?? null) : null,
    channelLayout: type === 'audio' && s.channel_layout && s.channel_layout !== 'unknown' ? s.channel_layout : null,
    sampleFormat: type === 'audio' ? (s.sample_fmt ?? null) : null,
    bitsPerRawSample: type === 'audio' ? num(s.bits_per_raw_sample) : null,
    durationSamples,
    frameRate: type === 'video' ? (rate(s.avg_frame_rate) ?? rate(s.r_frame_rate)) : null,
  };
}

/** Matroska keeps stream durations in a DURATION tag, e.g. '00:00:04.021000000'. */
function tagDuration(tags: Record<string, string>): number | null {
  const v = tag(tags, 'duration');
  const m = v ? /^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(v) : null;
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : null;
}

function tag(tags: Record<string, string>, key: string, ignore: string[] = []): string | null {
  // Containers spell keys differently (TIMECODE, timecode, BPS-eng...): match case-insensitively.
  for (const [k, v] of Object.entries(tags)) {
    const lk = k.toLowerCase();
    if (lk === key || lk.startsWith(`${key}-`)) {
      const t = v.trim();
      return t && !ignore.includes(t) ? t : null;
    }
  }
  return null;
}

function num(v: string | number | undefined | null): number | null {
  if (v === undefined || v === null || v === '' || v === 'N/A') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

function rate(v: string | undefined): number | null {
  const m = v ? /^(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(v) : null;
  if (!m) return null;
  const n = Number(m[1]);
  const d = Number(m[2]);
  return n > 0 && d > 0 ? n / d : null;
}

/** Runs a tool to completion, collecting stdout and stderr; kills it on abort. */
function collect(cmd: string, args: string[], signal?: AbortSignal): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortedError('repair probe', { cause: signal.reason }));
      return;
    }
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    let stdout = '';
    let stderr = '';
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      stopChild(child);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(spawnError('ffprobe', cmd, err));
    });
    child.on('close', (code) => {
      signal?.removeEventListener('abort', onAbort);
      if (aborted) reject(new AbortedError('repair probe', { cause: signal?.reason }));
      else resolve({ code, stdout, stderr });
    });
  });
}
