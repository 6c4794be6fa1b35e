/**
 * Test support for the CLI and integration tests: temp dirs, ffmpeg-generated programmes and
 * dubs, and a runner for the real CLI launcher. Everything is generated with ffmpeg's lavfi
 * sources, so fixtures are deterministic and need no downloaded media.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../../../../shared/engine/src/prng.ts';
import { ff } from '../../../../shared/media/src/test-fixtures.ts';

export const FFMPEG = '/usr/bin/ffmpeg';
export const FFPROBE = '/usr/bin/ffprobe';

/** The repository root (this file is services/cli/src/testing/media-fixtures.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
export const CLI_LAUNCHER = path.join(REPO_ROOT, 'services/cli/bin/sync-analyzer.js');
export const RESULT_SCHEMA = path.join(REPO_ROOT, 'schemas/analysis-result.schema.json');
export const ALL_STREAMS_SCHEMA = path.join(REPO_ROOT, 'schemas/all-streams-result.schema.json');

// Temp dirs and ffmpeg runs: the media package's test helpers.
export { ff, makeTempDir } from '../../../../shared/media/src/test-fixtures.ts';

/** Runs async jobs with at most `limit` at a time (the test machines have two cores). */
export async function runLimited(jobs: ReadonlyArray<() => Promise<void>>, limit = 2): Promise<void> {
  const queue = [...jobs];
  const worker = async (): Promise<void> => {
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) await job();
  };
  await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, () => worker()));
}

/** Every parameter of a programme depends on its seed (the engine's mulberry32). */
const prng = mulberry32;

const f3 = (x: number): string => x.toFixed(3);

/**
 * lavfi graph (for `-filter_complex`, output label `[out]`) of a non-repeating stereo 48 kHz
 * programme: seeded pink noise (independent in the two channels) gated by slow envelopes, plus a
 * plucked melodic line in the centre. The envelope and melody parameters come from the seed too,
 * so two seeds are unrelated; left and right differ, so channel order can be checked.
 */
export function programmeGraph(seed: number, duration: number): string {
  const r = prng(seed);
  const e1 = 1.1 + r() * 1.2;
  const e2 = 0.4 + r() * 0.5;
  const ph = r() * 6;
  const base = 160 + Math.round(r() * 140);
  const speed = 2.3 + r() * 1.6;
  const pluck = 0.29 + r() * 0.2;
  const env = `volume='0.15+0.85*gt(sin(t*${f3(e1)})*sin(t*${f3(e2)}+${f3(ph)}),0.2)':eval=frame`;
  const noise = (ch: string, s: number) => `anoisesrc=color=pink:seed=${s}:d=${duration}:r=48000:a=0.3,${env}[n${ch}${seed}]`;
  const melody = `aevalsrc='0.12*sin(2*PI*(${base}+${Math.round(base / 2)}*floor(mod(t*${f3(speed)},7)))*t)*exp(-3*mod(t,${f3(pluck)}))':s=48000:d=${duration},asplit=2[ml${seed}][mr${seed}]`;
  return [
    noise('l', seed),
    noise('r', seed + 7919),
    melody,
    `[nl${seed}][ml${seed}]amix=inputs=2:normalize=0[l${seed}]`,
    `[nr${seed}][mr${seed}]amix=inputs=2:normalize=0[r${seed}]`,
    `[l${seed}][r${seed}]join=inputs=2:channel_layout=stereo,aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo[out]`,
  ].join(';');
}

/** Writes a programme (default: 16-bit PCM; pass codec arguments to encode it). */
export async function makeProgramme(file: string, seed: number, duration: number, codecArgs: string[] = ['-c:a', 'pcm_s16le']): Promise<void> {
  await ff(['-filter_complex', programmeGraph(seed, duration), '-map', '[out]', ...codecArgs, file]);
}

/** The filter that shifts a signal by `offsetSeconds` (positive: late, by a head of silence; negative: early, head trimmed). */
export function offsetFilter(offsetSeconds: number): string {
  if (offsetSeconds >= 0) return `adelay=${Math.round(offsetSeconds * 1000)}:all=1`;
  return `atrim=start=${(-offsetSeconds).toFixed(6)},asetpts=PTS-STARTPTS`;
}

/** A "dub" of `source`: shifted by `offsetSeconds`, with extra filters (EQ, gain...) and codec arguments. */
export async function makeDub(
  source: string,
  file: string,
  offsetSeconds: number,
  opts: { filters?: string[]; codecArgs?: string[]; inputArgs?: string[] } = {},
): Promise<void> {
  const chain = [offsetFilter(offsetSeconds), ...(opts.filters ?? ['equalizer=f=2500:t=q:w=1:g=-5', 'volume=0.8'])].join(',');
  await ff(['-i', source, ...(opts.inputArgs ?? []), '-af', chain, ...(opts.codecArgs ?? ['-c:a', 'pcm_s16le']), file]);
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `node services/cli/bin/sync-analyzer.js ARGS` from the repository root (no TTY). */
export function runCli(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliRun> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_LAUNCHER, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...(opts.env ?? {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}
