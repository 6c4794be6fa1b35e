// Dialogue-line helpers for the dialogue family: which planned line carries which error, where a
// rendered line's speech actually is (espeak-ng pads its output with silence), and exact-length
// resampling for fitting a dub line onto its master line. Pure functions.
import type { LineError, LineErrorClass } from './case.ts';

/** The planned line an error's `at` (0..1) picks among `count` lines. */
export function resolveLineIndex(count: number, at: number): number {
  if (count < 1) throw new Error('the programme has no dialogue lines');
  if (!(at >= 0 && at <= 1)) throw new Error(`line error position must be in [0, 1], got ${at}`);
  return Math.round(at * (count - 1));
}

/** Line index -> its planned error; two errors on one line are a spec mistake. */
export function planLineErrors(count: number, errors: readonly LineError[]): Map<number, LineError> {
  const out = new Map<number, LineError>();
  for (const e of errors) {
    const i = resolveLineIndex(count, e.at);
    if (out.has(i)) throw new Error(`two line errors resolve to line ${i} (of ${count})`);
    if (e.kind === 'shift' && e.seconds === 0) throw new Error('a shift of 0 s is not an error');
    out.set(i, e);
  }
  return out;
}

export function errorClass(e: LineError): LineErrorClass {
  return e.kind === 'shift' ? (e.seconds > 0 ? 'late' : 'early') : e.kind;
}

const SPAN_WINDOW = 240; // 5 ms at 48 kHz
/** Below the loudest window by this much (dB) a window counts as silence. */
const SPAN_FLOOR_DB = 35;
/**
 * The dialogue family's line edges: where a line is within 20 dB of its loudest 5 ms. Below that
 * espeak-ng's onsets and tails differ by voice (measured on the family's dry dialogue, lines whose
 * -35 dB spans coincide were 2 frames or more apart at -30, -25, -20 or -15 dB in 17-22% of
 * cases), and under a music-and-effects bed they are not audible; the rendered lines are trimmed
 * there, so a line is timed the same at any level a listener or a tool can use.
 */
export const LINE_EDGE_DB = 20;

/**
 * Sample range [from, to) of the speech in a rendered line: from the first to the last 5 ms window
 * whose RMS is within floorDb (default 35 dB) of the loudest window. Null for a silent buffer.
 */
export function speechSpan(samples: Float32Array, floorDb = SPAN_FLOOR_DB): { from: number; to: number } | null {
  const windows = Math.ceil(samples.length / SPAN_WINDOW);
  const rms = new Float64Array(windows);
  let peak = 0;
  for (let w = 0; w < windows; w++) {
    let s = 0;
    const end = Math.min(samples.length, (w + 1) * SPAN_WINDOW);
    for (let i = w * SPAN_WINDOW; i < end; i++) s += (samples[i] as number) ** 2;
    rms[w] = Math.sqrt(s / Math.max(1, end - w * SPAN_WINDOW));
    peak = Math.max(peak, rms[w] as number);
  }
  if (peak <= 0) return null;
  const floor = peak * Math.pow(10, -floorDb / 20);
  let first = -1;
  let last = -1;
  for (let w = 0; w < windows; w++) {
    if ((rms[w] as number) >= floor) {
      if (first < 0) first = w;
      last = w;
    }
  }
  return { from: first * SPAN_WINDOW, to: Math.min(samples.length, (last + 1) * SPAN_WINDOW) };
}

/**
 * Cubic (Catmull-Rom) resampling of `input` to exactly `length` samples. Used after a
 * pitch-keeping stretch has brought the length within a few percent, so the pitch change it
 * adds is negligible.
 */
export function fitLength(input: Float32Array, length: number): Float32Array {
  const out = new Float32Array(length);
  if (length === 0 || input.length === 0) return out;
  if (input.length === length) {
    out.set(input);
    return out;
  }
  const step = length > 1 ? (input.length - 1) / (length - 1) : 0;
  const at = (i: number): number => (input[Math.min(input.length - 1, Math.max(0, i))] as number);
  for (let j = 0; j < length; j++) {
    const x = j * step;
    const i = Math.floor(x);
    const t = x - i;
    const p0 = at(i - 1);
    const p1 = at(i);
    const p2 = at(i + 1);
    const p3 = at(i + 2);
    out[j] = p1 + 0.5 * t * (p2 - p0 + t * (2 * p0 - 5 * p1 + 4 * p2 - p3 + t * (3 * (p1 - p2) + p3 - p0)));
  }
  return out;
}

/** ffmpeg atempo chain for a speed factor (each atempo stage accepts 0.5..2). */
export function atempoChain(factor: number): string {
  if (!(factor > 0) || !Number.isFinite(factor)) throw new Error(`bad tempo factor ${factor}`);
  const parts: string[] = [];
  let f = factor;
  while (f > 2) {
    parts.push('atempo=2');
    f /= 2;
  }
  while (f < 0.5) {
    parts.push('atempo=0.5');
    f /= 0.5;
  }
  parts.push(`atempo=${f.toFixed(6)}`);
  return parts.join(',');
}
