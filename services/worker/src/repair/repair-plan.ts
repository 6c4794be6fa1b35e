// The pure part of a repair: from the input's stream summary and the request, the ffmpeg filter
// graph and output options. Every shift is a sample count at the stream's own rate (atrim
// start_sample / adelay ...S / apad whole_len / asegment samples), so all channels of all audio
// streams move by the same exact amount.
import type { MediaSummary, StreamSummary } from './media-summary.ts';

export interface EditSegment {
  master_start: number;
  master_end: number;
  dub_start: number;
  dub_end: number;
}

export interface PlanRequest {
  offsetSeconds: number;
  keepDuration: boolean;
  conformDrift: boolean;
  speedRatio?: number;
  conformEdits: boolean;
  segments?: EditSegment[];
}

/** One audio stream of the output. */
export interface AudioStreamPlan {
  inputIndex: number;
  outputIndex: number;
  sampleRate: number;
  encoder: string;
  /** The input's length in samples, when known. */
  inputSamples: number | null;
  /** The output's expected length in samples, when known. */
  expectedSamples: number | null;
  /** How far the output's container duration may honestly differ from expectedSamples. */
  toleranceSamples: number;
  /** Head shift applied, in samples of this stream (positive: trimmed; negative: silence added). Edit mode: 0. */
  shiftSamples: number;
  lossy: boolean;
}

export interface RepairPlan {
  filterComplex: string;
  /** Everything after `-i input`: maps, codecs, metadata, timecode (the output path excluded). */
  outputArgs: string[];
  audio: AudioStreamPlan[];
  /** Input stream indexes left out because the muxer rebuilds them (QuickTime timecode tracks). */
  rebuiltTimecodeTracks: number[];
  /** Expected output duration in seconds (for progress), or null. */
  expectedDuration: number | null;
  /** Things the plan could not do as asked (logged as warnings). */
  notes: string[];
}

/** A request the repair cannot carry out as given. */
export class RepairRequestError extends Error {
  override readonly name = 'RepairRequestError';
  readonly retryable = false;
  constructor(
    readonly code: 'bad_request' | 'same_path' | 'output_exists' | 'bad_extension',
    message: string,
  ) {
    super(message);
  }
}

const LOSSLESS = /^(pcm_|flac$|alac$|wavpack$|tta$|truehd$|mlp$)/;
/** Decoder name -> encoder name where they differ. */
const ENCODERS: Record<string, string> = { mp3: 'libmp3lame', opus: 'libopus', vorbis: 'libvorbis', dts: 'dca' };
const EXPERIMENTAL = new Set(['dca', 'truehd', 'mlp']);
/** Encoders that accept only standard bit rates (bit/s). */
const STANDARD_RATES: Record<string, number[]> = {
  ac3: [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 576, 640].map((k) => k * 1000),
  mp2: [32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384].map((k) => k * 1000),
};
/** Disposition flags ffmpeg's -disposition accepts for an audio stream. */
const AUDIO_DISPOSITIONS = new Set(['default', 'dub', 'original', 'comment', 'lyrics', 'karaoke', 'forced', 'hearing_impaired', 'visual_impaired', 'clean_effects', 'captions', 'descriptions', 'metadata', 'dependent']);
/** Containers whose muxer cuts every track to the shortest one. */
const ONE_LENGTH_FORMATS = /^mxf/;
/** Speed ratios further than this from 1 are not a drift but a wrong measurement. */
const MAX_SPEED_DEVIATION = 0.2;

export function isLossless(codec: string | null): boolean {
  return codec !== null && LOSSLESS.test(codec);
}

export function encoderFor(codec: string): string {
  return ENCODERS[codec] ?? codec;
}

/** QuickTime/MP4 timecode tracks cannot be stream-copied into MP4; the muxer rebuilds them from -timecode. */
export function isRebuiltTimecodeTrack(input: MediaSummary, s: StreamSummary): boolean {
  return s.type === 'data' && s.codecTag === 'tmcd' && /\b(mov|mp4)\b/.test(input.format);
}

/** The input's length in samples: exact from the time base when it is 1/rate, else from seconds. */
export function streamSamples(s: StreamSummary, containerDuration: number | null): number | null {
  if (s.durationSamples !== null) return s.durationSamples;
  const seconds = s.duration ?? containerDuration;
  return s.sampleRate && seconds !== null ? Math.round(seconds * s.sampleRate) : null;
}

