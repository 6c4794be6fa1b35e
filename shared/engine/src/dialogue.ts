// Dialogue timing QC: after alignment, pair the master's speech segments (lines) with the
// dub's, mapped into master time through the edit map, and report per line the start and end
// differences; master lines the dub does not speak (missing), and lines where master and dub
// audio are the same (untranslated, or forced-narrative candidates).
import type { Features } from './features.ts';
import type { PcmTrack } from './pcm.ts';
import { DEFAULT_LINE_EDGE_PARAMS, RemixModel, edgesOnEnvelope, sameRecording, separateSpeech, type LineEdgeParams, type SeparatedEnvelopes } from './line-edges.ts';

export interface SpeechSegment {
  start: number;
  end: number;
  /** Mean speech probability over the segment. */
  prob: number;
}

export interface DialogueParams {
  /** A start or end difference of this many frames or more is flagged. */
  thresholdFrames: number;
  /** A dub line pairs with a master line when they overlap by at least this share of the shorter one. */
  minOverlapShare: number;
  /**
   * Waveform correlation (PCM, aligned through the edit map) at or above which a line counts as
   * the same recording in both files. A re-voiced line, even word for word in the same timing,
   * does not correlate as a waveform; the same recording does, through EQ, gain and a remixed bed.
   */
  sameAudioCorrelation: number;
  /**
   * Share of the two files' speech that cancels with the bed (the same recording, see
   * line-edges.ts sameRecording) at or above which a line counts as untranslated; used instead of
   * the waveform correlation when the bed-cancelled envelopes are available.
   */
  sameRecordingShare: number;
  /** Lines shorter than this are ignored (breaths, clicks). */
  minLineSeconds: number;
  /** Line edges re-measured on the bed-cancelled waveforms when the PCM is given (false: the model's edges). */
  edges: Partial<LineEdgeParams> | false;
}

export const DEFAULT_DIALOGUE_PARAMS: DialogueParams = { thresholdFrames: 2, minOverlapShare: 0.3, sameAudioCorrelation: 0.5, sameRecordingShare: 0.75, minLineSeconds: 0.3, edges: {} };

export interface EditSpan {
  master_start: number;
  master_end: number;
  dub_start: number;
  dub_end: number;
}

export interface DialogueLine {
  index: number;
  master_start: number;
  master_end: number;
  /** The paired dub line in dub-file time, or null when the dub has none (missing). */
  dub_start: number | null;
  dub_end: number | null;
  /** Dub line edges mapped into master time through the edit map. */
  mapped_start: number | null;
  mapped_end: number | null;
  /** mapped - master: positive means the dub line starts/ends late. */
  start_diff_ms: number | null;
  end_diff_ms: number | null;
  start_diff_frames: number | null;
  end_diff_frames: number | null;
  /**
   * Per edge, the difference's uncertainty (+- ms): an edge under the other file's speech has two
   * measures and is taken half-way between them. Null when the edges are the speech model's.
   */
  start_uncertainty_ms: number | null;
  end_uncertainty_ms: number | null;
  /** Where the edges come from: the bed-cancelled waveforms, or the speech model's segments (fallback). */
  timing: 'waveform' | 'speech_model' | null;
  flagged: boolean;
  /** No difference reaches the threshold, but one would within its uncertainty: listen to it. */
  review: boolean;
  issue: 'early_start' | 'late_start' | 'early_end' | 'late_end' | 'start_and_end' | 'missing' | 'untranslated' | null;
  /** Waveform correlation of master and aligned dub over the line (1: the same recording). */
  same_audio: number | null;
}

export interface DialogueReport {
  frame_rate: number;
  threshold_frames: number;
  lines: DialogueLine[];
  missing: { master_start: number; master_end: number }[];
  untranslated: { master_start: number; master_end: number; similarity: number }[];
  /** Dub speech with no master line (added lines, or lines moved elsewhere). */
  extra: { dub_start: number; dub_end: number }[];
  summary: { lines: number; paired: number; flagged: number; review: number; missing: number; untranslated: number; extra: number };
}

/** Dub time of a master time through the edit map (null in a gap). */
export function masterToDub(spans: readonly EditSpan[], t: number): number | null {
  for (const s of spans) {
    if (t >= s.master_start && t <= s.master_end) {
      const len = s.master_end - s.master_start;
      return len > 0 ? s.dub_start + ((t - s.master_start) * (s.dub_end - s.dub_start)) / len : s.dub_start;
    }
  }
  return null;
}

