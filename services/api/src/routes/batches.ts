// /api/v1/batches: create from JSON or an uploaded CSV sheet, status with per-item results,
// exports (CSV, JSON, HTML).
import multer from 'multer';
import express from 'express';
import { z } from 'zod';
import type { ApiContext } from '../app/context.ts';
import { ApiError } from '../http/errors.ts';
import { RouteTable } from '../http/routes.ts';
import { BatchCsvFields, BatchEnvelope, BatchPage, BatchRequest, IdParams, PageQuery } from '../http/schemas.ts';
import { analysisView, batchView } from '../http/views.ts';
import { parseBatchSheet, BatchSheetError } from '../reports/batch-sheet.ts';
import { batchCsv, batchHtml, batchJson } from '../reports/batch-export.ts';
import { errors } from './analyses.ts';

const MAX_SHEET_BYTES = 5 * 1024 * 1024;

export function batchRoutes(ctx: ApiContext, t: RouteTable): void {
  const envelope = async (id: string) => {
    const b = await ctx.store.batches.get(id);
    if (!b) throw new ApiError(404, 'not_found', `no batch ${id}`);
    const [counts, items] = await Promise.all([ctx.store.batches.counts(id), ctx.store.batches.items(id)]);
    return { batch: b, counts, items };
  };

  t.add({
    method: 'post',
    path: '/api/v1/batches',
    tag: 'batches',
    summary: 'Create a batch of analyses from JSON (runs below interactive analyses in priority)',
    body: BatchRequest,
    responses: { 201: { description: 'batch created and queued', schema: BatchEnvelope }, ...errors(400, 401, 403, 404, 422, 503) },
    handler: async ({ body, res }) => {
      const { batch, items } = await ctx.submissions.createBatch({ name: body.name, items: body.items, options: body.options, priority: body.priority, webhookUrl: body.webhook_url });
      ctx.metrics.submissions.inc({ kind: 'batch', deduplicated: 'false' });
      res.status(201).location(`/api/v1/batches/${batch.id}`).json({ batch: batchView(batch, await ctx.store.batches.counts(batch.id)), items: items.map(analysisView) });
    },
  });

  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: MAX_SHEET_BYTES, files: 1, fields: 10 } });
  t.add({
    method: 'post',
    path: '/api/v1/batches/csv',
    tag: 'batches',
    summary: 'Create a batch from a CSV sheet (columns master,dub[,episode,notes]; aliases master_file/dub_file, aref/wild): multipart field "file", or a text/csv body',
    query: BatchCsvFields,
    bodyContentTypes: {
      'multipart/form-data': { schema: { type: 'object', properties: { file: { type: 'string', format: 'binary' }, name: { type: 'string' }, priority: { type: 'string', enum: ['normal', 'batch'] }, webhook_url: { type: 'string' } }, required: ['file'] } },
      'text/csv': { schema: { type: 'string' } },
    },
    before: [
      (req, res, next) => (req.is('multipart/form-data') ? upload.single('file')(req, res, next) : express.text({ type: ['text/csv', 'text/plain', 'application/csv'], limit: MAX_SHEET_BYTES })(req, res, next)),
    ],
    responses: { 201: { description: 'batch created and queued', schema: BatchEnvelope }, ...errors(400, 401, 403, 404, 422, 503) },
    handler: async ({ query, req, res }) => {
      const file = (req as { file?: { buffer: Buffer } }).file;
      const text = file ? file.buffer.toString('utf8') : typeof req.body === 'string' ? req.body : null;
      if (!text) throw new ApiError(400, 'invalid_request', 'send the sheet as multipart field "file" or as a text/csv body');
      // Multipart form fields may carry the settings too.
      const fields = BatchCsvFields.parse({ ...query, ...(file ? (req.body as Record<string, string>) : {}) });
      let sheet;
      try {
        sheet = parseBatchSheet(text);
      } catch (e) {
        if (e instanceof BatchSheetError) throw new ApiError(400, 'bad_sheet', e.message, { problems: e.problems });
        throw e;
      }
      const { batch, items } = await ctx.submissions.createBatch({
        name: fields.name,
        items: sheet.rows.map((r) => ({ master: r.master, dub: r.dub, episode: r.episode ?? undefined, notes: r.notes ?? undefined })),
        options: {},
        priority: fields.priority,
        webhookUrl: fields.webhook_url,
      });
      ctx.metrics.submissions.inc({ kind: 'batch', deduplicated: 'false' });
      res.status(201).location(`/api/v1/batches/${batch.id}`).json({ batch: batchView(batch, await ctx.store.batches.counts(batch.id)), items: items.map(analysisView) });
    },
  });

  t.add({
    method: 'get',
    path: '/api/v1/batches',
    tag: 'batches',
    summary: 'List batches, newest first',
    query: PageQuery,
    responses: { 200: { description: 'a page of batches', schema: BatchPage }, ...errors(401) },
    handler: async ({ query, res }) => {
      const page = await ctx.store.batches.list(query.limit, query.offset);
      const items = await Promise.all(page.items.map(async (b) => batchView(b, await ctx.store.batches.counts(b.id))));
      res.json({ ...page, items });
    },
  });

  t.add({
    method: 'get',
    path: '/api/v1/batches/:id',
    tag: 'batches',
    summary: 'Batch status with every item and its result',
    params: IdParams,
    responses: { 200: { description: 'the batch', schema: BatchEnvelope }, ...errors(401, 404) },
    handler: async ({ params, res }) => {
      const { batch, counts, items } = await envelope(params.id);
      res.json({ batch: batchView(batch, counts), items: items.map(analysisView) });
    },
  });

  const exports = {
    csv: { type: 'text/csv; charset=utf-8', render: batchCsv },
    json: { type: 'application/json', render: (b: Parameters<typeof batchJson>[0], i: Parameters<typeof batchJson>[1]) => JSON.stringify(batchJson(b, i), null, 2) },
    html: { type: 'text/html; charset=utf-8', render: batchHtml },
  } as const;
  for (const [ext, f] of Object.entries(exports)) {
    t.add({
      method: 'get',
      path: `/api/v1/batches/:id/export.${ext}`,
      tag: 'batches',
      summary: `Batch results as ${ext.toUpperCase()} (offsets, frames, timecode, confidence, verdict per row)`,
      params: IdParams,
      query: z.object({ download: z.enum(['0', '1']).optional() }),
      responses: { 200: ext === 'json' ? { description: 'the batch and one row per item', schema: z.record(z.string(), z.unknown()) } : { description: `the ${ext} export`, contentType: f.type.split(';')[0]! }, ...errors(401, 404) },
      handler: async ({ params, query, res }) => {
        const { batch, items } = await envelope(params.id);
        if (ext === 'html') res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
        if (query.download === '1') res.attachment(`batch-${batch.id}.${ext}`);
        res.type(f.type).send(f.render(batch, items));
      },
    });
  }
}
