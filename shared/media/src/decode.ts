/**
 * Decoding audio to mono PCM through ffmpeg, streamed from its stdout straight into a
 * preallocated typed array (grown by 1.5x when the probe under-estimated), so memory
 * stays at about the size of the PCM itself.
 */
import { spawn } from 'node:child_process';
import { endianness } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { AbortedError, DecodeError, MediaInputError, lastLines } from './errors.ts';
import type { MediaLogger } from './logger.ts';
import type { ProbeResult } from './probe.ts';
import { TailBuffer, spawnError, stopChild } from './proc.ts';
import { planAudioInput } from './selection.ts';
import type { AudioPlan, AudioSelection } from './selection.ts';
import type { MediaTools } from './tools.ts';

export interface DecodeOptions {
  tools: MediaTools;
  logger: MediaLogger;
  probe: ProbeResult;
  selection: AudioSelection;
  /** Output sample rate in Hz. */
  sampleRate: number;
  signal?: AbortSignal;
  /** Called with the seconds decoded so far (at most about 4 times a second, and once at the end). */
  onProgress?: (decodedSeconds: number) => void;
  /** Called with ffmpeg's PID once it is spawned. */
  onSpawn?: (pid: number) => void;
  /** 'soxr' requires an ffmpeg built with libsoxr (checkTools().soxr); default 'swr'. */
  resampler?: 'soxr' | 'swr';
  /**
   * Called after every chunk with a view of all samples decoded so far (valid only during the
   * call: the buffer may be reallocated later). Lets features be computed while decoding.
   */
  onSamples?: (pcm: Int16Array, count: number) => void;
  /**
   * A second mono s16 output of the same audio at another rate, streamed chunk by chunk (not
   * kept): one decode feeds the engine and, e.g., speech detection.
   */
  extraOutput?: ExtraOutput;
  /**
   * Longest audio accepted, in seconds of decoded output: past it ffmpeg is stopped and the
   * decode fails with MediaInputError 'too_long'. A header can under-state the duration (an MP3
   * whose Xing header counts a few frames of hours of audio), so the probe's duration alone
   * does not bound memory.
   */
  maxSeconds?: number;
}

/**
 * The second output's consumer. Returning a promise pauses reading that output until it
 * settles: ffmpeg then blocks on the full pipe, so a slow consumer (a speech model) holds the
 * whole decode back instead of letting unconsumed audio pile up in memory.
 */
export interface ExtraOutput {
  sampleRate: number;
  onChunk: (samples: Int16Array) => void | Promise<void>;
}

export interface DecodeResult {
  /** Mono 16-bit PCM, exactly the decoded length. */
  pcm: Int16Array;
  sampleRate: number;
  /** What was decoded, in words (from the audio plan). */
  description: string;
  decodedSeconds: number;
  /**
   * True when ffmpeg stopped with an error after decoding some audio, or the decoded audio
   * is clearly shorter than the probed duration: what is there is still returned.
   */
  truncated: boolean;
  /** The last lines ffmpeg printed at error level (empty when it printed nothing). */
  warnings: string;
}

export interface WindowOptions {
  tools: MediaTools;
  logger: MediaLogger;
  probe: ProbeResult;
  selection: AudioSelection;
  /** Window start, seconds from the start of the file. */
  start: number;
  /** Window length in seconds. */
  duration: number;
  sampleRate: number;
  signal?: AbortSignal;
  onSpawn?: (pid: number) => void;
  resampler?: 'soxr' | 'swr';
}

const LITTLE_ENDIAN = endianness() === 'LE';
/** Initial allocation is capped (a broken header can claim days); the array grows past it if needed. */
const MAX_INITIAL_SECONDS = 3 * 3600;
/** readWindow decodes this much before the window and discards it (decoder warm-up). */
const WINDOW_PREROLL_S = 0.2;

