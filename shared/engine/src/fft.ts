// Thin wrapper over fft.js (radix-4, real input): cached plans and full-spectrum helpers
// for FFT correlation.
import FFT from 'fft.js';

const plans = new Map<number, FFT>();

export function plan(size: number): FFT {
  let p = plans.get(size);
  if (!p) {
    p = new FFT(size);
    plans.set(size, p);
  }
  return p;
}

export function nextPow2(n: number): number {
  let p = 4;
  while (p < n) p *= 2;
  return p;
}

/** Full complex spectrum (interleaved re/im, length 2*size) of a real signal zero-padded to size. */
export function realSpectrum(input: ArrayLike<number>, size: number): Float64Array {
  const f = plan(size);
  const buf = new Float64Array(size);
  const n = Math.min(input.length, size);
  for (let i = 0; i < n; i++) buf[i] = input[i]!;
  const out = new Float64Array(2 * size);
  f.realTransform(out, buf);
  f.completeSpectrum(out);
  return out;
}

/** Real part of the inverse transform of a full complex spectrum. */
export function inverseReal(spectrum: Float64Array, size: number): Float64Array {
  const f = plan(size);
  const out = new Float64Array(2 * size);
  f.inverseTransform(out, spectrum);
  const re = new Float64Array(size);
  for (let i = 0; i < size; i++) re[i] = out[2 * i]!;
  return re;
}

/** acc += conj(a) * b, element-wise over interleaved complex arrays. */
export function accumulateCrossSpectrum(acc: Float64Array, a: Float32Array | Float64Array, b: Float64Array): void {
  for (let i = 0; i < acc.length; i += 2) {
    const ar = a[i]!, ai = a[i + 1]!, br = b[i]!, bi = b[i + 1]!;
    acc[i] = acc[i]! + ar * br + ai * bi;
    acc[i + 1] = acc[i + 1]! + ar * bi - ai * br;
  }
}

/**
 * Full spectra of two real signals from one complex FFT (a as the real part, b as the
 * imaginary part), separated by conjugate symmetry: half the work of two real transforms.
 */
export function realSpectraPair(a: ArrayLike<number>, b: ArrayLike<number> | null, size: number): [Float64Array, Float64Array | null] {
  if (!b) return [realSpectrum(a, size), null];
  const f = plan(size);
  const z = new Float64Array(2 * size);
  const na = Math.min(a.length, size), nb = Math.min(b.length, size);
  for (let i = 0; i < na; i++) z[2 * i] = a[i]!;
  for (let i = 0; i < nb; i++) z[2 * i + 1] = b[i]!;
  const Z = new Float64Array(2 * size);
  f.transform(Z, z);
  const A = new Float64Array(2 * size);
  const B = new Float64Array(2 * size);
  for (let k = 0; k < size; k++) {
    const j = k === 0 ? 0 : size - k;
    const zr = Z[2 * k]!, zi = Z[2 * k + 1]!, cr = Z[2 * j]!, ci = -Z[2 * j + 1]!;
    // A = (Z[k] + conj(Z[-k])) / 2 ; B = (Z[k] - conj(Z[-k])) / 2i
    A[2 * k] = 0.5 * (zr + cr);
    A[2 * k + 1] = 0.5 * (zi + ci);
    B[2 * k] = 0.5 * (zi - ci);
    B[2 * k + 1] = -0.5 * (zr - cr);
  }
  return [A, B];
}

/** Full spectra of several real signals, two per complex FFT. */
export function realSpectra(signals: readonly ArrayLike<number>[], size: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (let i = 0; i < signals.length; i += 2) {
    const [a, b] = realSpectraPair(signals[i]!, signals[i + 1] ?? null, size);
    out.push(a);
    if (b) out.push(b);
  }
  return out;
}
