/**
 * Silero's usual post-processing (get_speech_timestamps): hysteresis between `threshold`
 * and `negThreshold`, a minimum silence before a segment closes, a minimum speech length,
 * and padding that splits the gap when two padded segments would overlap. Pure: it works on
 * stored probabilities, so thresholds can be changed without re-running the model.
 */

export interface SegmentOptions {
  /** A frame at or above this starts (or continues) speech. Default 0.5. */
  threshold?: number;
  /** A frame below this is silence while in speech. Default threshold - 0.15 (at least 0.01). */
  negThreshold?: number;
  /** Segments shorter than this are dropped. Default 250. */
  minSpeechMs?: number;
  /** Silence must last this long to close a segment. Default 100. */
  minSilenceMs?: number;
  /** Added on both sides of each segment (gaps smaller than twice this are split evenly). Default 30. */
  speechPadMs?: number;
}

export interface SpeechSegment {
  /** Seconds from the start of the PCM. */
  start: number;
  end: number;
  /** Mean speech probability of the frames inside the (unpadded) segment. */
  prob: number;
}

export interface ResolvedSegmentOptions {
  threshold: number;
  negThreshold: number;
  minSpeechMs: number;
  minSilenceMs: number;
  speechPadMs: number;
}

export function resolveSegmentOptions(opts: SegmentOptions = {}): ResolvedSegmentOptions {
  const threshold = opts.threshold ?? 0.5;
  const negThreshold = opts.negThreshold ?? Math.max(threshold - 0.15, 0.01);
  const r = {
    threshold,
    negThreshold,
    minSpeechMs: opts.minSpeechMs ?? 250,
    minSilenceMs: opts.minSilenceMs ?? 100,
    speechPadMs: opts.speechPadMs ?? 30,
  };
  if (!(threshold > 0 && threshold < 1)) throw new RangeError(`threshold must be in (0, 1), got ${threshold}`);
  if (!(negThreshold > 0 && negThreshold <= threshold)) throw new RangeError(`negThreshold must be in (0, threshold], got ${negThreshold}`);
  for (const k of ['minSpeechMs', 'minSilenceMs', 'speechPadMs'] as const) {
    if (!(r[k] >= 0 && Number.isFinite(r[k]))) throw new RangeError(`${k} must be a finite number >= 0, got ${r[k]}`);
  }
  return r;
}

/**
 * Speech segments from per-frame probabilities. Frame i covers samples
 * [i * frameSamples, (i + 1) * frameSamples); `totalSamples` bounds the last segment.
 */
export function speechSegments(
  probs: ArrayLike<number>,
  frameSamples: number,
  sampleRate: number,
  totalSamples: number,
  options: SegmentOptions = {},
): SpeechSegment[] {
  const o = resolveSegmentOptions(options);
  const minSpeech = (sampleRate * o.minSpeechMs) / 1000;
  const minSilence = (sampleRate * o.minSilenceMs) / 1000;
  const pad = Math.round((sampleRate * o.speechPadMs) / 1000);

  const raw: { start: number; end: number; startFrame: number; endFrame: number }[] = [];
  let triggered = false;
  let start = 0;
  let startFrame = 0;
  let tempEnd = 0;
  let tempEndFrame = 0;
  let pendingEnd = false;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i] as number;
    const cur = i * frameSamples;
    if (p >= o.threshold) {
      pendingEnd = false;
      if (!triggered) {
        triggered = true;
        start = cur;
        startFrame = i;
      }
      continue;
    }
    if (triggered && p < o.negThreshold) {
      if (!pendingEnd) {
        pendingEnd = true;
        tempEnd = cur;
        tempEndFrame = i;
      }
      if (cur - tempEnd < minSilence) continue;
      if (tempEnd - start > minSpeech) raw.push({ start, end: tempEnd, startFrame, endFrame: tempEndFrame });
      triggered = false;
      pendingEnd = false;
    }
  }
  if (triggered && totalSamples - start > minSpeech) {
    raw.push({ start, end: totalSamples, startFrame, endFrame: probs.length });
  }

  const segs = raw.map((s) => ({ ...s }));
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    if (i === 0) s.start = Math.max(0, s.start - pad);
    const next = segs[i + 1];
    if (next) {
      const gap = next.start - s.end;
      if (gap < 2 * pad) {
        // Padded neighbours would overlap: split the gap between them.
        s.end += Math.floor(gap / 2);
        next.start = Math.max(0, next.start - Math.floor(gap / 2));
      } else {
        s.end = Math.min(totalSamples, s.end + pad);
        next.start = Math.max(0, next.start - pad);
      }
    } else {
      s.end = Math.min(totalSamples, s.end + pad);
    }
  }

  return segs.map((s) => {
    let sum = 0;
    const to = Math.min(s.endFrame, probs.length);
    for (let f = s.startFrame; f < to; f++) sum += probs[f] as number;
    return { start: s.start / sampleRate, end: s.end / sampleRate, prob: to > s.startFrame ? sum / (to - s.startFrame) : 0 };
  });
}