/** Validates the request's numbers; throws RepairRequestError. */
export function validateRequest(req: PlanRequest): void {
  if (!Number.isFinite(req.offsetSeconds)) throw new RepairRequestError('bad_request', `offsetSeconds must be a finite number (got ${req.offsetSeconds})`);
  if (req.conformDrift) {
    const r = req.speedRatio;
    if (r === undefined || !Number.isFinite(r) || r <= 0) throw new RepairRequestError('bad_request', 'conformDrift needs a positive, finite speedRatio');
    if (Math.abs(r - 1) > MAX_SPEED_DEVIATION) throw new RepairRequestError('bad_request', `speedRatio ${r} is not a plausible drift (more than ${MAX_SPEED_DEVIATION * 100}% from 1)`);
  }
  if (req.conformEdits) {
    const segs = req.segments;
    if (!Array.isArray(segs) || segs.length === 0) throw new RepairRequestError('bad_request', 'conformEdits needs the analysis segments');
    for (const g of segs) {
      const vals = [g.master_start, g.master_end, g.dub_start, g.dub_end];
      if (!vals.every((v) => typeof v === 'number' && Number.isFinite(v))) throw new RepairRequestError('bad_request', `segment ${JSON.stringify(g)} has a non-finite bound`);
    }
  }
}

/**
 * The filters that play `sampleRate` audio at 1/speedRatio of its speed (asetrate relabels, so
 * pitch follows, as a PAL speed-up is undone) and resample back to `sampleRate`. asetrate takes
 * an integer rate, so when sampleRate * ratio is not (nearly) an integer the audio is first
 * resampled exactly to an intermediate rate S1 for which S1 * ratio is: 1000/1001 at 48 kHz goes
 * through 48048 Hz. The effective ratio is then within 1e-9 of the request (7 us over 2 hours).
 */
export function stretchFilters(sampleRate: number, speedRatio: number): { filters: string[]; factor: number } {
  if (Math.abs(speedRatio - 1) < 1e-12) return { filters: [], factor: 1 };
  let best = { s1: sampleRate, err: Infinity };
  for (let s1 = sampleRate; s1 < 2 * sampleRate; s1++) {
    const target = s1 * speedRatio;
    const err = Math.abs(Math.round(target) - target) / target;
    if (err < best.err) best = { s1, err };
    if (err <= 1e-9) break;
  }
  const relabel = Math.round(best.s1 * speedRatio);
  const filters = best.s1 === sampleRate ? [`asetrate=${relabel}`, `aresample=${sampleRate}`] : [`aresample=${best.s1}`, `asetrate=${relabel}`, `aresample=${sampleRate}`];
  // Output samples per input sample.
  return { filters, factor: best.s1 / relabel };
}

/** One kept piece of the dub on the master's timeline (all in samples of one stream). */
export interface EditPiece {
  /** Dub range [dubFrom, dubTo). */
  dubFrom: number;
  dubTo: number;
  /** Silence before the piece (from the end of the previous piece). */
  gap: number;
  /** Samples the piece occupies on the master timeline (content padded or cut to this). */
  length: number;
}

/**
 * The edit map in samples at `sampleRate`: each segment's dub range placed at its master start,
 * overlaps resolved in favour of the earlier segment (on both timelines), ranges left with no
 * samples dropped. Returns the pieces and the output's total length.
 */
export function editPieces(segments: EditSegment[], sampleRate: number): { pieces: EditPiece[]; total: number } {
  const sorted = [...segments].sort((a, b) => a.master_start - b.master_start || a.dub_start - b.dub_start);
  const pieces: EditPiece[] = [];
  let curMaster = 0;
  let curDub = 0;
  for (const g of sorted) {
    if (!(g.master_end > g.master_start) || !(g.dub_end > g.dub_start)) continue;
    // Dub samples per master sample along this segment (1 without drift).
    const k = (g.dub_end - g.dub_start) / (g.master_end - g.master_start);
    let p = Math.round(g.master_start * sampleRate);
    const e = Math.round(g.master_end * sampleRate);
    let a = Math.round(g.dub_start * sampleRate);
    const b = Math.round(g.dub_end * sampleRate);
    if (p < curMaster) {
      a += Math.round((curMaster - p) * k);
      p = curMaster;
    }
    if (a < curDub) {
      p += Math.round((curDub - a) / k);
      a = curDub;
    }
    if (b - a < 1 || e - p < 1) continue;
    pieces.push({ dubFrom: a, dubTo: b, gap: p - curMaster, length: e - p });
    curMaster = e;
    curDub = b;
  }
  return { pieces, total: curMaster };
}

