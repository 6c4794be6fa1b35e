// SQLite write-lock contention without blocking the event loop. better-sqlite3 is synchronous:
// with a busy_timeout, a write that meets another process's write lock sleeps on the JS thread,
// and the whole API (health probes included) stops answering for that long. Instead the
// connection fails at once (busy_timeout 0 after start) and the repository call is retried here
// asynchronously, with back-off, until a deadline; then it fails with StoreBusyError.
import { StoreBusyError } from './errors.ts';

export interface BusyRetryOptions {
  /** How long a call may keep retrying before it fails (ms). */
  deadlineMs: number;
}

export const DEFAULT_BUSY_RETRY: BusyRetryOptions = { deadlineMs: 5_000 };

/** SQLITE_BUSY and its extended codes (BUSY_SNAPSHOT, BUSY_RECOVERY...): another connection holds the lock. */
export function isBusyError(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) return true;
  }
  return false;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs fn again while it fails with SQLITE_BUSY. Safe for the repositories' methods: each write is
 * one statement or one transaction, so a busy failure wrote nothing and the call can start over.
 */
export async function withBusyRetry<T>(fn: () => Promise<T>, what: string, opts: BusyRetryOptions = DEFAULT_BUSY_RETRY): Promise<T> {
  const t0 = Date.now();
  let delay = 5;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!isBusyError(err)) throw err;
      const waited = Date.now() - t0;
      if (waited >= opts.deadlineMs) {
        throw new StoreBusyError(`the report store is locked by another process (${what}: still locked after ${(waited / 1000).toFixed(1)} s); nothing was written, retry later`, { cause: err });
      }
      await sleep(Math.min(delay, opts.deadlineMs - waited));
      delay = Math.min(delay * 2, 250);
    }
  }
}

/** The same repository with every method retried on SQLITE_BUSY. */
export function retryWhenBusy<T extends object>(repo: T, name: string, opts: BusyRetryOptions = DEFAULT_BUSY_RETRY): T {
  const wrapped: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(repo)) {
    wrapped[key] = typeof value === 'function' ? (...args: unknown[]) => withBusyRetry(() => (value as (...a: unknown[]) => Promise<unknown>).apply(repo, args), `${name}.${key}`, opts) : value;
  }
  return wrapped as T;
}
