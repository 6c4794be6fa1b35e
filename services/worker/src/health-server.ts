// The worker's own small HTTP server: /livez (the process answers), /readyz (Redis reachable,
// queue workers running, ffmpeg present, not shutting down) and /health (JSON detail), on
// WORKER_HEALTH_PORT. No framework: three routes.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HealthCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface HealthSource {
  checks(): Promise<HealthCheck[]>;
  detail(): Record<string, unknown>;
  shuttingDown(): boolean;
}

export async function startHealthServer(port: number, source: HealthSource, host = '0.0.0.0'): Promise<{ server: http.Server; port: number; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: { code: 'method_not_allowed', message: 'GET only' } });
    if (url === '/livez') return json(200, { status: 'ok' });
    if (url === '/readyz' || url === '/health') {
      void source.checks().then(
        (checks) => {
          const down = source.shuttingDown();
          const ok = !down && checks.every((c) => c.ok);
          const body = url === '/readyz' ? { status: ok ? 'ready' : 'not_ready', shuttingDown: down, checks } : { status: ok ? 'ok' : 'degraded', shuttingDown: down, checks, ...source.detail() };
          json(ok ? 200 : 503, body);
        },
        (err: unknown) => json(503, { status: 'not_ready', error: { code: 'health_check_failed', message: String(err) } }),
      );
      return;
    }
    json(404, { error: { code: 'not_found', message: `no route ${url}` } });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
