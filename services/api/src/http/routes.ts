// Declarative routes: each route states its parameters, query, body and responses as zod
// schemas. The same declaration validates requests at run time and produces the OpenAPI
// document (openapi.ts), so the document always describes what the server does.
import type { Request, Response, NextFunction, RequestHandler, Router } from 'express';
import { z } from 'zod';
import { ApiError } from './errors.ts';

export type Method = 'get' | 'post' | 'delete' | 'put';

export interface ResponseSpec {
  description: string;
  /** JSON body schema; omit for non-JSON bodies (give contentType). */
  schema?: z.ZodType;
  contentType?: string;
}

export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: Method;
  path: string;
  summary: string;
  tag: string;
  params?: P;
  query?: Q;
  body?: B;
  /** Other request body types (documented; the handler reads them itself). */
  bodyContentTypes?: Record<string, { schema: Record<string, unknown> }>;
  responses: Record<number, ResponseSpec>;
  /** false: reachable without an API key (health probes, login). */
  auth?: boolean;
  /** Extra middleware before validation (uploads). */
  before?: RequestHandler[];
  handler: (input: { params: z.output<P>; query: z.output<Q>; body: z.output<B>; req: Request; res: Response }) => Promise<void> | void;
}

export type AnyRoute = RouteSpec<z.ZodType, z.ZodType, z.ZodType>;

const empty = z.object({});

/** Registers validated routes on a router and remembers them for the OpenAPI document. */
export class RouteTable {
  readonly routes: AnyRoute[] = [];

  add<P extends z.ZodType = typeof empty, Q extends z.ZodType = typeof empty, B extends z.ZodType = typeof empty>(spec: RouteSpec<P, Q, B>): void {
    this.routes.push(spec as unknown as AnyRoute);
  }

  mount(router: Router, authenticate: RequestHandler[]): void {
    for (const r of this.routes) {
      const validate = (req: Request, res: Response, next: NextFunction) => {
        const run = async () => {
          const params = parse(r.params ?? empty, req.params, 'path parameter');
          const query = parse(r.query ?? empty, req.query, 'query parameter');
          const body = r.body ? parse(r.body, req.body ?? {}, 'body') : {};
          await r.handler({ params, query, body, req, res } as never);
        };
        run().catch(next);
      };
      const chain: RequestHandler[] = [...(r.auth === false ? [] : authenticate), ...(r.before ?? []), validate];
      router[r.method](r.path, ...chain);
    }
  }
}

function parse<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const res = schema.safeParse(value);
  if (res.success) return res.data;
  throw new ApiError(400, 'invalid_request', `invalid ${where}: ${res.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`, {
    issues: res.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
  });
}
