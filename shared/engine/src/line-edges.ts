// Line edges measured on the waveforms with the shared bed cancelled.
//
// A speech model's segment edges find lines but do not time them: Silero's onset and release lag
// by tens to hundreds of milliseconds, and the lag depends on the voice, which reads as frame
// errors between a master and a correctly timed dub. Energy thresholds on each file alone do not
// fix that: a line's tail sinks into the music and effects at a level that depends on the bed.
//
// A dub is built on the master's music and effects, so around a line the two files are
//   M = B + Sm        D = H·B + Sd        (per STFT bin; H: the remix's EQ and gain)
// and with H estimated from frames where neither file speaks, R = D − H·M = Sd − H·Sm holds both
// speeches and no bed. Speech, bed and their cross terms being uncorrelated, the powers satisfy
//   |M|² = b + m     |D|² = h·b + d     |R|² = d + h·m      (h = |H|²)
// which solve for the bed b and each file's own speech m and d. Summed over the speech band those
// give each file's dialogue envelope with the bed removed; edges are read off it with one rule for
// both files.
import { plan } from './fft.ts';
import type { EditSpan } from './dialogue.ts';
import type { PcmTrack } from './pcm.ts';
import { pcmScale, readResampled } from './pcm.ts';

export interface LineEdgeParams {
  /** STFT size (samples at the analysis rate) and hop, seconds. */
  fftSize: number;
  hopSeconds: number;
  /** Speech band summed for the envelopes, Hz. */
  lowHz: number;
  highHz: number;
  /** The remix model samples a frame every this many seconds where neither file speaks. */
  remixSampleSeconds: number;
  /** A line's H comes from the samples within this distance (widened x4 when too few). */
  remixWindowSeconds: number;
  /** Samples needed to trust H; fewer and the model's edges are kept. */
  minRemixFrames: number;
  /** How far an edge may move from the model's edge, seconds. */
  searchSeconds: number;
  /** Bed read on each side of a line (the remix gain and the cancellation floor come from it), seconds. */
  marginSeconds: number;
  /** A frame within this many dB of the line's loud level is surely speech (the walk starts there). */
  anchorBelowPeakDb: number;
  /** The edge is where the separated envelope falls this far below the line's loud level... */
  edgeBelowPeakDb: number;
  /** ...and at least this far above what the cancellation leaves of the bed... */
  edgeAboveFloorDb: number;
  /** ...and, for an edge under the other file's speech, this far above the estimate's cross-term noise (its std). */
  edgeAboveNoiseDb: number;
  /** Dips up to this long inside the walk do not end it (stops, short pauses), seconds. */
  bridgeSeconds: number;
  /** Speech this long beyond a longer pause, within the search distance, still belongs to the line, seconds. */
  minRunSeconds: number;
  /** Envelope smoothing (moving average), frames. */
  smoothFrames: number;
  /** Smoothing of the frame-by-frame remix gain, frames. */
  gainSmoothFrames: number;
}

export const DEFAULT_LINE_EDGE_PARAMS: LineEdgeParams = {
  fftSize: 256,
  hopSeconds: 0.01,
  lowHz: 150,
  highHz: 3600,
  remixSampleSeconds: 0.25,
  remixWindowSeconds: 8,
  minRemixFrames: 16,
  searchSeconds: 0.4,
  marginSeconds: 0.5,
  anchorBelowPeakDb: 12,
  edgeBelowPeakDb: 30,
  edgeAboveFloorDb: 15,
  edgeAboveNoiseDb: 6,
  bridgeSeconds: 0.05,
  minRunSeconds: 0.05,
  smoothFrames: 1,
  gainSmoothFrames: 9,
};

/** Outside the ranges where edges are read, frames are this many hops apart. */
const COARSE_HOPS = 4;

export interface Segment {
  start: number;
  end: number;
}


