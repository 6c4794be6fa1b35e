/**
 * Test helpers (not exported from the package): a ~40 s programme at the model's rate built with
 * espeak-ng and ffmpeg (silence / speech / music / noise at known times), decoded to
 * Float32 through an ffmpeg pipe.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { VAD_SAMPLE_RATE } from './silero-vad.ts';

export const FFMPEG = '/usr/bin/ffmpeg';
export const ESPEAK = 'espeak-ng';
export const SR = VAD_SAMPLE_RATE;

export async function makeTempDir(prefix = 'inference-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Runs a tool (argument array), collecting stdout; rejects with its stderr on failure. */
function exec(cmd: string, args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`${cmd} ${args.join(' ')} failed (${code}): ${err}`))));
  });
}

export function ff(args: string[]): Promise<Buffer> {
  return exec(FFMPEG, ['-nostdin', '-hide_banner', '-v', 'error', '-y', ...args]);
}

/** Mono float PCM at SR of any file, through an ffmpeg f32le pipe. */
export async function decodeF32(file: string): Promise<Float32Array> {
  const buf = await ff(['-i', file, '-ac', '1', '-ar', String(SR), '-f', 'f32le', 'pipe:1']);
  // Copy: the pipe's Buffer may sit at an unaligned offset of a shared pool.
  const out = new Float32Array(buf.length / 4);
  new Uint8Array(out.buffer).set(buf.subarray(0, out.length * 4));
  return out;
}

const WAV_OUT = ['-ac', '1', '-ar', String(SR), '-c:a', 'pcm_s16le'];

/** espeak-ng speech, resampled to SR and trimmed so the file starts and ends on speech. */
export async function makeSpeech(file: string, text: string, voice: string, wpm = 160): Promise<void> {
  const raw = `${file}.espeak.wav`;
  await exec(ESPEAK, ['-v', voice, '-s', String(wpm), '-w', raw, text]);
  const trim = 'silenceremove=start_periods=1:start_threshold=-40dB:start_silence=0.02';
  await ff(['-i', raw, '-af', `${trim},areverse,${trim},areverse`, ...WAV_OUT, file]);
  await rm(raw, { force: true });
}

export function makeSilence(file: string, seconds: number): Promise<Buffer> {
  return ff(['-f', 'lavfi', '-i', `anullsrc=r=${SR}:cl=mono`, '-t', String(seconds), ...WAV_OUT, file]);
}

/**
 * Music: a I-vi-IV-V chord progression (one chord a second, three harmonics per note,
 * plucked decay) over a bass note: harmonic, rhythmic, not speech.
 */
export function makeMusic(file: string, seconds: number): Promise<Buffer> {
  const root = (k: number): string => `if(eq(mod(floor(t),4),0),${k * 261.63},if(eq(mod(floor(t),4),1),${k * 220},if(eq(mod(floor(t),4),2),${k * 174.61},${k * 196})))`;
  const note = (mult: number): string => `(sin(2*PI*${mult}*${root(1)}*t)+0.4*sin(4*PI*${mult}*${root(1)}*t)+0.2*sin(6*PI*${mult}*${root(1)}*t))`;
  const env = 'exp(-2.5*mod(t,1))';
  const expr = `0.12*${env}*(${note(1)}+${note(1.26)}+${note(1.5)})+0.1*sin(PI*${root(1)}*t)`;
  return ff(['-f', 'lavfi', '-i', `aevalsrc=exprs='${expr}':s=${SR}:d=${seconds}`, ...WAV_OUT, file]);
}

export function makeNoise(file: string, seconds: number): Promise<Buffer> {
  return ff(['-f', 'lavfi', '-i', `anoisesrc=d=${seconds}:c=pink:r=${SR}:a=0.2:s=7`, ...WAV_OUT, file]);
}

export type RegionKind = 'silence' | 'speech' | 'music' | 'noise';
export interface Region {
  kind: RegionKind;
  start: number;
  end: number;
}

export interface Programme {
  pcm: Float32Array;
  regions: Region[];
}

/**
 * ~40 s: silence, speech, silence, music, silence, speech, silence, noise, silence,
 * speech, silence. Pieces are PCM WAVs at SR joined with ffmpeg's concat demuxer, so the
 * region boundaries are exact sample counts.
 */
