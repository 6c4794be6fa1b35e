// Contract checking: every response the e2e tests receive is validated against the server's
// own OpenAPI document (status documented for the operation; JSON body matches its schema).
import { Ajv2020 } from 'ajv/dist/2020.js';

type Json = Record<string, any>;

export interface Violation {
  method: string;
  url: string;
  status: number;
  problem: string;
}

export class ContractChecker {
  private readonly ajv: Ajv2020;
  private readonly ops: { method: string; template: string; re: RegExp; op: Json }[] = [];
  readonly violations: Violation[] = [];
  readonly seen = new Set<string>();

  constructor(doc: Json) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    this.ajv.addSchema({ $id: 'openapi', components: doc.components }, 'openapi');
    for (const [template, methods] of Object.entries(doc.paths as Json)) {
      const re = new RegExp('^' + template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+') + '$');
      for (const [method, op] of Object.entries(methods as Json)) this.ops.push({ method: method.toUpperCase(), template, re, op: op as Json });
    }
  }

  /** Route templates (METHOD path) of the document. */
  get operations(): string[] {
    return this.ops.map((o) => `${o.method} ${o.template}`);
  }

  check(method: string, url: string, status: number, contentType: string | null, body: unknown): void {
    const path = url.split('?')[0]!;
    const op = this.ops.find((o) => o.method === method.toUpperCase() && o.re.test(path));
    if (!op) {
      if (status !== 404) this.violations.push({ method, url, status, problem: 'no operation in the OpenAPI document' });
      return;
    }
    this.seen.add(`${op.method} ${op.template}`);
    const res = op.op.responses?.[String(status)];
    if (!res) {
      // Rate limiting and auth failures are cross-cutting; everything else must be documented.
      if (status !== 429) this.violations.push({ method, url, status, problem: `status ${status} not documented (documented: ${Object.keys(op.op.responses ?? {}).join(', ')})` });
      return;
    }
    if (!contentType?.includes('application/json')) return;
    const schema = res.content?.['application/json']?.schema;
    if (!schema) return;
    const rewritten = JSON.parse(JSON.stringify(schema).replace(/"#\/components\//g, '"openapi#/components/'));
    const validate = this.ajv.compile(rewritten);
    if (!validate(body)) this.violations.push({ method, url, status, problem: this.ajv.errorsText(validate.errors, { separator: '; ' }).slice(0, 800) });
  }
}
