// Seeded, non-repeating music-and-effects bed and dialogue plan for the benchmark corpus.
//
// A programme is a list of short events (notes, percussion, band-passed noise swells, effects)
// drawn from a seed, plus planned dialogue lines. Each event renders to its own mono buffer as a
// pure function of its parameters; a StreamMixer renders any increasing sequence of sample
// ranges by adding the events that overlap them, so programmes of hours are rendered in chunks
// with only the active events in memory.
import { NoiseSource, Rng } from './prng.ts';

export const SR = 48000;

interface EventBase {
  id: number;
  /** seconds on the programme timeline (may be negative: already sounding at 0) */
  start: number;
  dur: number;
  /** linear gain */
  gain: number;
  /** -1 (left) .. 1 (right) */
  pan: number;
  /** stable key for this event's noise */
  noiseKey: string;
}
export interface NoteEvent extends EventBase {
  kind: 'note';
  freq: number;
  timbre: Float32Array;
  attack: number;
  decay: number;
}
export interface PercEvent extends EventBase {
  kind: 'perc';
  type: 'kick' | 'snare' | 'hat' | 'tom' | 'click';
  tone: number;
  decay: number;
}
export interface SwellEvent extends EventBase {
  kind: 'swell';
  f0: number;
  f1: number;
  q: number;
}
export interface FxEvent extends EventBase {
  kind: 'fx';
  type: 'chirp' | 'impact' | 'whoosh' | 'beeps' | 'rumble';
  f0: number;
  f1: number;
}
export type BedEvent = NoteEvent | PercEvent | SwellEvent | FxEvent;

export interface PlannedLine {
  index: number;
  /** seconds on the programme timeline */
  start: number;
  words: number;
}

export interface Programme {
  seed: number;
  durationSeconds: number;
  events: BedEvent[];
  lines: PlannedLine[];
  /** id of the most prominent effect event (the one a remix may leave out) */
  prominentFxId: number;
}

const TABLE_SIZE = 2048;

function makeTimbre(rng: Rng): Float32Array {
  const count = rng.int(3, 10);
  const tilt = rng.range(0.6, 1.8);
  const amps: number[] = [];
  for (let h = 1; h <= count; h++) amps.push(Math.pow(h, -tilt) * rng.range(0.3, 1) * (h === 1 ? 1.5 : 1));
  const phases = amps.map(() => rng.range(0, 2 * Math.PI));
  const table = new Float32Array(TABLE_SIZE + 1);
  let peak = 0;
  for (let i = 0; i < TABLE_SIZE; i++) {
    let v = 0;
    for (let h = 0; h < amps.length; h++) v += (amps[h] as number) * Math.sin(((2 * Math.PI * (h + 1) * i) / TABLE_SIZE) + (phases[h] as number));
    table[i] = v;
    peak = Math.max(peak, Math.abs(v));
  }
  for (let i = 0; i < TABLE_SIZE; i++) table[i] = (table[i] as number) / peak;
  table[TABLE_SIZE] = table[0] as number;
  return table;
}

const SCALES: readonly (readonly number[])[] = [
  [0, 2, 4, 5, 7, 9, 11],
  [0, 2, 3, 5, 7, 8, 10],
  [0, 2, 4, 7, 9],
  [0, 3, 5, 7, 10],
  [0, 2, 3, 5, 7, 9, 10],
];

const db = (x: number): number => Math.pow(10, x / 20);

