// Cross-correlation for checking the corpus against its truth: radix-2 FFT, GCC-PHAT with
// parabolic peak interpolation. Used by the codec-delay probe, verify.ts and the tests.

/** In-place iterative radix-2 complex FFT (length must be a power of two). */
export function fft(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      const tr = re[i] as number;
      re[i] = re[j] as number;
      re[j] = tr;
      const ti = im[i] as number;
      im[i] = im[j] as number;
      im[j] = ti;
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = ((inverse ? 2 : -2) * Math.PI) / len;
    const wr = Math.cos(ang);
    const wi = Math.sin(ang);
    const half = len >> 1;
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < half; k++) {
        const a = i + k;
        const b = a + half;
        const xr = (re[b] as number) * cr - (im[b] as number) * ci;
        const xi = (re[b] as number) * ci + (im[b] as number) * cr;
        re[b] = (re[a] as number) - xr;
        im[b] = (im[a] as number) - xi;
        re[a] = (re[a] as number) + xr;
        im[a] = (im[a] as number) + xi;
        const ncr = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = ncr;
      }
    }
  }
  if (inverse) {
    for (let i = 0; i < n; i++) {
      re[i] = (re[i] as number) / n;
      im[i] = (im[i] as number) / n;
    }
  }
}

export interface LagEstimate {
  /** lag in samples (fractional): b[t + lag] ~ a[t], i.e. positive when b is late */
  lag: number;
  /** peak height over the mean absolute correlation */
  peakRatio: number;
}

/**
 * GCC-PHAT lag between two signals: positive when `b` is a delayed copy of `a`.
 * Searches lags in [-maxLag, maxLag].
 */
export function gccPhat(a: Float32Array, b: Float32Array, maxLag: number): LagEstimate {
  let n = 1;
  while (n < a.length + b.length) n <<= 1;
  const ar = new Float64Array(n);
  const ai = new Float64Array(n);
  const br = new Float64Array(n);
  const bi = new Float64Array(n);
  ar.set(a);
  br.set(b);
  fft(ar, ai);
  fft(br, bi);
  // cross-spectrum B * conj(A), whitened
  for (let k = 0; k < n; k++) {
    const xr = (br[k] as number) * (ar[k] as number) + (bi[k] as number) * (ai[k] as number);
    const xi = (bi[k] as number) * (ar[k] as number) - (br[k] as number) * (ai[k] as number);
    const m = Math.hypot(xr, xi) + 1e-12;
    ar[k] = xr / m;
    ai[k] = xi / m;
  }
  fft(ar, ai, true);
  const at = (lag: number): number => ar[(lag + n) % n] as number;
  let best = 0;
  let bestV = -Infinity;
  let sumAbs = 0;
  let count = 0;
  const lim = Math.min(maxLag, n / 2 - 1);
  for (let lag = -lim; lag <= lim; lag++) {
    const v = at(lag);
    sumAbs += Math.abs(v);
    count++;
    if (v > bestV) {
      bestV = v;
      best = lag;
    }
  }
  const y0 = at(best - 1);
  const y1 = bestV;
  const y2 = at(best + 1);
  const den = y0 - 2 * y1 + y2;
  const frac = den !== 0 ? (0.5 * (y0 - y2)) / den : 0;
  return { lag: best + Math.max(-0.5, Math.min(0.5, frac)), peakRatio: bestV / (sumAbs / Math.max(1, count) + 1e-12) };
}
