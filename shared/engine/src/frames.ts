// Frame rates, offsets in frames and SMPTE timecode (pure).
//
// Sign convention: offset_seconds > 0 means the dub is LATE (content at master time t is heard
// in the dub at t + offset). Frame counts keep that sign; timecodes carry it as a leading +/-.
import { FRAME_RATE_KEYS } from './result.ts';
import type { FrameRateKey } from './result.ts';

export interface FrameRate {
  key: FrameRateKey;
  /** Exact rate as a rational: fps = num / den. */
  num: number;
  den: number;
  /** num / den as a float. */
  fps: number;
  /** Integer frame count per timecode second (24, 25, 30, 50, 60). */
  nominal: number;
  /** SMPTE drop-frame counting (only '29.97df'). */
  dropFrame: boolean;
  /** Operator label, e.g. '23.976', '29.97 DF'. */
  label: string;
}

function rate(key: FrameRateKey, num: number, den: number, nominal: number, dropFrame: boolean, label: string): FrameRate {
  return { key, num, den, fps: num / den, nominal, dropFrame, label };
}

export const FRAME_RATES: Readonly<Record<FrameRateKey, FrameRate>> = {
  '23.976': rate('23.976', 24000, 1001, 24, false, '23.976'),
  '24': rate('24', 24, 1, 24, false, '24'),
  '25': rate('25', 25, 1, 25, false, '25'),
  '29.97': rate('29.97', 30000, 1001, 30, false, '29.97'),
  '29.97df': rate('29.97df', 30000, 1001, 30, true, '29.97 DF'),
  '30': rate('30', 30, 1, 30, false, '30'),
  '50': rate('50', 50, 1, 50, false, '50'),
  '59.94': rate('59.94', 60000, 1001, 60, false, '59.94'),
  '60': rate('60', 60, 1, 60, false, '60'),
};

export interface TimecodeOptions {
  /**
   * Override drop-frame counting. Default: the key's own flag (true only for '29.97df').
   * Drop-frame is allowed only for the 1001-based 30/60 rates ('29.97', '29.97df', '59.94');
   * 59.94 DF drops 4 frame numbers per minute instead of 2.
   */
  dropFrame?: boolean;
}

function resolve(key: FrameRateKey, opts?: TimecodeOptions): { r: FrameRate; df: boolean } {
  const r = FRAME_RATES[key];
  if (!r) throw new RangeError(`unknown frame rate key: ${String(key)}`);
  const df = opts?.dropFrame ?? r.dropFrame;
  if (df && !(r.den === 1001 && (r.nominal === 30 || r.nominal === 60))) {
    throw new RangeError(`drop-frame timecode is not defined at ${r.label}`);
  }
  return { r, df };
}

/** Frame numbers skipped at each non-tenth minute: 2 at 29.97, 4 at 59.94. */
function dropCount(nominal: number): number {
  return nominal === 60 ? 4 : 2;
}

/** Signed, fractional frames at this rate for an offset in seconds. */
export function offsetToFrames(offsetSeconds: number, key: FrameRateKey): number {
  return offsetSeconds * FRAME_RATES[key].fps;
}

/**
 * Splits a non-negative integer frame count into a timecode string (no sign).
 * Non-drop: frames are labelled with the nominal integer base (HH:MM:SS:FF at 24/30/60 per
 * second), so at 23.976/29.97/59.94 NDF the label runs slow against the wall clock by 1.001;
 * that is the standard NDF meaning: the label counts frames, not seconds.
 * Drop-frame: the SMPTE algorithm; frame numbers 0 and 1 (0-3 at 59.94) are skipped at the
 * start of every minute except minutes divisible by ten, and ';' separates the frames.
 */
export function framesToTimecode(frameCount: number, key: FrameRateKey, opts?: TimecodeOptions): string {
  if (!Number.isInteger(frameCount) || frameCount < 0) throw new RangeError(`frame count must be a non-negative integer, got ${frameCount}`);
  const { r, df } = resolve(key, opts);
  const base = r.nominal;
  let n = frameCount;
  if (df) {
    const drop = dropCount(base);
    const perMinute = base * 60 - drop; // 1798 at 29.97
    const perTenMinutes = base * 600 - drop * 9; // 17982 at 29.97
    const tens = Math.floor(n / perTenMinutes);
    const rem = n % perTenMinutes;
    n += drop * 9 * tens;
    if (rem > drop) n += drop * Math.floor((rem - drop) / perMinute);
  }
  const ff = n % base;
  const totalSeconds = Math.floor(n / base);
  const ss = totalSeconds % 60;
  const mm = Math.floor(totalSeconds / 60) % 60;
  const hh = Math.floor(totalSeconds / 3600);
  const p2 = (v: number): string => String(v).padStart(2, '0');
  return `${p2(hh)}:${p2(mm)}:${p2(ss)}${df ? ';' : ':'}${p2(ff)}`;
}

