/**
 * Small helpers around child processes: spawn with an argument array, keep a bounded
 * stderr tail, stop a child gracefully (SIGTERM, then SIGKILL after a grace period).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { AbortedError, ToolMissingError } from './errors.ts';

/** Keeps only the last `limit` characters of a text stream. */
export class TailBuffer {
  private text = '';
  constructor(private readonly limit = 8192) {}
  push(chunk: Buffer | string): void {
    this.text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    if (this.text.length > this.limit * 2) this.text = this.text.slice(-this.limit);
  }
  toString(): string {
    return this.text.length > this.limit ? this.text.slice(-this.limit) : this.text;
  }
}

export const KILL_GRACE_MS = 1000;

/** SIGTERM now, SIGKILL after `graceMs` if the child has not exited. */
export function stopChild(child: ChildProcess, graceMs = KILL_GRACE_MS): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }, graceMs);
  timer.unref();
  child.once('exit', () => clearTimeout(timer));
}

export function spawnError(tool: 'ffmpeg' | 'ffprobe', toolPath: string, err: NodeJS.ErrnoException): Error {
  if (err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'ENOTDIR' || err.code === 'EPERM') {
    return new ToolMissingError(tool, toolPath, `${err.code}: ${err.message}`, { cause: err });
  }
  return err;
}

export interface RunResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs a tool to completion and collects its output (stdout capped at `maxStdout` bytes;
 * the child is stopped if it writes more). Rejects with ToolMissingError when the binary
 * cannot be spawned, AbortedError on abort, and a plain Error on timeout.
 */
export function runTool(
  tool: 'ffmpeg' | 'ffprobe',
  toolPath: string,
  args: string[],
  opts: { signal?: AbortSignal; timeoutMs?: number; maxStdout?: number } = {},
): Promise<RunResult> {
  const maxStdout = opts.maxStdout ?? 64 * 1024 * 1024;
  return new Promise<RunResult>((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new AbortedError(tool, { cause: opts.signal.reason }));
      return;
    }
    const child = spawn(toolPath, args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    const chunks: Buffer[] = [];
    let size = 0;
    let overflow = false;
    let timedOut = false;
    let aborted = false;
    const stderr = new TailBuffer(16384);
    let settled = false;

    const onAbort = (): void => {
      aborted = true;
      stopChild(child);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const timer =
      opts.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            stopChild(child);
          }, opts.timeoutMs)
        : undefined;

    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      fn();
    };

    child.stdout.on('data', (c: Buffer) => {
      if (overflow) return;
      size += c.length;
      if (size > maxStdout) {
        overflow = true;
        stopChild(child);
        return;
      }
      chunks.push(c);
    });
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    child.on('error', (err) => finish(() => reject(spawnError(tool, toolPath, err))));
    child.on('close', (exitCode, signal) =>
      finish(() => {
        if (aborted) reject(new AbortedError(tool, { cause: opts.signal?.reason }));
        else if (timedOut) reject(new Error(`${tool} timed out after ${opts.timeoutMs} ms`));
        else if (overflow) reject(new Error(`${tool} wrote more than ${maxStdout} bytes`));
        else resolve({ exitCode, signal, stdout: Buffer.concat(chunks), stderr: stderr.toString() });
      }),
    );
  });
}
