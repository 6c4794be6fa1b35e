// Benchmark case description and its ground truth (in the product's sign convention:
// offset_seconds > 0 means the dub is late; speed_ratio = d(dub time)/d(master time)).
import type { Language } from './words.ts';

export const FAMILIES = ['constant', 'reencode', 'head', 'drift', 'edit', 'lowsnr', 'language', 'unrelated'] as const;
/**
 * Dialogue timing QC cases (known line errors). Kept out of FAMILIES so that the calibration set,
 * which is drawn per entry of FAMILIES, stays as it was.
 */
export const DIALOGUE_FAMILY = 'dialogue';
export type Family = (typeof FAMILIES)[number] | 'long' | typeof DIALOGUE_FAMILY;

/**
 * Standard speed ratios as an exact resample-then-relabel pair at integer sample rates:
 * the dub content is resampled to `resampleTo` Hz, then relabelled as `relabel` Hz (asetrate),
 * so its duration scales by resampleTo / relabel.
 */
export const STANDARDS = {
  '1000/1001': { resampleTo: 48000, relabel: 48048 },
  '1001/1000': { resampleTo: 48048, relabel: 48000 },
  '25/24': { resampleTo: 50000, relabel: 48000 },
  '24/25': { resampleTo: 48000, relabel: 50000 },
  '25/23.976': { resampleTo: 50050, relabel: 48000 },
  '23.976/25': { resampleTo: 48000, relabel: 50050 },
} as const;
export type StandardName = keyof typeof STANDARDS;
export const STANDARD_NAMES = Object.keys(STANDARDS) as StandardName[];

export function standardRatio(name: StandardName): number {
  const s = STANDARDS[name];
  return s.resampleTo / s.relabel;
}

export interface VoiceSpec {
  language: Language;
  /** espeak-ng voice variant, e.g. "m3", "f2" */
  variant: string;
  /** words per minute */
  speed: number;
  pitch: number;
}

/** Bars and 1 kHz tone at -18 dBFS for toneSeconds, silence, a 1-frame 2-pop 2 s before the programme, silence. */
export interface HeadSpec {
  toneSeconds: number;
  /** programme content starts here (seconds from file start) */
  totalSeconds: number;
}

export type Codec = 'flac' | 'wav' | 'aac' | 'ac3' | 'mp3';
export interface EncodeSpec {
  codec: Codec;
  sampleRate: 44100 | 48000;
  channels: 2 | 6;
  bitrateKbps?: number;
}

export type Edit =
  | { type: 'cut'; /** programme seconds */ at: number; duration: number }
  | { type: 'insert'; /** programme seconds */ at: number; duration: number; material: 'silence' | 'other' };

export interface MasterSpec {
  voice: VoiceSpec;
  head: HeadSpec | null;
  format: 'flac' | 'wav';
  /** dialogue-to-bed balance relative to the default, dB (positive: the bed is lowered) */
  dialogueGainDb: number;
}

export interface DubSpec {
  /** a different programme seed: the dub is unrelated content of similar style */
  programmeSeed: number | null;
  /** EQ, level automation and compression on the bed */
  remix: boolean;
  /** one prominent effect event left out of the dub's bed */
  missingEffect: boolean;
  /** same: the master's dialogue audio; revoice: same text, another voice; translate: another language */
  dialogue: 'same' | 'revoice' | 'translate';
  voice: VoiceSpec;
  dialogueGainDb: number;
  head: HeadSpec | null;
  /** silence padded (> 0) or programme trimmed (< 0) at the dub's head, after the speed change (whole 48 kHz samples) */
  offsetSeconds: number;
  speed: StandardName | null;
  edits: Edit[];
  /** white noise at this SNR (dB) relative to the master bed's RMS */
  noiseSnrDb: number | null;
  encode: EncodeSpec;
  /**
   * Each dub line is fitted to its master line: its speech (silence trimmed) is time-stretched
   * (pitch kept) to the master line's speech length and placed where the master's speech starts,
   * so a line without a planned error starts and ends where the master's does. Dialogue family only.
   */
  fitLines?: boolean;
  /** Known line timing errors (dialogue family; needs fitLines). */
  lineErrors?: LineError[];
}

