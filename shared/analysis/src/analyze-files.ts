// Application layer: analyse a master/dub pair of media files. Probes both, decodes both
// (in parallel, streamed to mono 16-bit PCM at the analysis rate), runs the pure engine and
// assembles the result document. I/O comes in through the media adapter; the caller passes
// the tools, logger and clock-free options.
import { anchorSpan, measureAnchor, windowReader } from './anchor-windows.ts';
import {
  analyzePair,
  applySegmentShifts,
  fullRateAnchors,
  median,
  FeatureExtractor,
  mergeParams,
  ENGINE_NAME,
  ENGINE_VERSION,
  SCHEMA_VERSION,
  type AnalysisResult,
  type EngineOutput,
  type Features,
  type FineParams,
  type Anchor,
  type HeadReport,
  type MediaInfo,
  type PartialParams,
  type SpeechSegment,
  dialogueQc,
  DEFAULT_DIALOGUE_PARAMS,
  FRAME_RATES,
} from '@sync-analyzer/engine';
import { speechStream, type SpeechBackend } from './speech.ts';
import {
  decodePcm,
  AbortedError,
  MediaInputError,
  probeMedia,
  type AudioSelection,
  type DecodeResult,
  type MediaLogger,
  type MediaTools,
  type ProbeResult,
} from '@sync-analyzer/media';

export const DEFAULT_ANALYSIS_RATE = 8000;
/** Longest programme accepted: memory is about 16 KB per second per file at 8 kHz. */
export const DEFAULT_MAX_DURATION_SECONDS = 6 * 3600;

export interface AnalysisProgress {
  stage: string;
  /** 0-100 over the whole analysis (decode included). */
  percent: number;
}

export interface AnalyzeFilesOptions {
  tools: MediaTools;
  logger: MediaLogger;
  masterSelection?: AudioSelection;
  dubSelection?: AudioSelection;
  params?: PartialParams;
  analysisRate?: number;
  signal?: AbortSignal;
  onProgress?: (p: AnalysisProgress) => void;
  /** PIDs of the ffmpeg children, for cancellation checks. */
  onSpawn?: (pid: number) => void;
  /** Longer programmes are refused as bad input (default 6 h). */
  maxDurationSeconds?: number;
  /** Speech detection (voice activity) on both files while decoding; off when absent. */
  speech?: SpeechBackend | null;
  /** Dialogue timing QC threshold (frames; default 2). */
  dialogueThresholdFrames?: number;
}

// Decoding is about 40% of a typical run; the engine reports most of the rest, then the
// full-rate polish.
const DECODE_SHARE = 40;
const ENGINE_END = 97;

/** A probed and decoded input, reusable across analyses (one master, many dubs). */
export interface PreparedMedia {
  probe: ProbeResult;
  decoded: DecodeResult;
  /** Onset features, computed while decoding. */
  features: Features;
  selection: AudioSelection;
  /** Speech segments found while decoding (null: detection off), and the model's time. */
  speech?: { segments: SpeechSegment[]; seconds: number } | null;
}

export async function analyzeFiles(masterPath: string, dubPath: string, opts: AnalyzeFilesOptions): Promise<AnalysisResult> {
  const clock = new StageClock();
  const progress = monotonic(opts.onProgress);
  progress({ stage: 'probe', percent: 0 });
  const [mp, dp] = await probePair(masterPath, dubPath, opts);
  clock.lap('probe');
  const [master, dub] = await preparePair(mp, dp, { ...opts, onProgress: progress });
  clock.lap('decode');
  return analyzePrepared(master, dub, { ...opts, onProgress: progress }, clock);
}

/** Probes both files at once. */
export function probePair(masterPath: string, dubPath: string, opts: Pick<AnalyzeFilesOptions, 'tools' | 'logger' | 'signal'>): Promise<[ProbeResult, ProbeResult]> {
  return settleBoth(
    (signal) => probeMedia(masterPath, { tools: opts.tools, logger: opts.logger, signal }),
    (signal) => probeMedia(dubPath, { tools: opts.tools, logger: opts.logger, signal }),
    opts.signal,
  );
}

