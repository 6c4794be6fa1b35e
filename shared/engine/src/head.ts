// Head and tail findings (pure): bars and tone, 2-pop and leading silence in the head of a file,
// where the programme starts, and where trailing silence starts.
//
// One pass over the head (first maxHeadSeconds) in 50 ms frames: RMS level per frame, and for
// loud enough frames a Hann-windowed FFT giving the strongest peak, its share of the frame's
// energy and its interpolated frequency. Frames are labelled silent (RMS below silenceDbfs),
// tonal (one steady sine: peak share >= tonePeakRatio) or other. Then:
//   - bars/tone: runs of tonal frames at a steady frequency (±2 Hz) and level (±1.5 dB), each
//     at least 0.2 s, merged when the same frequency (±3 Hz) resumes within toneMergeGapSeconds,
//     kept when the merged span is at least minToneSeconds and at least half of it sits at the
//     top level (±1.5 dB). A musical note fails on harmonics (peak share), vibrato (frequency)
//     or envelope (level). A pure, steady, constant-level sine in programme cannot be told
//     from line-up tone and is reported as bars/tone.
//   - 2-pop: 1-3 non-silent frames between silence (>= 0.25 s before, >= 0.5 s after) whose
//     burst (5 ms blocks above the silence threshold) lasts popMinSeconds..popMaxSeconds and is
//     a sine in popMinHz..popMaxHz.
//   - silence: runs of silent frames.
// The contiguous head is the chain of items from time 0, each starting where the previous ends
// (two frames of slack next to tone, for the partial frame at its edges); programme_start is the
// end of that chain, or 0 when the chain holds no reportable item (only a sub-minSilenceSeconds
// pause). Edges next to silence are refined to 5 ms blocks.
//
// Levels are plain dBFS of the RMS: 20*log10(rms) with full scale = 1.0 (a full-scale sine
// reads -3 dB). Line-up tone "at -18 dBFS" (peak) therefore reads -21 dB here.
import type FFT from 'fft.js';
import { plan } from './fft.ts';
import type { HeadFinding, HeadReport } from './result.ts';

export interface HeadParams {
  /** Scan only this much of the head for head items (s). */
  maxHeadSeconds?: number;
  /** RMS level (dBFS, 50 ms frames) below which a frame is silent. */
  silenceDbfs?: number;
  /** Shortest silence run reported as a head finding (s). */
  minSilenceSeconds?: number;
  /** Shortest trailing silence reported as the tail (s). */
  minTailSilenceSeconds?: number;
  /** Shortest bars/tone (merged span, s). */
  minToneSeconds?: number;
  /** Tone pieces of the same frequency closer than this are one finding (s). */
  toneMergeGapSeconds?: number;
  /** Share of a frame's energy in its strongest spectral peak for a tonal frame. */
  tonePeakRatio?: number;
  /** Quietest tone (RMS dBFS of the frame). */
  toneMinDbfs?: number;
  toneMinHz?: number;
  toneMaxHz?: number;
  popMinHz?: number;
  popMaxHz?: number;
  popMinSeconds?: number;
  popMaxSeconds?: number;
  /** Share of the burst's energy in its peak for a 2-pop. */
  popPeakRatio?: number;
  /** Multiplier to full scale 1.0; default 1/32768 for Int16Array input, else 1. */
  scale?: number;
}

export const DEFAULT_HEAD_PARAMS: Readonly<Required<Omit<HeadParams, 'scale'>>> = {
  maxHeadSeconds: 180,
  silenceDbfs: -60,
  minSilenceSeconds: 0.5,
  minTailSilenceSeconds: 1,
  minToneSeconds: 2,
  toneMergeGapSeconds: 1,
  tonePeakRatio: 0.9,
  toneMinDbfs: -40,
  toneMinHz: 80,
  toneMaxHz: 20000,
  popMinHz: 800,
  popMaxHz: 1250,
  popMinSeconds: 0.015,
  popMaxSeconds: 0.1,
  popPeakRatio: 0.8,
};

