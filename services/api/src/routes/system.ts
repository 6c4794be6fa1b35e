// Health probes (no API key), browser session login/logout, file browsing and probing under
// the media root.
import { z } from 'zod';
import { probeMedia } from '@sync-analyzer/media';
import type { ApiContext } from '../app/context.ts';
import { ApiError } from '../http/errors.ts';
import { RouteTable } from '../http/routes.ts';
import { FileListing, FilesQuery, HealthView, ProbeView, SessionRequest, SessionView, ErrorBody } from '../http/schemas.ts';
import { SESSION_COOKIE, type AuthedRequest } from '../http/auth.ts';
import { errors } from './analyses.ts';

export function systemRoutes(ctx: ApiContext, t: RouteTable): void {
  t.add({
    method: 'get',
    path: '/livez',
    tag: 'health',
    summary: 'Liveness: the process answers',
    auth: false,
    responses: { 200: { description: 'alive', schema: HealthView } },
    handler: ({ res }) => void res.json({ status: 'ok' }),
  });
  t.add({
    method: 'get',
    path: '/readyz',
    tag: 'health',
    summary: 'Readiness: Redis, database and migrations, ffmpeg, disk space; 503 while shutting down',
    auth: false,
    responses: { 200: { description: 'ready', schema: HealthView }, 503: { description: 'not ready', schema: HealthView } },
    handler: async ({ res }) => {
      const checks = await ctx.health.checks();
      const ok = !ctx.health.shuttingDown && checks.every((c) => c.ok);
      res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not_ready', shutting_down: ctx.health.shuttingDown, checks });
    },
  });
  t.add({
    method: 'get',
    path: '/health',
    tag: 'health',
    summary: 'Health detail for humans and the healthcheck command (checks, worker heartbeats, queue counts)',
    auth: false,
    responses: { 200: { description: 'healthy', schema: HealthView }, 503: { description: 'degraded', schema: HealthView } },
    handler: async ({ res }) => {
      const d = await ctx.health.detail();
      res.status(d.status === 'ok' ? 200 : 503).json(d);
    },
  });

  t.add({
    method: 'post',
    path: '/api/v1/session',
    tag: 'session',
    summary: 'Browser login: exchange an API key for an HttpOnly session cookie',
    auth: false,
    body: SessionRequest,
    responses: { 200: { description: 'logged in', schema: SessionView }, 401: { description: 'wrong key', schema: ErrorBody }, 400: { description: 'invalid request', schema: ErrorBody } },
    handler: ({ body, req, res }) => {
      if (!ctx.auth.required) return void res.json({ authenticated: true, auth_required: false, expires_at: null });
      const c = ctx.auth.sessionCookieValue(body.api_key);
      if (!c) throw new ApiError(401, 'unauthorized', 'the API key is not valid');
      ctx.auth.setCookie(req, res, c.value, c.expires);
      res.json({ authenticated: true, auth_required: true, expires_at: c.expires.toISOString() });
    },
  });
  t.add({
    method: 'get',
    path: '/api/v1/session',
    tag: 'session',
    summary: 'Whether this browser is logged in and whether the server requires a key',
    auth: false,
    responses: { 200: { description: 'session state', schema: SessionView } },
    handler: ({ req, res }) => {
      const via = ctx.auth.identify(req);
      res.json({ authenticated: via !== null, auth_required: ctx.auth.required, expires_at: null });
    },
  });
  t.add({
    method: 'delete',
    path: '/api/v1/session',
    tag: 'session',
    summary: 'Log out (clears the session cookie)',
    auth: false,
    responses: { 200: { description: 'logged out', schema: SessionView } },
    handler: ({ res }) => {
      res.clearCookie(SESSION_COOKIE, { path: '/' });
      res.json({ authenticated: false, auth_required: ctx.auth.required, expires_at: null });
    },
  });

  t.add({
    method: 'get',
    path: '/api/v1/files',
    tag: 'files',
    summary: 'Browse a directory under the media root (symlinks leaving the root are hidden)',
    query: FilesQuery,
    responses: { 200: { description: 'the listing', schema: FileListing }, ...errors(400, 401, 403, 404) },
    handler: async ({ query, res }) => {
      res.json(await ctx.mediaRoot.list(query.path === '' ? '.' : query.path));
    },
  });
  t.add({
    method: 'get',
    path: '/api/v1/files/probe',
    tag: 'files',
    summary: 'Probe a media file under the media root (streams, channels, layout, duration, timecode)',
    query: z.object({ path: z.string().min(1).max(4096) }),
    responses: { 200: { description: 'what ffprobe reports', schema: ProbeView }, ...errors(400, 401, 403, 404, 422) },
    handler: async ({ query, req, res }) => {
      const f = await ctx.mediaRoot.resolveFile(query.path);
      const probe = await probeMedia(f.absolute, { tools: ctx.tools, logger: ctx.logger.child({ requestId: (req as AuthedRequest & { id?: string }).id }) });
      res.json({ path: f.relative, probe: { ...probe, path: f.relative } as unknown as Record<string, unknown> });
    },
  });
}
