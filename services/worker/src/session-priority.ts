// The worker forks each job child detached, in a session of its own, so that one kill of the
// process group reaches its ffmpeg processes too. Linux's autogroup scheduler gives every session
// its own CPU group, weighted as nice 0 whatever the niceness of the processes in it: a worker run
// at nice 10 beside the API would have its analyses compete with the API as equals. Giving the
// new session's group the worker's niceness keeps the priority the operator chose.
import { writeFileSync } from 'node:fs';
import os from 'node:os';

/**
 * Sets the autogroup niceness of the session led by `pid` (a detached child) to `niceness`
 * (default: this process's). Returns what was set, or null when there is nothing to do (nice 0)
 * or no autogroup (not Linux, scheduler option off, /proc not writable).
 */
export function keepSessionPriority(pid: number, niceness: number = os.getPriority()): number | null {
  if (niceness <= 0) return null;
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(niceness));
    return niceness;
  } catch {
    return null;
  }
}
