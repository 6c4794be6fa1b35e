// HTTP client of the Sync Analyzer API (/api/v1), for the CLI's client commands. Global fetch;
// every failure becomes a named error the commands can explain in one line.
import type { AnalysisResult, Verdict } from '@sync-analyzer/engine';

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';
/** Plain requests (no ?wait=) that take longer than this are treated as a hung server. */
const REQUEST_TIMEOUT_MS = 60_000;
/** Extra time a long poll (?wait=SECONDS) gets beyond SECONDS before it counts as hung. */
const WAIT_MARGIN_MS = 30_000;

// ---- wire types (mirror services/api/src/http/schemas.ts; the e2e tests keep them honest) ----

export type AnalysisStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled' | 'timed_out';
export type RepairStatus = AnalysisStatus;
export type Priority = 'urgent' | 'normal' | 'batch';
export const FINAL_STATUSES: readonly string[] = ['completed', 'failed', 'cancelled', 'timed_out'];
export const isFinal = (status: string): boolean => FINAL_STATUSES.includes(status);

export interface ApiErrorInfo {
  code: string;
  message: string;
}

export interface Progress {
  percent: number;
  stage: string | null;
}

export interface AnalysisView {
  id: string;
  status: AnalysisStatus;
  priority: Priority;
  master: string;
  dub: string;
  options: Record<string, unknown>;
  progress: Progress;
  attempts: number;
  verdict: Verdict | null;
  match: boolean | null;
  offset_seconds: number | null;
  confidence: number | null;
  result: AnalysisResult | null;
  error: ApiErrorInfo | null;
  batch_id: string | null;
  batch_index: number | null;
  episode: string | null;
  notes: string | null;
  repair_id: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  links: Record<string, string>;
}

export interface AnalysisEnvelope {
  analysis: AnalysisView;
  deduplicated?: boolean;
}

export interface BatchView {
  id: string;
  name: string | null;
  status: 'running' | 'completed';
  priority: Priority;
  total: number;
  counts: Record<string, number>;
  webhook: { url: string; status: string | null; attempts: number; last_error: string | null } | null;
  created_at: string;
  finished_at: string | null;
  links: Record<string, string>;
}

export interface BatchEnvelope {
  batch: BatchView;
  items: AnalysisView[];
}

export interface RepairCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface RepairView {
  id: string;
  status: RepairStatus;
  analysis_id: string | null;
  dub: string;
  offset_seconds: number;
  applied_shift_seconds: number;
  speed_ratio: number | null;
  options: { keep_duration: boolean; conform_drift: boolean; conform_edits: boolean };
  /** Relative to the server's output root. */
  output: string | null;
  ffmpeg_args: string[] | null;
  checks: RepairCheck[] | null;
  verification_analysis_id: string | null;
  progress: Progress;
  error: ApiErrorInfo | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  links: Record<string, string>;
}

export interface RepairEnvelope {
  repair: RepairView;
}

export interface AnalysisOptions {
  frameRate?: string;
  inSyncFrames?: number;
  driftMinFrames?: number;
  masterSelection?: unknown;
  dubSelection?: unknown;
}

export interface AnalysisRequest {
  /** Paths as the server sees them: absolute inside its media root, or relative to it. */
  master: string;
  dub: string;
  options?: AnalysisOptions;
  priority?: 'urgent' | 'normal';
}

export interface BatchCsvQuery {
  name?: string;
  priority?: 'normal' | 'batch';
  webhook_url?: string;
}

export interface RepairRequest {
  analysis_id?: string;
  dub?: string;
  offset_seconds?: number;
  keep_duration?: boolean;
  conform_drift?: boolean;
  conform_edits?: boolean;
  verify?: boolean;
  master?: string;
}

export type BatchExportFormat = 'csv' | 'json' | 'html';

/** One Server-Sent Event (data parsed as JSON when it is JSON). */
export interface SseEvent {
  event: string;
  data: unknown;
}

/** An answer with a status code (200 finished vs 202 still running matters for waits). */
export interface ApiAnswer<T> {
  status: number;
  body: T;
}

// ---- errors ----

