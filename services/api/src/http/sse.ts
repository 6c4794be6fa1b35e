// Server-Sent Events: a comment line every 15 s keeps proxies from closing idle streams. The
// number of open streams is capped: each holds a socket and a listener on the event bus for as
// long as the client wants, so without a cap a client could open them until the process runs
// out of file descriptors or memory. Past the cap a new stream is refused with 503.
import type { Request, Response } from 'express';
import type { Config } from '@sync-analyzer/platform';
import { ApiError } from './errors.ts';

export interface SseStream {
  send(event: string, data: unknown): void;
  close(): void;
  onClose(fn: () => void): void;
}

/** Open event streams allowed per API process, all SSE endpoints together (SSE_MAX_SUBSCRIBERS). */
export const DEFAULT_SSE_MAX_SUBSCRIBERS = 200;
/** Seconds a refused client is told to wait before trying again. */
const RETRY_AFTER_SECONDS = 5;

/** The configured cap (SSE_MAX_SUBSCRIBERS), or the default where the configuration has none. */
export function sseMaxSubscribers(config: Config): number {
  const configured = (config as Config & { sseMaxSubscribers?: number }).sseMaxSubscribers;
  return typeof configured === 'number' && Number.isInteger(configured) && configured > 0 ? configured : DEFAULT_SSE_MAX_SUBSCRIBERS;
}

/** Counts open event streams against the cap. */
export class SseSlots {
  private open = 0;
  constructor(readonly max: number) {}

  get count(): number {
    return this.open;
  }

  /** Takes a slot and returns its release (idempotent); throws ApiError 503 when none is free. */
  acquire(res: Response): () => void {
    if (this.open >= this.max) {
      res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
      throw new ApiError(503, 'too_many_subscribers', `${this.max} event streams are already open on this server (the limit, SSE_MAX_SUBSCRIBERS); close one or retry in ${RETRY_AFTER_SECONDS} s`, { limit: this.max });
    }
    this.open++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.open--;
    };
  }
}

/** Starts an event stream; with `slots`, refuses (ApiError 503, nothing written) when the cap is reached. */
export function openSse(req: Request, res: Response, slots?: SseSlots): SseStream {
  const release = slots?.acquire(res);
  res.status(200).set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  res.flushHeaders();
  res.write('retry: 3000\n\n');
  const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
  const closers: (() => void)[] = [];
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(ping);
    release?.();
    for (const f of closers) f();
    res.end();
  };
  req.on('close', close);
  res.on('close', close);
  // The client may have gone while the handler was still awaiting (its 'close' already fired).
  if (req.socket.destroyed) setImmediate(close);
  return {
    send(event, data) {
      if (!closed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    close,
    onClose: (fn) => closers.push(fn),
  };
}