/**
 * A planned line timing error. `at` picks the line: index round(at * (lines - 1)) of the
 * programme's planned lines (0: first, 1: last), fixed before any run of the product.
 * shift: the dub line sits `seconds` later (> 0) or earlier (< 0) on the programme timeline;
 * missing: the dub line is not rendered; untranslated: the dub plays the master's own line audio.
 */
export type LineError =
  | { kind: 'shift'; at: number; seconds: number }
  | { kind: 'missing'; at: number }
  | { kind: 'untranslated'; at: number };

export type LineErrorClass = 'late' | 'early' | 'missing' | 'untranslated';

/** One master line in the truth: where its speech is (master-file seconds) and its planned error. */
export interface TruthLine {
  index: number;
  master_start: number;
  master_end: number;
  error: LineErrorClass | null;
  /** for late/early: the shift in master seconds (positive = dub late) */
  shift_seconds: number | null;
}

export interface TruthSegment {
  master_start: number;
  master_end: number;
  dub_start: number;
  dub_end: number;
}
export interface TruthGap {
  kind: 'removed' | 'inserted';
  master_start: number;
  master_end: number;
  dub_start: number;
  dub_end: number;
  duration_seconds: number;
}
export interface Truth {
  match: boolean;
  /** at master time 0 along the first segment; null for unrelated pairs */
  offset_seconds: number | null;
  speed_ratio: number | null;
  standard: StandardName | null;
  segments: TruthSegment[];
  gaps: TruthGap[];
  head: { master_programme_start: number; dub_programme_start: number };
  /** decoder delay of the dub's codec as ffmpeg decodes it (already included above) */
  codec_delay_seconds: number;
  /** master programme span (after any head) */
  programme: { master_start: number; master_end: number };
}

export interface CaseSpec {
  id: string;
  family: Family;
  seed: number;
  /** programme length (without heads) */
  durationSeconds: number;
  master: MasterSpec;
  dub: DubSpec;
  truth: Truth;
}

export type CaseInput = Omit<CaseSpec, 'truth'>;

export const SR = 48000;
export const toSamples = (seconds: number): number => Math.round(seconds * SR);

export const MASTER_EXT = { flac: 'flac', wav: 'wav' } as const;
export const DUB_EXT: Record<Codec, string> = { flac: 'flac', wav: 'wav', aac: 'm4a', ac3: 'ac3', mp3: 'mp3' };

/**
 * Decoder delay (samples at the encoded rate) that ffmpeg 5.1 leaves in the decoded audio.
 * AAC in MP4 and LAME-tagged MP3 carry their priming, which ffmpeg removes; raw AC-3 carries
 * none, so its 256-sample MDCT delay stays. The generator measures the delay on a probe and
 * uses (and reports) the measured value if it differs.
 */
export function expectedCodecDelaySamples(enc: EncodeSpec): number {
  return enc.codec === 'ac3' ? 256 : 0;
}

/** One piece of the dub's programme stream (before the speed change), in 48 kHz samples. */
export type Piece =
  | { kind: 'programme'; from: number; to: number }
  | { kind: 'insert'; length: number; material: 'silence' | 'other' };

/** The dub's content stream: the programme with cuts removed and inserts added. */
export function dubPieces(durationSeconds: number, edits: readonly Edit[]): Piece[] {
  const total = toSamples(durationSeconds);
  const sorted = [...edits].sort((a, b) => a.at - b.at);
  const pieces: Piece[] = [];
  let pos = 0;
  for (const e of sorted) {
    const at = toSamples(e.at);
    if (at < pos || at > total) throw new Error(`edit at ${e.at}s overlaps another or lies outside the programme`);
    if (at > pos) pieces.push({ kind: 'programme', from: pos, to: at });
    if (e.type === 'cut') {
      pos = Math.min(total, at + toSamples(e.duration));
    } else {
      pieces.push({ kind: 'insert', length: toSamples(e.duration), material: e.material });
      pos = at;
    }
  }
  if (pos < total) pieces.push({ kind: 'programme', from: pos, to: total });
  return pieces;
}

