// Reads the worker's `[code] message` failure reasons back (see the worker's failureReason).
export function parseFailure(reason: string | undefined | null): { code: string; message: string } {
  const m = /^\[([a-z0-9_]+)\] ([\s\S]*)$/.exec(reason ?? '');
  return m ? { code: m[1]!, message: m[2]! } : { code: 'failed', message: reason || 'failed without a reason' };
}

/** Which final status a failure code means. */
export function failureStatus(code: string): 'cancelled' | 'timed_out' | 'failed' {
  return code === 'cancelled' ? 'cancelled' : code === 'timed_out' ? 'timed_out' : 'failed';
}
