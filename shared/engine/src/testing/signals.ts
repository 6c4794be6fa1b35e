// Analytic test programmes for the engine's tests: a seeded, non-repeating "music and effects"
// bed (notes with harmonics and envelopes, filtered noise hits) and known transformations
// (delay, speed ratio, cut, insert, remix, unrelated "dialogue"). Test support only.
import { createRng, type Rng } from '../prng.ts';

export function synthBed(seconds: number, sampleRate: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const n = Math.round(seconds * sampleRate);
  const out = new Float32Array(n);
  // Notes: 2-6 per second, random pitch, decaying envelope, a few harmonics.
  let t = 0;
  while (t < seconds) {
    t += rng.uniform(0.08, 0.45);
    addNote(out, sampleRate, t, rng);
    if (rng.next() < 0.35) addHit(out, sampleRate, t + rng.uniform(0, 0.2), rng);
  }
  return out;
}

function addNote(out: Float32Array, sr: number, t: number, rng: Rng): void {
  const f0 = 110 * Math.pow(2, rng.int(36) / 12);
  const dur = rng.uniform(0.15, 0.9);
  const amp = rng.uniform(0.03, 0.12);
  const start = Math.round(t * sr);
  const len = Math.round(dur * sr);
  const harmonics = 1 + rng.int(4);
  const phase = rng.uniform(0, 2 * Math.PI);
  for (let i = 0; i < len && start + i < out.length; i++) {
    const env = Math.exp((-4 * i) / len) * Math.min(1, i / (0.005 * sr));
    let v = 0;
    for (let h = 1; h <= harmonics; h++) {
      const f = f0 * h;
      if (f > sr / 2.2) break;
      v += Math.sin((2 * Math.PI * f * i) / sr + phase * h) / h;
    }
    out[start + i] = out[start + i]! + amp * env * v;
  }
}

function addHit(out: Float32Array, sr: number, t: number, rng: Rng): void {
  const start = Math.round(t * sr);
  const len = Math.round(rng.uniform(0.03, 0.25) * sr);
  const amp = rng.uniform(0.05, 0.2);
  const a = rng.uniform(0.1, 0.95); // one-pole smoothing: the hit's colour
  let y = 0;
  for (let i = 0; i < len && start + i < out.length; i++) {
    y = a * y + (1 - a) * rng.gaussian();
    out[start + i] = out[start + i]! + amp * Math.exp((-5 * i) / len) * y * 3;
  }
}

/** "Dialogue": band-limited noise bursts with syllable rhythm, unrelated between seeds. */
export function synthDialogue(seconds: number, sampleRate: number, seed: number, level = 0.15): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(Math.round(seconds * sampleRate));
  let t = rng.uniform(0.5, 2);
  while (t < seconds) {
    const lineEnd = t + rng.uniform(1, 4);
    while (t < lineEnd && t < seconds) {
      const syl = rng.uniform(0.08, 0.25);
      const f = rng.uniform(150, 300);
      const start = Math.round(t * sampleRate);
      const len = Math.round(syl * sampleRate);
      for (let i = 0; i < len && start + i < out.length; i++) {
        const env = Math.sin((Math.PI * i) / len);
        let v = 0;
        for (let h = 1; h <= 12; h++) v += Math.sin((2 * Math.PI * f * h * i) / sampleRate) * (h > 2 && h < 8 ? 1 : 0.3);
        out[start + i] = out[start + i]! + level * env * v * 0.2;
      }
      t += syl + rng.uniform(0.02, 0.1);
    }
    t += rng.uniform(0.5, 3);
  }
  return out;
}

/** dub(t) = src((t - offset) / ratio): content at master time m is heard at ratio*m + offset. */
export function transform(src: Float32Array, sampleRate: number, offset: number, ratio = 1, lengthSeconds?: number): Float32Array {
  const n = Math.round((lengthSeconds ?? src.length / sampleRate * ratio + Math.max(0, offset)) * sampleRate);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const m = (i / sampleRate - offset) / ratio;
    const p = m * sampleRate;
    const i0 = Math.floor(p);
    if (i0 < 0 || i0 + 1 >= src.length) continue;
    const fr = p - i0;
    out[i] = src[i0]! * (1 - fr) + src[i0 + 1]! * fr;
  }
  return out;
}

export function mix(...parts: Float32Array[]): Float32Array {
  const n = Math.max(...parts.map((p) => p.length));
  const out = new Float32Array(n);
  for (const p of parts) for (let i = 0; i < p.length; i++) out[i] = out[i]! + p[i]!;
  return out;
}

/** Remix: slow level automation and a gentle one-pole tilt, as a dub mix would. */
export function remix(src: Float32Array, sampleRate: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(src.length);
  const rate = rng.uniform(0.02, 0.1);
  const ph = rng.uniform(0, 6.28);
  let lp = 0;
  const a = rng.uniform(0.2, 0.5);
  for (let i = 0; i < src.length; i++) {
    lp = a * lp + (1 - a) * src[i]!;
    const g = 0.8 + 0.3 * Math.sin((2 * Math.PI * rate * i) / sampleRate + ph);
    out[i] = g * (0.6 * src[i]! + 0.4 * lp);
  }
  return out;
}

export function concat(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function toInt16(x: Float32Array): Int16Array {
  const out = new Int16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(x[i]! * 32767)));
  return out;
}