/** Reads both files' spectra (speech band) of frames centred at master times inside one edit span. */
class SpanSpectra {
  readonly n: number;
  readonly k0: number;
  readonly bins: number;
  private readonly slope: number;
  private readonly win: Float64Array;
  private readonly fft: ReturnType<typeof plan>;
  private readonly z: Float64Array;
  private readonly Z: Float64Array;
  constructor(
    private readonly master: PcmTrack,
    private readonly dub: PcmTrack,
    private readonly span: EditSpan,
    p: LineEdgeParams,
  ) {
    const sr = master.sampleRate;
    this.n = p.fftSize;
    this.k0 = Math.max(1, Math.floor((p.lowHz * this.n) / sr));
    const k1 = Math.min(this.n / 2 - 1, Math.ceil((p.highHz * this.n) / sr));
    this.bins = k1 - this.k0 + 1;
    this.slope = span.master_end > span.master_start ? (span.dub_end - span.dub_start) / (span.master_end - span.master_start) : 1;
    this.win = hann(this.n);
    this.fft = plan(this.n);
    this.z = new Float64Array(2 * this.n);
    this.Z = new Float64Array(2 * this.n);
    this.m = new Float64Array(this.n);
    this.d = new Float64Array(this.n);
  }

  private readonly m: Float64Array;
  private readonly d: Float64Array;

  get windowSeconds(): number {
    return this.n / this.master.sampleRate;
  }

  /** Whether a frame centred at master time t lies inside the span and both files. */
  covers(t: number): boolean {
    const half = this.n / 2 / this.master.sampleRate;
    const s = this.span;
    const d = s.dub_start + (t - s.master_start) * this.slope;
    return t - half >= Math.max(0, s.master_start) && t + half <= Math.min(s.master_end, this.master.samples.length / this.master.sampleRate)
      && d - half * this.slope >= 0 && d + half * this.slope <= this.dub.samples.length / this.dub.sampleRate;
  }

  /** Writes frame `f`'s spectra (centred at master time t) into the [frame][bin] arrays. */
  read(t: number, f: number, Mr: Float32Array, Mi: Float32Array, Dr: Float32Array, Di: Float32Array): void {
    const sr = this.master.sampleRate;
    const n = this.n;
    const m0 = Math.round(t * sr - n / 2);
    const m = readResampled(this.master.samples, m0, 1, n, this.m);
    // The dub sample under the master's first sample. Without drift its fraction is the same in
    // every frame, so a linear read is a fixed filter that H absorbs; under drift the fraction
    // cycles, and so would a linear read's high-frequency loss (-8 dB at 3 kHz half-way between
    // samples), which no H cancels: windowed sinc there.
    const s = this.span;
    const d0 = (s.dub_start + (m0 / sr - s.master_start) * this.slope) * sr;
    const d = Math.abs(this.slope - 1) < 1e-9 ? readResampled(this.dub.samples, d0, 1, n, this.d) : readSinc(this.dub.samples, d0, this.slope, n, this.d);
    const z = this.z, Z = this.Z, win = this.win;
    for (let i = 0; i < n; i++) {
      const w = win[i] as number;
      z[2 * i] = (m[i] as number) * w;
      z[2 * i + 1] = (d[i] as number) * w;
    }
    // One complex FFT for both (master real, dub imaginary), split by conjugate symmetry.
    this.fft.transform(Z, z);
    const kEnd = this.k0 + this.bins;
    for (let k = this.k0, x = f * this.bins; k < kEnd; k++, x++) {
      const j = n - k;
      const zr = Z[2 * k] as number, zi = Z[2 * k + 1] as number, cr = Z[2 * j] as number, ci = -(Z[2 * j + 1] as number);
      Mr[x] = 0.5 * (zr + cr);
      Mi[x] = 0.5 * (zi + ci);
      Dr[x] = 0.5 * (zi - ci);
      Di[x] = -0.5 * (zr - cr);
    }
  }
}

/** Sorted union of segments. */
function merge(segments: readonly Segment[]): Segment[] {
  const sorted = [...segments].sort((a, b) => a.start - b.start);
  const out: Segment[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else out.push({ start: s.start, end: s.end });
  }
  return out;
}