/** Master time of a dub time through the edit map (null when the dub time is not mapped). */
export function dubToMaster(spans: readonly EditSpan[], t: number): number | null {
  let best: { d: number; m: number } | null = null;
  for (const s of spans) {
    const len = s.dub_end - s.dub_start;
    const m = len > 0 ? s.master_start + ((t - s.dub_start) * (s.master_end - s.master_start)) / len : s.master_start;
    // Inside the span, or just outside (a line edge may lie a little beyond an edit boundary).
    const d = t < s.dub_start ? s.dub_start - t : t > s.dub_end ? t - s.dub_end : 0;
    if (d <= 2 && (!best || d < best.d)) best = { d, m };
  }
  return best ? best.m : null;
}

export function dialogueQc(input: {
  masterSpeech: readonly SpeechSegment[];
  dubSpeech: readonly SpeechSegment[];
  spans: readonly EditSpan[];
  frameRate: number;
  params?: Partial<DialogueParams>;
  /** The analysis PCM of both files (same rate): the same-recording test uses the waveforms. */
  masterPcm?: PcmTrack;
  dubPcm?: PcmTrack;
}): DialogueReport {
  const p = { ...DEFAULT_DIALOGUE_PARAMS, ...(input.params ?? {}) };
  const fps = input.frameRate;
  const masterSegs = input.masterSpeech.filter((s) => s.end - s.start >= p.minLineSeconds);
  // Every dub segment in master time, once: the short ones still mark where the bed is not alone.
  const dubMapped = input.dubSpeech
    .map((s) => ({ s, ms: dubToMaster(input.spans, s.start), me: dubToMaster(input.spans, s.end) }))
    .filter((d): d is { s: SpeechSegment; ms: number; me: number } => d.ms !== null && d.me !== null);
  const dubSegs = dubMapped.filter((d) => d.s.end - d.s.start >= p.minLineSeconds);

  // Pair one to one by grouping: master and dub segments that overlap enough join one group (a
  // line the model split at an inner pause in one file and not in the other is still one line,
  // rather than two lines paired with the same dub segment and multi-second differences).
  const parent = [...masterSegs.map((_, i) => i), ...dubSegs.map((_, j) => masterSegs.length + j)];
  const find = (x: number): number => (parent[x] === x ? x : (parent[x] = find(parent[x]!)));
  masterSegs.forEach((m, i) =>
    dubSegs.forEach((d, j) => {
      const overlap = Math.min(m.end, d.me) - Math.max(m.start, d.ms);
      if (overlap > 0 && overlap / Math.min(m.end - m.start, d.me - d.ms) >= p.minOverlapShare) parent[find(i)] = find(masterSegs.length + j);
    }),
  );
  const groups = new Map<number, { m: SpeechSegment[]; d: { s: SpeechSegment; ms: number; me: number }[] }>();
  const group = (root: number) => groups.get(root) ?? groups.set(root, { m: [], d: [] }).get(root)!;
  masterSegs.forEach((m, i) => group(find(i)).m.push(m));
  dubSegs.forEach((d, j) => group(find(masterSegs.length + j)).d.push(d));

  // The remix model of each edit span, built when a line first needs it. Every speech segment of
  // either file (master time) marks where the bed is not alone.
  const allSpeech = [...input.masterSpeech, ...dubMapped.map((d) => ({ start: d.ms, end: d.me }))];
  const models = new Map<EditSpan, RemixModel | null>();
  const mPcm = input.masterPcm, dPcm = input.dubPcm, edgeParams = p.edges;
  const remixFor = mPcm && dPcm && edgeParams
    ? (span: EditSpan) => {
        if (!models.has(span)) models.set(span, RemixModel.build(mPcm, dPcm, span, allSpeech, edgeParams));
        return models.get(span) ?? null;
      }
    : null;
  const lineGroups = [...groups.values()].filter((g) => g.m.length > 0).sort((a, b) => a.m[0]!.start - b.m[0]!.start);
  const lines: DialogueLine[] = lineGroups.map((g, index) => {
    const mStart = Math.min(...g.m.map((s) => s.start));
    const mEnd = Math.max(...g.m.map((s) => s.end));
    if (g.d.length === 0) {
      const same = input.masterPcm && input.dubPcm ? sameWaveform(input.masterPcm, input.dubPcm, input.spans, mStart, mEnd) : null;
      return { index, master_start: r3(mStart), master_end: r3(mEnd), dub_start: null, dub_end: null, mapped_start: null, mapped_end: null, start_diff_ms: null, end_diff_ms: null, start_diff_frames: null, end_diff_frames: null, start_uncertainty_ms: null, end_uncertainty_ms: null, timing: null, flagged: true, review: false, issue: 'missing', same_audio: same === null ? null : r3(same) };
    }
    const model = { m: { start: mStart, end: mEnd }, d: { start: Math.min(...g.d.map((d) => d.ms)), end: Math.max(...g.d.map((d) => d.me)) } };
    const sep = remixFor ? separateLine(remixFor, input.spans, model.m, model.d, edgeParams as Partial<LineEdgeParams>) : null;
    // Same recording: on the bed-cancelled waveforms where they can be had (a loud shared bed alone
    // makes the plain waveforms correlate), else on the plain waveforms.
    const sameSep = sep ? sameRecording(sep.env, sep.reach.start, sep.reach.end) : null;
    const same = sameSep ?? (input.masterPcm && input.dubPcm ? sameWaveform(input.masterPcm, input.dubPcm, input.spans, mStart, mEnd) : null);
    const untranslated = same !== null && same >= (sameSep !== null ? p.sameRecordingShare : p.sameAudioCorrelation);
    // A same-recording line has no dub speech of its own to time: the model's edges stand.
    const measured = sep && !untranslated ? lineEdges(sep, model.m, model.d, edgeParams as Partial<LineEdgeParams>) : null;
    const me = measured?.m ?? model.m;
    const ms = measured?.d.start ?? model.d.start;
    const mn = measured?.d.end ?? model.d.end;
    const de = measured
      ? { start: masterToDub(input.spans, ms) ?? Math.min(...g.d.map((d) => d.s.start)), end: masterToDub(input.spans, mn) ?? Math.max(...g.d.map((d) => d.s.end)) }
      : { start: Math.min(...g.d.map((d) => d.s.start)), end: Math.max(...g.d.map((d) => d.s.end)) };
    const ds = ms - me.start;
    const dn = mn - me.end;
    const sf = ds * fps;
    const ef = dn * fps;
    const thr = p.thresholdFrames - 1e-9;
    // An edge is flagged when its difference reaches the threshold; a line whose differences do
    // not, but would within their uncertainty, is for review (a listen) instead.
    const us = measured ? measured.uncertainty.start * fps : 0;
    const ue = measured ? measured.uncertainty.end * fps : 0;
    const startBad = Math.abs(sf) >= thr;
    const endBad = Math.abs(ef) >= thr;
    const review = !untranslated && !startBad && !endBad && (Math.abs(sf) + us >= thr || Math.abs(ef) + ue >= thr);
    const issue: DialogueLine['issue'] = untranslated ? 'untranslated' : startBad && endBad ? 'start_and_end' : startBad ? (ds > 0 ? 'late_start' : 'early_start') : endBad ? (dn > 0 ? 'late_end' : 'early_end') : null;
    return {
      index,
      master_start: r3(me.start),
      master_end: r3(me.end),
      dub_start: r3(de.start),
      dub_end: r3(de.end),
      mapped_start: r3(ms),
      mapped_end: r3(mn),
      start_diff_ms: r1(ds * 1000),
      end_diff_ms: r1(dn * 1000),
      start_diff_frames: r2(sf),
      end_diff_frames: r2(ef),
      start_uncertainty_ms: measured ? r1(measured.uncertainty.start * 1000) : null,
      end_uncertainty_ms: measured ? r1(measured.uncertainty.end * 1000) : null,
      timing: measured ? 'waveform' : 'speech_model',
      flagged: issue !== null,
      review,
      issue,
      same_audio: same === null ? null : r3(same),
    };
  });
  const missing = lines.filter((l) => l.issue === 'missing').map((l) => ({ master_start: l.master_start, master_end: l.master_end }));
  const untranslated = lines.filter((l) => l.issue === 'untranslated').map((l) => ({ master_start: l.master_start, master_end: l.master_end, similarity: l.same_audio ?? 1 }));
  const extra = [...groups.values()]
    .filter((g) => g.m.length === 0)
    .flatMap((g) => g.d)
    .sort((a, b) => a.s.start - b.s.start)
    .map((d) => ({ dub_start: r3(d.s.start), dub_end: r3(d.s.end) }));
  return {
    frame_rate: fps,
    threshold_frames: p.thresholdFrames,
    lines,
    missing,
    untranslated,
    extra,
    summary: { lines: lines.length, paired: lines.filter((l) => l.dub_start !== null).length, flagged: lines.filter((l) => l.flagged).length, review: lines.filter((l) => l.review).length, missing: missing.length, untranslated: untranslated.length, extra: extra.length },
  };
}

