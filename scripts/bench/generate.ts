// Builds the benchmark corpus: bench-out/corpus/<id>/{master.*, dub.*, truth.json}.
//
// The master is the seeded bed plus dialogue (language A) at 48 kHz stereo. The dub is the same
// bed remixed (level automation and one effect left out in Node; high-pass, EQ and compression
// in ffmpeg) under its own dialogue, then edited (cuts/inserts), speed-changed, offset, given a
// head, noise, and re-encoded per the case. Audio is rendered in 1 s chunks and piped to ffmpeg,
// so programme length does not change memory use. A case is skipped when its truth.json carries
// the same spec hash (which covers the case and the generator's own sources).
//
// Standalone: node --import tsx scripts/bench/generate.ts [--quick] [--long] [--calibration] [--family F] [--case ID] [--jobs N]
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';
import {
  DUB_EXT, MASTER_EXT, SR, STANDARDS, computeTruth, dubPieces, expectedCodecDelaySamples, headSamples, toSamples,
} from './case.ts';
import type { CaseSpec, EncodeSpec, HeadSpec, Truth, TruthLine, VoiceSpec } from './case.ts';
import { LINE_EDGE_DB, atempoChain, errorClass, fitLength, planLineErrors, speechSpan } from './lines.ts';
import { ESPEAK, ffmpeg, mapLimit, runProcess, writeChunk } from './proc.ts';
import { NoiseSource, Rng } from './prng.ts';
import { StreamMixer, buildProgramme, eventSound, parseWav, resampleTo48k } from './synth.ts';
import type { Programme, Sound } from './synth.ts';
import { sentence } from './words.ts';
import type { Language } from './words.ts';
import { gccPhat } from './xcorr.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(HERE, '..', '..');
export const DEFAULT_OUT = join(REPO_ROOT, 'bench-out');
/** The sources that decide what the corpus files contain (their hash is part of each case's spec hash). */
const GENERATOR_SOURCES = ['generate.ts', 'synth.ts', 'case.ts', 'words.ts', 'prng.ts', 'lines.ts'];

/** The fields generate writes to truth.json (the truth plus bookkeeping). */
export interface TruthFile extends Truth {
  id: string;
  family: string;
  seed: number;
  spec_hash: string;
  files: { master: string; dub: string };
  master_duration_seconds: number;
  dub_duration_seconds: number;
  expected_codec_delay_seconds: number;
  generation_seconds: number;
  /** dialogue family only: every master line's speech span and its planned error */
  dialogue?: { lines: TruthLine[] };
}

let sourcesHash: string | null = null;
function generatorSourcesHash(): string {
  if (sourcesHash) return sourcesHash;
  const h = createHash('sha256');
  for (const f of GENERATOR_SOURCES) h.update(readFileSync(join(HERE, f)));
  sourcesHash = h.digest('hex').slice(0, 16);
  return sourcesHash;
}

export function specHash(c: CaseSpec): string {
  const { truth: _truth, ...input } = c;
  return createHash('sha256').update(JSON.stringify(input)).update(generatorSourcesHash()).digest('hex').slice(0, 20);
}

export function caseDir(outRoot: string, id: string): string {
  return join(outRoot, 'corpus', id);
}

export function readTruth(outRoot: string, id: string): TruthFile | null {
  const p = join(caseDir(outRoot, id), 'truth.json');
  if (!existsSync(p)) return null;
  try {
    return JSON.parse(readFileSync(p, 'utf8')) as TruthFile;
  } catch {
    return null;
  }
}

export function isGenerated(outRoot: string, c: CaseSpec): boolean {
  const t = readTruth(outRoot, c.id);
  if (!t || t.spec_hash !== specHash(c)) return false;
  const dir = caseDir(outRoot, c.id);
  return existsSync(join(dir, t.files.master)) && existsSync(join(dir, t.files.dub));
}

// ---------------------------------------------------------------------------------------------
// Dialogue

const LINE_RMS = 0.07; // -23 dBFS
const POOL_THRESHOLD = 400;
const POOL_SIZE = 300;

interface LineSpec {
  start: number;
  voice: VoiceSpec;
  text: string;
  gain: number;
}