/** Whether t is within guard of any of the merged, sorted segments (binary search). */
function inSpeech(merged: readonly Segment[], t: number, guard: number): boolean {
  let lo = 0, hi = merged.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = merged[mid] as Segment;
    if (t <= s.start - guard) hi = mid - 1;
    else if (t >= s.end + guard) lo = mid + 1;
    else return true;
  }
  return false;
}

/**
 * The remix across one edit span: per sampled bed-only frame and bin, D·conj(M) and |M|², from
 * which each line's H is a local least-squares fit. Sampling keeps this a few MB for hours.
 */
export class RemixModel {
  private readonly times: Float64Array;
  private readonly cross: Float32Array;
  private readonly power: Float32Array;
  private readonly dpower: Float32Array;
  readonly spectra: SpanSpectra;
  /** Every speech segment of either file, merged: the frames outside them are the bed alone. */
  readonly speech: Segment[];
  private constructor(spectra: SpanSpectra, speech: Segment[], times: Float64Array, cross: Float32Array, power: Float32Array, dpower: Float32Array, private readonly p: LineEdgeParams) {
    this.spectra = spectra;
    this.speech = speech;
    this.times = times;
    this.cross = cross;
    this.power = power;
    this.dpower = dpower;
  }

  static build(master: PcmTrack, dub: PcmTrack, span: EditSpan, speech: readonly Segment[], params: Partial<LineEdgeParams> = {}): RemixModel | null {
    const p = { ...DEFAULT_LINE_EDGE_PARAMS, ...params };
    if (master.sampleRate !== dub.sampleRate) return null;
    const spectra = new SpanSpectra(master, dub, span, p);
    const merged = merge(speech);
    const guard = spectra.windowSeconds;
    const times: number[] = [];
    for (let t = span.master_start + guard; t < span.master_end - guard; t += p.remixSampleSeconds) if (!inSpeech(merged, t, guard) && spectra.covers(t)) times.push(t);
    const bins = spectra.bins;
    const Mr = new Float32Array(bins), Mi = new Float32Array(bins), Dr = new Float32Array(bins), Di = new Float32Array(bins);
    const cross = new Float32Array(times.length * bins * 2);
    const power = new Float32Array(times.length * bins);
    const dpower = new Float32Array(times.length * bins);
    times.forEach((t, f) => {
      spectra.read(t, 0, Mr, Mi, Dr, Di);
      for (let k = 0; k < bins; k++) {
        const mr = Mr[k] as number, mi = Mi[k] as number, dr = Dr[k] as number, di = Di[k] as number;
        cross[2 * (f * bins + k)] = dr * mr + di * mi; // D·conj(M)
        cross[2 * (f * bins + k) + 1] = di * mr - dr * mi;
        power[f * bins + k] = mr * mr + mi * mi;
        dpower[f * bins + k] = dr * dr + di * di;
      }
    });
    return new RemixModel(spectra, merged, Float64Array.from(times), cross, power, dpower, p);
  }

  /** H per bin for a line around master time t (least squares over the nearby samples); null when too few. */
  responseAt(t: number): { Hr: Float64Array; Hi: Float64Array } | null {
    const bins = this.spectra.bins;
    for (const w of [this.p.remixWindowSeconds, 4 * this.p.remixWindowSeconds]) {
      const from = lowerBound(this.times, t - w), to = lowerBound(this.times, t + w);
      if (to - from < this.p.minRemixFrames) continue;
      // Least squares, then again without the frames it fits worst: speech the model missed
      // (a soft or masked line) is not the bed and would pull H.
      let H = this.fit(from, to, null);
      const ratio = new Float64Array(to - from);
      for (let f = from; f < to; f++) {
        let res = 0, ref = 0;
        for (let k = 0, x = f * bins; k < bins; k++, x++) {
          const hr = H.Hr[k] as number, hi = H.Hi[k] as number;
          const pm = this.power[x] as number;
          // |D - H M|^2 = |D|^2 - 2 Re(conj(H) D conj(M)) + |H|^2 |M|^2
          res += (this.dpower[x] as number) - 2 * (hr * (this.cross[2 * x] as number) + hi * (this.cross[2 * x + 1] as number)) + (hr * hr + hi * hi) * pm;
          ref += (hr * hr + hi * hi) * pm;
        }
        ratio[f - from] = ref > 0 ? res / ref : Infinity;
      }
      const sorted = Float64Array.from(ratio).sort();
      const limit = OUTLIER_FACTOR * (sorted[sorted.length >> 1] as number);
      const keep = Array.from(ratio, (r) => r <= limit);
      if (keep.filter(Boolean).length >= this.p.minRemixFrames) H = this.fit(from, to, keep);
      return H;
    }
    return null;
  }

