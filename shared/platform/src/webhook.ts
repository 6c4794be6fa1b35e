// Webhook sender: signed JSON POSTs with retries. The receiver verifies
// `X-SyncAnalyzer-Signature` (HMAC-SHA256 of "<timestamp>.<raw body>") and may use
// `X-SyncAnalyzer-Delivery` (the same on every retry of one delivery) to drop duplicates.
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { MediaLogger } from '@sync-analyzer/media';

export interface WebhookOptions {
  secret: string;
  /** X-SyncAnalyzer-Event; default: the body's `event` field when it is a string, else 'batch.completed'. */
  event?: string;
  /** X-SyncAnalyzer-Delivery; default: a new UUID (pass the stored one when re-delivering). */
  deliveryId?: string;
  /** Tries in all (default 5). */
  attempts?: number;
  /** Wait before the first retry, doubled for each further one (default 1000 ms). */
  baseDelayMs?: number;
  /** Per attempt (default 10000 ms). */
  timeoutMs?: number;
  logger: MediaLogger;
  /** Stops waiting and retrying: deliverWebhook then rejects with WebhookAbortedError. */
  signal?: AbortSignal;
}

export interface WebhookOutcome {
  delivered: boolean;
  /** Requests made (0 when the URL was refused before sending). */
  attempts: number;
  lastError: string | null;
  deliveryId: string;
}

/** The caller's signal aborted the delivery (shutdown): it is neither delivered nor given up. */
export class WebhookAbortedError extends Error {
  override readonly name = 'WebhookAbortedError';
}

export const SIGNATURE_HEADER = 'X-SyncAnalyzer-Signature';
export const TIMESTAMP_HEADER = 'X-SyncAnalyzer-Timestamp';
export const DELIVERY_HEADER = 'X-SyncAnalyzer-Delivery';
export const EVENT_HEADER = 'X-SyncAnalyzer-Event';

/** A Retry-After longer than this is not honoured (the backoff applies instead). */
const MAX_RETRY_AFTER_MS = 60_000;

export function signWebhook(secret: string, timestamp: string | number, rawBody: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex')}`;
}

/**
 * Checks a signature header against the raw body as received (timing-safe). With
 * toleranceSeconds, timestamps further than that from now are refused too (replays).
 */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string | number,
  rawBody: string | Buffer,
  signatureHeader: string | null | undefined,
  opts: { toleranceSeconds?: number; nowSeconds?: number } = {},
): boolean {
  if (typeof signatureHeader !== 'string' || !/^\d+$/.test(String(timestamp))) return false;
  if (opts.toleranceSeconds !== undefined) {
    const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
    if (Math.abs(now - Number(timestamp)) > opts.toleranceSeconds) return false;
  }
  const expected = Buffer.from(signWebhook(secret, timestamp, rawBody));
  const given = Buffer.from(signatureHeader.trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export async function deliverWebhook(url: string, body: unknown, opts: WebhookOptions): Promise<WebhookOutcome> {
  const attempts = Math.max(1, Math.floor(opts.attempts ?? 5));
  const baseDelayMs = Math.max(0, opts.baseDelayMs ?? 1000);
  const timeoutMs = Math.max(1, opts.timeoutMs ?? 10_000);
  const deliveryId = opts.deliveryId ?? randomUUID();
  const bodyEvent = (body as { event?: unknown } | null)?.event;
  const event = opts.event ?? (typeof bodyEvent === 'string' ? bodyEvent : 'batch.completed');
  const log = opts.logger;
  let target: URL;
  try {
    target = new URL(url);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error('only http and https');
  } catch (err) {
    const lastError = `invalid webhook URL: ${(err as Error).message}`;
    log.warn({ deliveryId, event }, lastError);
    return { delivered: false, attempts: 0, lastError, deliveryId };
  }
  // Logged without query or credentials, which may carry tokens.
  const where = `${target.origin}${target.pathname}`;
  const raw = JSON.stringify(body) ?? 'null';
  let lastError: string | null = null;
  let retryAfterMs: number | null = null;

  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) {
      const backoff = baseDelayMs * 2 ** (attempt - 2);
      await sleep(retryAfterMs !== null ? Math.max(backoff, retryAfterMs) : backoff, opts.signal);
    }
    if (opts.signal?.aborted) throw new WebhookAbortedError(`webhook delivery ${deliveryId} aborted`, { cause: opts.signal.reason });
    retryAfterMs = null;
    // A fresh timestamp per attempt, so receivers can keep a tight replay window.
    const timestamp = String(Math.floor(Date.now() / 1000));
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    let retryable: boolean;
    try {
      const res = await fetch(target, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'SyncAnalyzer-Webhook/1',
          [EVENT_HEADER]: event,
          [DELIVERY_HEADER]: deliveryId,
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: signWebhook(opts.secret, timestamp, raw),
        },
        body: raw,
        // A redirected POST would silently become a GET elsewhere: treated as a failure.
        redirect: 'manual',
        signal,
      });
      // The body is not needed; releasing it frees the connection.
      await res.body?.cancel().catch(() => {});
      if (res.status >= 200 && res.status < 300) {
        log.info({ deliveryId, event, url: where, attempt, status: res.status }, 'webhook delivered');
        return { delivered: true, attempts: attempt, lastError: null, deliveryId };
      }
      lastError = `HTTP ${res.status}`;
      retryable = res.status >= 500 || res.status === 429;
      if (retryable) retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
    } catch (err) {
      if (opts.signal?.aborted) throw new WebhookAbortedError(`webhook delivery ${deliveryId} aborted`, { cause: opts.signal.reason });
      lastError = timeout.aborted ? `timed out after ${timeoutMs} ms` : describeFetchError(err);
      retryable = true;
    }
    log.warn({ deliveryId, event, url: where, attempt, of: attempts, error: lastError, retrying: retryable && attempt < attempts }, 'webhook attempt failed');
    if (!retryable) return { delivered: false, attempts: attempt, lastError, deliveryId };
  }
  return { delivered: false, attempts, lastError, deliveryId };
}

function parseRetryAfter(v: string | null): number | null {
  if (v === null) return null;
  const s = Number(v.trim());
  const ms = Number.isFinite(s) ? s * 1000 : Date.parse(v) - Date.now();
  return Number.isFinite(ms) && ms > 0 && ms <= MAX_RETRY_AFTER_MS ? ms : null;
}

/** fetch says only "fetch failed"; the reason (ECONNREFUSED, certificate...) is in the cause. */
function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `${e.message}: ${cause}` : String(e?.message ?? err);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
