// Waiting for jobs to finish: analyses by long poll (?wait=) or by their event stream, batches
// and repairs by polling. Short outages (API restart, 429/503) are ridden out, not reported.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiRequestError,
  ApiTimeoutError,
  ApiUnreachableError,
  isFinal,
  type AnalysisEnvelope,
  type AnalysisView,
  type ApiClient,
  type BatchEnvelope,
  type RepairEnvelope,
} from './api-client.ts';

/** Longest single ?wait= (proxies tend to cut idle requests after a minute or two). */
const LONG_POLL_SECONDS = 60;
/** How long the API may be unreachable or overloaded during a wait before giving up. */
const TRANSIENT_GRACE_MS = 60_000;
/** While following the event stream, a plain GET this often catches a missed final event. */
const SSE_BACKSTOP_MS = 5_000;
/** After a repair completes, the API queues its verification analysis shortly after. */
const VERIFICATION_APPEAR_MS = 15_000;

/** The wait ran past its deadline; the job goes on. */
export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
  constructor(
    readonly kind: 'analysis' | 'batch' | 'repair',
    readonly id: string,
    readonly lastStatus: string,
    readonly seconds: number,
  ) {
    super(`${kind} ${id} is still ${lastStatus} after waiting ${Math.round(seconds)} s (raise --timeout, or check again later)`);
  }
}

export interface ProgressInfo {
  status: string;
  percent: number;
  stage: string | null;
}

export interface WaitOptions {
  /** Epoch milliseconds after which the wait gives up (WaitTimeoutError). */
  deadline: number;
  /** When the wait started (for the timeout message). */
  startedAt?: number;
  onProgress?: (p: ProgressInfo) => void;
}

export interface AnalysisWaitOptions extends WaitOptions {
  /** 'sse': follow the event stream (live progress); 'poll': long poll with ?wait=. */
  via?: 'sse' | 'poll';
}

const elapsedS = (o: WaitOptions) => (Date.now() - (o.startedAt ?? Date.now())) / 1000;
const progressOf = (a: AnalysisView): ProgressInfo => ({ status: a.status, percent: a.progress.percent, stage: a.progress.stage });

export function isTransient(e: unknown): boolean {
  if (e instanceof ApiUnreachableError || e instanceof ApiTimeoutError) return true;
  return e instanceof ApiRequestError && [429, 502, 503, 504].includes(e.status);
}

/** Runs fn, retrying transient failures for a while (never past the deadline). */
async function retrying<T>(fn: () => Promise<T>, deadline: number): Promise<T> {
  let firstFailure = 0;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      const now = Date.now();
      if (!isTransient(e)) throw e;
      firstFailure ||= now;
      if (now - firstFailure > TRANSIENT_GRACE_MS || now >= deadline) throw e;
      await sleep(Math.min(2_000, deadline - now));
    }
  }
}

/** Resolves with the analysis once it is final (completed, failed, cancelled, timed out). */
export async function waitForAnalysis(client: ApiClient, initial: AnalysisEnvelope, opts: AnalysisWaitOptions): Promise<AnalysisEnvelope> {
  if (isFinal(initial.analysis.status)) return initial;
  opts.onProgress?.(progressOf(initial.analysis));
  if (opts.via === 'sse') {
    const viaStream = await followEvents(client, initial.analysis.id, opts);
    if (viaStream) return viaStream;
  }
  return longPoll(client, initial, opts);
}

async function longPoll(client: ApiClient, initial: AnalysisEnvelope, opts: WaitOptions): Promise<AnalysisEnvelope> {
  let env = initial;
  while (!isFinal(env.analysis.status)) {
    const remaining = opts.deadline - Date.now();
    if (remaining <= 0) throw new WaitTimeoutError('analysis', env.analysis.id, env.analysis.status, elapsedS(opts));
    const wait = Math.max(1, Math.min(LONG_POLL_SECONDS, Math.ceil(remaining / 1000)));
    env = (await retrying(() => client.getAnalysis(env.analysis.id, wait), opts.deadline)).body;
    opts.onProgress?.(progressOf(env.analysis));
  }
  return env;
}