const BLOCK_SECONDS = 0.005;
const BLOCKS_PER_FRAME = 10; // 50 ms frames
const TONE_MIN_PIECE_FRAMES = 4;
const TONE_FREQ_TOL_HZ = 2;
const TONE_LEVEL_TOL_DB = 1.5;
const TONE_MERGE_FREQ_TOL_HZ = 3;
const TONE_STEADY_SHARE = 0.5;
const TONE_EDGE_SLACK_FRAMES = 2;
const POP_MAX_FRAMES = 3;
const POP_SILENCE_BEFORE_S = 0.25;
const POP_SILENCE_AFTER_S = 0.5;
const TINY = 1e-30;

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

interface Peak {
  /** Share of the segment's energy within the peak's main lobe. */
  ratio: number;
  frequency: number;
}

/** Hann-windowed, zero-padded real FFT of one segment length. */
class PeakAnalyser {
  private readonly size: number;
  private readonly fft: FFT;
  private readonly window: Float64Array;
  private readonly input: Float64Array;
  private readonly out: number[];
  private readonly power: Float64Array;
  private readonly halfLobe: number;

  constructor(private readonly len: number) {
    this.size = Math.max(64, nextPow2(len));
    this.fft = plan(this.size);
    this.window = new Float64Array(len);
    for (let i = 0; i < len; i++) this.window[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 0.5)) / len);
    this.input = new Float64Array(this.size);
    this.out = this.fft.createComplexArray() as number[];
    this.power = new Float64Array(this.size / 2 + 1);
    // Hann main lobe: ±2 bins at the segment's own resolution; a little margin.
    this.halfLobe = Math.ceil((2.5 * this.size) / len);
  }

  analyse(x: ArrayLike<number>, scale: number, start: number, sampleRate: number, minHz: number, maxHz: number): Peak {
    const { len, size, input, window, power } = this;
    let mean = 0;
    for (let i = 0; i < len; i++) mean += x[start + i]!;
    mean /= len;
    for (let i = 0; i < len; i++) input[i] = (x[start + i]! - mean) * scale * window[i]!;
    this.fft.realTransform(this.out, input);
    const out = this.out;
    const half = size / 2;
    let total = 0;
    for (let k = 0; k <= half; k++) {
      const re = out[2 * k]!;
      const im = out[2 * k + 1]!;
      const p = re * re + im * im;
      power[k] = p;
      total += p;
    }
    const binHz = sampleRate / size;
    const kLo = Math.max(1, Math.ceil(minHz / binHz));
    const kHi = Math.min(half - 1, Math.floor(maxHz / binHz));
    if (kHi < kLo || total <= TINY) return { ratio: 0, frequency: 0 };
    let kPeak = kLo;
    for (let k = kLo + 1; k <= kHi; k++) if (power[k]! > power[kPeak]!) kPeak = k;
    let lobe = 0;
    for (let k = Math.max(0, kPeak - this.halfLobe); k <= Math.min(half, kPeak + this.halfLobe); k++) lobe += power[k]!;
    const a = Math.log(power[kPeak - 1]! + TINY);
    const b = Math.log(power[kPeak]! + TINY);
    const c = Math.log(power[kPeak + 1]! + TINY);
    const den = a - 2 * b + c;
    const delta = den < 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (a - c)) / den)) : 0;
    return { ratio: lobe / total, frequency: (kPeak + delta) * binHz };
  }
}

interface Item {
  kind: HeadFinding['kind'];
  /** Frame-level extent [startF, endF). */
  startF: number;
  endF: number;
  /** Refined extent in samples. */
  start: number;
  end: number;
  report: boolean;
  frequency?: number;
}

interface Run {
  startF: number;
  endF: number;
}

const round3 = (v: number): number => Math.round(v * 1000) / 1000;

/**
 * Head items, programme start and tail start of mono PCM at `sampleRate`.
 * `samples` may be Float32Array (full scale 1.0) or Int16Array (scaled by 1/32768 unless
 * params.scale says otherwise), or any array of numbers with params.scale.
 */