/**
 * The magnitude of a signed time as ±HH:MM:SS:FF ('+' for zero and positive). The frame count
 * is round(|seconds| * exact fps), i.e. the number of real frames at the true rate, which is
 * then labelled with the nominal base (see framesToTimecode). Hours do not wrap at 24.
 */
export function formatTimecode(seconds: number, key: FrameRateKey, opts?: TimecodeOptions): string {
  if (!Number.isFinite(seconds)) throw new RangeError(`seconds must be finite, got ${seconds}`);
  const frames = Math.round(Math.abs(seconds) * FRAME_RATES[key].fps);
  const sign = seconds < 0 && frames > 0 ? '-' : '+';
  return sign + framesToTimecode(frames, key, opts);
}

const TC_RE = /^([+-]?)(\d{2,}):(\d{2}):(\d{2})([:;.,])(\d{2,})$/;

/**
 * Parses ±HH:MM:SS:FF (or ';' / '.' / ',' before the frames) back to a signed integer frame
 * count at this rate. Drop-frame counting applies when the key (or opts) says so, or when the
 * separator is ';' or ',' at a rate where drop-frame is defined. Throws on malformed input and
 * on labels that drop-frame counting skips.
 */
export function parseTimecode(tc: string, key: FrameRateKey, opts?: TimecodeOptions): number {
  const m = TC_RE.exec(tc.trim());
  if (!m) throw new RangeError(`not a timecode: ${tc}`);
  const sep = m[5]!;
  const dfSep = sep === ';' || sep === ',';
  const { r, df } = resolve(key, { dropFrame: opts?.dropFrame ?? (FRAME_RATES[key].dropFrame || dfSep) });
  const hh = Number(m[2]);
  const mm = Number(m[3]);
  const ss = Number(m[4]);
  const ff = Number(m[6]);
  if (mm > 59 || ss > 59 || ff >= r.nominal) throw new RangeError(`timecode out of range: ${tc}`);
  const totalMinutes = hh * 60 + mm;
  let n = (totalMinutes * 60 + ss) * r.nominal + ff;
  if (df) {
    const drop = dropCount(r.nominal);
    if (ss === 0 && ff < drop && mm % 10 !== 0) throw new RangeError(`drop-frame timecode skips ${tc}`);
    n -= drop * (totalMinutes - Math.floor(totalMinutes / 10));
  }
  return m[1] === '-' ? -n : n;
}

export interface FramesEntry {
  frames: number;
  timecode: string;
}

/** The offset at every frame rate the result reports (result.ts FRAME_RATE_KEYS). */
export function framesTable(offsetSeconds: number): Record<FrameRateKey, FramesEntry> {
  const out = {} as Record<FrameRateKey, FramesEntry>;
  for (const key of FRAME_RATE_KEYS) {
    out[key] = { frames: offsetToFrames(offsetSeconds, key), timecode: formatTimecode(offsetSeconds, key) };
  }
  return out;
}

export interface FrameRateKeyOptions {
  /** Report 29.97 material as '29.97df' (default false: NDF). */
  dropFrame?: boolean;
}

/** The nearest frame-rate key within 0.01 fps, or null (no rate, or nothing close). */
export function frameRateKeyFor(fps: number | null, opts?: FrameRateKeyOptions): FrameRateKey | null {
  if (fps === null || !Number.isFinite(fps) || fps <= 0) return null;
  let best: FrameRateKey | null = null;
  let bestDiff = Infinity;
  for (const key of FRAME_RATE_KEYS) {
    if (FRAME_RATES[key].dropFrame) continue;
    const d = Math.abs(FRAME_RATES[key].fps - fps);
    if (d < bestDiff) {
      bestDiff = d;
      best = key;
    }
  }
  if (best === null || bestDiff > 0.01) return null;
  if (best === '29.97' && opts?.dropFrame) return '29.97df';
  return best;
}

/**
 * The offset in operator words:
 *   "dub is 1.234 s (29.6 frames @ 23.976) late", "dub is 0.020 s (0.5 frames @ 25) early",
 *   "dub is in sync (0.000 s)" when |offset| < 0.5 ms.
 */
export function describeOffset(offsetSeconds: number, key: FrameRateKey): string {
  if (!Number.isFinite(offsetSeconds)) throw new RangeError(`offset must be finite, got ${offsetSeconds}`);
  const mag = Math.abs(offsetSeconds);
  if (mag < 0.0005) return 'dub is in sync (0.000 s)';
  const frames = Math.abs(offsetToFrames(offsetSeconds, key));
  const dir = offsetSeconds > 0 ? 'late' : 'early';
  return `dub is ${mag.toFixed(3)} s (${frames.toFixed(1)} frames @ ${FRAME_RATES[key].label}) ${dir}`;
}