/** Builds the event list and the dialogue plan of a programme from its seed. */
export function buildProgramme(seed: number, durationSeconds: number): Programme {
  const root = new Rng(`programme:${seed}`);
  const events: BedEvent[] = [];
  let id = 0;
  const key = (n: number): string => `${seed}:${n}`;

  // Ambience: overlapping band-passed noise swells, already sounding at t = 0.
  {
    const rng = root.fork('ambience');
    let t = -6;
    while (t < durationSeconds) {
      const dur = rng.range(3, 10);
      const f0 = rng.logRange(120, 4000);
      const n = id++;
      events.push({ kind: 'swell', id: n, start: t, dur, gain: db(rng.range(-27, -19)), pan: rng.range(-0.8, 0.8),
        noiseKey: key(n), f0, f1: f0 * rng.logRange(0.5, 2), q: rng.range(0.7, 4) });
      t += rng.range(2, 4.5);
    }
  }

  // Music cues: notes and percussion on a jittered grid; each step is an independent draw.
  {
    const rng = root.fork('music');
    let t = rng.range(-2, 3);
    let cueIndex = 0;
    while (t < durationSeconds) {
      const cue = rng.fork(`cue${cueIndex++}`);
      const len = cue.range(8, 40);
      if (cue.chance(0.78)) {
        const bpm = cue.range(70, 150);
        const step = 60 / bpm / 2; // eighth notes
        const scale = cue.pick(SCALES);
        const rootMidi = cue.int(45, 57);
        const lead = makeTimbre(cue.fork('lead'));
        const bass = makeTimbre(cue.fork('bass'));
        const pad = makeTimbre(cue.fork('pad'));
        const density = cue.range(0.25, 0.7);
        const drums = cue.chance(0.75);
        const level = cue.range(-6, 0);
        const freqOf = (degree: number, octave: number): number => {
          const sl = scale.length;
          const d = ((degree % sl) + sl) % sl;
          const oct = octave + Math.floor(degree / sl);
          return 440 * Math.pow(2, (rootMidi + (scale[d] as number) + 12 * oct - 69) / 12);
        };
        let degree = cue.int(0, 6);
        const steps = Math.floor(len / step);
        for (let s = 0; s < steps; s++) {
          const at = t + s * step;
          if (at >= durationSeconds) break;
          const jitter = (): number => cue.range(-0.012, 0.012);
          if (cue.chance(density)) {
            degree += cue.pick([-3, -2, -1, -1, 1, 1, 2, 3, 4, -4]);
            degree = Math.max(-4, Math.min(14, degree));
            const n = id++;
            events.push({ kind: 'note', id: n, start: at + jitter(), dur: step * cue.int(1, 4) * cue.range(0.8, 1.6), gain: db(level + cue.range(-23, -15)),
              pan: cue.range(-0.5, 0.5), noiseKey: key(n), freq: freqOf(degree, 1), timbre: lead, attack: cue.range(0.004, 0.03), decay: cue.range(0.15, 1.2) });
          }
          if (s % 4 === 0 && cue.chance(0.8)) {
            const n = id++;
            events.push({ kind: 'note', id: n, start: at + jitter(), dur: step * cue.int(2, 4), gain: db(level + cue.range(-21, -15)), pan: cue.range(-0.2, 0.2),
              noiseKey: key(n), freq: freqOf(cue.pick([0, 0, 3, 4, 5]), -1), timbre: bass, attack: 0.01, decay: cue.range(0.3, 1) });
          }
          if (s % 8 === 0 && cue.chance(0.35)) {
            const chordRoot = cue.int(0, 6);
            for (const off of [0, 2, 4]) {
              const n = id++;
              events.push({ kind: 'note', id: n, start: at + jitter(), dur: step * 8 * cue.range(0.8, 1.1), gain: db(level + cue.range(-30, -24)), pan: cue.range(-0.7, 0.7),
                noiseKey: key(n), freq: freqOf(chordRoot + off, 0), timbre: pad, attack: cue.range(0.05, 0.3), decay: cue.range(1, 3) });
            }
          }
          if (drums) {
            const beat = s % 8;
            const hits: PercEvent['type'][] = [];
            if ((beat === 0 && cue.chance(0.85)) || (beat === 4 && cue.chance(0.55)) || cue.chance(0.07)) hits.push('kick');
            if (((beat === 2 || beat === 6) && cue.chance(0.75)) || cue.chance(0.04)) hits.push('snare');
            if (cue.chance(0.55)) hits.push('hat');
            if (cue.chance(0.04)) hits.push('tom');
            for (const type of hits) {
              const n = id++;
              const tone = type === 'kick' ? cue.range(110, 170) : type === 'tom' ? cue.range(80, 260) : type === 'snare' ? cue.range(1200, 3200) : cue.range(5000, 10000);
              const decay = type === 'kick' ? cue.range(0.12, 0.3) : type === 'tom' ? cue.range(0.15, 0.35) : type === 'snare' ? cue.range(0.08, 0.2) : cue.range(0.015, 0.07);
              events.push({ kind: 'perc', id: n, start: at + jitter(), dur: decay * 5, gain: db(level + cue.range(-20, -12) + (type === 'hat' ? -6 : 0)),
                pan: cue.range(-0.4, 0.4), noiseKey: key(n), type, tone, decay });
            }
          }
        }
      }
      t += len + rng.range(0, 3);
    }
  }

  // Effects: random events throughout; the loudest impact is "prominent".
  let prominentFxId = -1;
  {
    const rng = root.fork('fx');
    let t = rng.range(0.5, 4);
    let best = 0;
    while (t < durationSeconds) {
      const type = rng.pick(['chirp', 'impact', 'whoosh', 'beeps', 'rumble', 'impact', 'whoosh'] as const);
      const dur = type === 'chirp' ? rng.range(0.2, 1.5) : type === 'impact' ? rng.range(0.6, 1.5) : type === 'whoosh' ? rng.range(0.6, 2.2)
        : type === 'beeps' ? rng.range(0.5, 1.6) : rng.range(2, 5);
      const gainDb = rng.range(-22, -12);
      const n = id++;
      events.push({ kind: 'fx', id: n, start: t, dur, gain: db(gainDb), pan: rng.range(-0.9, 0.9), noiseKey: key(n), type,
        f0: rng.logRange(200, 3000), f1: rng.logRange(200, 6000) });
      if (type === 'impact' && gainDb > best && t > 2 && t < durationSeconds - 3) {
        best = gainDb;
        prominentFxId = n;
      }
      t += rng.range(1.5, 10);
    }
  }

  events.sort((a, b) => a.start - b.start || a.id - b.id);

  // Dialogue: lines in scenes, with pauses and dialogue-free stretches.
  const lines: PlannedLine[] = [];
  {
    const rng = root.fork('dialogue');
    let t = rng.range(1, 6);
    let index = 0;
    while (t < durationSeconds - 4) {
      const sceneEnd = t + rng.range(15, 60);
      while (t < sceneEnd && t < durationSeconds - 4) {
        const words = rng.int(3, 11);
        lines.push({ index: index++, start: t, words });
        t += words * 0.38 + rng.range(0.4, 2.5);
      }
      t += rng.range(3, 20);
    }
  }

  return { seed, durationSeconds, events, lines, prominentFxId };
}