export function planRepair(input: MediaSummary, req: PlanRequest): RepairPlan {
  validateRequest(req);
  const graph: string[] = [];
  const outputArgs: string[] = [];
  const audio: AudioStreamPlan[] = [];
  const rebuilt: number[] = [];
  const notes: string[] = [];
  const ratio = req.conformDrift ? (req.speedRatio as number) : 1;
  const oneLength = ONE_LENGTH_FORMATS.test(input.format);
  const video = input.streams.find((v) => v.type === 'video' && !v.disposition.includes('attached_pic'));
  const videoSeconds = video?.duration ?? null;
  let out = 0;
  let expectedDuration: number | null = null;
  const longest = (seconds: number | null): void => {
    if (seconds !== null && Number.isFinite(seconds)) expectedDuration = Math.max(expectedDuration ?? 0, seconds);
  };

  for (const s of input.streams) {
    if (isRebuiltTimecodeTrack(input, s)) {
      rebuilt.push(s.index);
      continue;
    }
    const o = out++;
    if (s.type !== 'audio') {
      outputArgs.push('-map', `0:${s.index}`, `-c:${o}`, 'copy', `-map_metadata:s:${o}`, `0:s:${s.index}`);
      longest(s.duration);
      continue;
    }
    const sr = s.sampleRate;
    if (!sr || !s.codec) throw new RepairRequestError('bad_request', `audio stream ${s.index} has no sample rate or codec`);
    const n = streamSamples(s, input.duration);
    if (n === null && req.keepDuration) notes.push(`audio stream ${s.index}: length unknown, its duration cannot be kept`);
    let fit = req.keepDuration ? n : null;
    if (oneLength && videoSeconds !== null && !req.keepDuration) {
      // MXF (OP1a) cuts every track to the shortest: the audio is fitted to the video instead.
      fit = Math.round(videoSeconds * sr);
      notes.push(`audio stream ${s.index}: ${input.format} keeps all tracks at one length, so it is fitted to the video's ${videoSeconds} s`);
    }
    const label = `o${s.index}`;
    const built = req.conformEdits ? editGraph(s, sr, fit, req, ratio, label, input) : offsetGraph(s, sr, n, fit, req, ratio, label, input);
    graph.push(...built.graph);
    const encoder = encoderFor(s.codec);
    const lossy = !isLossless(s.codec);
    outputArgs.push('-map', `[${label}]`, `-c:${o}`, encoder, `-ar:${o}`, String(sr));
    if (lossy && s.bitRate) outputArgs.push(`-b:${o}`, String(snapBitRate(encoder, s.bitRate)));
    if (lossy && !s.bitRate) notes.push(`audio stream ${s.index}: bit rate unknown, ${encoder}'s default is used`);
    if (EXPERIMENTAL.has(encoder)) outputArgs.push(`-strict:${o}`, '-2');
    const flags = s.disposition.filter((d) => AUDIO_DISPOSITIONS.has(d));
    outputArgs.push(`-disposition:${o}`, flags.length ? flags.join('+') : '0', `-map_metadata:s:${o}`, `0:s:${s.index}`);
    // Lossy codecs: priming and the last partial frame (up to two frames of 2048) are counted by some containers.
    const tolerance = lossy ? 4096 : 1;
    audio.push({
      inputIndex: s.index,
      outputIndex: o,
      sampleRate: sr,
      encoder,
      inputSamples: n,
      expectedSamples: built.expected,
      toleranceSamples: tolerance + (ratio !== 1 && !req.keepDuration ? 4 : 0),
      shiftSamples: built.shift,
      lossy,
    });
    longest(built.expected !== null ? built.expected / sr : null);
  }
  if (audio.length === 0) throw new RepairRequestError('bad_request', `${input.path} has no audio stream to repair`);
  outputArgs.push('-map_metadata', '0', '-map_chapters', '0');
  if (input.startTimecode) outputArgs.push('-timecode', input.startTimecode);
  return { filterComplex: graph.join(';'), outputArgs, audio, rebuiltTimecodeTracks: rebuilt, expectedDuration: expectedDuration ?? input.duration, notes };
}

