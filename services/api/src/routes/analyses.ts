// /api/v1/analyses: submit, list, get (optionally waiting), cancel, retry, live progress (SSE)
// and the per-analysis reports.
import path from 'node:path';
import { z } from 'zod';
import { FINAL_STATUSES, type AnalysisRecord } from '@sync-analyzer/platform';
import type { ApiContext } from '../app/context.ts';
import { ApiError } from '../http/errors.ts';
import { RouteTable } from '../http/routes.ts';
import { AnalysisEnvelope, AnalysisListQuery, AnalysisPage, AnalysisRequest, ErrorBody, IdParams, OverviewView, ProxyPending, WaitQuery } from '../http/schemas.ts';
import { SseSlots, openSse, sseMaxSubscribers } from '../http/sse.ts';
import { analysisView } from '../http/views.ts';
import { analysisReportCsv, analysisReportHtml, analysisReportJson } from '../reports/analysis-report.ts';
import { analysisEdl } from '../reports/edl.ts';

export const isFinal = (status: string) => (FINAL_STATUSES as readonly string[]).includes(status);

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, { description: ERROR_TEXT[c] ?? 'error', schema: ErrorBody }]));
const ERROR_TEXT: Record<number, string> = {
  400: 'invalid request',
  401: 'missing or invalid API key',
  403: 'path outside the media root',
  404: 'not found',
  409: 'conflict with the current state',
  422: 'the input files cannot be analysed',
  503: 'temporarily unavailable: the job queue (Redis) is unreachable, or too many event streams are open; retry later',
};
export { errors };

/** Resolves when the record is final or the time is up (events, with a slow poll as backstop). */
export async function waitForAnalysis(ctx: ApiContext, id: string, seconds: number): Promise<AnalysisRecord | null> {
  const deadline = Date.now() + seconds * 1000;
  let rec = await ctx.store.analyses.get(id);
  while (rec && !isFinal(rec.status) && Date.now() < deadline) {
    await new Promise<void>((resolve) => {
      const unsubscribe = ctx.events.subscribe((e) => {
        if (e.type === 'status' && e.id === id) done();
      });
      const timer = setTimeout(done, Math.min(1000, Math.max(0, deadline - Date.now())));
      function done() {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      }
    });
    rec = await ctx.store.analyses.get(id);
  }
  return rec;
}