/** Decodes master and dub in parallel (progress: the decode share of the whole run). */
export function preparePair(mp: ProbeResult, dp: ProbeResult, opts: AnalyzeFilesOptions): Promise<[PreparedMedia, PreparedMedia]> {
  const fractions = [0, 0];
  const report = (i: number) => (f: number) => {
    fractions[i] = f;
    opts.onProgress?.({ stage: 'decode', percent: round1((DECODE_SHARE * (fractions[0]! + fractions[1]!)) / 2) });
  };
  return settleBoth(
    (signal) => prepareMedia(mp, opts.masterSelection, { ...opts, signal }, report(0)),
    (signal) => prepareMedia(dp, opts.dubSelection, { ...opts, signal }, report(1)),
    opts.signal,
  );
}

/**
 * Runs two tasks together; when one fails the other is aborted, and the promise settles only
 * after both have (so no ffmpeg is left running behind a rejected analysis).
 */
async function settleBoth<A, B>(a: (s: AbortSignal) => Promise<A>, b: (s: AbortSignal) => Promise<B>, parent?: AbortSignal): Promise<[A, B]> {
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort(parent?.reason);
  if (parent?.aborted) ctrl.abort(parent.reason);
  parent?.addEventListener('abort', onAbort, { once: true });
  const failFast = <T>(p: Promise<T>) =>
    p.catch((e: unknown) => {
      ctrl.abort(e);
      throw e;
    });
  try {
    const [ra, rb] = await Promise.allSettled([failFast(a(ctrl.signal)), failFast(b(ctrl.signal))]);
    if (ra.status === 'fulfilled' && rb.status === 'fulfilled') return [ra.value, rb.value];
    // Prefer the error that caused the abort over the sibling's AbortedError.
    const errors = [ra, rb].filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    throw errors.find((e) => !(e instanceof AbortedError)) ?? errors[0];
  } finally {
    parent?.removeEventListener('abort', onAbort);
  }
}

/** Wraps a progress callback so that the percentage never goes backwards. */
export function monotonic(cb?: (p: AnalysisProgress) => void): (p: AnalysisProgress) => void {
  let last = 0;
  return (p) => {
    last = Math.max(last, Math.min(100, p.percent));
    cb?.({ stage: p.stage, percent: last });
  };
}

/** Decodes one probed input at the analysis rate; onFraction gets 0..1 as decoding goes. */
export async function prepareMedia(
  probe: ProbeResult,
  selection: AudioSelection | undefined,
  opts: AnalyzeFilesOptions,
  onFraction?: (f: number) => void,
): Promise<PreparedMedia> {
  const rate = opts.analysisRate ?? DEFAULT_ANALYSIS_RATE;
  const maxDuration = opts.maxDurationSeconds ?? DEFAULT_MAX_DURATION_SECONDS;
  if (probe.duration !== null && probe.duration > maxDuration) {
    throw new MediaInputError('too_long', probe.path, `${(probe.duration / 3600).toFixed(2)} h; the limit is ${(maxDuration / 3600).toFixed(2)} h`);
  }
  const featureParams = mergeParams(opts.params).features;
  const extractor = new FeatureExtractor(rate, featureParams, Math.ceil(((probe.duration ?? 60) + 1) / featureParams.hopSeconds));
  const speech = opts.speech ? speechStream(opts.speech) : null;
  const decoded = await decodePcm(probe.path, {
    ...(opts.speech && speech ? { extraOutput: { sampleRate: opts.speech.info().sampleRate, onChunk: (c: Int16Array) => speech.push(c) } } : {}),
    tools: opts.tools,
    logger: opts.logger,
    probe,
    selection: selection ?? { kind: 'auto' },
    sampleRate: rate,
    onSamples: (pcm, count) => extractor.process(pcm, count),
    // The probed duration can under-state what is in the file: the decode itself is capped too.
    maxSeconds: maxDuration,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onSpawn ? { onSpawn: opts.onSpawn } : {}),
    onProgress: (s) => onFraction?.(Math.min(1, s / (probe.duration || Math.max(s, 1)))),
  });
  extractor.process(decoded.pcm, decoded.pcm.length);
  const speechFound = speech ? await speech.finish() : null;
  return { probe, decoded, features: extractor.finish(), selection: selection ?? { kind: 'auto' }, speech: speechFound };
}