function lineTexts(prog: Programme, language: Language, translate: boolean): { start: number; text: string }[] {
  const pooled = prog.lines.length > POOL_THRESHOLD;
  return prog.lines.map((line) => {
    const textIndex = pooled ? new Rng(`pool:${prog.seed}:${line.index}`).int(0, POOL_SIZE - 1) : line.index;
    const rng = new Rng(`text:${prog.seed}:${language}:${textIndex}`);
    let words = pooled ? 3 + (textIndex % 9) : line.words;
    let start = line.start;
    if (translate) {
      const t = new Rng(`translate:${prog.seed}:${line.index}`);
      words = Math.max(2, Math.round(words * t.range(0.65, 1.45)));
      start = Math.max(0.05, start + t.range(-0.3, 0.3));
    }
    return { start, text: sentence(rng, language, words) };
  });
}

function voiceName(v: VoiceSpec): string {
  return `${v.language}+${v.variant}`;
}

function speechPath(speechDir: string, voice: VoiceSpec, text: string): string {
  const h = createHash('sha1').update(`${voiceName(voice)}|${voice.speed}|${voice.pitch}|${text}`).digest('hex').slice(0, 20);
  return join(speechDir, `${h}.wav`);
}

async function synthesiseLines(speechDir: string, lines: readonly LineSpec[]): Promise<void> {
  mkdirSync(speechDir, { recursive: true });
  const todo = new Map<string, LineSpec>();
  for (const l of lines) {
    const p = speechPath(speechDir, l.voice, l.text);
    if (!existsSync(p)) todo.set(p, l);
  }
  await mapLimit([...todo.entries()], 3, async ([path, l]) => {
    const tmp = `${path}.${process.pid}.tmp.wav`;
    const r = await runProcess(ESPEAK, ['-v', voiceName(l.voice), '-s', String(l.voice.speed), '-p', String(l.voice.pitch), '-w', tmp, l.text]);
    if (r.code !== 0) throw new Error(`espeak-ng failed for ${voiceName(l.voice)}: ${r.stderr}`);
    renameSync(tmp, path);
  });
}

function speechSounds(speechDir: string, lines: readonly LineSpec[]): Sound[] {
  return lines.map((l) => {
    const path = speechPath(speechDir, l.voice, l.text);
    const { rate, samples } = parseWav(readFileSync(path));
    const length = Math.floor((samples.length * SR) / rate);
    return {
      startSample: toSamples(l.start),
      length,
      gainL: l.gain,
      gainR: l.gain,
      target: 'dialogue' as const,
      render: () => {
        const w = parseWav(readFileSync(path));
        const up = resampleTo48k(w.samples, w.rate);
        let sum = 0;
        for (let i = 0; i < up.length; i++) sum += (up[i] as number) ** 2;
        const rms = Math.sqrt(sum / Math.max(1, up.length)) + 1e-9;
        const out = new Float32Array(length);
        const k = LINE_RMS / rms;
        for (let i = 0; i < length && i < up.length; i++) out[i] = (up[i] as number) * k;
        return out;
      },
    };
  });
}

/** A line's WAV at 48 kHz, scaled to the dialogue level (the RMS of the whole file, silence included, as speechSounds does). */
function lineAudio(speechDir: string, l: LineSpec): Float32Array {
  const w = parseWav(readFileSync(speechPath(speechDir, l.voice, l.text)));
  const up = resampleTo48k(w.samples, w.rate);
  let sum = 0;
  for (let i = 0; i < up.length; i++) sum += (up[i] as number) ** 2;
  const k = LINE_RMS / (Math.sqrt(sum / Math.max(1, up.length)) + 1e-9);
  const out = new Float32Array(up.length);
  for (let i = 0; i < up.length; i++) out[i] = (up[i] as number) * k;
  return out;
}

/** Pitch-keeping time stretch (ffmpeg atempo) to exactly `length` samples. */
export async function stretchTo(samples: Float32Array, length: number): Promise<Float32Array> {
  const factor = samples.length / length;
  if (Math.abs(factor - 1) < 0.01) return fitLength(samples, length);
  const r = await ffmpeg(['-f', 'f32le', '-ar', String(SR), '-ac', '1', '-i', 'pipe:0', '-af', atempoChain(factor), '-f', 'f32le', '-'], {
    feed: (stdin: Writable) => writeChunk(stdin, f32buf(samples)),
  });
  const buf = r.stdout;
  const got = new Float32Array(Math.floor(buf.length / 4));
  for (let i = 0; i < got.length; i++) got[i] = buf.readFloatLE(i * 4);
  return fitLength(got, length);
}

const FIT_FADE = 96; // 2 ms: the trimmed edges start and end without a click

/** Fades a trimmed line's first and last FIT_FADE samples in place (no click at a hard edge). */
function fadeEdges(x: Float32Array): Float32Array {
  const n = x.length;
  for (let k = 0; k < FIT_FADE && k < n; k++) {
    x[k] = (x[k] as number) * (k / FIT_FADE);
    x[n - 1 - k] = (x[n - 1 - k] as number) * (k / FIT_FADE);
  }
  return x;
}