export function headSamples(head: HeadSpec | null): number {
  return head ? toSamples(head.totalSeconds) : 0;
}

/** Ground truth of a case, given the dub codec's decoder delay in seconds. */
export function computeTruth(c: CaseInput, codecDelaySeconds: number): Truth {
  const hm = headSamples(c.master.head) / SR;
  const hd = headSamples(c.dub.head) / SR;
  const progEnd = hm + toSamples(c.durationSeconds) / SR;
  const off = toSamples(c.dub.offsetSeconds) / SR;
  const dubProgrammeStart = hd + Math.max(0, off) + codecDelaySeconds;
  const head = { master_programme_start: hm, dub_programme_start: dubProgrammeStart };
  const programme = { master_start: hm, master_end: progEnd };
  if (c.dub.programmeSeed !== null) {
    return { match: false, offset_seconds: null, speed_ratio: null, standard: null, segments: [], gaps: [], head,
      codec_delay_seconds: codecDelaySeconds, programme };
  }
  const r = c.dub.speed ? standardRatio(c.dub.speed) : 1;
  // dub time of content-stream time u (seconds, before the speed change)
  const base = hd + off + codecDelaySeconds;
  const dubAt = (u: number): number => base + r * u;
  // content that the trim removed: content-stream times below uMin are not in the dub
  const uMin = off < 0 ? -off / r : 0;
  const segments: TruthSegment[] = [];
  const gaps: TruthGap[] = [];
  let u = 0;
  let prevMasterEnd: number | null = null;
  let prevDubEnd: number | null = null;
  for (const p of dubPieces(c.durationSeconds, c.dub.edits)) {
    if (p.kind === 'programme') {
      const len = (p.to - p.from) / SR;
      let m0 = hm + p.from / SR;
      const m1 = hm + p.to / SR;
      let u0 = u;
      if (u0 < uMin) {
        const skip = Math.min(len, uMin - u0);
        m0 += skip;
        u0 += skip;
      }
      if (m1 > m0 + 1e-9) {
        if (prevMasterEnd !== null && m0 > prevMasterEnd + 1e-9 && prevDubEnd !== null) {
          gaps.push({ kind: 'removed', master_start: prevMasterEnd, master_end: m0, dub_start: prevDubEnd, dub_end: prevDubEnd, duration_seconds: m0 - prevMasterEnd });
        }
        const seg = { master_start: m0, master_end: m1, dub_start: dubAt(u0), dub_end: dubAt(u + len) };
        segments.push(seg);
        prevMasterEnd = m1;
        prevDubEnd = seg.dub_end;
      }
      u += len;
    } else {
      const len = p.length / SR;
      if (u + len > uMin && prevMasterEnd !== null) {
        const d0 = dubAt(Math.max(u, uMin));
        gaps.push({ kind: 'inserted', master_start: prevMasterEnd, master_end: prevMasterEnd, dub_start: d0, dub_end: dubAt(u + len), duration_seconds: dubAt(u + len) - d0 });
      }
      u += len;
    }
  }
  const first = segments[0];
  if (!first) throw new Error(`case ${c.id}: no programme content reaches the dub`);
  // an insert before the first surviving segment has no master anchor: fix its master time
  for (const g of gaps) {
    if (g.kind === 'inserted' && g.master_start < first.master_start) g.master_start = g.master_end = first.master_start;
  }
  const offsetAt0 = first.dub_start - r * first.master_start;
  return {
    match: true,
    offset_seconds: offsetAt0,
    speed_ratio: r,
    standard: c.dub.speed,
    segments,
    gaps,
    head,
    codec_delay_seconds: codecDelaySeconds,
    programme,
  };
}

/** Truth mapping of a master time to dub time (null where the dub lacks that content). */
export function truthMap(t: Pick<Truth, 'segments'>, masterTime: number): number | null {
  for (const s of t.segments) {
    if (masterTime >= s.master_start && masterTime < s.master_end) {
      const span = s.master_end - s.master_start;
      const k = span > 0 ? (s.dub_end - s.dub_start) / span : 1;
      return s.dub_start + (masterTime - s.master_start) * k;
    }
  }
  return null;
}