export async function buildProgramme(dir: string): Promise<Programme> {
  const pieces: { kind: RegionKind; make: (f: string) => Promise<unknown> }[] = [
    { kind: 'silence', make: (f) => makeSilence(f, 2) },
    { kind: 'speech', make: (f) => makeSpeech(f, 'the quick brown fox jumps over the lazy dog and then runs back into the forest to find its friends', 'en-us') },
    { kind: 'silence', make: (f) => makeSilence(f, 2.5) },
    { kind: 'music', make: (f) => makeMusic(f, 7) },
    { kind: 'silence', make: (f) => makeSilence(f, 2) },
    { kind: 'speech', make: (f) => makeSpeech(f, 'every morning the old fisherman walks down to the harbour and counts the boats that came home', 'en-gb+f3') },
    { kind: 'silence', make: (f) => makeSilence(f, 2) },
    { kind: 'noise', make: (f) => makeNoise(f, 6) },
    { kind: 'silence', make: (f) => makeSilence(f, 2) },
    { kind: 'speech', make: (f) => makeSpeech(f, 'please remember to bring the tickets because the train leaves at seven', 'en-us+m3', 140) },
    { kind: 'silence', make: (f) => makeSilence(f, 2) },
  ];
  const files = pieces.map((_, i) => path.join(dir, `piece${i}.wav`));
  await Promise.all(pieces.map((p, i) => p.make(files[i]!)));
  const list = path.join(dir, 'pieces.txt');
  await writeFile(list, files.map((f) => `file '${f}'\n`).join(''));
  const programme = path.join(dir, 'programme.wav');
  await ff(['-f', 'concat', '-safe', '0', '-i', list, '-c:a', 'pcm_s16le', programme]);
  const lengths = await Promise.all(files.map(async (f) => (await decodeF32(f)).length));
  const pcm = await decodeF32(programme);
  const regions: Region[] = [];
  let at = 0;
  pieces.forEach((p, i) => {
    const n = lengths[i]!;
    regions.push({ kind: p.kind, start: at / SR, end: (at + n) / SR });
    at += n;
  });
  if (at !== pcm.length) throw new Error(`programme has ${pcm.length} samples, pieces sum to ${at}`);
  return { pcm, regions };
}

/** `pcm` repeated until it lasts at least `seconds`. */
export function repeatTo(pcm: Float32Array, seconds: number): Float32Array {
  const n = Math.ceil((seconds * SR) / pcm.length);
  const out = new Float32Array(n * pcm.length);
  for (let i = 0; i < n; i++) out.set(pcm, i * pcm.length);
  return out;
}

/** Seconds of [start, end) covered by the union of `segs`. */
export function coveredSeconds(segs: readonly { start: number; end: number }[], start: number, end: number): number {
  let total = 0;
  let reach = start;
  for (const s of [...segs].sort((a, b) => a.start - b.start)) {
    const a = Math.max(s.start, reach);
    const b = Math.min(s.end, end);
    if (b > a) {
      total += b - a;
      reach = b;
    }
  }
  return total;
}

export const capturingLogger = (): {
  logger: { debug: (o: object, m?: string) => void; info: (o: object, m?: string) => void; warn: (o: object, m?: string) => void; error: (o: object, m?: string) => void };
  lines: { level: string; obj: object; msg: string | undefined }[];
} => {
  const lines: { level: string; obj: object; msg: string | undefined }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
};

/**
 * A minimal valid ONNX model, y = Identity(x) with x float32 [n, 4], encoded by hand
 * (protobuf) so a test can load a model that is not Silero without any other tool.
 */
export function identityModel(): Uint8Array {
  const varint = (n: number): number[] => {
    const out: number[] = [];
    while (n > 127) {
      out.push((n & 127) | 128);
      n >>>= 7;
    }
    out.push(n);
    return out;
  };
  const num = (field: number, v: number): number[] => [...varint(field << 3), ...varint(v)];
  const bytes = (field: number, b: number[]): number[] => [...varint((field << 3) | 2), ...varint(b.length), ...b];
  const str = (field: number, s: string): number[] => bytes(field, [...Buffer.from(s, 'utf8')]);
  // TypeProto.tensor_type { elem_type FLOAT, shape { dim { dim_param "n" } dim { dim_value 4 } } }
  const tensorType = bytes(1, [...num(1, 1), ...bytes(2, [...bytes(1, str(2, 'n')), ...bytes(1, num(1, 4))])]);
  const valueInfo = (name: string): number[] => [...str(1, name), ...bytes(2, tensorType)];
  const node = [...str(1, 'x'), ...str(2, 'y'), ...str(4, 'Identity')];
  const graph = [...bytes(1, node), ...str(2, 'g'), ...bytes(11, valueInfo('x')), ...bytes(12, valueInfo('y'))];
  // ModelProto: ir_version 8, graph, opset_import { domain "" version 13 }
  return Uint8Array.from([...num(1, 8), ...bytes(7, graph), ...bytes(8, [...str(1, ''), ...num(2, 13)])]);
}