/** A rendered buffer as a dialogue sound at a programme position. */
function bufferSound(file: string, startSample: number, length: number, gain: number): Sound {
  return {
    startSample,
    length,
    gainL: gain,
    gainR: gain,
    target: 'dialogue',
    render: () => {
      const b = readFileSync(file);
      const out = new Float32Array(length);
      for (let k = 0; k < length; k++) out[k] = b.readFloatLE(4 * k);
      return out;
    },
  };
}

/**
 * The dialogue family's dialogue (see DubSpec.fitLines): every master line trimmed to its audible
 * span (LINE_EDGE_DB), every dub line trimmed the same way and fitted onto its master line's span,
 * then the planned errors applied. Returns both files' dialogue sounds and the truth per master
 * line (span in master-file time, planned error).
 */
async function fittedDialogue(c: CaseSpec, masterLines: readonly LineSpec[], dubLines: readonly LineSpec[], speechDir: string): Promise<{ masterSounds: Sound[]; sounds: Sound[]; truth: TruthLine[] }> {
  const plan = planLineErrors(masterLines.length, c.dub.lineErrors ?? []);
  const hm = headSamples(c.master.head) / SR;
  const masterSounds: Sound[] = [];
  const sounds: Sound[] = [];
  const truth: TruthLine[] = [];
  await mapLimit(masterLines.map((m, i) => [m, i] as const), 2, async ([m, i]) => {
    const master = lineAudio(speechDir, m);
    const span = speechSpan(master, LINE_EDGE_DB);
    if (!span) throw new Error(`${c.id}: master line ${i} is silent`);
    const start = toSamples(m.start);
    const length = span.to - span.from;
    const masterFile = join(speechDir, `master-${i}.f32`);
    writeFileSync(masterFile, f32buf(fadeEdges(master.slice(span.from, span.to))));
    masterSounds[i] = bufferSound(masterFile, start + span.from, length, m.gain);
    const err = plan.get(i) ?? null;
    truth[i] = {
      index: i,
      master_start: hm + (start + span.from) / SR,
      master_end: hm + (start + span.to) / SR,
      error: err ? errorClass(err) : null,
      shift_seconds: err?.kind === 'shift' ? err.seconds : null,
    };
    if (err?.kind === 'missing') return;
    // untranslated: the master's own line audio where the master has it
    if (err?.kind === 'untranslated') {
      sounds.push(bufferSound(masterFile, start + span.from, length, 1));
      return;
    }
    const dl = dubLines[i] as LineSpec;
    const dub = lineAudio(speechDir, dl);
    const ds = speechSpan(dub, LINE_EDGE_DB);
    if (!ds) throw new Error(`${c.id}: dub line ${i} is silent`);
    const fitted = fadeEdges(await stretchTo(dub.subarray(ds.from, ds.to), length));
    const file = join(speechDir, `fit-${i}.f32`);
    writeFileSync(file, f32buf(fitted));
    const shift = err?.kind === 'shift' ? toSamples(err.seconds) : 0;
    sounds.push(bufferSound(file, start + span.from + shift, length, dl.gain));
  });
  return { masterSounds: masterSounds.filter((x): x is Sound => x !== undefined), sounds, truth };
}

// ---------------------------------------------------------------------------------------------
// Heads: bars/tone, 2-pop, silence

const TONE_AMP = Math.pow(10, -18 / 20);

