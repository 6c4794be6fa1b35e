// Helpers shared by the report renderers: escaping, formula neutralisation and the timecode
// context (rate, drop-frame, start timecode) that every timecode column uses.
import { FRAME_RATES, formatTimecode, frameRateKeyFor, offsetToFrames } from '@sync-analyzer/engine';
import type { AnalysisResult, FrameRateKey } from '@sync-analyzer/engine';
// framesToTimecode / parseTimecode (absolute frame counts, SMPTE drop-frame) are not re-exported
// by the engine's index; importing the module itself keeps one implementation of that maths.
import { framesToTimecode, parseTimecode } from '../../../../shared/engine/src/frames.ts';

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * Spreadsheet formula injection: a user string that a spreadsheet would evaluate (leading
 * =, +, -, @, TAB or CR) gets a leading apostrophe so it is shown as text.
 */
export function neutralizeFormula(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

/** Last path component of a (relative or absolute, / or \ separated) path. */
export function baseName(path: string): string {
  const parts = path.split(/[\\/]/).filter((p) => p.length > 0);
  return parts[parts.length - 1] ?? path;
}

/** Rounds to a number of decimals; non-finite values become null (JSON and CSV cannot hold them). */
export function roundTo(value: number | null | undefined, decimals: number): number | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  const f = 10 ** decimals;
  const r = Math.round(value * f) / f;
  return Object.is(r, -0) ? 0 : r;
}

export interface RateContext {
  key: FrameRateKey;
  /** Drop-frame counting for absolute timecodes and offsets (29.97 DF, or a ';' start timecode). */
  dropFrame: boolean;
  fps: number;
  label: string;
  /** Master start timecode as used (normalised), and as an absolute frame count. */
  startTimecode: string;
  startFrames: number;
  /** Why the master's start timecode was not used, or null. */
  startProblem: string | null;
}

function isRateKey(k: unknown): k is FrameRateKey {
  return typeof k === 'string' && Object.prototype.hasOwnProperty.call(FRAME_RATES, k);
}

/**
 * The master's timecode frame: rate = result.reference_frame_rate, else the master's video rate,
 * else 25; start = result.master.start_timecode, else 00:00:00:00.
 */
export function rateContext(result: AnalysisResult | null): RateContext {
  const key: FrameRateKey = isRateKey(result?.reference_frame_rate)
    ? result.reference_frame_rate
    : (frameRateKeyFor(result?.master.video_frame_rate ?? null) ?? '25');
  const r = FRAME_RATES[key];
  const dfAllowed = r.den === 1001 && (r.nominal === 30 || r.nominal === 60);
  const rawStart = result?.master.start_timecode?.trim() || null;
  // ffprobe writes drop-frame timecodes with ';' (or ','): the master counts in drop-frame.
  const dropFrame = r.dropFrame || (dfAllowed && rawStart !== null && /[;,]\d+$/.test(rawStart));
  let startFrames = 0;
  let startProblem: string | null = null;
  if (rawStart !== null) {
    try {
      const n = parseTimecode(rawStart, key, { dropFrame });
      if (n < 0) startProblem = `negative start timecode ${rawStart} ignored`;
      else startFrames = n;
    } catch (err) {
      startProblem = `start timecode ${rawStart} is not valid at ${r.label} fps (${(err as Error).message}); 00:00:00:00 used`;
    }
  }
  return {
    key,
    dropFrame,
    fps: r.fps,
    label: dropFrame && !r.dropFrame ? `${r.label} DF` : r.label,
    startTimecode: framesToTimecode(startFrames, key, { dropFrame }),
    startFrames,
    startProblem,
  };
}

/** Absolute frame number (start timecode included) of a master-timeline time in seconds. */
export function absoluteFrame(seconds: number, ctx: RateContext): number {
  return ctx.startFrames + Math.round(seconds * ctx.fps);
}

/** Timecode label of an absolute frame number (clamped at 00:00:00:00: timecode has no sign). */
export function frameLabel(frame: number, ctx: RateContext): string {
  return framesToTimecode(Math.max(0, frame), ctx.key, { dropFrame: ctx.dropFrame });
}

/** Master timecode (start timecode + seconds) of a time on the master's timeline. */
export function timecodeAt(seconds: number, ctx: RateContext): string {
  return frameLabel(absoluteFrame(seconds, ctx), ctx);
}

/** An offset (signed seconds) in frames and as ±timecode at the context's rate. */
export function offsetInFrames(offsetSeconds: number, ctx: RateContext): { frames: number; timecode: string } {
  return { frames: offsetToFrames(offsetSeconds, ctx.key), timecode: formatTimecode(offsetSeconds, ctx.key, { dropFrame: ctx.dropFrame }) };
}

/** Error text of a record: "CODE: message", either part alone, or null. */
export function errorText(code: string | null, message: string | null): string | null {
  if (code && message) return `${code}: ${message}`;
  return message || code || null;
}

export const VERDICT_LABELS: Record<AnalysisResult['verdict'], string> = {
  in_sync: 'IN SYNC',
  offset: 'OFFSET',
  drift: 'DRIFT',
  edited: 'EDITED',
  no_match: 'NO MATCH',
};

export const VERDICT_COLOURS: Record<AnalysisResult['verdict'], string> = {
  in_sync: '#1b7f3b',
  offset: '#b26a00',
  drift: '#b24a00',
  edited: '#5a3fb0',
  no_match: '#6b6b6b',
};