// ---------------------------------------------------------------------------------------------
// Rendering of single events

class Biquad {
  private b0 = 1;
  private b1 = 0;
  private b2 = 0;
  private a1 = 0;
  private a2 = 0;
  private x1 = 0;
  private x2 = 0;
  private y1 = 0;
  private y2 = 0;
  lowpass(f: number, q: number): void {
    const w = (2 * Math.PI * Math.min(f, SR * 0.45)) / SR;
    const alpha = Math.sin(w) / (2 * q);
    const cw = Math.cos(w);
    const a0 = 1 + alpha;
    this.b0 = (1 - cw) / 2 / a0;
    this.b1 = (1 - cw) / a0;
    this.b2 = (1 - cw) / 2 / a0;
    this.a1 = (-2 * cw) / a0;
    this.a2 = (1 - alpha) / a0;
  }
  step(x: number): number {
    const y = this.b0 * x + this.b1 * this.x1 + this.b2 * this.x2 - this.a1 * this.y1 - this.a2 * this.y2;
    this.x2 = this.x1;
    this.x1 = x;
    this.y2 = this.y1;
    this.y1 = y;
    return y;
  }
}

// A shared sine table: oscillators read it with linear interpolation (much cheaper than Math.sin).
const SINE_SIZE = 4096;
const SINE = new Float32Array(SINE_SIZE + 1);
for (let i = 0; i <= SINE_SIZE; i++) SINE[i] = Math.sin((2 * Math.PI * i) / SINE_SIZE);
const CYCLE_TO_INDEX = SINE_SIZE;

/** Reads the sine table at a phase given in cycles (any non-negative value). */
function sinCycles(phase: number): number {
  const x = (phase - Math.floor(phase)) * CYCLE_TO_INDEX;
  const i = x | 0;
  const a = SINE[i] as number;
  return a + ((SINE[i + 1] as number) - a) * (x - i);
}