function headBuffer(head: HeadSpec): Float32Array {
  const n = headSamples(head);
  const out = new Float32Array(n * 2);
  const toneEnd = toSamples(head.toneSeconds);
  const popStart = toSamples(head.totalSeconds - 2);
  const popEnd = popStart + Math.round(SR / 24);
  const w = (2 * Math.PI * 1000) / SR;
  for (let i = 0; i < n; i++) {
    const on = i < toneEnd || (i >= popStart && i < popEnd);
    const v = on ? TONE_AMP * Math.sin(w * (i < toneEnd ? i : i - popStart)) : 0;
    out[2 * i] = v;
    out[2 * i + 1] = v;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Encoding

function encodeArgs(enc: EncodeSpec): string[] {
  const ch = enc.channels;
  switch (enc.codec) {
    case 'flac': return ['-c:a', 'flac', '-sample_fmt', 's16'];
    case 'wav': return ['-c:a', 'pcm_s16le'];
    case 'aac': return ['-c:a', 'aac', '-aac_coder', 'fast', '-b:a', `${enc.bitrateKbps ?? (ch === 6 ? 384 : 192)}k`];
    case 'ac3': return ['-c:a', 'ac3', '-b:a', `${enc.bitrateKbps ?? (ch === 6 ? 448 : 192)}k`];
    case 'mp3':
      if (ch !== 2) throw new Error('mp3 dubs must be stereo');
      return ['-c:a', 'libmp3lame', '-b:a', `${enc.bitrateKbps ?? 192}k`];
  }
}
const BITEXACT = ['-fflags', '+bitexact', '-flags:a', '+bitexact', '-map_metadata', '-1'];

/** pan expression mapping stereo (c0, c1) to the output layout. */
function layoutPan(channels: 2 | 6): string {
  return channels === 6 ? 'pan=5.1|FL=c0|FR=c1|FC=0*c0|LFE=0*c0|BL=0*c0|BR=0*c1' : 'pan=stereo|c0=c0|c1=c1';
}

const codecDelayCache = new Map<string, number>();

/** Decoder delay (seconds) that ffmpeg leaves after encoding with `enc`, measured on a probe. */
export async function measureCodecDelay(enc: EncodeSpec, tmpDir: string): Promise<number> {
  if (enc.codec === 'flac' || enc.codec === 'wav') return 0;
  const key = JSON.stringify(enc);
  const cached = codecDelayCache.get(key);
  if (cached !== undefined) return cached;
  mkdirSync(tmpDir, { recursive: true });
  const n = SR * 3;
  const probe = new Float32Array(n * 2);
  const noise = new NoiseSource('codec-probe');
  for (let i = 0; i < n; i++) {
    const burst = Math.floor(i / 2400) % 3 !== 2 ? 1 : 0.05;
    const v = noise.next() * 0.3 * burst;
    probe[2 * i] = v;
    probe[2 * i + 1] = v;
  }
  const raw = join(tmpDir, 'probe.f32');
  writeFileSync(raw, Buffer.from(probe.buffer));
  const filter = [layoutPan(enc.channels), ...(enc.sampleRate !== SR ? [`aresample=${enc.sampleRate}`] : [])].join(',');
  const ref = join(tmpDir, 'probe-ref.wav');
  const coded = join(tmpDir, `probe.${DUB_EXT[enc.codec]}`);
  const input = ['-f', 'f32le', '-ar', String(SR), '-ac', '2', '-i', raw, '-af', filter];
  await ffmpeg(['-y', ...input, '-c:a', 'pcm_f32le', ref]);
  await ffmpeg(['-y', ...input, ...encodeArgs(enc), ...BITEXACT, coded]);
  const decode = async (p: string): Promise<Float32Array> => {
    const r = await ffmpeg(['-i', p, '-ac', '1', '-f', 'f32le', '-']);
    return new Float32Array(r.stdout.buffer.slice(r.stdout.byteOffset, r.stdout.byteOffset + r.stdout.byteLength));
  };
  const a = await decode(ref);
  const b = await decode(coded);
  const est = gccPhat(a, b, 4096);
  const delay = Math.round(est.lag) / enc.sampleRate;
  codecDelayCache.set(key, delay);
  return delay;
}

// ---------------------------------------------------------------------------------------------
// Case generation

export interface GenerateOptions {
  outRoot?: string;
  log?: (msg: string) => void;
  force?: boolean;
}

const CHUNK = SR; // 1 s

function gainCurve(seed: number, durationSeconds: number): (sample: number) => number {
  const rng = new Rng(`automation:${seed}`);
  const points: [number, number][] = [[0, rng.range(-2, 2)]];
  let t = 0;
  while (t < durationSeconds) {
    t += rng.range(4, 12);
    points.push([toSamples(t), rng.range(-3, 3)]);
  }
  const lin = points.map(([s, d]) => [s, Math.pow(10, d / 20)] as const);
  let k = 0;
  return (s: number): number => {
    while (k > 0 && (lin[k] as readonly [number, number])[0] > s) k--;
    while (k + 1 < lin.length && (lin[k + 1] as readonly [number, number])[0] <= s) k++;
    const a = lin[k] as readonly [number, number];
    const b = lin[k + 1];
    if (!b) return a[1];
    const f = (s - a[0]) / (b[0] - a[0]);
    return a[1] + (b[1] - a[1]) * f;
  };
}

function remixFilter(seed: number): string {
  const rng = new Rng(`remix:${seed}`);
  const parts = [`highpass=f=${rng.range(60, 160).toFixed(1)}`];
  const bands = rng.int(2, 3);
  for (let i = 0; i < bands; i++) {
    parts.push(`equalizer=f=${rng.logRange(150, 8000).toFixed(1)}:t=q:w=${rng.range(0.7, 2).toFixed(2)}:g=${rng.range(-5, 5).toFixed(2)}`);
  }
  parts.push(`acompressor=threshold=${rng.range(0.05, 0.15).toFixed(3)}:ratio=${rng.range(2, 4).toFixed(2)}:attack=${rng.range(5, 30).toFixed(1)}:release=${rng.range(100, 400).toFixed(0)}:makeup=${rng.range(1, 1.25).toFixed(2)}`);
  return parts.join(',');
}

/**
 * Dialogue-to-bed balance: a positive dialogueGainDb lowers the bed rather than raising the
 * dialogue, so the mix keeps its headroom.
 */
export function mixGains(dialogueGainDb: number): { bed: number; dialogue: number } {
  return { bed: Math.pow(10, -Math.max(0, dialogueGainDb) / 20), dialogue: Math.pow(10, Math.min(0, dialogueGainDb) / 20) };
}

/** Soft knee above 0.9 full scale (rarely reached; keeps the 16-bit master from clipping). */
function softLimit(x: number): number {
  const a = Math.abs(x);
  if (a <= 0.9) return x;
  return Math.sign(x) * (0.9 + 0.1 * Math.tanh((a - 0.9) / 0.1));
}

/** Renders the master into ffmpeg; returns the bed's RMS (per channel) over the programme. */
async function writeMaster(c: CaseSpec, prog: Programme, speech: Sound[], path: string): Promise<number> {
  const mixer = new StreamMixer([...prog.events.map(eventSound), ...speech]);
  const total = toSamples(c.durationSeconds);
  const bedGain = mixGains(c.master.dialogueGainDb).bed;
  let sumSq = 0;
  await ffmpeg(['-y', '-f', 'f32le', '-ar', String(SR), '-ac', '2', '-i', 'pipe:0', ...(c.master.format === 'flac' ? ['-c:a', 'flac', '-sample_fmt', 's16'] : ['-c:a', 'pcm_s16le']), ...BITEXACT, path], {
    feed: async (stdin: Writable) => {
      if (c.master.head) {
        const h = headBuffer(c.master.head);
        for (let i = 0; i < h.length; i += CHUNK * 2) await writeChunk(stdin, f32buf(h.slice(i, i + CHUNK * 2)));
      }
      for (let s0 = 0; s0 < total; s0 += CHUNK) {
        const n = Math.min(CHUNK, total - s0);
        const l = new Float32Array(n);
        const r = new Float32Array(n);
        const d = new Float32Array(n);
        mixer.render(s0, n, l, r, d);
        const out = new Float32Array(n * 2);
        for (let i = 0; i < n; i++) {
          const li = (l[i] as number) * bedGain;
          const ri = (r[i] as number) * bedGain;
          sumSq += li * li + ri * ri;
          out[2 * i] = softLimit(li + (d[i] as number));
          out[2 * i + 1] = softLimit(ri + (d[i] as number));
        }
        await writeChunk(stdin, f32buf(out));
      }
    },
  });
  return Math.sqrt(sumSq / Math.max(1, 2 * total));
}

function f32buf(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

async function writeDub(c: CaseSpec, dubProg: Programme, speech: Sound[], bedRms: number, tmp: string, path: string, log: (m: string) => void): Promise<void> {
  const d = c.dub;
  const bedSounds = dubProg.events.filter((e) => !(d.missingEffect && e.id === dubProg.prominentFxId)).map(eventSound);
  const mixer = new StreamMixer([...bedSounds, ...speech]);
  const pieces = dubPieces(c.durationSeconds, d.edits);
  const otherLen = pieces.reduce((acc, p) => acc + (p.kind === 'insert' && p.material === 'other' ? p.length : 0), 0);
  const otherProg = otherLen > 0 ? buildProgramme(c.seed * 7 + 1_000_003, otherLen / SR + 2) : null;
  const otherMixer = otherProg ? new StreamMixer(otherProg.events.map(eventSound)) : null;
  const gain = d.remix ? gainCurve(c.seed, c.durationSeconds) : () => 1;
  const noisy = d.noiseSnrDb !== null;
  const noiseSigma = noisy ? bedRms * Math.pow(10, -(d.noiseSnrDb as number) / 20) : 0;
  const nl = new NoiseSource(`dubnoise:${c.seed}:L`);
  const nr = new NoiseSource(`dubnoise:${c.seed}:R`);
  const gauss = (src: NoiseSource): number => (src.next() + src.next() + src.next() + src.next()) * 0.8660254; // var 1
  const chans = noisy ? 5 : 3;
  const { bed: bg, dialogue: dg } = mixGains(d.dialogueGainDb);

  // filter graph
  const g: string[] = [];
  const mixExpr = (ch: 0 | 1): string => `${bg.toFixed(5)}*c${ch}+${dg.toFixed(5)}*c2${noisy ? `+c${3 + ch}` : ''}`;
  if (d.remix) {
    g.push('[0:a]asplit=2[bedin][restin]');
    g.push(`[bedin]pan=stereo|c0=c0|c1=c1,${remixFilter(c.seed)}[bed]`);
    g.push(noisy ? '[restin]pan=3.0|c0=c2|c1=c3|c2=c4[rest]' : '[restin]pan=mono|c0=c2[rest]');
    const joiner = noisy ? 'join=inputs=2:channel_layout=5.0:map=0.0-FL|0.1-FR|1.0-FC|1.1-BL|1.2-BR' : 'join=inputs=2:channel_layout=3.0:map=0.0-FL|0.1-FR|1.0-FC';
    g.push(`[bed][rest]${joiner},pan=stereo|c0=${mixExpr(0)}|c1=${mixExpr(1)}[mix]`);
  } else {
    g.push(`[0:a]pan=stereo|c0=${mixExpr(0)}|c1=${mixExpr(1)}[mix]`);
  }
  let cur = '[mix]';
  const chain: string[] = [];
  if (d.speed) {
    const s = STANDARDS[d.speed];
    if (s.resampleTo !== SR) chain.push(`aresample=${s.resampleTo}`);
    chain.push(`asetrate=${s.relabel}`);
    if (s.relabel !== SR) chain.push(`aresample=${SR}`);
  }
  const off = toSamples(d.offsetSeconds);
  if (off > 0) chain.push(`adelay=delays=${off}S:all=1`);
  if (off < 0) chain.push(`atrim=start_sample=${-off}`, 'asetpts=PTS-STARTPTS');
  const layout = d.encode.channels === 6
    ? 'pan=5.1|FL=c0|FR=c1|FC=0.5*c0+0.5*c1|LFE=0.25*c0+0.25*c1|BL=0.5*c0|BR=0.5*c1'
    : null;
  if (layout) chain.push(layout);
  if (chain.length) {
    g.push(`${cur}${chain.join(',')}[prog]`);
    cur = '[prog]';
  }
  const inputs = ['-f', 'f32le', '-ar', String(SR), '-ac', String(chans), '-i', 'pipe:0'];
  if (d.head) {
    const headFile = join(tmp, 'dub-head.f32');
    writeFileSync(headFile, f32buf(headBuffer(d.head)));
    inputs.push('-f', 'f32le', '-ar', String(SR), '-ac', '2', '-i', headFile);
    g.push(`[1:a]${layoutPan(d.encode.channels)}[head]`);
    g.push(`[head]${cur}concat=n=2:v=0:a=1[cat]`);
    cur = '[cat]';
  }
  if (d.encode.sampleRate !== SR) {
    g.push(`${cur}aresample=${d.encode.sampleRate}[rs]`);
    cur = '[rs]';
  }
  g.push(`${cur}anull[out]`);
  const graph = g.join(';');
  log(`  dub filter: ${graph}`);

  await ffmpeg(['-y', ...inputs, '-filter_complex', graph, '-map', '[out]', ...encodeArgs(d.encode), ...BITEXACT, path], {
    feed: async (stdin: Writable) => {
      let otherPos = 0;
      for (const p of pieces) {
        const from = p.kind === 'programme' ? p.from : 0;
        const to = p.kind === 'programme' ? p.to : p.length;
        for (let s0 = from; s0 < to; s0 += CHUNK) {
          const n = Math.min(CHUNK, to - s0);
          const l = new Float32Array(n);
          const r = new Float32Array(n);
          const dl = new Float32Array(n);
          if (p.kind === 'programme') {
            mixer.render(s0, n, l, r, dl);
            for (let i = 0; i < n; i++) {
              const k = gain(s0 + i);
              l[i] = (l[i] as number) * k;
              r[i] = (r[i] as number) * k;
            }
          } else if (p.material === 'other' && otherMixer) {
            otherMixer.render(otherPos, n, l, r, dl);
            otherPos += n;
          }
          const out = new Float32Array(n * chans);
          for (let i = 0; i < n; i++) {
            const o = i * chans;
            out[o] = l[i] as number;
            out[o + 1] = r[i] as number;
            out[o + 2] = dl[i] as number;
            if (noisy) {
              out[o + 3] = gauss(nl) * noiseSigma;
              out[o + 4] = gauss(nr) * noiseSigma;
            }
          }
          await writeChunk(stdin, f32buf(out));
        }
      }
    },
  });
}

function dubDurationSeconds(c: CaseSpec, codecDelay: number): number {
  const pieces = dubPieces(c.durationSeconds, c.dub.edits);
  const content = pieces.reduce((a, p) => a + (p.kind === 'programme' ? p.to - p.from : p.length), 0) / SR;
  const r = c.dub.speed ? STANDARDS[c.dub.speed].resampleTo / STANDARDS[c.dub.speed].relabel : 1;
  return headSamples(c.dub.head) / SR + toSamples(c.dub.offsetSeconds) / SR + r * content + codecDelay;
}

/** Generates one case unless it is already present with the same spec hash. */
export async function generateCase(c: CaseSpec, opts: GenerateOptions = {}): Promise<{ skipped: boolean; seconds: number }> {
  const outRoot = opts.outRoot ?? DEFAULT_OUT;
  const log = opts.log ?? (() => undefined);
  if (!opts.force && isGenerated(outRoot, c)) return { skipped: true, seconds: 0 };
  const started = Date.now();
  const finalDir = caseDir(outRoot, c.id);
  const tmp = join(outRoot, 'corpus', `.tmp-${c.id}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const speechDir = join(tmp, 'speech');
  try {
    const prog = buildProgramme(c.seed, c.durationSeconds);
    const dubProg = c.dub.programmeSeed !== null ? buildProgramme(c.dub.programmeSeed, c.durationSeconds) : prog;
    const mGain = mixGains(c.master.dialogueGainDb).dialogue;
    const masterLines: LineSpec[] = lineTexts(prog, c.master.voice.language, false).map((l) => ({ ...l, voice: c.master.voice, gain: mGain }));
    let dubLines: LineSpec[];
    if (c.dub.programmeSeed !== null) {
      dubLines = lineTexts(dubProg, c.dub.voice.language, c.dub.dialogue === 'translate').map((l) => ({ ...l, voice: c.dub.voice, gain: 1 }));
    } else if (c.dub.dialogue === 'same') {
      dubLines = masterLines.map((l) => ({ ...l, gain: 1 }));
    } else if (c.dub.dialogue === 'revoice') {
      dubLines = masterLines.map((l) => ({ ...l, voice: c.dub.voice, gain: 1 }));
    } else {
      dubLines = lineTexts(prog, c.dub.voice.language, true).map((l) => ({ ...l, voice: c.dub.voice, gain: 1 }));
    }
    if (c.dub.fitLines && (c.dub.programmeSeed !== null || c.dub.dialogue === 'same')) throw new Error(`${c.id}: fitLines needs a re-voiced or translated dub of the same programme`);
    if (c.dub.lineErrors?.length && !c.dub.fitLines) throw new Error(`${c.id}: lineErrors need fitLines`);
    await synthesiseLines(speechDir, [...masterLines, ...dubLines]);
    const fitted = c.dub.fitLines ? await fittedDialogue(c, masterLines, dubLines, speechDir) : null;
    log(`  ${c.id}: speech ready after ${((Date.now() - started) / 1000).toFixed(1)}s`);
    const masterFile = `master.${MASTER_EXT[c.master.format]}`;
    const dubFile = `dub.${DUB_EXT[c.dub.encode.codec]}`;
    const bedRms = await writeMaster(c, prog, fitted ? fitted.masterSounds : speechSounds(speechDir, masterLines), join(tmp, masterFile));
    log(`  ${c.id}: master written after ${((Date.now() - started) / 1000).toFixed(1)}s (bed rms ${(20 * Math.log10(bedRms + 1e-12)).toFixed(1)} dBFS)`);
    await writeDub(c, dubProg, fitted ? fitted.sounds : speechSounds(speechDir, dubLines), bedRms, tmp, join(tmp, dubFile), log);
    log(`  ${c.id}: dub written after ${((Date.now() - started) / 1000).toFixed(1)}s`);
    const delay = await measureCodecDelay(c.dub.encode, join(tmp, 'probe'));
    const expected = expectedCodecDelaySamples(c.dub.encode) / c.dub.encode.sampleRate;
    if (Math.abs(delay - expected) > 0.5 / c.dub.encode.sampleRate) {
      log(`  warning: ${c.id}: measured codec delay ${(delay * 1e3).toFixed(3)} ms differs from the expected ${(expected * 1e3).toFixed(3)} ms; truth uses the measured value`);
    }
    rmSync(join(tmp, 'probe'), { recursive: true, force: true });
    rmSync(speechDir, { recursive: true, force: true });
    rmSync(join(tmp, 'dub-head.f32'), { force: true });
    const truth = computeTruth(c, delay);
    const file: TruthFile = {
      id: c.id,
      family: c.family,
      seed: c.seed,
      spec_hash: specHash(c),
      files: { master: masterFile, dub: dubFile },
      master_duration_seconds: headSamples(c.master.head) / SR + toSamples(c.durationSeconds) / SR,
      dub_duration_seconds: dubDurationSeconds(c, delay),
      expected_codec_delay_seconds: expected,
      generation_seconds: (Date.now() - started) / 1000,
      ...truth,
      ...(fitted ? { dialogue: { lines: fitted.truth } } : {}),
    };
    writeFileSync(join(tmp, 'truth.json'), `${JSON.stringify(file, null, 2)}\n`);
    rmSync(finalDir, { recursive: true, force: true });
    renameSync(tmp, finalDir);
    return { skipped: false, seconds: file.generation_seconds };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Removes .tmp-<id>-<pid> folders left by generator processes that no longer run. */
function removeStaleTmp(corpusDir: string): void {
  for (const name of readdirSync(corpusDir)) {
    const m = /^\.tmp-.+-(\d+)$/.exec(name);
    if (!m) continue;
    let alive = true;
    try {
      process.kill(Number(m[1]), 0);
    } catch {
      alive = false;
    }
    if (!alive) rmSync(join(corpusDir, name), { recursive: true, force: true });
  }
}

/**
 * Generates the cases that are missing, at most `jobs` at a time, each in its own Node process
 * (so two cases render on two cores).
 */
export async function generateAll(cases: readonly CaseSpec[], opts: { outRoot?: string; jobs?: number; log?: (m: string) => void; set?: string } = {}): Promise<void> {
  const outRoot = opts.outRoot ?? DEFAULT_OUT;
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  mkdirSync(join(outRoot, 'corpus'), { recursive: true });
  removeStaleTmp(join(outRoot, 'corpus'));
  const todo = cases.filter((c) => !isGenerated(outRoot, c));
  if (todo.length === 0) return;
  const total = todo.reduce((a, c) => a + c.durationSeconds, 0);
  log(`generating ${todo.length} case(s), ${(total / 60).toFixed(1)} programme minutes, ${opts.jobs ?? 2} at a time`);
  let done = 0;
  await mapLimit(todo, opts.jobs ?? 2, async (c) => {
    const r = await runProcess(process.execPath, ['--import', 'tsx', join(HERE, 'generate.ts'), '--one', c.id, '--out', outRoot], { cwd: REPO_ROOT });
    done++;
    if (r.code !== 0) throw new Error(`generating ${c.id} failed:\n${r.stderr.slice(-4000)}`);
    log(`  [${done}/${todo.length}] ${c.id} (${c.durationSeconds}s) in ${r.wallSeconds.toFixed(1)}s`);
  });
}

// ---------------------------------------------------------------------------------------------

async function main(argv: string[]): Promise<void> {
  const { allCases, selectCases } = await import('./spec.ts');
  const arg = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const outRoot = resolve(arg('--out') ?? DEFAULT_OUT);
  const one = arg('--one');
  if (one) {
    const c = allCases().find((x) => x.id === one);
    if (!c) throw new Error(`no case ${one}`);
    const verbose = argv.includes('--verbose');
    await generateCase(c, { outRoot, force: argv.includes('--force'), log: verbose ? (m) => process.stderr.write(`${m}\n`) : undefined });
    return;
  }
  const cases = selectCases({
    quick: argv.includes('--quick'), long: argv.includes('--long'), calibration: argv.includes('--calibration'),
    family: arg('--family'), caseId: arg('--case'),
  });
  await generateAll(cases, { outRoot, jobs: Number(arg('--jobs') ?? 2) });
  const size = cases.reduce((a, c) => {
    const t = readTruth(outRoot, c.id);
    if (!t) return a;
    const dir = caseDir(outRoot, c.id);
    return a + statSync(join(dir, t.files.master)).size + statSync(join(dir, t.files.dub)).size;
  }, 0);
  process.stderr.write(`corpus ready: ${cases.length} case(s), ${(size / 1e6).toFixed(0)} MB\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  });
}
