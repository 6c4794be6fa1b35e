// Mono PCM at the analysis rate. Int16 keeps a 3-hour pair inside the memory budget
// (8 kHz x 3 h x 2 bytes = 173 MB per file); Float32 is accepted for tests and short windows.
export interface PcmTrack {
  readonly samples: Int16Array | Float32Array;
  readonly sampleRate: number;
}

/** Scale that maps stored samples to [-1, 1]. */
export function pcmScale(samples: Int16Array | Float32Array): number {
  return samples instanceof Int16Array ? 1 / 32768 : 1;
}

export function durationOf(track: PcmTrack): number {
  return track.samples.length / track.sampleRate;
}

/**
 * Reads `length` samples starting at fractional position `start` with step `step`
 * (linear interpolation; zero outside the signal), as floats in [-1, 1].
 * A step other than 1 resamples: used to undo a speed ratio before correlating.
 */
export function readResampled(
  samples: Int16Array | Float32Array,
  start: number,
  step: number,
  length: number,
  out: Float64Array = new Float64Array(length),
): Float64Array {
  const scale = pcmScale(samples);
  const n = samples.length;
  for (let i = 0; i < length; i++) {
    const pos = start + i * step;
    const i0 = Math.floor(pos);
    if (i0 < 0 || i0 + 1 >= n) {
      out[i] = i0 >= 0 && i0 < n ? samples[i0]! * scale : 0;
      continue;
    }
    const frac = pos - i0;
    out[i] = (samples[i0]! * (1 - frac) + samples[i0 + 1]! * frac) * scale;
  }
  return out;
}
