// The Express application: security headers, CORS, body limits, request ids and logs, metrics,
// auth, the versioned API, docs, the queue dashboard and JSON errors. Building it has no side
// effects (no listen, no connections): main.ts and the tests pass the context in.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Request } from 'express';
import helmet from 'helmet';
import cors from 'cors';
import cookieParser from 'cookie-parser';
import { rateLimit } from 'express-rate-limit';
import swaggerUi from 'swagger-ui-express';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { ApiContext } from './context.ts';
import { z } from 'zod';
import { RouteTable } from '../http/routes.ts';
import { ErrorBody } from '../http/schemas.ts';
import { ApiError, errorBody, errorHandler } from '../http/errors.ts';
import { buildOpenApi } from '../http/openapi.ts';
import type { AuthedRequest } from '../http/auth.ts';
import { analysisRoutes } from '../routes/analyses.ts';
import { batchRoutes } from '../routes/batches.ts';
import { repairRoutes } from '../routes/repairs.ts';
import { systemRoutes } from '../routes/system.ts';

const WEB_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web/dist');

export interface BuiltApp {
  app: express.Express;
  routes: RouteTable;
  openapi: Record<string, unknown>;
}

export function buildApp(ctx: ApiContext): BuiltApp {
  const app = express();
  app.disable('x-powered-by');
  // Whose X-Forwarded-For/-Proto to believe (rate limits per client, Secure cookies): TRUST_PROXY.
  app.set('trust proxy', ctx.config.trustProxy);

  // Request id and one structured log line per request (ids as fields).
  app.use((req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && /^[\w.-]{1,100}$/.test(incoming) ? incoming : randomUUID();
    (req as Request & { id: string }).id = id;
    res.setHeader('X-Request-Id', id);
    const t0 = performance.now();
    res.on('finish', () => {
      const route = (req.route?.path as string | undefined) ? `${req.baseUrl}${req.route.path as string}` : req.path.startsWith('/admin/queues') ? '/admin/queues' : req.path.startsWith('/api/docs') ? '/api/docs' : 'unmatched';
      const seconds = (performance.now() - t0) / 1000;
      ctx.metrics.observeRequest(req.method, route, res.statusCode, seconds);
      if (route === '/livez' || route === '/readyz' || route === '/metrics') return;
      ctx.logger[res.statusCode >= 500 ? 'error' : 'info']({ requestId: id, method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1000) }, 'request');
    });
    next();
  });

  app.use(
    helmet({
      contentSecurityPolicy: {
        // The docs page (swagger-ui) needs inline styles; nothing is loaded from elsewhere.
        directives: { defaultSrc: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"], imgSrc: ["'self'", 'data:'], scriptSrc: ["'self'"] },
      },
      crossOriginEmbedderPolicy: false,
    }),
  );
  app.use(
    cors({
      origin: (origin, cb) => cb(null, !origin || ctx.config.corsOrigins.includes('*') || ctx.config.corsOrigins.includes(origin)),
      credentials: true,
      exposedHeaders: ['X-Request-Id', 'Location'],
    }),
  );
  app.use(cookieParser());
  app.use(express.json({ limit: '2mb' }));

  // Rate limiting after authentication: API-key clients are limited; the web UI (session
  // cookie) and health probes are not.
  const limiter = rateLimit({
    windowMs: 60_000,
    limit: ctx.config.rateLimitPerMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    skip: (req) => (req as AuthedRequest).authVia === 'session',
    handler: (_req, res) => void res.status(429).json(errorBody('rate_limited', `more than ${ctx.config.rateLimitPerMinute} requests a minute; slow down`)),
  });
  const loginLimiter = rateLimit({ windowMs: 60_000, limit: 20, standardHeaders: 'draft-7', legacyHeaders: false, handler: (_req, res) => void res.status(429).json(errorBody('rate_limited', 'too many login attempts; wait a minute')) });
  app.post('/api/v1/session', loginLimiter);
  // Keys guessed through the Authorization header of any route: every request whose Bearer key
  // does not verify counts against the client address, as logins do; requests with a valid key
  // or session are never counted or refused, so guessing cannot lock a real client out.
  const wrongKeyLimiter = rateLimit({
    windowMs: 60_000,
    limit: 20,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    skip: (req) => req.headers.authorization === undefined || ctx.auth.identify(req) !== null,
    handler: (_req, res) => void res.status(429).json(errorBody('rate_limited', 'too many requests with a wrong API key; wait a minute')),
  });
  const authenticate = [wrongKeyLimiter, ctx.auth.middleware(), limiter];

  const routes = new RouteTable();
  systemRoutes(ctx, routes);
  analysisRoutes(ctx, routes);
  batchRoutes(ctx, routes);
  repairRoutes(ctx, routes);
  let openapi: Record<string, unknown> = {};
  routes.add({
    method: 'get',
    path: '/metrics',
    tag: 'operations',
    summary: 'Prometheus metrics: requests, jobs, queue depth per state, busy workers',
    responses: { 200: { description: 'text exposition format', contentType: 'text/plain' }, 401: { description: 'missing or invalid API key', schema: ErrorBody } },
    handler: async ({ res }) => void res.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics()),
  });
  routes.add({
    method: 'get',
    path: '/api/openapi.json',
    tag: 'operations',
    summary: 'This OpenAPI 3.1 document (generated from the schemas that validate requests)',
    auth: false,
    responses: { 200: { description: 'the document', schema: z.record(z.string(), z.unknown()) } },
    handler: ({ res }) => void res.json(openapi),
  });
  const router = express.Router();
  routes.mount(router, authenticate);
  app.use(router);
  openapi = buildOpenApi(routes.routes, { authRequired: ctx.auth.required });
  app.use('/api/docs', swaggerUi.serve, swaggerUi.setup(openapi, { customSiteTitle: 'Sync Analyzer API' }));

  const board = new ExpressAdapter();
  board.setBasePath('/admin/queues');
  createBullBoard({ queues: Object.values(ctx.queues.queues).map((q) => new BullMQAdapter(q, { readOnlyMode: false })), serverAdapter: board });
  // bull-board is an Express app of its own, which would announce itself (X-Powered-By).
  const boardApp = board.getRouter() as express.Express;
  boardApp.disable('x-powered-by');
  app.use('/admin/queues', ...authenticate, boardApp);

  // The web UI: built static assets (services/web/dist, `npm run build`), with the SPA's
  // client-side routes answered by its index.html.
  const webDist = ctx.webDist ?? WEB_DIST;
  if (existsSync(path.join(webDist, 'index.html'))) {
    app.use(express.static(webDist, { index: 'index.html', maxAge: '1h', setHeaders: (res, file) => file.endsWith('index.html') && res.setHeader('Cache-Control', 'no-cache') }));
    app.get(/^\/(?!api\/|admin\/|metrics$|livez$|readyz$|health$).*/, (req, res, next) => (req.accepts('html') ? res.setHeader('Cache-Control', 'no-cache').sendFile(path.join(webDist, 'index.html')) : next()));
  } else {
    app.get('/', (_req, res) => void res.type('text/plain').send('Sync Analyzer API. The web UI is not built here: run `npm run build`. API docs: /api/docs\n'));
  }

  app.use((req, _res, next) => next(new ApiError(404, 'not_found', `no route ${req.method} ${req.path}`)));
  app.use(errorHandler(ctx.logger));
  return { app, routes, openapi };
}
