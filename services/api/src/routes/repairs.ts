// /api/v1/repairs: write a synced copy of a dub (never touching the source), then verify it.
import type { ApiContext } from '../app/context.ts';
import { ApiError } from '../http/errors.ts';
import { RouteTable } from '../http/routes.ts';
import { IdParams, PageQuery, RepairEnvelope, RepairPage, RepairRequest } from '../http/schemas.ts';
import { repairView } from '../http/views.ts';
import { errors } from './analyses.ts';

export function repairRoutes(ctx: ApiContext, t: RouteTable): void {
  t.add({
    method: 'post',
    path: '/api/v1/repairs',
    tag: 'repairs',
    summary: 'Repair a dub from an analysis (analysis_id) or by an explicit offset_seconds (the measured offset; the repair applies its opposite)',
    body: RepairRequest,
    responses: { 202: { description: 'repair queued', schema: RepairEnvelope }, ...errors(400, 401, 403, 404, 409, 503) },
    handler: async ({ body, res }) => {
      const repair = await ctx.submissions.createRepair({
        analysisId: body.analysis_id,
        dub: body.dub,
        offsetSeconds: body.offset_seconds,
        keepDuration: body.keep_duration,
        conformDrift: body.conform_drift,
        conformEdits: body.conform_edits,
        verify: body.verify,
        master: body.master,
      });
      ctx.metrics.submissions.inc({ kind: 'repair', deduplicated: 'false' });
      res.status(202).location(`/api/v1/repairs/${repair.id}`).json({ repair: repairView(repair) });
    },
  });

  t.add({
    method: 'get',
    path: '/api/v1/repairs',
    tag: 'repairs',
    summary: 'List repairs, newest first',
    query: PageQuery,
    responses: { 200: { description: 'a page of repairs', schema: RepairPage }, ...errors(401) },
    handler: async ({ query, res }) => {
      const page = await ctx.store.repairs.list(query.limit, query.offset);
      res.json({ ...page, items: page.items.map(repairView) });
    },
  });

  t.add({
    method: 'get',
    path: '/api/v1/repairs/:id',
    tag: 'repairs',
    summary: 'One repair: status, output, ffmpeg command, output checks, verification analysis',
    params: IdParams,
    responses: { 200: { description: 'the repair', schema: RepairEnvelope }, ...errors(401, 404) },
    handler: async ({ params, res }) => {
      const r = await ctx.store.repairs.get(params.id);
      if (!r) throw new ApiError(404, 'not_found', `no repair ${params.id}`);
      res.json({ repair: repairView(r) });
    },
  });

  t.add({
    method: 'post',
    path: '/api/v1/repairs/:id/cancel',
    tag: 'repairs',
    summary: 'Cancel a queued or running repair',
    params: IdParams,
    responses: { 200: { description: 'cancelled (or stopping)', schema: RepairEnvelope }, ...errors(401, 404, 409, 503) },
    handler: async ({ params, res }) => {
      res.json({ repair: repairView(await ctx.submissions.cancelRepair(params.id)) });
    },
  });
}