interface LineSeparation {
  env: SeparatedEnvelopes;
  /** Both files' model segments of the line together (master time). */
  reach: { start: number; end: number };
}

/**
 * Both files' bed-cancelled envelopes around one line (see line-edges.ts); null when the line
 * crosses an edit or the remix cannot be estimated there.
 */
function separateLine(
  remixFor: (span: EditSpan) => RemixModel | null,
  spans: readonly EditSpan[],
  master: { start: number; end: number },
  dub: { start: number; end: number },
  params: Partial<LineEdgeParams>,
): LineSeparation | null {
  const p = { ...DEFAULT_LINE_EDGE_PARAMS, ...params };
  const search = p.searchSeconds;
  const from = Math.min(master.start, dub.start) - search - p.marginSeconds;
  const to = Math.max(master.end, dub.end) + search + p.marginSeconds;
  const span = spans.find((s) => from >= s.master_start && to <= s.master_end);
  const remix = span ? remixFor(span) : null;
  if (!remix) return null;
  // Full time resolution where the edges can be: within the search distance of the model's edges.
  const fine = [
    { start: Math.min(master.start, dub.start) - search - 0.05, end: Math.max(master.start, dub.start) + search },
    { start: Math.min(master.end, dub.end) - search, end: Math.max(master.end, dub.end) + search + 0.05 },
  ];
  const env = separateSpeech(remix, from, to, fine, p);
  return env ? { env, reach: { start: Math.min(master.start, dub.start), end: Math.max(master.end, dub.end) } } : null;
}

