// Runs one job in a forked child process (its own process group) and turns cancellation and
// timeouts into a kill of that whole group: the child and every ffmpeg it spawned end at once,
// whatever the child is doing (a synchronous DSP loop cannot be interrupted any other way).
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Job } from '@sync-analyzer/platform';
import type { ChildMessage, ChildSettings, ParentMessage, SerializedError } from './child/messages.ts';
import { keepSessionPriority } from './session-priority.ts';

const CHILD_ENTRY = fileURLToPath(new URL('./child/job-child.ts', import.meta.url));
const TSX_LOADER = import.meta.resolve('tsx');

/** Why a job child ended without a result. */
export class JobChildError extends Error {
  override readonly name = 'JobChildError';
  constructor(
    readonly error: SerializedError,
  ) {
    super(error.message);
  }
  get code(): string {
    return this.error.code;
  }
  get retryable(): boolean {
    return this.error.retryable;
  }
}

export class JobStoppedError extends Error {
  override readonly name = 'JobStoppedError';
  constructor(readonly reason: 'cancelled' | 'timed_out' | 'shutdown' | 'lock_lost', message: string) {
    super(message);
  }
}

export interface RunOptions {
  settings: ChildSettings;
  logFields: Record<string, unknown>;
  signal: AbortSignal;
  onProgress: (percent: number, stage: string) => void;
  onSpawn?: (pid: number) => void;
}

export interface RunningChild {
  pid: number;
  result: Promise<unknown>;
}

/** Starts the child; `result` settles when it has exited (never while it or its ffmpeg runs). */
export function runJobInChild(job: Job, opts: RunOptions): RunningChild {
  const child: ChildProcess = fork(CHILD_ENTRY, [], {
    execArgv: ['--import', TSX_LOADER],
    // Own process group: kill(-pid) reaches the child's ffmpeg processes too.
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // A job child reads untrusted media through ffmpeg: it gets no credential it does not need
    // (its settings come over IPC; it never talks to Redis or the database).
    env: childEnv(process.env),
  });
  const pid = child.pid!;
  keepSessionPriority(pid);
  opts.onSpawn?.(pid);
  const result = new Promise<unknown>((resolve, reject) => {
    let outcome: { ok: true; value: unknown } | { ok: false; error: Error } | null = null;
    const killGroup = () => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const onAbort = () => {
      const reason = opts.signal.reason;
      outcome = { ok: false, error: reason instanceof Error ? reason : new JobStoppedError('cancelled', String(reason)) };
      killGroup();
    };
    if (opts.signal.aborted) onAbort();
    else opts.signal.addEventListener('abort', onAbort, { once: true });
    child.on('message', (m: ChildMessage) => {
      if (outcome) return;
      switch (m.type) {
        case 'progress':
          opts.onProgress(m.percent, m.stage);
          break;
        case 'spawned':
          opts.onSpawn?.(m.pid);
          break;
        case 'result':
          outcome = { ok: true, value: m.value };
          break;
        case 'error':
          outcome = { ok: false, error: new JobChildError(m.error) };
          break;
      }
    });
    child.on('error', (e) => {
      outcome ??= { ok: false, error: e };
    });
    child.on('exit', (code, signal) => {
      opts.signal.removeEventListener('abort', onAbort);
      // Whatever the child left behind (an ffmpeg mid-write) goes with it.
      killGroup();
      if (outcome?.ok) resolve(outcome.value);
      else reject(outcome?.error ?? new JobChildError({ name: 'ChildCrashed', message: `job process ended without a result (exit code ${code}, signal ${signal})`, code: 'worker_crash', retryable: true }));
    });
    const msg: ParentMessage = { type: 'run', job, settings: opts.settings, logFields: opts.logFields };
    child.send(msg);
  });
  return { pid, result };
}

/** Variables holding credentials: never passed to a job child (or the ffmpeg it starts). */
export const SECRET_ENV_VARS = ['API_KEYS', 'WEBHOOK_SECRET', 'DATABASE_URL', 'REDIS_URL', 'REDIS_PASSWORD'] as const;

export function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const k of SECRET_ENV_VARS) delete out[k];
  return out;
}
