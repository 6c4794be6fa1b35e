/**
 * probeMedia: stat the path, run ffprobe, and reduce its JSON to what the analyser needs.
 */
import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { headerDeclaresMoreData } from './container.ts';
import { AbortedError, DecodeError, MediaInputError, ToolMissingError, lastLines } from './errors.ts';
import type { MediaLogger } from './logger.ts';
import { runTool } from './proc.ts';
import type { MediaTools } from './tools.ts';

export interface AudioStreamInfo {
  /** Absolute stream index in the container. */
  index: number;
  /** 0-based index among the audio streams (ffmpeg's `0:a:N`). */
  audioIndex: number;
  codec: string;
  sampleRate: number;
  channels: number;
  channelLayout: string | null;
  language: string | null;
  title: string | null;
  duration: number | null;
  /**
   * Stream start time in seconds (ffprobe start_time), or null. Decoded PCM begins at the
   * stream's first sample, so a stream starting later than the container (see
   * ProbeResult.startTime) is not padded: the caller can add the difference.
   */
  startTime: number | null;
  isDefault: boolean;
}

export interface ProbeResult {
  path: string;
  /** ffprobe's format_name, e.g. 'wav', 'mov,mp4,m4a,3gp,3g2,mj2', 'mxf'. */
  format: string;
  /** Seconds: the container duration, else the longest stream; null when unknown. */
  duration: number | null;
  /** Container start time in seconds (ffprobe format start_time), or null. readWindow's start is relative to it. */
  startTime: number | null;
  audioStreams: AudioStreamInfo[];
  videoFrameRate: number | null;
  videoFrameRateLabel: string | null;
  startTimecode: string | null;
  /**
   * The container header declares more audio than the file holds (WAV/AIFF cut short);
   * decodes of such a file are reported as truncated.
   */
  truncated: boolean;
}

export interface ProbeOptions {
  tools: MediaTools;
  logger: MediaLogger;
  signal?: AbortSignal;
  /** Kill ffprobe after this long (default 60 s). */
  timeoutMs?: number;
}

/** Standard frame rates; a measured rate within 0.01 fps of one of them gets its label. */
const FRAME_RATE_LABELS: ReadonlyArray<[string, number]> = [
  ['23.976', 24000 / 1001],
  ['24', 24],
  ['25', 25],
  ['29.97', 30000 / 1001],
  ['30', 30],
  ['50', 50],
  ['59.94', 60000 / 1001],
  ['60', 60],
];