/** Decodes the selected audio of `path` to mono s16 PCM at `sampleRate`. */
export async function decodePcm(path: string, opts: DecodeOptions): Promise<DecodeResult> {
  checkRate(opts.sampleRate);
  if (opts.extraOutput) checkRate(opts.extraOutput.sampleRate);
  if (opts.maxSeconds !== undefined && !(opts.maxSeconds > 0)) throw new RangeError(`bad maxSeconds ${opts.maxSeconds}`);
  const plan = planAudioInput(opts.probe, opts.selection, { sampleRate: opts.sampleRate, resampler: opts.resampler, ...(opts.extraOutput ? { extraRate: opts.extraOutput.sampleRate } : {}) });
  const expected = plan.expectedDuration;
  const res = await runPcm(path, plan, {
    ...opts,
    sampleFormat: 's16',
    preSeek: [],
    postLimit: [],
    expectedSamples: expected !== null ? Math.ceil((Math.min(expected, MAX_INITIAL_SECONDS, opts.maxSeconds ?? Infinity) + 0.5) * opts.sampleRate) : opts.sampleRate * 60,
    ...(opts.maxSeconds !== undefined ? { maxSamples: Math.ceil(opts.maxSeconds * opts.sampleRate) } : {}),
    what: 'decode',
  });
  if (res.overLimit) {
    const declared = expected !== null ? `the file declares ${describeSeconds(expected)}` : 'the file declares no duration';
    throw new MediaInputError('too_long', path, `more than ${describeSeconds(opts.maxSeconds!)} of audio decoded; ${declared}`);
  }
  const pcm = res.samples as Int16Array;
  const decodedSeconds = pcm.length / opts.sampleRate;
  if (pcm.length === 0) {
    throw new MediaInputError('corrupt', path, res.stderr ? lastLines(res.stderr, 2) : 'no audio samples decoded');
  }
  const short = expected !== null && decodedSeconds < expected - Math.max(0.5, 0.02 * expected);
  const truncated = res.failed || short || opts.probe.truncated === true;
  if (truncated || res.stderr) {
    opts.logger.warn(
      { path, exitCode: res.exitCode, decodedSeconds, expectedSeconds: expected, stderr: lastLines(res.stderr, 5) },
      truncated ? 'audio decoded only partly (truncated or damaged file); analysing what was decoded' : 'ffmpeg reported errors while decoding',
    );
  }
  opts.logger.debug({ path, description: plan.description, decodedSeconds, sampleRate: opts.sampleRate }, 'decoded');
  return { pcm, sampleRate: opts.sampleRate, description: plan.description, decodedSeconds, truncated, warnings: lastLines(res.stderr, 5) };
}

/**
 * Decodes a short window [start, start + duration) with input seeking, as mono float32.
 * Returns fewer samples (possibly none) when the window runs past the end.
 */
export async function readWindow(path: string, opts: WindowOptions): Promise<Float32Array> {
  checkRate(opts.sampleRate);
  if (!Number.isFinite(opts.start) || opts.start < 0) throw new RangeError(`readWindow: bad start ${opts.start}`);
  if (!Number.isFinite(opts.duration) || opts.duration <= 0) throw new RangeError(`readWindow: bad duration ${opts.duration}`);
  const plan = planAudioInput(opts.probe, opts.selection, { sampleRate: opts.sampleRate, resampler: opts.resampler });
  // Seek a little early and drop the pre-roll after decoding, so that codecs with
  // overlapping frames (mp3, aac, ...) have warmed up when the window starts.
  const preroll = Math.min(opts.start, WINDOW_PREROLL_S);
  const res = await runPcm(path, plan, {
    ...opts,
    sampleFormat: 'f32',
    preSeek: ['-ss', secs(opts.start - preroll)],
    postLimit: [...(preroll > 0 ? ['-ss', secs(preroll)] : []), '-t', secs(opts.duration)],
    expectedSamples: Math.ceil(opts.duration * opts.sampleRate) + 16,
    what: 'readWindow',
  });
  if (res.failed || res.stderr) {
    opts.logger.warn({ path, start: opts.start, duration: opts.duration, exitCode: res.exitCode, stderr: lastLines(res.stderr, 5) }, 'ffmpeg reported errors while reading a window');
  }
  return res.samples as Float32Array;
}

function describeSeconds(s: number): string {
  return s >= 3600 ? `${(s / 3600).toFixed(2)} h` : `${Math.round(s * 10) / 10} s`;
}

function checkRate(rate: number): void {
  if (!Number.isInteger(rate) || rate < 1000 || rate > 768000) throw new RangeError(`bad sample rate ${rate}`);
}

/** Seconds with microsecond precision, no exponent notation. */
function secs(s: number): string {
  return s.toFixed(6);
}

interface RunOptions {
  tools: MediaTools;
  logger: MediaLogger;
  sampleRate: number;
  signal?: AbortSignal;
  onProgress?: (decodedSeconds: number) => void;
  onSpawn?: (pid: number) => void;
  onSamples?: (pcm: Int16Array, count: number) => void;
  extraOutput?: ExtraOutput;
  sampleFormat: 's16' | 'f32';
  preSeek: string[];
  postLimit: string[];
  expectedSamples: number;
  /** Stop ffmpeg once more samples than this have arrived (RunOutcome.overLimit). */
  maxSamples?: number;
  what: string;
}