/** The API answered with an error status (`{error:{code,message,details}}`). */
export class ApiRequestError extends Error {
  override readonly name = 'ApiRequestError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** No HTTP answer at all: connection refused, DNS, reset, TLS. */
export class ApiUnreachableError extends Error {
  override readonly name = 'ApiUnreachableError';
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`cannot reach the Sync Analyzer API at ${url} (is it running?): ${reason}`);
  }
}

/** Connected, but no answer in time. */
export class ApiTimeoutError extends Error {
  override readonly name = 'ApiTimeoutError';
  constructor(
    readonly url: string,
    readonly seconds: number,
  ) {
    super(`the Sync Analyzer API at ${url} did not answer within ${seconds} s`);
  }
}

export interface ApiClientOptions {
  baseUrl: string;
  /** Sent as `Authorization: Bearer <key>`; never part of any message. */
  apiKey?: string | undefined;
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | undefined>;

export class ApiClient {
  /** Without a trailing slash; credentials stripped (messages quote it). */
  readonly baseUrl: string;
  private readonly apiKey: string | undefined;
  private readonly fetchFn: typeof fetch;

  constructor(opts: ApiClientOptions) {
    this.baseUrl = normaliseBaseUrl(opts.baseUrl);
    this.apiKey = opts.apiKey || undefined;
    this.fetchFn = opts.fetch ?? fetch;
  }

  submitAnalysis(req: AnalysisRequest, wait?: number): Promise<ApiAnswer<AnalysisEnvelope>> {
    return this.json('POST', '/api/v1/analyses', { query: { wait }, json: req, waitSeconds: wait });
  }

  getAnalysis(id: string, wait?: number): Promise<ApiAnswer<AnalysisEnvelope>> {
    return this.json('GET', `/api/v1/analyses/${encodeURIComponent(id)}`, { query: { wait }, waitSeconds: wait });
  }

  async createBatchFromCsv(csv: string, query: BatchCsvQuery = {}): Promise<BatchEnvelope> {
    return (await this.json<BatchEnvelope>('POST', '/api/v1/batches/csv', { query: { ...query }, body: csv, contentType: 'text/csv; charset=utf-8' })).body;
  }

  async getBatch(id: string): Promise<BatchEnvelope> {
    return (await this.json<BatchEnvelope>('GET', `/api/v1/batches/${encodeURIComponent(id)}`)).body;
  }

  /** The export document exactly as served (CSV, JSON or HTML text). */
  async exportBatch(id: string, format: BatchExportFormat): Promise<string> {
    const res = await this.request('GET', `/api/v1/batches/${encodeURIComponent(id)}/export.${format}`, {});
    return res.text();
  }

  async createRepair(req: RepairRequest): Promise<RepairEnvelope> {
    return (await this.json<RepairEnvelope>('POST', '/api/v1/repairs', { json: req })).body;
  }

  async getRepair(id: string): Promise<RepairEnvelope> {
    return (await this.json<RepairEnvelope>('GET', `/api/v1/repairs/${encodeURIComponent(id)}`)).body;
  }

  /**
   * The analysis's live event stream (snapshot, progress, status, done). Ends when the server
   * closes it; abort `signal` to stop early.
   */
  async *analysisEvents(id: string, signal: AbortSignal): AsyncGenerator<SseEvent> {
    const res = await this.request('GET', `/api/v1/analyses/${encodeURIComponent(id)}/events`, { signal, accept: 'text/event-stream', stream: true });
    if (!res.body) return;
    try {
      yield* parseSse(res.body.pipeThrough(new TextDecoderStream()));
    } catch (e) {
      if (signal.aborted) return;
      throw this.networkError(e);
    }
  }

  private async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<ApiAnswer<T>> {
    const res = await this.request(method, path, opts);
    const text = await res.text();
    try {
      return { status: res.status, body: JSON.parse(text) as T };
    } catch {
      throw new ApiRequestError(res.status, 'bad_response', `the API answered ${res.status} with something that is not JSON: ${text.slice(0, 120)}`);
    }
  }

