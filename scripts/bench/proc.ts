// Child processes for the benchmark: ffmpeg/espeak-ng/CLI runs with argument arrays, stdin
// streaming with back-pressure, wall-clock timing and decoding audio to floats.
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';

export const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';
export const ESPEAK = process.env.ESPEAK_PATH ?? 'espeak-ng';

export interface ProcResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  wallSeconds: number;
  timedOut: boolean;
}

export interface ProcOptions {
  /** writes stdin; the stream is ended after it resolves */
  feed?: (stdin: Writable) => Promise<void>;
  timeoutMs?: number;
  /** keep stdout (default true); false discards it */
  captureStdout?: boolean;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export function runProcess(cmd: string, args: readonly string[], opts: ProcOptions = {}): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, {
      stdio: [opts.feed ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      cwd: opts.cwd,
      env: opts.env ?? process.env,
    });
    const out: Buffer[] = [];
    let errText = '';
    let timedOut = false;
    const capture = opts.captureStdout ?? true;
    child.stdout?.on('data', (d: Buffer) => {
      if (capture) out.push(d);
    });
    child.stderr?.on('data', (d: Buffer) => {
      errText += d.toString();
      if (errText.length > 200_000) errText = errText.slice(-100_000);
    });
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, opts.timeoutMs)
      : null;
    let feedError: unknown = null;
    if (opts.feed && child.stdin) {
      const stdin = child.stdin;
      stdin.on('error', (e) => {
        feedError ??= e;
      });
      opts
        .feed(stdin)
        .then(() => stdin.end())
        .catch((e: unknown) => {
          feedError ??= e;
          stdin.destroy();
          child.kill('SIGKILL');
        });
    }
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (feedError && code === 0) {
        reject(feedError instanceof Error ? feedError : new Error(String(feedError)));
        return;
      }
      if (feedError && !(feedError instanceof Error && 'code' in feedError && feedError.code === 'EPIPE')) {
        errText += `\n[feed error] ${String(feedError)}`;
      }
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: errText, wallSeconds, timedOut });
    });
  });
}

/** Writes a chunk, waiting for the pipe to drain when it is full. */
export function writeChunk(stream: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream.destroyed) {
      reject(new Error('pipe closed'));
      return;
    }
    const ok = stream.write(chunk, (err) => {
      if (err) reject(err);
    });
    if (ok) resolve();
    else {
      const onDrain = (): void => {
        stream.off('error', onError);
        resolve();
      };
      const onError = (e: Error): void => {
        stream.off('drain', onDrain);
        reject(e);
      };
      stream.once('drain', onDrain);
      stream.once('error', onError);
    }
  });
}

export async function ffmpeg(args: readonly string[], opts: ProcOptions = {}): Promise<ProcResult> {
  const r = await runProcess(FFMPEG, ['-hide_banner', '-nostdin', '-v', 'error', ...args], opts);
  if (r.code !== 0) throw new Error(`ffmpeg failed (${r.code ?? r.signal}): ${args.join(' ')}\n${r.stderr.slice(-3000)}`);
  return r;
}

/** Decodes a file to mono float samples at `rate` (optionally a window). */
export async function decodeMono(path: string, rate: number, window?: { start: number; duration: number }): Promise<Float32Array> {
  const args: string[] = [];
  if (window) args.push('-ss', window.start.toFixed(6), '-t', window.duration.toFixed(6));
  args.push('-i', path, '-ac', '1', '-ar', String(rate), '-f', 'f32le', '-');
  const r = await ffmpeg(args);
  const buf = r.stdout;
  const copy = new Float32Array(buf.length / 4);
  for (let i = 0; i < copy.length; i++) copy[i] = buf.readFloatLE(i * 4);
  return copy;
}

/** Runs async tasks with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