export async function probeMedia(path: string, opts: ProbeOptions): Promise<ProbeResult> {
  const size = await checkInputFile(path);
  const args = ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', '-i', resolvePath(path)];
  opts.logger.debug({ tool: opts.tools.ffprobe, args }, 'ffprobe');
  let res;
  try {
    res = await runTool('ffprobe', opts.tools.ffprobe, args, {
      signal: opts.signal,
      timeoutMs: opts.timeoutMs ?? 60000,
      maxStdout: 32 * 1024 * 1024,
    });
  } catch (err) {
    if (err instanceof ToolMissingError || err instanceof AbortedError) throw err;
    // Timed out, or printed an absurd amount.
    throw new DecodeError(path, (err as Error).message, { exitCode: null, signal: null, stderrTail: '', tool: 'ffprobe' }, { cause: err });
  }
  if (res.signal !== null) {
    // Killed from outside (abort and timeout are handled above).
    throw new DecodeError(path, `killed by ${res.signal}`, { exitCode: null, signal: res.signal, stderrTail: res.stderr, tool: 'ffprobe' });
  }
  if (res.exitCode !== 0) {
    opts.logger.debug({ path, exitCode: res.exitCode, stderr: res.stderr }, 'ffprobe failed');
    const said = lastLines(res.stderr.split(`${resolvePath(path)}: `).join(''), 1);
    // An MP4/MOV whose index was never written (recording cut off) is media, but broken.
    if (/moov atom not found/i.test(res.stderr)) {
      throw new MediaInputError('corrupt', path, 'MP4/MOV index (moov atom) missing: recording cut off or never finished');
    }
    throw new MediaInputError('not_media', path, said || `ffprobe exited with ${res.exitCode}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(res.stdout.toString('utf8'));
  } catch (err) {
    throw new MediaInputError('not_media', path, 'ffprobe output was not JSON', { cause: err });
  }
  const result = parseProbeJson(path, json);
  result.truncated = await headerDeclaresMoreData(path, size).catch(() => false);
  if (result.truncated) opts.logger.warn({ path }, 'file is shorter than its header declares (truncated)');
  opts.logger.debug(
    { path, format: result.format, duration: result.duration, audioStreams: result.audioStreams.length },
    'probed',
  );
  return result;
}

/** Stat checks before probing, giving precise input errors. Returns the file size. */
export async function checkInputFile(path: string): Promise<number> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new MediaInputError('not_found', path, undefined, { cause: err });
    if (code === 'EACCES' || code === 'EPERM') throw new MediaInputError('permission', path, undefined, { cause: err });
    throw new MediaInputError('not_found', path, (err as Error).message, { cause: err });
  }
  if (st.isDirectory()) throw new MediaInputError('is_directory', path);
  if (!st.isFile()) throw new MediaInputError('not_media', path, 'not a regular file');
  if (st.size === 0) throw new MediaInputError('empty', path);
  try {
    await access(path, fsConstants.R_OK);
  } catch (err) {
    throw new MediaInputError('permission', path, 'not readable', { cause: err });
  }
  return st.size;
}

interface RawStream {
  index?: number;
  codec_type?: string;
  codec_name?: string;
  sample_rate?: string | number;
  channels?: number;
  channel_layout?: string;
  duration?: string | number;
  start_time?: string | number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  disposition?: { default?: number; attached_pic?: number; still_image?: number };
  tags?: Record<string, string>;
}

interface RawFormat {
  format_name?: string;
  duration?: string | number;
  start_time?: string | number;
  tags?: Record<string, string>;
}

/** Turns ffprobe's JSON into a ProbeResult (exported for unit tests). */
export function parseProbeJson(path: string, json: unknown): ProbeResult {
  const obj = (json ?? {}) as { streams?: RawStream[]; format?: RawFormat };
  const streams = Array.isArray(obj.streams) ? obj.streams : [];
  const format = obj.format ?? {};
  const formatName = format.format_name ?? 'unknown';
  // The tty demuxer "opens" any text file as ANSI art: that is not media.
  if (streams.length === 0 || formatName === 'tty') {
    throw new MediaInputError('not_media', path, streams.length === 0 ? 'no streams found' : 'text file');
  }

  const audioStreams: AudioStreamInfo[] = [];
  for (const s of streams) {
    if (s.codec_type !== 'audio') continue;
    const channels = s.channels ?? 0;
    audioStreams.push({
      index: s.index ?? audioStreams.length,
      audioIndex: audioStreams.length,
      codec: s.codec_name ?? 'unknown',
      sampleRate: num(s.sample_rate) ?? 0,
      channels,
      channelLayout: s.channel_layout && s.channel_layout !== 'unknown' ? s.channel_layout : null,
      language: tag(s.tags, 'language', ['und']),
      title: tag(s.tags, 'title'),
      duration: num(s.duration),
      startTime: num(s.start_time),
      isDefault: s.disposition?.default === 1,
    });
  }

  let duration = num(format.duration);
  if (duration === null) {
    const durations = streams.map((s) => num(s.duration)).filter((d): d is number => d !== null);
    duration = durations.length > 0 ? Math.max(...durations) : null;
  }

  const video = streams.find(
    (s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1 && s.disposition?.still_image !== 1,
  );
  const videoFrameRate = video ? (rate(video.avg_frame_rate) ?? rate(video.r_frame_rate)) : null;

  const startTimecode = tag(format.tags, 'timecode') ?? firstStreamTimecode(streams);

  const result: ProbeResult = {
    path,
    format: formatName,
    duration,
    startTime: num(format.start_time),
    audioStreams,
    videoFrameRate,
    videoFrameRateLabel: videoFrameRate === null ? null : frameRateLabel(videoFrameRate),
    startTimecode,
    truncated: false,
  };
  if (audioStreams.length === 0) {
    const kinds = [...new Set(streams.map((s) => s.codec_type ?? 'unknown'))].join(', ');
    throw new MediaInputError('no_audio', path, `streams: ${kinds}`);
  }
  return result;
}

/** '23.976', '25', ... for standard rates (within 0.01 fps); else the rate rounded to 3 decimals. */
export function frameRateLabel(fps: number): string {
  let best: [string, number] | undefined;
  for (const entry of FRAME_RATE_LABELS) {
    if (!best || Math.abs(entry[1] - fps) < Math.abs(best[1] - fps)) best = entry;
  }
  if (best && Math.abs(best[1] - fps) <= 0.01) return best[0];
  return String(Math.round(fps * 1000) / 1000);
}

function firstStreamTimecode(streams: RawStream[]): string | null {
  for (const s of streams) {
    const tc = tag(s.tags, 'timecode');
    if (tc) return tc;
  }
  return null;
}

function tag(tags: Record<string, string> | undefined, key: string, ignore: string[] = []): string | null {
  if (!tags) return null;
  // ffprobe keeps the container's spelling; match case-insensitively.
  for (const [k, v] of Object.entries(tags)) {
    if (k.toLowerCase() === key && typeof v === 'string') {
      const t = v.trim();
      return t && !ignore.includes(t) ? t : null;
    }
  }
  return null;
}

function num(v: string | number | undefined): number | null {
  if (v === undefined || v === null || v === '' || v === 'N/A') return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
}

/** '24000/1001' -> 23.976..., '0/0' -> null. */
function rate(v: string | undefined): number | null {
  if (!v) return null;
  const m = /^(\d+(?:\.\d+)?)(?:\/(\d+(?:\.\d+)?))?$/.exec(v.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const d = m[2] === undefined ? 1 : Number(m[2]);
  if (!(d > 0) || !(n > 0)) return null;
  return n / d;
}