interface BuiltGraph {
  graph: string[];
  expected: number | null;
  shift: number;
}

/** Offset (and drift) only: trim or pad the head, stretch, keep the length if asked. */
function offsetGraph(s: StreamSummary, sr: number, n: number | null, fit: number | null, req: PlanRequest, ratio: number, label: string, input: MediaSummary): BuiltGraph {
  // The offset is in the dub's own seconds (at master time 0), so it is applied before the stretch.
  const shift = Math.round(req.offsetSeconds * sr);
  if (n !== null && shift >= n) throw new RepairRequestError('bad_request', `offset ${req.offsetSeconds} s would trim all of audio stream ${s.index}`);
  const chain: string[] = [];
  if (shift > 0) chain.push(`atrim=start_sample=${shift}`);
  if (shift < 0) chain.push(`adelay=delays=${-shift}S:all=1`);
  const stretch = stretchFilters(sr, ratio);
  chain.push(...stretch.filters);
  let expected = n === null ? null : Math.round((n - shift) * stretch.factor);
  if (fit !== null) {
    chain.push(`apad=whole_len=${fit}`, `atrim=end_sample=${fit}`);
    expected = fit;
  }
  chain.push(resetPts(s, input));
  return { graph: [`[0:${s.index}]${chain.join(',')}[${label}]`], expected, shift };
}

/** The edit map: cut the dub at its segment bounds (asegment), place each kept piece after its silence gap, concatenate. */
function editGraph(s: StreamSummary, sr: number, fit: number | null, req: PlanRequest, ratio: number, label: string, input: MediaSummary): BuiltGraph {
  const { pieces, total } = editPieces(req.segments ?? [], sr);
  if (pieces.length === 0) throw new RepairRequestError('bad_request', 'no segment of the edit map holds any audio');
  const points = [...new Set(pieces.flatMap((p) => [p.dubFrom, p.dubTo]).filter((x) => x > 0))].sort((a, b) => a - b);
  const id = `s${s.index}`;
  const outs = Array.from({ length: points.length + 1 }, (_, j) => `[${id}_${j}]`);
  const graph = [`[0:${s.index}]asegment=samples=${points.join('|')}${outs.join('')}`];
  const stretch = stretchFilters(sr, ratio).filters;
  const used = new Set<number>();
  const pieceLabels: string[] = [];
  pieces.forEach((p, k) => {
    // Output j of asegment holds [points[j-1], points[j]).
    const j = p.dubFrom === 0 ? 0 : points.indexOf(p.dubFrom) + 1;
    used.add(j);
    const chain = ['asetpts=N/SR/TB', ...stretch, `apad=whole_len=${p.length}`, `atrim=end_sample=${p.length}`];
    if (p.gap > 0) chain.push(`adelay=delays=${p.gap}S:all=1`);
    pieceLabels.push(`[${id}p${k}]`);
    graph.push(`${outs[j]}${chain.join(',')}[${id}p${k}]`);
  });
  // Every unused output (dub material the master lacks) must still be consumed.
  outs.forEach((o, j) => {
    if (!used.has(j)) graph.push(`${o}anullsink`);
  });
  const tail: string[] = [];
  let expected: number | null = total;
  if (fit !== null) {
    tail.push(`apad=whole_len=${fit}`, `atrim=end_sample=${fit}`);
    expected = fit;
  }
  tail.push(resetPts(s, input));
  const head = pieceLabels.length > 1 ? `${pieceLabels.join('')}concat=n=${pieceLabels.length}:v=0:a=1,` : pieceLabels[0];
  graph.push(`${head}${tail.join(',')}[${label}]`);
  return { graph, expected, shift: 0 };
}

/**
 * Sample-counted timestamps from where the stream started in the input (ffmpeg rebases inputs
 * to the container start), so the audio keeps its place against the copied video.
 */
function resetPts(s: StreamSummary, input: MediaSummary): string {
  const t0 = (s.startTime ?? 0) - (input.startTime ?? 0);
  return t0 > 1e-6 ? `asetpts=N/SR/TB+${t0.toFixed(6)}/TB` : 'asetpts=N/SR/TB';
}

function snapBitRate(encoder: string, bitRate: number): number {
  const rates = STANDARD_RATES[encoder];
  if (!rates) return Math.round(bitRate);
  return rates.reduce((best, r) => (Math.abs(r - bitRate) < Math.abs(best - bitRate) ? r : best), rates[0] as number);
}