/** RBJ band-pass (constant 0 dB peak) coefficients: [b0, b2, a1, a2] (b1 = 0). */
function bandpassCoeffs(f: number, q: number): [number, number, number, number] {
  const w = (2 * Math.PI * Math.min(f, SR * 0.45)) / SR;
  const alpha = Math.sin(w) / (2 * q);
  const a0 = 1 + alpha;
  return [alpha / a0, -alpha / a0, (-2 * Math.cos(w)) / a0, (1 - alpha) / a0];
}

function renderNote(e: NoteEvent, out: Float32Array): void {
  const n = out.length;
  const table = e.timbre;
  const inc = (e.freq * TABLE_SIZE) / SR;
  const attackN = Math.max(1, Math.round(e.attack * SR));
  const releaseN = Math.max(1, Math.min(n, Math.round(0.03 * SR)));
  const decayMul = Math.exp(-1 / (e.decay * SR));
  let phase = 0;
  let env = e.gain;
  const relStart = n - releaseN;
  for (let i = 0; i < n; i++) {
    const ip = phase | 0;
    const a = table[ip] as number;
    let g = env;
    if (i < attackN) g *= i / attackN;
    if (i > relStart) g *= (n - i) / releaseN;
    out[i] = (a + ((table[ip + 1] as number) - a) * (phase - ip)) * g;
    env *= decayMul;
    phase += inc;
    if (phase >= TABLE_SIZE) phase -= TABLE_SIZE;
  }
}

function renderPerc(e: PercEvent, out: Float32Array): void {
  const n = out.length;
  const noise = new NoiseSource(e.noiseKey);
  const decayMul = Math.exp(-1 / (e.decay * SR));
  let env = e.gain;
  if (e.type === 'kick' || e.type === 'tom') {
    let phase = 0;
    const sweepMul = Math.exp(-1 / ((e.type === 'kick' ? 0.05 : 0.12) * SR));
    const low = e.type === 'kick' ? 45 : e.tone * 0.7;
    let sweep = e.tone - low;
    for (let i = 0; i < n; i++) {
      phase += (low + sweep) / SR;
      sweep *= sweepMul;
      const click = i < 96 ? noise.next() * (1 - i / 96) * 0.5 : 0;
      out[i] = (sinCycles(phase) + click) * env * (i < 24 ? i / 24 : 1);
      env *= decayMul;
    }
  } else if (e.type === 'snare') {
    const [b0, b2, a1, a2] = bandpassCoeffs(e.tone, 0.9);
    let x1 = 0, x2 = 0, y1 = 0, y2 = 0;
    let body = 0.4;
    const bodyMul = Math.exp(-1 / (0.04 * SR));
    for (let i = 0; i < n; i++) {
      const x = noise.next();
      const y = b0 * x + b2 * x2 - a1 * y1 - a2 * y2;
      x2 = x1; x1 = x; y2 = y1; y1 = y;
      out[i] = (y * 1.6 + sinCycles((190 * i) / SR) * body) * env * (i < 24 ? i / 24 : 1);
      env *= decayMul;
      body *= bodyMul;
    }
  } else {
    // hat / click: first-difference high-pass of noise, then a one-pole smoother for the tone
    const k = Math.exp((-2 * Math.PI * Math.min(e.type === 'click' ? 9000 : e.tone * 1.5, SR * 0.45)) / SR);
    let prev = 0;
    let lp = 0;
    for (let i = 0; i < n; i++) {
      const x = noise.next();
      const hp = x - prev;
      prev = x;
      lp = hp + k * (lp - hp);
      out[i] = lp * 0.7 * env * (i < 12 ? i / 12 : 1);
      env *= decayMul;
    }
  }
}