export function detectHead(samples: ArrayLike<number>, sampleRate: number, params: HeadParams = {}): HeadReport {
  if (!(sampleRate > 0)) throw new RangeError(`sample rate must be positive, got ${sampleRate}`);
  const p = { ...DEFAULT_HEAD_PARAMS, ...stripUndefined(params) };
  const scale = params.scale ?? (samples instanceof Int16Array ? 1 / 32768 : 1);
  const x = samples;
  const n = x.length;
  const blockLen = Math.max(1, Math.round(sampleRate * BLOCK_SECONDS));
  const hop = blockLen * BLOCKS_PER_FRAME;
  const frameSec = hop / sampleRate;
  const thr = Math.pow(10, p.silenceDbfs / 10); // mean-square threshold
  const toneMinMs = Math.pow(10, p.toneMinDbfs / 10);

  const meanSquare = (a: number, b: number): number => {
    const lo = Math.max(0, a);
    const hi = Math.min(n, b);
    if (hi <= lo) return 0;
    let s = 0;
    for (let i = lo; i < hi; i++) {
      const v = x[i]! * scale;
      s += v * v;
    }
    return s / (hi - lo);
  };
  const blockMs = (pos: number): number => meanSquare(pos, pos + blockLen);

  // Boundary sound -> quiet near sample `pos`: the first quiet block, within one frame.
  const refineFall = (pos: number): number => {
    let b = pos;
    if (b - blockLen >= 0 && blockMs(b - blockLen) < thr) {
      const lim = Math.max(0, pos - hop);
      while (b - blockLen >= lim && blockMs(b - blockLen) < thr) b -= blockLen;
    } else {
      const lim = Math.min(n, pos + hop);
      while (b < lim && blockMs(b) >= thr) b += blockLen;
    }
    return Math.max(0, Math.min(n, b));
  };
  // Boundary quiet -> sound near sample `pos`: the first loud block, within one frame.
  const refineRise = (pos: number): number => {
    let b = pos;
    if (b < n && blockMs(b) < thr) {
      const lim = Math.min(n, pos + hop);
      while (b < lim && blockMs(b) < thr) b += blockLen;
    } else {
      const lim = Math.max(0, pos - hop);
      while (b - blockLen >= lim && blockMs(b - blockLen) >= thr) b -= blockLen;
    }
    return Math.max(0, Math.min(n, b));
  };

  // ---- tail: trailing silence, frames anchored at the end of the file ----
  let tailStart: number | null = null;
  {
    let s = n;
    while (s - hop >= 0 && meanSquare(s - hop, s) < thr) s -= hop;
    if (s > 0 && s < hop && meanSquare(0, s) < thr) s = 0;
    if (s < n) {
      if (s > 0) s = refineFall(s);
      if ((n - s) / sampleRate >= p.minTailSilenceSeconds) tailStart = s;
    }
  }

  // ---- head: one pass over 50 ms frames ----
  const headSamples = Math.min(n, Math.round(p.maxHeadSeconds * sampleRate));
  const nFrames = Math.floor(headSamples / hop);
  const frameMs = new Float64Array(nFrames);
  const silent = new Uint8Array(nFrames);
  const tonal = new Uint8Array(nFrames);
  const freq = new Float64Array(nFrames);
  const analyser = new PeakAnalyser(hop);
  const toneMaxHz = Math.min(p.toneMaxHz, sampleRate * 0.45);
  for (let f = 0; f < nFrames; f++) {
    const ms = meanSquare(f * hop, (f + 1) * hop);
    frameMs[f] = ms;
    if (ms < thr) {
      silent[f] = 1;
      continue;
    }
    if (ms < toneMinMs) continue;
    const pk = analyser.analyse(x, scale, f * hop, sampleRate, p.toneMinHz, toneMaxHz);
    if (pk.ratio >= p.tonePeakRatio) {
      tonal[f] = 1;
      freq[f] = pk.frequency;
    }
  }
  const db = (f: number): number => 10 * Math.log10(frameMs[f]! + TINY);

  // silence runs (any length: short ones link head items; long ones are findings)
  const silenceRuns: Run[] = [];
  for (let f = 0; f < nFrames; ) {
    if (!silent[f]) {
      f++;
      continue;
    }
    const s = f;
    while (f < nFrames && silent[f]) f++;
    silenceRuns.push({ startF: s, endF: f });
  }
  const silenceItems: Item[] = silenceRuns.map((r) => {
    const start = r.startF === 0 ? 0 : refineFall(r.startF * hop);
    const end = r.endF >= nFrames ? r.endF * hop : refineRise(r.endF * hop);
    return { kind: 'silence', startF: r.startF, endF: r.endF, start, end, report: (end - start) / sampleRate >= p.minSilenceSeconds };
  });

  // tone pieces: steady frequency and level
  interface Piece extends Run {
    frequency: number;
    level: number;
  }
  const pieces: Piece[] = [];
  for (let f = 0; f < nFrames; ) {
    if (!tonal[f]) {
      f++;
      continue;
    }
    const s = f;
    const refF = freq[f]!;
    const refDb = db(f);
    let sumF = 0;
    let sumDb = 0;
    while (f < nFrames && tonal[f] && Math.abs(freq[f]! - refF) <= TONE_FREQ_TOL_HZ && Math.abs(db(f) - refDb) <= TONE_LEVEL_TOL_DB) {
      sumF += freq[f]!;
      sumDb += db(f);
      f++;
    }
    if (f - s >= TONE_MIN_PIECE_FRAMES) pieces.push({ startF: s, endF: f, frequency: sumF / (f - s), level: sumDb / (f - s) });
  }
  // merge pieces of one frequency across short gaps
  const groups: { startF: number; endF: number; weighted: number; frames: number; pieces: Piece[] }[] = [];
  const mergeGapFrames = p.toneMergeGapSeconds / frameSec;
  for (const pc of pieces) {
    const g = groups[groups.length - 1];
    const len = pc.endF - pc.startF;
    if (g && pc.startF - g.endF < mergeGapFrames && Math.abs(pc.frequency - g.weighted / g.frames) <= TONE_MERGE_FREQ_TOL_HZ) {
      g.endF = pc.endF;
      g.weighted += pc.frequency * len;
      g.frames += len;
      g.pieces.push(pc);
    } else {
      groups.push({ startF: pc.startF, endF: pc.endF, weighted: pc.frequency * len, frames: len, pieces: [pc] });
    }
  }
  const toneItems: Item[] = [];
  for (const g of groups) {
    // line-up tone sits at one level most of the time (dips and gaps allowed); a decaying or
    // swelling note walks through levels piece by piece
    const top = Math.max(...g.pieces.map((pc) => pc.level));
    const steady = g.pieces.reduce((a, pc) => a + (pc.level >= top - TONE_LEVEL_TOL_DB ? pc.endF - pc.startF : 0), 0);
    if (steady < TONE_STEADY_SHARE * (g.endF - g.startF)) continue;
    // edges next to silence (within the partial-frame slack) are refined by that silence
    const before = silenceItems.find((si) => si.endF <= g.startF && si.endF >= g.startF - TONE_EDGE_SLACK_FRAMES);
    const after = silenceItems.find((si) => si.startF >= g.endF && si.startF <= g.endF + TONE_EDGE_SLACK_FRAMES);
    const start = g.startF === 0 ? 0 : before ? before.end : g.startF * hop;
    const end = after ? after.start : g.endF * hop;
    if ((end - start) / sampleRate + 1e-6 < p.minToneSeconds) continue;
    toneItems.push({ kind: 'bars_tone', startF: g.startF, endF: g.endF, start, end, report: true, frequency: g.weighted / g.frames });
  }

  // 2-pops: a short sine burst between silences
  const popItems: Item[] = [];
  for (let i = 0; i + 1 < silenceRuns.length; i++) {
    const a = silenceRuns[i]!;
    const b = silenceRuns[i + 1]!;
    const gapFrames = b.startF - a.endF;
    if (gapFrames < 1 || gapFrames > POP_MAX_FRAMES) continue;
    if ((a.endF - a.startF) * frameSec < POP_SILENCE_BEFORE_S && a.startF !== 0) continue;
    if ((b.endF - b.startF) * frameSec < POP_SILENCE_AFTER_S) continue;
    const from = Math.max(0, (a.endF - 1) * hop);
    const to = Math.min(n, (b.startF + 1) * hop);
    let first = -1;
    let last = -1;
    for (let pos = from; pos + blockLen <= to; pos += blockLen) {
      if (blockMs(pos) >= thr) {
        if (first < 0) first = pos;
        last = pos;
      }
    }
    if (first < 0) continue;
    const bStart = first;
    const bEnd = last + blockLen;
    const dur = (bEnd - bStart) / sampleRate;
    if (dur < p.popMinSeconds || dur > p.popMaxSeconds) continue;
    const pk = new PeakAnalyser(bEnd - bStart).analyse(x, scale, bStart, sampleRate, p.toneMinHz, toneMaxHz);
    if (pk.ratio < p.popPeakRatio || pk.frequency < p.popMinHz || pk.frequency > p.popMaxHz) continue;
    popItems.push({ kind: 'two_pop', startF: a.endF, endF: b.startF, start: bStart, end: bEnd, report: true, frequency: pk.frequency });
  }

  // ---- the contiguous head: chain items from time 0 ----
  const items = [...silenceItems, ...toneItems, ...popItems].sort((u, v) => u.startF - v.startF || v.endF - u.endF);
  const chain: Item[] = [];
  let cursor = 0;
  for (;;) {
    const prev = chain[chain.length - 1];
    let best: Item | undefined;
    for (const it of items) {
      const slack = it.kind === 'bars_tone' || prev?.kind === 'bars_tone' ? TONE_EDGE_SLACK_FRAMES : 0;
      if (it.startF <= cursor + slack && it.endF > cursor && (!best || it.endF > best.endF)) best = it;
    }
    if (!best) break;
    chain.push(best);
    cursor = best.endF;
  }
  const headHasItem = chain.some((it) => it.report);
  const last = chain[chain.length - 1];
  const programmeStart = headHasItem && last ? last.end : 0;

  const findings: HeadFinding[] = [];
  const seen = new Set<Item>();
  for (const it of [...chain.filter((c) => c.kind === 'silence' && c.report), ...toneItems, ...popItems]) {
    if (seen.has(it)) continue;
    seen.add(it);
    const f: HeadFinding = { kind: it.kind, start: round3(it.start / sampleRate), end: round3(it.end / sampleRate) };
    if (it.frequency !== undefined) f.frequency_hz = Math.round(it.frequency * 10) / 10;
    findings.push(f);
  }
  findings.sort((u, v) => u.start - v.start || u.end - v.end);

  return {
    findings,
    programme_start: round3(programmeStart / sampleRate),
    tail_start: tailStart === null ? null : round3(tailStart / sampleRate),
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

export interface TimeRange {
  start: number;
  end: number;
}

/**
 * Time ranges (s) the matcher must ignore: the head up to programme_start, every head finding
 * (tone or pop found outside the contiguous head too) and the trailing silence, which runs to
 * durationSeconds when given, else to +Infinity. Sorted, overlapping ranges merged.
 */
export function headMask(report: HeadReport, durationSeconds?: number): TimeRange[] {
  const ranges: TimeRange[] = [];
  if (report.programme_start > 0) ranges.push({ start: 0, end: report.programme_start });
  for (const f of report.findings) if (f.end > f.start) ranges.push({ start: f.start, end: f.end });
  if (report.tail_start !== null) {
    const end = durationSeconds ?? Number.POSITIVE_INFINITY;
    if (end > report.tail_start) ranges.push({ start: report.tail_start, end });
  }
  ranges.sort((a, b) => a.start - b.start || a.end - b.end);
  const out: TimeRange[] = [];
  for (const r of ranges) {
    const prev = out[out.length - 1];
    if (prev && r.start <= prev.end) prev.end = Math.max(prev.end, r.end);
    else out.push({ ...r });
  }
  return out;
}
