// The OpenAPI 3.1 document, generated from the route table's zod schemas (JSON Schema 2020-12,
// which OpenAPI 3.1 uses as is). Schemas with an id become shared components.
import { z } from 'zod';
import type { AnyRoute } from './routes.ts';
import { ErrorBody } from './schemas.ts';
import { ENGINE_VERSION } from '@sync-analyzer/engine';

type Json = Record<string, unknown>;

export function buildOpenApi(routes: AnyRoute[], opts: { authRequired: boolean }): Json {
  const components: Record<string, Json> = {};
  const convert = (schema: z.ZodType, io: 'input' | 'output'): Json => {
    const js = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any', reused: 'inline' }) as Json;
    const suffix = io === 'input' ? 'Input' : '';
    const defs = (js.$defs ?? {}) as Record<string, Json>;
    delete js.$defs;
    delete js.$schema;
    const rewrite = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(rewrite);
      if (v && typeof v === 'object') {
        const o: Json = {};
        for (const [k, x] of Object.entries(v as Json)) o[k] = k === '$ref' && typeof x === 'string' ? x.replace(/^#\/\$defs\/(.+)$/, (_m, id: string) => `#/components/schemas/${id}${suffix}`) : rewrite(x);
        return o;
      }
      return v;
    };
    for (const [id, def] of Object.entries(defs)) components[`${id}${suffix}`] = rewrite(def) as Json;
    return rewrite(js) as Json;
  };
  const paramsOf = (schema: z.ZodType | undefined, where: 'path' | 'query'): Json[] => {
    if (!schema) return [];
    const js = convert(schema, 'input');
    const props = (js.properties ?? {}) as Record<string, Json>;
    const required = new Set((js.required as string[] | undefined) ?? []);
    return Object.entries(props).map(([name, s]) => ({ name, in: where, required: where === 'path' || required.has(name), schema: s, ...(s.description ? { description: s.description } : {}) }));
  };
  const paths: Record<string, Record<string, Json>> = {};
  for (const r of routes) {
    const p = r.path.replace(/:([A-Za-z_]+)/g, '{$1}');
    const content: Json = {};
    if (r.body) content['application/json'] = { schema: convert(r.body, 'input') };
    Object.assign(content, r.bodyContentTypes ?? {});
    // Every route that reads a body can refuse it before the handler runs: too large (413),
    // or a charset or content encoding the body parser does not read (415).
    const bodyRefusals = Object.keys(content).length ? { 413: { description: 'request body too large', schema: ErrorBody }, 415: { description: 'unsupported body charset or content encoding', schema: ErrorBody } } : {};
    // Every validated parameter, query or body can be refused as such.
    const validationRefusal = r.params || r.query || r.body ? { 400: { description: 'invalid request', schema: ErrorBody } } : {};
    const responses: Record<string, Json> = {};
    for (const [status, spec] of Object.entries({ ...validationRefusal, ...bodyRefusals, ...r.responses })) {
      responses[status] = {
        description: spec.description,
        ...(spec.schema ? { content: { 'application/json': { schema: convert(spec.schema, 'output') } } } : spec.contentType ? { content: { [spec.contentType]: { schema: { type: 'string' } } } } : {}),
      };
    }
    (paths[p] ??= {})[r.method] = {
      summary: r.summary,
      tags: [r.tag],
      operationId: `${r.method}${p.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      parameters: [...paramsOf(r.params, 'path'), ...paramsOf(r.query, 'query')],
      ...(Object.keys(content).length ? { requestBody: { required: true, content } } : {}),
      responses,
      ...(r.auth === false ? { security: [] } : {}),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Sync Analyzer API',
      version: ENGINE_VERSION,
      description:
        'Measures whether a dub is in sync with its master: offset (positive = dub late), drift, edit map, calibrated confidence. ' +
        'Jobs run on workers; submit, then follow progress (SSE) or wait. ' +
        (opts.authRequired ? 'Send Authorization: Bearer <API key>, or log in with POST /api/v1/session for a browser cookie.' : 'This server runs without API keys.'),
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }, { session: [] }],
    paths,
    components: {
      schemas: components,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, session: { type: 'apiKey', in: 'cookie', name: 'sa_session' } },
    },
  };
}