/** Band-passed noise with a log sweep of the centre from f0 to f1 and a sin^power envelope. */
function renderSweptNoise(out: Float32Array, noise: NoiseSource, f0: number, f1: number, q: number, gain: number, power: number): void {
  const n = out.length;
  const ratio = Math.log(f1 / f0);
  let x1 = 0, x2 = 0, y1 = 0, y2 = 0;
  for (let blk = 0; blk < n; blk += 64) {
    const [b0, b2, a1, a2] = bandpassCoeffs(f0 * Math.exp((ratio * blk) / n), q);
    const end = Math.min(n, blk + 64);
    const s0 = Math.pow(Math.sin((Math.PI * blk) / n), power) * gain;
    const s1 = Math.pow(Math.sin((Math.PI * end) / n), power) * gain;
    const ds = (s1 - s0) / (end - blk);
    let g = s0;
    for (let i = blk; i < end; i++) {
      const x = noise.next();
      const y = b0 * x + b2 * x2 - a1 * y1 - a2 * y2;
      x2 = x1; x1 = x; y2 = y1; y1 = y;
      out[i] = y * g;
      g += ds;
    }
  }
}

function renderSwell(e: SwellEvent, out: Float32Array): void {
  renderSweptNoise(out, new NoiseSource(e.noiseKey), e.f0, e.f1, e.q, e.gain * Math.sqrt(e.q) * 1.4, 2);
}

function renderFx(e: FxEvent, out: Float32Array): void {
  const n = out.length;
  const noise = new NoiseSource(e.noiseKey);
  const fadeIn = Math.round(0.005 * SR);
  const fadeOut = Math.round(0.04 * SR);
  const edge = (i: number): number => Math.min(1, i / fadeIn, (n - i) / fadeOut);
  switch (e.type) {
    case 'chirp': {
      let phase = 0;
      const ratio = Math.log(e.f1 / e.f0);
      for (let i = 0; i < n; i++) {
        phase += (e.f0 * Math.exp((ratio * i) / n)) / SR;
        out[i] = sinCycles(phase) * edge(i) * e.gain * 0.7;
      }
      break;
    }
    case 'impact': {
      const lp = new Biquad();
      lp.lowpass(e.f0 * 2, 0.7);
      let phase = 0;
      let sweep = 60;
      const sweepMul = Math.exp(-1 / (0.08 * SR));
      let body = 1;
      const bodyMul = Math.exp(-1 / (0.35 * SR));
      let crack = 2.5;
      const crackMul = Math.exp(-1 / (0.09 * SR));
      for (let i = 0; i < n; i++) {
        phase += (55 + sweep) / SR;
        sweep *= sweepMul;
        out[i] = (sinCycles(phase) * body + lp.step(noise.next()) * crack) * edge(i) * e.gain * 0.8;
        body *= bodyMul;
        crack *= crackMul;
      }
      break;
    }
    case 'whoosh':
      renderSweptNoise(out, noise, e.f0, e.f1, 2.5, e.gain * 2, 3);
      break;
    case 'beeps': {
      const period = Math.round(SR * (0.1 + (e.f1 % 100) / 1000));
      const on = Math.round(period * 0.55);
      for (let i = 0; i < n; i++) {
        const k = i % period;
        const g = k < on ? Math.min(1, k / 48, (on - k) / 48) : 0;
        out[i] = sinCycles((e.f0 * i) / SR) * g * edge(i) * e.gain * 0.5;
      }
      break;
    }
    case 'rumble': {
      const lp = new Biquad();
      lp.lowpass(90 + (e.f0 % 120), 0.9);
      for (let i = 0; i < n; i++) {
        out[i] = lp.step(noise.next()) * sinCycles((0.5 * i) / n) * e.gain * 4;
      }
      break;
    }
  }
}

