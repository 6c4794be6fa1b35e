// Child-process helpers for the repair (the media package keeps its own private; these follow
// the same policy: SIGTERM, then SIGKILL after a short grace).
import type { ChildProcess } from 'node:child_process';
import { ToolMissingError } from '@sync-analyzer/media';

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

/** A spawn failure of the binary itself becomes ToolMissingError; anything else passes through. */
export function spawnError(tool: 'ffmpeg' | 'ffprobe', toolPath: string, err: NodeJS.ErrnoException): Error {
  if (err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'ENOTDIR' || err.code === 'EPERM') {
    return new ToolMissingError(tool, toolPath, `${err.code}: ${err.message}`, { cause: err });
  }
  return err;
}

/** Keeps only the last `limit` characters of a text stream. */
export class TailBuffer {
  private text = '';
  constructor(private readonly limit = 16384) {}
  push(chunk: Buffer | string): void {
    this.text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    if (this.text.length > this.limit * 2) this.text = this.text.slice(-this.limit);
  }
  toString(): string {
    return this.text.length > this.limit ? this.text.slice(-this.limit) : this.text;
  }
}

/** The last `n` non-empty lines of `s`, joined with ' | '. */
export function lastLines(s: string, n: number): string {
  return s
    .split(/\r?\n/)
    .map((l) => l.replace(/ @ 0x[0-9a-f]+\]/gi, ']').trim())
    .filter((l) => l.length > 0)
    .slice(-n)
    .join(' | ');
}