/** Runs the engine on two prepared inputs and assembles the result document. */
export async function analyzePrepared(
  master: PreparedMedia,
  dub: PreparedMedia,
  opts: Pick<AnalyzeFilesOptions, 'params' | 'signal' | 'onProgress' | 'analysisRate' | 'tools' | 'logger' | 'onSpawn' | 'speech' | 'dialogueThresholdFrames'> & { fullRate?: boolean },
  clock = new StageClock(),
): Promise<AnalysisResult> {
  opts.signal?.throwIfAborted();
  const progress = monotonic(opts.onProgress);
  let engineStage = 'engine';
  let out = analyzePair({
    master: { samples: master.decoded.pcm, sampleRate: master.decoded.sampleRate },
    dub: { samples: dub.decoded.pcm, sampleRate: dub.decoded.sampleRate },
    masterFrameRate: master.probe.videoFrameRate,
    masterFeatures: master.features,
    dubFeatures: dub.features,
    ...(opts.params ? { params: opts.params } : {}),
    masterSpeech: master.speech?.segments ?? null,
    dubSpeech: dub.speech?.segments ?? null,
    onProgress: (p) => {
      if (p.stage !== engineStage) {
        clock.lap(engineStage);
        engineStage = p.stage;
      }
      if (p.stage !== 'done') progress({ stage: p.stage, percent: round1(DECODE_SHARE + ((ENGINE_END - DECODE_SHARE) * p.percent) / 100) });
    },
  });
  clock.lap(engineStage);
  if (opts.fullRate !== false && out.match) {
    progress({ stage: 'full-rate', percent: ENGINE_END });
    out = await refineAtFullRate(out, master, dub, opts);
    clock.lap('full-rate');
  }
  // Dialogue timing QC, timed as its own stage (it reads the waveforms around every line).
  const dialogue =
    master.speech && dub.speech && out.match
      ? dialogueQc({
          masterSpeech: master.speech.segments,
          dubSpeech: dub.speech.segments,
          spans: out.segments,
          frameRate: FRAME_RATES[out.reference_frame_rate].fps,
          params: { thresholdFrames: opts.dialogueThresholdFrames ?? DEFAULT_DIALOGUE_PARAMS.thresholdFrames },
          masterPcm: { samples: master.decoded.pcm, sampleRate: master.decoded.sampleRate },
          dubPcm: { samples: dub.decoded.pcm, sampleRate: dub.decoded.sampleRate },
        })
      : null;
  if (dialogue) clock.lap('dialogue');
  progress({ stage: 'done', percent: 100 });
  const result = assembleResult(out, master, dub, clock.totals(), opts.analysisRate ?? DEFAULT_ANALYSIS_RATE);
  if (master.speech && dub.speech) {
    const summary = (s: { segments: SpeechSegment[] }) => ({ segments: s.segments, speech_seconds: Math.round(s.segments.reduce((t, g) => t + g.end - g.start, 0) * 1000) / 1000 });
    result.speech = { master: summary(master.speech), dub: summary(dub.speech) };
    result.dialogue = dialogue;
    const info = opts.speech?.info();
    if (info) result.inference = { provider: info.provider, model: info.model, model_sha256: info.sha256, warmup_ms: Math.round(info.warmupMs), seconds: Math.round(Math.max(master.speech.seconds, dub.speech.seconds) * 1000) / 1000 };
  } else {
    result.speech = null;
    result.dialogue = null;
    result.inference = null;
  }
  return result;
}

const FULL_RATE_FINE: FineParams = { windowSeconds: 1.5, searchSeconds: 0.004, phatBeta: 0.75, lowCutHz: 80 };
/** A full-rate correction larger than this means the window reads disagree with the full decode: ignored. */
const MAX_FULL_RATE_CORRECTION = 0.001;

/**
 * Re-measures a few anchor points per segment on full-rate windows (input seeking) and shifts
 * each segment by the median correction. The analysis-rate result is already sub-millisecond;
 * this removes what the 8 kHz resampling leaves.
 */