  private fit(from: number, to: number, keep: boolean[] | null): { Hr: Float64Array; Hi: Float64Array } {
    const bins = this.spectra.bins;
    const Hr = new Float64Array(bins), Hi = new Float64Array(bins);
    for (let k = 0; k < bins; k++) {
      let nr = 0, ni = 0, den = 0;
      for (let f = from; f < to; f++) {
        if (keep && !keep[f - from]) continue;
        const x = f * bins + k;
        nr += this.cross[2 * x] as number;
        ni += this.cross[2 * x + 1] as number;
        den += this.power[x] as number;
      }
      Hr[k] = den > 0 ? nr / den : 0;
      Hi[k] = den > 0 ? ni / den : 0;
    }
    return { Hr, Hi };
  }
}

/** A bed-only frame whose cancellation residual exceeds the median's this many times holds something else (missed speech). */
const OUTLIER_FACTOR = 4;

function lowerBound(a: Float64Array, x: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((a[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface SeparatedEnvelopes {
  /** Master time of grid frame 0's centre and the grid hop, seconds. */
  t0: number;
  hop: number;
  /** dB envelopes of each file's own speech (bed removed) and of the bed. */
  master: Float32Array;
  dub: Float32Array;
  bed: Float32Array;
  /** What the cancellation leaves of the bed, relative to the bed (dB). */
  leak: number;
  /** Per frame, the level (dB) an envelope must exceed where the other file is silent: bed + leak + edgeAboveFloorDb. */
  bedFloor: Float32Array;
  /**
   * The same, and above the noise the bed and the other file's speech put in this file's estimate
   * (+ edgeAboveNoiseDb): the level for an edge under the other file's speech.
   */
  masterFloor: Float32Array;
  dubFloor: Float32Array;
  /**
   * Per frame (linear, master scale): the cancellation residual |D - H·M|² (both files' own
   * speech) and both files' power above the bed's spectrum (their speech however it relates).
   */
  residual: Float32Array;
  excess: Float32Array;
}

/**
 * How much of two files' speech over [start, end) is the same recording (0..1): 1 - residual /
 * excess. Speech of its own in each file (a translation, another voice) survives the cancellation
 * as residual; the master's own line in the dub cancels with the bed. Null when no speech stands
 * above the bed there.
 */
export function sameRecording(env: SeparatedEnvelopes, start: number, end: number): number | null {
  const i0 = Math.max(0, Math.round((start - env.t0) / env.hop));
  const i1 = Math.min(env.excess.length, Math.round((end - env.t0) / env.hop));
  let res = 0, exc = 0;
  for (let i = i0; i < i1; i++) {
    res += env.residual[i] as number;
    exc += env.excess[i] as number;
  }
  return exc > 0 ? Math.max(0, Math.min(1, 1 - res / exc)) : null;
}

/**
 * Separated speech envelopes of one line on a uniform grid over master time [from, to). Frames
 * run at the full hop in `fine` (the ranges where edges can be) and every COARSE_HOPS hops
 * elsewhere (held on the grid). Null when the span does not cover the range, H cannot be
 * estimated, or no bed-only frame lies in the range.
 */
export function separateSpeech(remix: RemixModel, from: number, to: number, fine: readonly Segment[], params: Partial<LineEdgeParams> = {}): SeparatedEnvelopes | null {
  const p = { ...DEFAULT_LINE_EDGE_PARAMS, ...params };
  const spectra = remix.spectra;
  const hop = p.hopSeconds;
  if (!(to - from > 3 * hop) || !spectra.covers(from) || !spectra.covers(to)) return null;
  const H = remix.responseAt((from + to) / 2);
  if (!H) return null;
  const grid = Math.floor((to - from) / hop) + 1;
  // Computed frames (grid indices): every one inside `fine`, every COARSE_HOPS-th elsewhere.
  const idx: number[] = [];
  for (let i = 0; i < grid; i++) {
    const t = from + i * hop;
    if (i % COARSE_HOPS === 0 || i === grid - 1 || fine.some((r) => t >= r.start && t <= r.end)) idx.push(i);
  }
  const frames = idx.length;
  const bins = spectra.bins;
  const Mr = new Float32Array(frames * bins), Mi = new Float32Array(frames * bins);
  const Dr = new Float32Array(frames * bins), Di = new Float32Array(frames * bins);
  const guard = spectra.windowSeconds;
  const bedOnly = new Uint8Array(frames);
  for (let f = 0; f < frames; f++) {
    const t = from + (idx[f] as number) * hop;
    spectra.read(t, f, Mr, Mi, Dr, Di);
    if (!inSpeech(remix.speech, t, guard)) bedOnly[f] = 1;
  }
  const { Hr, Hi } = H;
  // Bed-only by the model, but the remix does not explain them: speech the model missed.
  const ratio = new Float64Array(frames).fill(NaN);
  for (let f = 0; f < frames; f++) {
    if (!bedOnly[f]) continue;
    let res = 0, ref = 0;
    for (let k = 0, x = f * bins; k < bins; k++, x++) {
      const mr = Mr[x] as number, mi = Mi[x] as number;
      const hr = (Hr[k] as number) * mr - (Hi[k] as number) * mi;
      const hi = (Hr[k] as number) * mi + (Hi[k] as number) * mr;
      res += ((Dr[x] as number) - hr) ** 2 + ((Di[x] as number) - hi) ** 2;
      ref += hr * hr + hi * hi;
    }
    ratio[f] = ref > 0 ? res / ref : Infinity;
  }
  const finite = Array.from(ratio).filter((r) => !Number.isNaN(r)).sort((x, y) => x - y);
  if (finite.length === 0) return null;
  const outlier = OUTLIER_FACTOR * (finite[finite.length >> 1] as number);
  for (let f = 0; f < frames; f++) if (bedOnly[f] && (ratio[f] as number) > outlier) bedOnly[f] = 0;
  // The remix's gain moves (level automation, the bed's compressor): a complex gain per bed-only
  // frame on top of H, interpolated across the frames where someone speaks.
  const gr = new Float64Array(frames).fill(NaN), gi = new Float64Array(frames).fill(NaN);
  for (let f = 0; f < frames; f++) {
    if (!bedOnly[f]) continue;
    let nr = 0, ni = 0, den = 0;
    for (let k = 0, x = f * bins; k < bins; k++, x++) {
      const mr = Mr[x] as number, mi = Mi[x] as number;
      const hr = (Hr[k] as number) * mr - (Hi[k] as number) * mi;
      const hi = (Hr[k] as number) * mi + (Hi[k] as number) * mr;
      const dr = Dr[x] as number, di = Di[x] as number;
      nr += dr * hr + di * hi;
      ni += di * hr - dr * hi;
      den += hr * hr + hi * hi;
    }
    if (den > 0) {
      gr[f] = nr / den;
      gi[f] = ni / den;
    }
  }
  smoothAndFill(gr, p.gainSmoothFrames);
  smoothAndFill(gi, p.gainSmoothFrames);
  // The bed's power spectrum around the line (master scale), from its bed-only frames: for the
  // cross-term noise below (a per-frame bed estimate is itself too noisy under loud speech).
  const bedSpectrum = new Float64Array(bins);
  let bedCount = 0;
  for (let f = 0; f < frames; f++) {
    if (!bedOnly[f]) continue;
    bedCount++;
    for (let k = 0, x = f * bins; k < bins; k++, x++) bedSpectrum[k] = (bedSpectrum[k] as number) + (Mr[x] as number) ** 2 + (Mi[x] as number) ** 2;
  }
  for (let k = 0; k < bins; k++) bedSpectrum[k] = (bedSpectrum[k] as number) / bedCount;
  // Per frame, the speech-band powers.
  const em = new Float64Array(frames), ed = new Float64Array(frames), eb = new Float64Array(frames), er = new Float64Array(frames);
  const nm = new Float64Array(frames), nd = new Float64Array(frames), ex = new Float64Array(frames);
  for (let f = 0; f < frames; f++) {
    let sm = 0, sd = 0, sb = 0, sr2 = 0, vm = 0, vd = 0, prevM = 0, prevD = 0, sx = 0;
    const fr = gr[f] as number, fi = gi[f] as number;
    for (let k = 0, x = f * bins; k < bins; k++, x++) {
      const Hfr = (Hr[k] as number) * fr - (Hi[k] as number) * fi, Hfi = (Hr[k] as number) * fi + (Hi[k] as number) * fr;
      const h = Hfr * Hfr + Hfi * Hfi;
      if (!(h > 1e-6)) continue;
      const mr = Mr[x] as number, mi = Mi[x] as number, dr = Dr[x] as number, di = Di[x] as number;
      const M2 = mr * mr + mi * mi;
      const D2 = dr * dr + di * di;
      const rr = dr - (Hfr * mr - Hfi * mi);
      const ri = di - (Hfr * mi + Hfi * mr);
      const R2 = rr * rr + ri * ri;
      // Signed per bin: the speech-bed cross terms are as large as the terms sought and only
      // cancel in the sum over bins; clamping per bin would keep their positive halves.
      const bed = (D2 - R2 + h * M2) / (2 * h);
      const mk = M2 - bed;
      const dk = (D2 - h * bed) / h; // in master scale
      sb += bed;
      sm += mk;
      sd += dk;
      sr2 += R2 / h;
      // Variance of the cross terms one file's estimate gets from the bed and the other file's
      // speech (Re of a random-phase product: b·s/2).
      // A Hann window spreads a partial over neighbouring bins, whose cross terms then move
      // together: the covariance with the previous bin is counted as if fully correlated.
      const bk = bedSpectrum[k] as number;
      sx += Math.max(0, M2 - bk) + Math.max(0, D2 / h - bk);
      const am = Math.sqrt((bk * Math.max(0, D2 / h - bk)) / 2);
      const ad = Math.sqrt((bk * Math.max(0, M2 - bk)) / 2);
      vm += am * am + 2 * am * prevM;
      vd += ad * ad + 2 * ad * prevD;
      prevM = am;
      prevD = ad;
    }
    nm[f] = vm;
    nd[f] = vd;
    ex[f] = sx;
    // Each file's speech is at most the residual's power (R holds both speeches and no bed), which
    // keeps the estimate's first-order error out of the bed-only frames.
    em[f] = Math.max(0, Math.min(sm, sr2));
    ed[f] = Math.max(0, Math.min(sd, sr2));
    eb[f] = Math.max(0, sb);
    er[f] = sr2;
  }
  // What the cancellation leaves of the bed: the residual's level against the bed's where neither
  // file speaks (median, dB). Both envelopes are bounded by the residual, so the floor under either
  // file's line follows the bed: bed[i] + leak.
  const ratios: number[] = [];
  for (let f = 0; f < frames; f++) if (bedOnly[f] && (eb[f] as number) > 0) ratios.push(10 * Math.log10(((er[f] as number) + 1e-12) / (eb[f] as number)));
  if (ratios.length === 0) return null;
  ratios.sort((x, y) => x - y);
  const leak = ratios[ratios.length >> 1] as number;
  // Grid index -> nearest computed frame.
  const at = new Int32Array(grid);
  for (let i = 0, f = 0; i < grid; i++) {
    while (f + 1 < frames && Math.abs((idx[f + 1] as number) - i) <= Math.abs((idx[f] as number) - i)) f++;
    at[i] = f;
  }
  const w = Math.max(1, p.smoothFrames);
  // Moving mean over the grid, in dB; for the noise, the std of that mean: sqrt(sum var) / count.
  const smooth = (e: Float64Array, std: boolean) => {
    const o = new Float32Array(grid);
    for (let i = 0; i < grid; i++) {
      let s = 0, c = 0;
      for (let j = Math.max(0, i - (w >> 1)); j <= Math.min(grid - 1, i + (w >> 1)); j++) { s += e[at[j] as number] as number; c++; }
      o[i] = 10 * Math.log10((std ? Math.sqrt(s) : s) / c + 1e-12);
    }
    return o;
  };
  const bed = smooth(eb, false);
  const floor = (noise: Float32Array | null) => {
    const o = new Float32Array(grid);
    for (let i = 0; i < grid; i++) o[i] = Math.max((bed[i] as number) + leak + p.edgeAboveFloorDb, noise ? (noise[i] as number) + p.edgeAboveNoiseDb : -Infinity);
    return o;
  };
  const held = (e: Float64Array) => Float32Array.from(at, (f) => e[f] as number);
  return {
    t0: from,
    hop,
    residual: held(er),
    excess: held(ex),
    master: smooth(em, false),
    dub: smooth(ed, false),
    bed,
    leak,
    bedFloor: floor(null),
    masterFloor: floor(smooth(nm, true)),
    dubFloor: floor(smooth(nd, true)),
  };
}

/** Hann window of n samples (one per edit span's spectra). */
function hann(n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n));
}

const SINC_HALF = 8;
const LANCZOS = (() => {
  // Lanczos (a = 8) kernel tabulated at 1/64 sample.
  const steps = 64;
  const t = new Float64Array(2 * SINC_HALF * steps + 1);
  for (let i = 0; i < t.length; i++) {
    const x = i / steps - SINC_HALF;
    t[i] = x === 0 ? 1 : (SINC_HALF * Math.sin(Math.PI * x) * Math.sin((Math.PI * x) / SINC_HALF)) / (Math.PI * Math.PI * x * x);
  }
  return { t, steps };
})();

/** Like readResampled with a Lanczos-8 kernel (zero outside the signal); for steps near 1. */
export function readSinc(samples: Int16Array | Float32Array, start: number, step: number, length: number, out: Float64Array = new Float64Array(length)): Float64Array {
  const scale = pcmScale(samples);
  const { t, steps } = LANCZOS;
  for (let i = 0; i < length; i++) {
    const pos = start + i * step;
    const i0 = Math.floor(pos);
    const frac = pos - i0;
    let acc = 0;
    for (let k = -SINC_HALF + 1; k <= SINC_HALF; k++) {
      const j = i0 + k;
      if (j < 0 || j >= samples.length) continue;
      const x = k - frac; // in (-SINC_HALF, SINC_HALF]
      const ti = Math.round((x + SINC_HALF) * steps);
      acc += (samples[j] as number) * (t[ti] as number);
    }
    out[i] = acc * scale;
  }
  return out;
}

/** Moving average over the finite values, then linear interpolation across the NaN runs (ends held). */
function smoothAndFill(a: Float64Array, w: number): void {
  const src = Float64Array.from(a);
  const half = Math.max(0, w >> 1);
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(src[i] as number)) continue;
    let s = 0, c = 0;
    for (let j = i - half; j <= i + half; j++) if (j >= 0 && j < a.length && Number.isFinite(src[j] as number)) { s += src[j] as number; c++; }
    a[i] = s / c;
  }
  let prev = -1;
  for (let i = 0; i <= a.length; i++) {
    if (i < a.length && !Number.isFinite(a[i] as number)) continue;
    if (i - prev > 1) {
      const left = prev >= 0 ? (a[prev] as number) : i < a.length ? (a[i] as number) : 1;
      const right = i < a.length ? (a[i] as number) : left;
      for (let j = prev + 1; j < i; j++) a[j] = left + ((right - left) * (j - prev)) / (i - prev);
    }
    prev = i;
  }
}

