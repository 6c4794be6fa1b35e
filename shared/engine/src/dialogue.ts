// Dialogue timing QC: after alignment, pair the master's speech segments (lines) with the
// dub's, mapped into master time through the edit map, and report per line the start and end
// differences; master lines the dub does not speak (missing), and lines where master and dub
// audio are the same (untranslated, or forced-narrative candidates).
import type { Features } from './features.ts';

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
  /** Log-energy correlation at or above which a line counts as the same audio in both. */
  sameAudioCorrelation: number;
  /** Lines shorter than this are ignored (breaths, clicks). */
  minLineSeconds: number;
}

export const DEFAULT_DIALOGUE_PARAMS: DialogueParams = { thresholdFrames: 2, minOverlapShare: 0.3, sameAudioCorrelation: 0.85, minLineSeconds: 0.3 };

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
  flagged: boolean;
  issue: 'early_start' | 'late_start' | 'early_end' | 'late_end' | 'start_and_end' | 'missing' | 'untranslated' | null;
  /** Log-energy correlation of master and aligned dub over the line (1: same audio). */
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
  summary: { lines: number; paired: number; flagged: number; missing: number; untranslated: number; extra: number };
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
  masterFeatures?: Features;
  dubFeatures?: Features;
}): DialogueReport {
  const p = { ...DEFAULT_DIALOGUE_PARAMS, ...(input.params ?? {}) };
  const fps = input.frameRate;
  const masterLines = input.masterSpeech.filter((s) => s.end - s.start >= p.minLineSeconds);
  const dubLines = input.dubSpeech
    .filter((s) => s.end - s.start >= p.minLineSeconds)
    .map((s) => ({ s, ms: dubToMaster(input.spans, s.start), me: dubToMaster(input.spans, s.end) }))
    .filter((d): d is { s: SpeechSegment; ms: number; me: number } => d.ms !== null && d.me !== null);
  const used = new Set<number>();
  const lines: DialogueLine[] = masterLines.map((m, index) => {
    // The dub line overlapping this master line most (as a share of the shorter of the two).
    let best = -1;
    let bestShare = 0;
    dubLines.forEach((d, i) => {
      const overlap = Math.min(m.end, d.me) - Math.max(m.start, d.ms);
      if (overlap <= 0) return;
      const share = overlap / Math.min(m.end - m.start, d.me - d.ms);
      if (share > bestShare) [best, bestShare] = [i, share];
    });
    const same = input.masterFeatures && input.dubFeatures ? sameAudio(input.masterFeatures, input.dubFeatures, input.spans, m.start, m.end) : null;
    if (best < 0 || bestShare < p.minOverlapShare) {
      return { index, master_start: m.start, master_end: m.end, dub_start: null, dub_end: null, mapped_start: null, mapped_end: null, start_diff_ms: null, end_diff_ms: null, start_diff_frames: null, end_diff_frames: null, flagged: true, issue: 'missing', same_audio: same };
    }
    used.add(best);
    const d = dubLines[best]!;
    const ds = d.ms - m.start;
    const de = d.me - m.end;
    const sf = ds * fps;
    const ef = de * fps;
    const startBad = Math.abs(sf) >= p.thresholdFrames - 1e-9;
    const endBad = Math.abs(ef) >= p.thresholdFrames - 1e-9;
    const untranslated = same !== null && same >= p.sameAudioCorrelation;
    const issue: DialogueLine['issue'] = untranslated ? 'untranslated' : startBad && endBad ? 'start_and_end' : startBad ? (ds > 0 ? 'late_start' : 'early_start') : endBad ? (de > 0 ? 'late_end' : 'early_end') : null;
    return {
      index,
      master_start: r3(m.start),
      master_end: r3(m.end),
      dub_start: r3(d.s.start),
      dub_end: r3(d.s.end),
      mapped_start: r3(d.ms),
      mapped_end: r3(d.me),
      start_diff_ms: r1(ds * 1000),
      end_diff_ms: r1(de * 1000),
      start_diff_frames: r2(sf),
      end_diff_frames: r2(ef),
      flagged: issue !== null,
      issue,
      same_audio: same === null ? null : r3(same),
    };
  });
  const missing = lines.filter((l) => l.issue === 'missing').map((l) => ({ master_start: l.master_start, master_end: l.master_end }));
  const untranslated = lines.filter((l) => l.issue === 'untranslated').map((l) => ({ master_start: l.master_start, master_end: l.master_end, similarity: l.same_audio ?? 1 }));
  const extra = dubLines.filter((_, i) => !used.has(i)).map((d) => ({ dub_start: r3(d.s.start), dub_end: r3(d.s.end) }));
  return {
    frame_rate: fps,
    threshold_frames: p.thresholdFrames,
    lines,
    missing,
    untranslated,
    extra,
    summary: { lines: lines.length, paired: lines.filter((l) => l.dub_start !== null).length, flagged: lines.filter((l) => l.flagged).length, missing: missing.length, untranslated: untranslated.length, extra: extra.length },
  };
}

/**
 * Pearson correlation of log frame energy between the master line and the dub at the mapped
 * times. The same recording (untranslated line) correlates near 1 even through EQ and gain;
 * a dubbed line over the shared bed does not, because speech dominates the energy.
 */
function sameAudio(fm: Features, fd: Features, spans: readonly EditSpan[], start: number, end: number): number | null {
  const xs: number[] = [];
  const ys: number[] = [];
  for (let t = start; t < end; t += fm.hopSeconds) {
    const dt = masterToDub(spans, t);
    if (dt === null) continue;
    const i = Math.round(t * fm.rate);
    const j = Math.round(dt * fd.rate);
    if (i < 0 || i >= fm.length || j < 0 || j >= fd.length) continue;
    xs.push(Math.log10(fm.energy[i]! + 1e-9));
    ys.push(Math.log10(fd.energy[j]! + 1e-9));
  }
  if (xs.length < 10) return null;
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let k = 0; k < xs.length; k++) {
    const a = xs[k]! - mx;
    const b = ys[k]! - my;
    sxy += a * b;
    sxx += a * a;
    syy += b * b;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : null;
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