interface RunOutcome {
  samples: Int16Array | Float32Array;
  exitCode: number | null;
  /** ffmpeg exited non-zero after producing some audio. */
  failed: boolean;
  stderr: string;
  /** More than RunOptions.maxSamples arrived: ffmpeg was stopped; samples hold what was kept. */
  overLimit: boolean;
}

/** Errors in our own arguments or graph, not in the input file. */
const TOOL_ERROR = /Error (?:initializing|reinitializing|configuring) (?:complex )?filter|No such filter|Invalid stream specifier|Unrecognized option|Option \S+ not found|Cannot find a matching stream|Error parsing (?:a )?filter|Unknown encoder|Invalid argument.*filter/i;

function runPcm(path: string, plan: AudioPlan, o: RunOptions): Promise<RunOutcome> {
  const bytesPer = o.sampleFormat === 's16' ? 2 : 4;
  const fmt = `${o.sampleFormat}${LITTLE_ENDIAN ? 'le' : 'be'}`;
  const codec = `pcm_${fmt}`;
  const args = [
    '-nostdin', '-hide_banner', '-v', 'error',
    ...o.preSeek,
    '-i', resolvePath(path),
    ...plan.ffmpegArgs,
    ...o.postLimit,
    '-ac', '1', '-ar', String(o.sampleRate), '-c:a', codec, '-f', fmt, 'pipe:1',
    // The second output (fd 3) of the same graph, when asked for.
    ...(o.extraOutput ? ['-map', '[aout2]', '-ac', '1', '-ar', String(o.extraOutput.sampleRate), '-c:a', 'pcm_s16le', '-f', 's16le', 'pipe:3'] : []),
  ];

  return new Promise<RunOutcome>((resolve, reject) => {
    if (o.signal?.aborted) {
      reject(new AbortedError(o.what, { cause: o.signal.reason }));
      return;
    }
    o.logger.debug({ tool: o.tools.ffmpeg, args, plan: plan.description }, 'ffmpeg');
    const child = spawn(o.tools.ffmpeg, args, { stdio: o.extraOutput ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'], windowsHide: true });
    if (o.extraOutput) {
      // Whole samples only: a chunk may end inside one.
      let carry: Buffer | null = null;
      const extra = o.extraOutput;
      const fd3 = child.stdio[3] as NodeJS.ReadableStream;
      fd3.on('data', (chunk: Buffer) => {
        if (aborted) return;
        const buf: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
        const whole = buf.length - (buf.length % 2);
        carry = whole < buf.length ? Buffer.from(buf.subarray(whole)) : null;
        if (whole === 0) return;
        // Copy into an aligned Int16Array (LE host: s16le bytes map directly).
        const out = new Int16Array(whole / 2);
        new Uint8Array(out.buffer).set(buf.subarray(0, whole));
        try {
          const wait = extra.onChunk(out);
          if (wait) {
            fd3.pause();
            wait.then(
              () => fd3.resume(),
              (err: unknown) => {
                o.logger.warn({ err }, `${o.what}: extra output consumer failed`);
                fd3.resume();
              },
            );
          }
        } catch (err) {
          o.logger.warn({ err }, `${o.what}: extra output callback threw`);
        }
      });
    }

    const sink = new PcmAccumulator(bytesPer, o.expectedSamples);
    const stderr = new TailBuffer(8192);
    let aborted = false;
    let overLimit = false;
    let settled = false;
    let lastProgress = 0;
    const progress = (seconds: number): void => {
      try {
        o.onProgress?.(seconds);
      } catch (err) {
        o.logger.warn({ err }, `${o.what}: onProgress callback threw`);
      }
    };

    const onAbort = (): void => {
      aborted = true;
      o.logger.debug({ pid: child.pid }, `${o.what}: aborting ffmpeg`);
      stopChild(child);
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });

    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      o.signal?.removeEventListener('abort', onAbort);
      fn();
    };

    child.on('spawn', () => {
      if (child.pid !== undefined) o.onSpawn?.(child.pid);
    });

    child.stdout!.on('data', (chunk: Buffer) => {
      if (aborted || overLimit) return;
      sink.push(chunk);
      if (o.maxSamples !== undefined && sink.samples > o.maxSamples) {
        overLimit = true;
        o.logger.debug({ pid: child.pid, maxSamples: o.maxSamples }, `${o.what}: longer than allowed, stopping ffmpeg`);
        stopChild(child);
        return;
      }
      if (o.onSamples && o.sampleFormat === 's16') {
        try {
          o.onSamples(sink.view() as Int16Array, sink.samples);
        } catch (err) {
          o.logger.warn({ err }, `${o.what}: onSamples callback threw`);
        }
      }
      if (o.onProgress) {
        const now = Date.now();
        if (now - lastProgress >= 250) {
          lastProgress = now;
          progress(sink.samples / o.sampleRate);
        }
      }
    });
    child.stderr!.on('data', (c: Buffer) => stderr.push(c));

    child.on('error', (err) => {
      stopChild(child);
      settle(() => reject(spawnError('ffmpeg', o.tools.ffmpeg, err)));
    });

    child.on('close', (exitCode, signal) =>
      settle(() => {
        const tail = stderr.toString();
        if (aborted) {
          reject(new AbortedError(o.what, { cause: o.signal?.reason }));
          return;
        }
        const n = sink.samples;
        if (overLimit) {
          resolve({ samples: sink.finish(o.sampleFormat), exitCode, failed: true, stderr: tail.trim(), overLimit });
          return;
        }
        if (signal !== null) {
          reject(new DecodeError(path, `ffmpeg was killed by ${signal}`, { exitCode, signal, stderrTail: tail }));
          return;
        }
        if (exitCode !== 0 && n === 0) {
          reject(classifyFailure(path, exitCode, tail));
          return;
        }
        progress(n / o.sampleRate);
        resolve({ samples: sink.finish(o.sampleFormat), exitCode, failed: exitCode !== 0, stderr: tail.trim(), overLimit: false });
      }),
    );
  });
}