/** Both files' edges of one line on its separated envelopes, in master time; null when an envelope gives no answer. */
function lineEdges(
  sep: LineSeparation,
  master: { start: number; end: number },
  dub: { start: number; end: number },
  params: Partial<LineEdgeParams>,
): MeasuredEdges | null {
  const { env, reach } = sep;
  // Either file's walk may reach as far as the other file's line (a model that missed a soft start in one file).
  const mPlain = edgesOnEnvelope(env.master, env.bedFloor, env.t0, env.hop, master, params, reach);
  const dPlain = edgesOnEnvelope(env.dub, env.bedFloor, env.t0, env.hop, dub, params, reach);
  const mNoise = edgesOnEnvelope(env.master, env.masterFloor, env.t0, env.hop, master, params, reach);
  const dNoise = edgesOnEnvelope(env.dub, env.dubFloor, env.t0, env.hop, dub, params, reach);
  if (!mPlain || !dPlain || !mNoise || !dNoise) return null;
  // The outer edge of each pair (earlier start, later end) is where the other file is silent:
  // the plain measure holds there. The inner edge lies under the other file's speech, whose cross
  // terms drag the plain measure outwards, towards the outer edge (a shifted line would read as in
  // sync), while the noise-aware measure errs inwards (it loses soft speech under loud speech):
  // the inner edge is placed between them by how much of the stretch between stands above the
  // noise, with half their spread as its uncertainty. Which file is outer is read where each is
  // surely speaking (its loud frames): a weak edge can carry the other file's onset smeared by
  // the window.
  const mFirst = mPlain.loudStart <= dPlain.loudStart;
  const mLast = mPlain.loudEnd >= dPlain.loudEnd;
  const mid = (plain: number, noise: number, e: Float32Array, floor: Float32Array) => noise + speechShare(e, floor, env.t0, env.hop, plain, noise, params) * (plain - noise);
  const me = { start: mFirst ? mPlain.start : mid(mPlain.start, mNoise.start, env.master, env.masterFloor), end: mLast ? mPlain.end : mid(mPlain.end, mNoise.end, env.master, env.masterFloor) };
  const de = { start: mFirst ? mid(dPlain.start, dNoise.start, env.dub, env.dubFloor) : dPlain.start, end: mLast ? dPlain.end : mid(dPlain.end, dNoise.end, env.dub, env.dubFloor) };
  const uncertainty = {
    start: (mFirst ? Math.abs(dPlain.start - dNoise.start) : Math.abs(mPlain.start - mNoise.start)) / 2,
    end: (mLast ? Math.abs(mPlain.end - mNoise.end) : Math.abs(dPlain.end - dNoise.end)) / 2,
  };
  return { m: me, d: de, uncertainty };
}

/**
 * Between an inner edge's two measures, the share of frames whose envelope stands at or above
 * the estimate's cross-term noise (its std): about 1 where the file speaks softly under the other,
 * about 0.16 where the plain measure walked through noise alone. Mapped to 0..1.
 */