export function analysisRoutes(ctx: ApiContext, t: RouteTable): void {
  // One count for both event-stream routes of this app.
  const streams = new SseSlots(sseMaxSubscribers(ctx.config));
  const get = async (id: string) => {
    const rec = await ctx.store.analyses.get(id);
    if (!rec) throw new ApiError(404, 'not_found', `no analysis ${id}`);
    return rec;
  };

  t.add({
    method: 'post',
    path: '/api/v1/analyses',
    tag: 'analyses',
    summary: 'Submit a master/dub pair (identical submissions return the existing analysis)',
    body: AnalysisRequest,
    query: WaitQuery,
    responses: { 200: { description: 'finished (deduplicated or waited for)', schema: AnalysisEnvelope }, 202: { description: 'queued', schema: AnalysisEnvelope }, ...errors(400, 401, 403, 404, 422, 503) },
    handler: async ({ body, query, res }) => {
      const { record, deduplicated } = await ctx.submissions.submitAnalysis(body);
      ctx.metrics.submissions.inc({ kind: 'analysis', deduplicated: String(deduplicated) });
      const rec = query.wait ? ((await waitForAnalysis(ctx, record.id, query.wait)) ?? record) : record;
      res.location(`/api/v1/analyses/${rec.id}`).status(isFinal(rec.status) ? 200 : 202).json({ analysis: analysisView(rec), deduplicated });
    },
  });

  t.add({
    method: 'get',
    path: '/api/v1/analyses',
    tag: 'analyses',
    summary: 'List analyses (filters: status, verdict, file name, creation date, batch; paginated)',
    query: AnalysisListQuery,
    responses: { 200: { description: 'a page of analyses', schema: AnalysisPage }, ...errors(400, 401) },
    handler: async ({ query, res }) => {
      const page = await ctx.store.analyses.list({
        ...(query.status ? { status: query.status } : {}),
        ...(query.verdict ? { verdict: query.verdict } : {}),
        ...(query.file ? { file: query.file } : {}),
        ...(query.from ? { createdFrom: new Date(query.from).toISOString() } : {}),
        ...(query.to ? { createdTo: new Date(query.to).toISOString() } : {}),
        ...(query.batch ? { batchId: query.batch } : {}),
        limit: query.limit,
        offset: query.offset,
      });
      res.json({ ...page, items: page.items.map(analysisView) });
    },
  });

  t.add({
    method: 'get',
    path: '/api/v1/analyses/:id',
    tag: 'analyses',
    summary: 'One analysis: status, progress and result (?wait=SECONDS waits for it to finish)',
    params: IdParams,
    query: WaitQuery,
    responses: { 200: { description: 'finished, or not waited for', schema: AnalysisEnvelope }, 202: { description: 'still running after the wait', schema: AnalysisEnvelope }, ...errors(401, 404) },
    handler: async ({ params, query, res }) => {
      let rec = await get(params.id);
      if (query.wait) rec = (await waitForAnalysis(ctx, rec.id, query.wait)) ?? rec;
      res.status(query.wait && !isFinal(rec.status) ? 202 : 200).json({ analysis: analysisView(rec) });
    },
  });

  t.add({
    method: 'post',
    path: '/api/v1/analyses/:id/cancel',
    tag: 'analyses',
    summary: 'Cancel a queued or running analysis (its processes are stopped within seconds)',
    params: IdParams,
    responses: { 200: { description: 'cancelled (or stopping)', schema: AnalysisEnvelope }, ...errors(401, 404, 409, 503) },
    handler: async ({ params, res }) => {
      res.json({ analysis: analysisView(await ctx.submissions.cancelAnalysis(params.id)) });
    },
  });

  t.add({
    method: 'post',
    path: '/api/v1/analyses/:id/retry',
    tag: 'analyses',
    summary: 'Run a failed, cancelled or timed-out analysis again',
    params: IdParams,
    responses: { 202: { description: 'queued again', schema: AnalysisEnvelope }, ...errors(401, 404, 409, 503) },
    handler: async ({ params, res }) => {
      res.status(202).json({ analysis: analysisView(await ctx.submissions.retryAnalysis(params.id)) });
    },
  });

  t.add({
    method: 'get',
    path: '/api/v1/analyses/:id/events',
    tag: 'events',
    summary: 'Live progress of one analysis (Server-Sent Events: snapshot, progress, status, done)',
    params: IdParams,
    responses: { 200: { description: 'an event stream', contentType: 'text/event-stream' }, ...errors(401, 404, 503) },
    handler: async ({ params, req, res }) => {
      const rec = await get(params.id);
      const sse = openSse(req, res, streams);
      sse.send('snapshot', analysisView(rec));
      if (isFinal(rec.status)) {
        sse.send('done', analysisView(rec));
        return sse.close();
      }
      const unsubscribe = ctx.events.subscribe((e) => {
        if (e.id !== rec.id) return;
        if (e.type === 'progress') sse.send('progress', { id: e.id, percent: e.percent, stage: e.stage });
        else
          void ctx.store.analyses.get(rec.id).then((now) => {
            if (!now) return;
            sse.send('status', analysisView(now));
            if (isFinal(now.status)) {
              sse.send('done', analysisView(now));
              sse.close();
            }
          });
      });
      sse.onClose(unsubscribe);
    },
  });

  t.add({
    method: 'get',
    path: '/api/v1/events',
    tag: 'events',
    summary: 'Every job event (Server-Sent Events, for the web UI): progress and status changes',
    responses: { 200: { description: 'an event stream', contentType: 'text/event-stream' }, ...errors(401, 503) },
    handler: ({ req, res }) => {
      const sse = openSse(req, res, streams);
      sse.send('hello', { at: new Date().toISOString() });
      sse.onClose(ctx.events.subscribe((e) => sse.send(e.type, e)));
    },
  });

  t.add({
    method: 'get',
    path: '/api/v1/analyses/:id/proxy/:side',
    tag: 'listening',
    summary: 'Browser-safe listening proxy of the master or the dub (mono Ogg Opus, range requests); 202 while a worker prepares it',
    params: z.object({ id: z.string().min(1).max(100), side: z.enum(['master', 'dub']) }),
    responses: {
      200: { description: 'the proxy', contentType: 'audio/ogg' },
      202: { description: 'being prepared; ask again shortly', schema: ProxyPending },
      ...errors(401, 404, 500),
    },
    handler: async ({ params, res }) => {
      const rec = await get(params.id);
      const st = await ctx.proxies.ensure(rec, params.side);
      if (st.status === 'failed') throw new ApiError(500, 'proxy_failed', `the listening proxy could not be made: ${st.error ?? 'unknown error'}`);
      if (st.status === 'pending') return void res.status(202).setHeader('Retry-After', '2').json({ status: 'pending', retry_after_seconds: 2 });
      res.setHeader('Cache-Control', 'private, max-age=86400');
      res.type('audio/ogg').sendFile(st.audioPath, { acceptRanges: true });
    },
  });

  t.add({
    method: 'get',
    path: '/api/v1/analyses/:id/overview',
    tag: 'listening',
    summary: 'Energy overview (dBFS per 50 ms) of master and dub for the waveform view; pending while the proxies are prepared',
    params: IdParams,
    responses: { 200: { description: 'both overviews, or pending', schema: OverviewView }, ...errors(401, 404, 500) },
    handler: async ({ params, res }) => {
      const rec = await get(params.id);
      const [m, d] = await Promise.all([ctx.proxies.overview(rec, 'master'), ctx.proxies.overview(rec, 'dub')]);
      const failed = [m, d].find((x) => x.state.status === 'failed');
      if (failed) throw new ApiError(500, 'proxy_failed', `the overview could not be made: ${failed.state.error ?? 'unknown error'}`);
      res.json({ pending: m.overview === null || d.overview === null, master: m.overview, dub: d.overview } as never);
    },
  });

  const reportName = (rec: AnalysisRecord, ext: string) => `${path.basename(rec.dubPath, path.extname(rec.dubPath)).replace(/[^\w.-]+/g, '_')}.${rec.id}.${ext}`;
  const formats = {
    json: { type: 'application/json', render: (r: AnalysisRecord) => JSON.stringify(analysisReportJson(r), null, 2) },
    csv: { type: 'text/csv; charset=utf-8', render: analysisReportCsv },
    html: { type: 'text/html; charset=utf-8', render: analysisReportHtml },
    edl: { type: 'text/plain; charset=utf-8', render: analysisEdl },
  } as const;
  for (const [ext, f] of Object.entries(formats)) {
    t.add({
      method: 'get',
      path: `/api/v1/analyses/:id/report.${ext}`,
      tag: 'reports',
      summary: ext === 'edl' ? 'Edit map as a CMX 3600 EDL in the master timecode' : `Report as ${ext.toUpperCase()}`,
      params: IdParams,
      query: z.object({ download: z.enum(['0', '1']).optional().describe('1: as an attachment') }),
      responses: { 200: ext === 'json' ? { description: 'the report document (record metadata + the stored result)', schema: z.record(z.string(), z.unknown()) } : { description: `the ${ext} report`, contentType: f.type.split(';')[0]! }, ...errors(401, 404) },
      handler: async ({ params, query, res }) => {
        const rec = await get(params.id);
        if (ext === 'html') res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
        if (query.download === '1') res.attachment(reportName(rec, ext));
        res.type(f.type).send(f.render(rec));
      },
    });
  }
}