export function renderEvent(e: BedEvent): Float32Array {
  const out = new Float32Array(Math.max(1, Math.round(e.dur * SR)));
  switch (e.kind) {
    case 'note': renderNote(e, out); break;
    case 'perc': renderPerc(e, out); break;
    case 'swell': renderSwell(e, out); break;
    case 'fx': renderFx(e, out); break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Streaming mixer

/** Something that sounds on the programme timeline: a start sample and a lazily rendered buffer. */
export interface Sound {
  startSample: number;
  length: number;
  /** gains into the left/right bed channels, or into the mono dialogue channel */
  gainL: number;
  gainR: number;
  target: 'bed' | 'dialogue';
  render(): Float32Array;
}

export function eventSound(e: BedEvent): Sound {
  const angle = ((e.pan + 1) * Math.PI) / 4;
  return {
    startSample: Math.round(e.start * SR),
    length: Math.max(1, Math.round(e.dur * SR)),
    gainL: Math.cos(angle) * Math.SQRT2,
    gainR: Math.sin(angle) * Math.SQRT2,
    target: 'bed',
    render: () => renderEvent(e),
  };
}

interface Active {
  sound: Sound;
  buffer: Float32Array | null;
}

/**
 * Renders increasing, possibly non-contiguous sample ranges of a set of sounds. A range that is
 * skipped (a cut) never renders the sounds that lie entirely inside it.
 */
export class StreamMixer {
  private readonly sounds: Sound[];
  private next = 0;
  private active: Active[] = [];
  private lastEnd = -Infinity;

  constructor(sounds: Sound[]) {
    this.sounds = [...sounds].sort((a, b) => a.startSample - b.startSample);
  }

  /** Adds samples [s0, s0 + n) of the bed into left/right and of dialogue into dlg. */
  render(s0: number, n: number, left: Float32Array, right: Float32Array, dlg: Float32Array): void {
    if (s0 < this.lastEnd) throw new Error('StreamMixer ranges must increase');
    this.lastEnd = s0 + n;
    const s1 = s0 + n;
    while (this.next < this.sounds.length && (this.sounds[this.next] as Sound).startSample < s1) {
      this.active.push({ sound: this.sounds[this.next] as Sound, buffer: null });
      this.next++;
    }
    const keep: Active[] = [];
    for (const a of this.active) {
      const snd = a.sound;
      const end = snd.startSample + snd.length;
      if (end <= s0) continue; // finished (or skipped by a cut) before this range
      const from = Math.max(s0, snd.startSample);
      const to = Math.min(s1, end);
      if (to > from) {
        a.buffer ??= snd.render();
        const buf = a.buffer;
        const off = snd.startSample;
        if (snd.target === 'bed') {
          const gl = snd.gainL;
          const gr = snd.gainR;
          for (let s = from; s < to; s++) {
            const v = buf[s - off] as number;
            left[s - s0] = (left[s - s0] as number) + v * gl;
            right[s - s0] = (right[s - s0] as number) + v * gr;
          }
        } else {
          const g = snd.gainL;
          for (let s = from; s < to; s++) dlg[s - s0] = (dlg[s - s0] as number) + (buf[s - off] as number) * g;
        }
      }
      if (end > s1) keep.push(a);
    }
    this.active = keep;
  }
}

/** Cubic (Catmull-Rom) resampling of a mono buffer from rate `from` to SR. */
export function resampleTo48k(input: Float32Array, from: number): Float32Array {
  if (from === SR) return input;
  const outLen = Math.floor((input.length * SR) / from);
  const out = new Float32Array(outLen);
  const step = from / SR;
  const at = (i: number): number => (i < 0 || i >= input.length ? 0 : (input[i] as number));
  for (let j = 0; j < outLen; j++) {
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

/** Reads a 16-bit PCM mono/stereo WAV (as espeak-ng writes it) into mono floats. */
export function parseWav(buf: Buffer): { rate: number; samples: Float32Array } {
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error('not a WAV file');
  let pos = 12;
  let rate = 0;
  let channels = 1;
  let bits = 16;
  while (pos + 8 <= buf.length) {
    const id = buf.toString('ascii', pos, pos + 4);
    let size = buf.readUInt32LE(pos + 4);
    const body = pos + 8;
    if (id === 'fmt ') {
      channels = buf.readUInt16LE(body + 2);
      rate = buf.readUInt32LE(body + 4);
      bits = buf.readUInt16LE(body + 14);
    } else if (id === 'data') {
      if (bits !== 16) throw new Error(`unsupported WAV bit depth ${bits}`);
      // espeak-ng writes 0x7fffffff sizes when streaming; clamp to the file.
      if (size > buf.length - body) size = buf.length - body;
      const frames = Math.floor(size / (2 * channels));
      const samples = new Float32Array(frames);
      for (let i = 0; i < frames; i++) {
        let v = 0;
        for (let c = 0; c < channels; c++) v += buf.readInt16LE(body + 2 * (i * channels + c));
        samples[i] = v / channels / 32768;
      }
      return { rate, samples };
    }
    pos = body + size + (size & 1);
  }
  throw new Error('WAV without data chunk');
}