async function refineAtFullRate(
  out: EngineOutput,
  master: PreparedMedia,
  dub: PreparedMedia,
  opts: Pick<AnalyzeFilesOptions, 'params' | 'signal' | 'tools' | 'logger' | 'onSpawn'>,
): Promise<EngineOutput> {
  const rates = [master, dub].map((m) => Math.max(...m.probe.audioStreams.map((s) => s.sampleRate)));
  const rate = Math.min(48000, ...rates);
  const r = out.drift!.speed_ratio;
  const read = windowReader(opts, rate);
  const corrections: number[][] = out.segments.map(() => []);
  const measure = async (a: Anchor) => {
    const span = anchorSpan(a, r, 1);
    if (!span) return;
    const [mw, dw] = await Promise.all([read(master, master.selection, span.masterStart, span.masterDuration), read(dub, dub.selection, span.dubStart, span.dubDuration)]);
    const fine = measureAnchor(mw, dw, rate, a, span, r, FULL_RATE_FINE);
    if (fine && fine.peakToNoise >= 8) corrections[a.segment]!.push(fine.dubTime - a.dubTime);
  };
  // Two anchors at a time: four ffmpeg processes on a two-core machine is enough.
  const anchors = fullRateAnchors(out, 2);
  for (let i = 0; i < anchors.length; i += 2) await Promise.all(anchors.slice(i, i + 2).map(measure));
  const shifts = corrections.map((c) => {
    if (c.length === 0) return null;
    const m = median(c);
    return Math.abs(m) <= MAX_FULL_RATE_CORRECTION ? m : null;
  });
  opts.logger.debug({ rate, shifts }, 'full-rate refinement');
  const params = mergeParams(opts.params);
  const result = applySegmentShifts(out, shifts, params.verdict, master.decoded.decodedSeconds);
  result.diagnostics = { ...out.diagnostics, fullRateHz: rate, fullRateAnchors: corrections.reduce((n, c) => n + c.length, 0) };
  return result;
}

export function mediaInfo(probe: ProbeResult, decoded: DecodeResult, head: HeadReport): MediaInfo {
  return {
    path: probe.path,
    format: probe.format,
    duration: probe.duration ?? decoded.decodedSeconds,
    audio_streams: probe.audioStreams.map((s) => ({
      index: s.index,
      codec: s.codec,
      sample_rate: s.sampleRate,
      channels: s.channels,
      channel_layout: s.channelLayout,
      language: s.language,
      title: s.title,
      duration: s.duration,
    })),
    selected: decoded.description + (decoded.truncated ? ' (truncated: decoding stopped early)' : ''),
    video_frame_rate: probe.videoFrameRate,
    video_frame_rate_label: probe.videoFrameRateLabel,
    start_timecode: probe.startTimecode,
    head,
  };
}

function assembleResult(out: EngineOutput, master: PreparedMedia, dub: PreparedMedia, timing: Record<string, number>, rate: number): AnalysisResult {
  const md = master.decoded;
  const dd = dub.decoded;
  const reasons = [...out.reasons];
  if (md.truncated) reasons.push('the master is truncated: only what decoded was analysed');
  if (dd.truncated) reasons.push('the dub is truncated: only what decoded was analysed');
  return {
    schema_version: SCHEMA_VERSION,
    match: out.match,
    verdict: out.verdict,
    reasons,
    summary: out.summary,
    offset_seconds: out.offset_seconds,
    confidence: out.confidence,
    drift: out.drift,
    segments: out.segments,
    gaps: out.gaps,
    offset_track: out.offset_track,
    frames: out.frames,
    reference_frame_rate: out.reference_frame_rate,
    polarity_inverted: out.polarity_inverted,
    master: mediaInfo(master.probe, md, out.masterHead),
    dub: mediaInfo(dub.probe, dd, out.dubHead),
    timing,
    resources: { peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024) },
    diagnostics: out.diagnostics,
    engine: { name: ENGINE_NAME, version: ENGINE_VERSION, parameters: { analysis_rate: rate, ...out.parameters } },
  };
}

/** Wall time per stage (seconds), plus total. */
export class StageClock {
  private readonly start = performance.now();
  private last = this.start;
  private readonly laps: Record<string, number> = {};
  lap(stage: string): void {
    const now = performance.now();
    this.laps[stage] = round3((this.laps[stage] ?? 0) + (now - this.last) / 1000);
    this.last = now;
  }
  totals(): Record<string, number> {
    return { ...this.laps, total: round3((performance.now() - this.start) / 1000) };
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const round3 = (x: number) => Math.round(x * 1000) / 1000;
