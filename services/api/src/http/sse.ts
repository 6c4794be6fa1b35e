// Server-Sent Events: a comment line every 15 s keeps proxies from closing idle streams.
import type { Request, Response } from 'express';

export interface SseStream {
  send(event: string, data: unknown): void;
  close(): void;
  onClose(fn: () => void): void;
}

export function openSse(req: Request, res: Response): SseStream {
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
    for (const f of closers) f();
    res.end();
  };
  req.on('close', close);
  return {
    send(event, data) {
      if (!closed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    close,
    onClose: (fn) => closers.push(fn),
  };
}