/**
 * A line's edges on a separated envelope: from the first and last loud frames of the model's
 * segment, walks outwards while the envelope stays within edgeBelowPeakDb of the line's loud
 * level and above the floor. Null when the segment has no loud frame.
 */
export function edgesOnEnvelope(env: Float32Array, floor: Float32Array, t0: number, hop: number, line: Segment, params: Partial<LineEdgeParams> = {}, reach: Segment = line): LineEdges | null {
  const p = { ...DEFAULT_LINE_EDGE_PARAMS, ...params };
  const at = (t: number) => Math.min(env.length, Math.max(0, Math.round((t - t0) / hop)));
  const i0 = at(line.start), i1 = at(line.end);
  if (i1 - i0 < 3) return null;
  const inside = Array.from(env.subarray(i0, i1)).sort((x, y) => x - y);
  const peak = inside[Math.round(0.9 * (inside.length - 1))] as number;
  const anchor = peak - p.anchorBelowPeakDb;
  const thr = peak - p.edgeBelowPeakDb;
  const bridge = Math.max(1, Math.round(p.bridgeSeconds / hop));
  const lo = at(Math.min(line.start, reach.start) - p.searchSeconds), hi = at(Math.max(line.end, reach.end) + p.searchSeconds) - 1;
  let first = -1;
  const loud = (k: number) => (env[k] as number) >= Math.max(anchor, floor[k] as number);
  // Loud frames anywhere in either file's segment of the line (a model can miss a first word).
  const a0 = Math.min(i0, at(reach.start)), a1 = Math.max(i1, at(reach.end));
  for (let k = a0; k < a1; k++) if (loud(k)) { first = k; break; }
  let last = -1;
  for (let k = a1 - 1; k >= a0; k--) if (loud(k)) { last = k; break; }
  if (first < 0 || last < 0 || last < first) return null;
  const minRun = Math.max(1, Math.round(p.minRunSeconds / hop));
  const s = outermostRun(env, floor, first, lo, -1, thr, bridge, minRun);
  const e = outermostRun(env, floor, last, hi, 1, thr, bridge, minRun);
  return { start: t0 + s * hop, end: t0 + e * hop, loudStart: t0 + first * hop, loudEnd: t0 + last * hop };
}