/**
 * Follows the event stream until a final state, with a slow GET beside it (an event missed
 * between the snapshot and the subscription would otherwise leave the stream silent). Null when
 * the stream ended or broke first: the caller falls back to long polling.
 */
async function followEvents(client: ApiClient, id: string, opts: WaitOptions): Promise<AnalysisEnvelope | null> {
  const ac = new AbortController();
  const stream = (async (): Promise<AnalysisEnvelope | null> => {
    for await (const ev of client.analysisEvents(id, ac.signal)) {
      if (ev.event === 'progress') {
        const p = ev.data as { percent: number; stage: string | null };
        opts.onProgress?.({ status: 'running', percent: p.percent, stage: p.stage });
      } else if (ev.event === 'snapshot' || ev.event === 'status' || ev.event === 'done') {
        const view = ev.data as AnalysisView;
        opts.onProgress?.(progressOf(view));
        if (isFinal(view.status)) return { analysis: view };
      }
    }
    return null;
  })();
  const backstop = (async (): Promise<AnalysisEnvelope> => {
    for (;;) {
      const remaining = opts.deadline - Date.now();
      if (remaining <= 0) {
        const last = (await client.getAnalysis(id)).body.analysis;
        if (isFinal(last.status)) return { analysis: last };
        throw new WaitTimeoutError('analysis', id, last.status, elapsedS(opts));
      }
      await sleep(Math.min(SSE_BACKSTOP_MS, remaining), undefined, { signal: ac.signal });
      const env = (await retrying(() => client.getAnalysis(id), opts.deadline)).body;
      if (isFinal(env.analysis.status)) return env;
    }
  })();
  // The loser is stopped by the abort below; its rejection then is expected and ignored.
  stream.catch(() => undefined);
  backstop.catch(() => undefined);
  try {
    return await Promise.race([stream, backstop]);
  } catch (e) {
    if (e instanceof ApiUnreachableError) return null;
    throw e;
  } finally {
    ac.abort();
  }
}

/** Polls the batch until it is completed (every item final). */
export async function waitForBatch(client: ApiClient, initial: BatchEnvelope, opts: WaitOptions & { onUpdate?: (b: BatchEnvelope) => void }): Promise<BatchEnvelope> {
  let env = initial;
  for (let i = 0; env.batch.status !== 'completed'; i++) {
    const remaining = opts.deadline - Date.now();
    if (remaining <= 0) throw new WaitTimeoutError('batch', env.batch.id, env.batch.status, elapsedS(opts));
    await sleep(Math.min(pollDelay(i), remaining));
    env = await retrying(() => client.getBatch(env.batch.id), opts.deadline);
    opts.onUpdate?.(env);
  }
  return env;
}

/** Polls the repair until it is final. */
export async function waitForRepair(client: ApiClient, initial: RepairEnvelope, opts: WaitOptions): Promise<RepairEnvelope> {
  let env = initial;
  for (let i = 0; !isFinal(env.repair.status); i++) {
    const remaining = opts.deadline - Date.now();
    if (remaining <= 0) throw new WaitTimeoutError('repair', env.repair.id, env.repair.status, elapsedS(opts));
    await sleep(Math.min(pollDelay(i), remaining));
    env = await retrying(() => client.getRepair(env.repair.id), opts.deadline);
    opts.onProgress?.({ status: env.repair.status, percent: env.repair.progress.percent, stage: env.repair.progress.stage });
  }
  return env;
}

/**
 * A completed repair whose verification was asked for: the API records the verification
 * analysis just after marking the repair completed, so it may take a moment to appear. Returns
 * the latest repair (its verification_analysis_id stays null when none appeared in time).
 */
export async function waitForVerificationId(client: ApiClient, completed: RepairEnvelope, opts: WaitOptions): Promise<RepairEnvelope> {
  let env = completed;
  const until = Math.min(opts.deadline, Date.now() + VERIFICATION_APPEAR_MS);
  while (!env.repair.verification_analysis_id && Date.now() < until) {
    await sleep(300);
    env = await retrying(() => client.getRepair(env.repair.id), opts.deadline);
  }
  return env;
}

/** 0.5 s, 1 s, 1.5 s ... up to 3 s between polls. */
function pollDelay(i: number): number {
  return Math.min(3_000, 500 * (i + 1));
}