function speechShare(e: Float32Array, floor: Float32Array, t0: number, hop: number, a: number, b: number, params: Partial<LineEdgeParams>): number {
  const margin = params.edgeAboveNoiseDb ?? DEFAULT_LINE_EDGE_PARAMS.edgeAboveNoiseDb;
  const i0 = Math.max(0, Math.round((Math.min(a, b) - t0) / hop)), i1 = Math.min(e.length, Math.round((Math.max(a, b) - t0) / hop));
  if (i1 - i0 < 2) return 0.5;
  let n = 0;
  for (let i = i0; i < i1; i++) if ((e[i] as number) >= (floor[i] as number) - margin) n++;
  const share = n / (i1 - i0);
  return Math.max(0, Math.min(1, (share - 0.16) / (0.84 - 0.16)));
}

interface MeasuredEdges {
  m: { start: number; end: number };
  d: { start: number; end: number };
  /** Per edge, the difference's uncertainty (+-, seconds; see lineEdges). */
  uncertainty: { start: number; end: number };
}

/**
 * Pearson correlation of the master's PCM over a line with the dub's PCM at the mapped times
 * (linear map of the span the line starts in; best of a few samples of lag, for rounding).
 */
function sameWaveform(m: PcmTrack, d: PcmTrack, spans: readonly EditSpan[], start: number, end: number): number | null {
  const span = spans.find((s) => start >= s.master_start && start <= s.master_end);
  if (!span || m.sampleRate !== d.sampleRate) return null;
  const sr = m.sampleRate;
  const len = span.master_end - span.master_start;
  const slope = len > 0 ? (span.dub_end - span.dub_start) / len : 1;
  const i0 = Math.max(0, Math.floor(start * sr));
  const i1 = Math.min(m.samples.length, Math.floor(Math.min(end, span.master_end) * sr));
  if (i1 - i0 < sr * 0.2) return null;
  let best = -1;
  for (let lag = -1; lag <= 1; lag++) {
    let sxy = 0, sxx = 0, syy = 0, sx = 0, sy = 0, n = 0;
    for (let i = i0; i < i1; i++) {
      const p = (span.dub_start + (i / sr - span.master_start) * slope) * sr + lag;
      const j = Math.floor(p);
      if (j < 0 || j + 1 >= d.samples.length) continue;
      const f = p - j;
      const x = m.samples[i]!;
      const y = d.samples[j]! * (1 - f) + d.samples[j + 1]! * f;
      sx += x; sy += y; sxy += x * y; sxx += x * x; syy += y * y; n++;
    }
    if (n < sr * 0.2) continue;
    const cov = sxy - (sx * sy) / n;
    const vx = sxx - (sx * sx) / n;
    const vy = syy - (sy * sy) / n;
    // A polarity-inverted copy is the same recording too.
    if (vx > 0 && vy > 0) best = Math.max(best, Math.abs(cov / Math.sqrt(vx * vy)));
  }
  return best < 0 ? null : best;
}

const r1 = (x: number) => Math.round(x * 10) / 10;
const r2 = (x: number) => Math.round(x * 100) / 100;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

export interface SpeechWeighting {
  /** Gain of onset features inside speech (1: speech counts like everything else). */
  weight: number;
  /** Below this share of non-speech frames (dialogue-only material) no weighting is done. */
  minNonSpeechShare: number;
}

/**
 * Attenuates onset features where a file has speech, so that matching leans on the music and
 * effects both versions share; dialogue is exactly what a dub replaces. Returns whether it
 * applied (it does not when too little non-speech material would remain in either file).
 */
export function weightSpeech(fm: Features, fd: Features, masterSpeech: readonly SpeechSegment[], dubSpeech: readonly SpeechSegment[], w: SpeechWeighting): boolean {
  const frames = (f: Features, speech: readonly SpeechSegment[]) =>
    speech.map((s) => [Math.max(0, Math.floor(s.start * f.rate)), Math.min(f.length, Math.ceil(s.end * f.rate))] as const);
  const fmS = frames(fm, masterSpeech);
  const fdS = frames(fd, dubSpeech);
  const share = (f: Features, r: readonly (readonly [number, number])[]) => 1 - r.reduce((n, [a, b]) => n + Math.max(0, b - a), 0) / Math.max(1, f.length);
  if (share(fm, fmS) < w.minNonSpeechShare || share(fd, fdS) < w.minNonSpeechShare) return false;
  for (const [f, r] of [[fm, fmS], [fd, fdS]] as const) for (const [a, b] of r) for (const band of f.bands) for (let i = a; i < b; i++) band[i]! *= w.weight;
  return true;
}