function classifyFailure(path: string, exitCode: number | null, tail: string): Error {
  if (TOOL_ERROR.test(tail)) return new DecodeError(path, `exit code ${exitCode}`, { exitCode, signal: null, stderrTail: tail });
  if (/No such file or directory/i.test(tail)) return new MediaInputError('not_found', path);
  if (/Permission denied/i.test(tail)) return new MediaInputError('permission', path);
  return new MediaInputError('corrupt', path, lastLines(tail, 2) || `ffmpeg exited with ${exitCode}`);
}

/**
 * Collects raw PCM bytes into one growable buffer (grown by 1.5x), whatever the chunk
 * boundaries (a chunk may end in the middle of a sample). Exported for tests.
 */
export class PcmAccumulator {
  private bytes: Uint8Array;
  private used = 0;

  constructor(private readonly bytesPerSample: 2 | 4, expectedSamples: number) {
    this.bytes = new Uint8Array(Math.max(1024, Math.ceil(expectedSamples)) * bytesPerSample);
  }

  push(chunk: Uint8Array): void {
    const need = this.used + chunk.length;
    if (need > this.bytes.byteLength) {
      const grownSamples = Math.max(Math.ceil((this.bytes.byteLength * 1.5) / this.bytesPerSample), Math.ceil(need / this.bytesPerSample));
      const grown = new Uint8Array(grownSamples * this.bytesPerSample);
      grown.set(this.bytes.subarray(0, this.used));
      this.bytes = grown;
    }
    this.bytes.set(chunk, this.used);
    this.used = need;
  }

  /** Whole samples received so far. */
  get samples(): number {
    return Math.floor(this.used / this.bytesPerSample);
  }

  /** A view (no copy) of the whole samples received so far, as s16 (valid until the next push). */
  view(): Int16Array {
    return new Int16Array(this.bytes.buffer, 0, this.samples);
  }

  /** Bytes currently allocated. */
  get capacityBytes(): number {
    return this.bytes.byteLength;
  }

  /** The samples, exactly `samples` long: a view when the spare capacity is small, else a trimmed copy. */
  finish(format: 's16' | 'f32'): Int16Array | Float32Array {
    const n = this.samples;
    const spare = this.bytes.byteLength / this.bytesPerSample - n;
    let buf = this.bytes.buffer as ArrayBuffer;
    if (spare > 4096 && spare > n * 0.05) buf = buf.slice(0, n * this.bytesPerSample);
    return format === 's16' ? new Int16Array(buf, 0, n) : new Float32Array(buf, 0, n);
  }
}