  private async request(method: string, path: string, opts: RequestOptions): Promise<Response> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: opts.accept ?? 'application/json' };
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    let body: string | undefined;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.body !== undefined) {
      headers['content-type'] = opts.contentType ?? 'text/plain';
      body = opts.body;
    }
    // Streams run until the caller aborts; everything else gets a deadline.
    const timeoutMs = opts.stream ? null : REQUEST_TIMEOUT_MS + (opts.waitSeconds ?? 0) * 1000 + (opts.waitSeconds ? WAIT_MARGIN_MS : 0);
    const timeout = timeoutMs === null ? null : AbortSignal.timeout(timeoutMs);
    const signal = timeout && opts.signal ? AbortSignal.any([timeout, opts.signal]) : (timeout ?? opts.signal);
    let res: Response;
    try {
      res = await this.fetchFn(url, { method, headers, ...(body !== undefined ? { body } : {}), ...(signal ? { signal } : {}) });
    } catch (e) {
      if (timeout?.aborted) throw new ApiTimeoutError(this.baseUrl, Math.round(timeoutMs! / 1000));
      throw this.networkError(e);
    }
    if (res.ok) return res;
    throw await errorFromResponse(res);
  }

  private networkError(e: unknown): Error {
    if (e instanceof Error && e.name === 'AbortError') return e;
    return new ApiUnreachableError(this.baseUrl, describeNetworkError(e));
  }
}

interface RequestOptions {
  query?: Query;
  json?: unknown;
  body?: string;
  contentType?: string;
  accept?: string;
  /** Seconds the server may hold the request (?wait=). */
  waitSeconds?: number | undefined;
  signal?: AbortSignal;
  stream?: boolean;
}

function normaliseBaseUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ApiClientConfigError(`--api must be a URL such as ${DEFAULT_API_URL}, got "${raw}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ApiClientConfigError(`--api must be an http(s) URL, got "${raw}"`);
  if (u.username || u.password) throw new ApiClientConfigError('--api must not carry credentials: pass the key with --api-key or SYNC_ANALYZER_API_KEY');
  // A base of ".../api/v1" is accepted too: the routes add it themselves.
  const p = u.pathname.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
  return `${u.origin}${p}`;
}

/** The --api value is not usable (bad input, not an API failure). */
export class ApiClientConfigError extends Error {
  override readonly name = 'ApiClientConfigError';
}

async function errorFromResponse(res: Response): Promise<ApiRequestError> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    if (body.error && typeof body.error.code === 'string' && typeof body.error.message === 'string') {
      return new ApiRequestError(res.status, body.error.code, body.error.message, body.error.details);
    }
  } catch {
    // Not the API's JSON (a proxy's error page, say): described by the status below.
  }
  return new ApiRequestError(res.status, `http_${res.status}`, `${res.statusText || 'error'}${text ? `: ${text.replace(/\s+/g, ' ').slice(0, 120)}` : ''}`);
}

function describeNetworkError(e: unknown): string {
  // undici reports "fetch failed" with the system error as the cause.
  const cause = e instanceof Error ? (e as Error & { cause?: unknown }).cause : undefined;
  const c = cause as { code?: unknown; message?: unknown } | undefined;
  if (c && typeof c.code === 'string') return c.code;
  if (c && typeof c.message === 'string') return c.message;
  return e instanceof Error ? e.message : String(e);
}

/** Parses a text/event-stream into events (comments and `retry:` lines skipped). */
export async function* parseSse(stream: AsyncIterable<string>): AsyncGenerator<SseEvent> {
  let buffer = '';
  let heldCr = '';
  for await (const chunk of stream) {
    // A CR at a chunk's end may be half of a CRLF: decide when the next chunk comes.
    let text = heldCr + chunk;
    heldCr = text.endsWith('\r') ? '\r' : '';
    if (heldCr) text = text.slice(0, -1);
    buffer += text.replace(/\r\n?/g, '\n');
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const ev = parseSseBlock(block);
      if (ev) yield ev;
    }
  }
}

function parseSseBlock(block: string): SseEvent | null {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return null;
  const text = data.join('\n');
  try {
    return { event, data: JSON.parse(text) };
  } catch {
    return { event, data: text };
  }
}