export interface LineEdges extends Segment {
  /** The first and last frames within anchorBelowPeakDb of the line's loud level: surely speech. */
  loudStart: number;
  loudEnd: number;
}

/**
 * From k, steps in dir while the envelope is at or above thr and the frame's floor (dips up to
 * `bridge` frames are crossed); the fractional index where it last crosses that level, not past `limit`.
 */
function walk(a: Float32Array, floor: Float32Array, k: number, limit: number, dir: 1 | -1, thr: number, bridge: number): number {
  const level = (j: number) => Math.max(thr, floor[j] as number);
  let last = k;
  let gap = 0;
  for (let j = k + dir; dir === 1 ? j <= limit : j >= limit; j += dir) {
    if ((a[j] as number) >= level(j)) {
      last = j;
      gap = 0;
    } else if (++gap > bridge) break;
  }
  // Where between the last frame above and the next one the envelope crosses the level (linear in dB).
  const next = last + dir;
  if (next < 0 || next >= a.length || (dir === 1 ? next > limit : next < limit)) return last;
  const above = (a[last] as number) - level(last);
  const below = level(next) - (a[next] as number);
  return above + below > 0 ? last + (dir * above) / (above + below) : last;
}

/**
 * The outermost run of at least minRun frames at or above the level between k and limit, walked
 * from there: a line's first word may stand apart from the rest by more than a bridgeable pause.
 */
function outermostRun(a: Float32Array, floor: Float32Array, k: number, limit: number, dir: 1 | -1, thr: number, bridge: number, minRun: number): number {
  const level = (j: number) => Math.max(thr, floor[j] as number);
  let best = k;
  let run = 0;
  for (let j = k; dir === 1 ? j <= limit : j >= limit; j += dir) {
    if ((a[j] as number) >= level(j)) {
      run++;
      if (run >= minRun) best = j - dir * (minRun - 1);
    } else run = 0;
  }
  return walk(a, floor, best, limit, dir, thr, bridge);
}
