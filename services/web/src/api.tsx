// The API client: JSON requests with the API's error messages, browser login (the key is
// exchanged for an HttpOnly session cookie and kept in session storage to log in again when
// the cookie expires), and one shared Server-Sent Events stream of job events.
//
// Requests ride on the session cookie rather than `Authorization: Bearer`: the API rate-limits
// key clients but not the web UI's session, and EventSource/<a download> cannot send headers.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { JobEvent, SessionView } from './lib/types.ts';

const KEY_STORAGE = 'sync-analyzer.api-key';
export const API = '/api/v1';

export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

/** The API needs a key and the stored one (if any) no longer works. */
export class AuthRequiredError extends ApiRequestError {
  constructor(message: string) {
    super(401, 'unauthorized', message);
    this.name = 'AuthRequiredError';
  }
}

export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

const authListeners = new Set<(message: string) => void>();
/** Called when a request needs a login the UI cannot make on its own. */
export function onAuthRequired(fn: (message: string) => void): () => void {
  authListeners.add(fn);
  return () => authListeners.delete(fn);
}

export const storedKey = (): string | null => {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
};

async function errorFrom(res: Response): Promise<ApiRequestError> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string; details?: unknown } };
    if (body.error?.message) return new ApiRequestError(res.status, body.error.code ?? 'error', body.error.message, body.error.details);
  } catch {
    // Not JSON (a proxy's error page): fall through.
  }
  return new ApiRequestError(res.status, 'http_error', `the server answered ${res.status} ${res.statusText}${text && text.length < 200 ? `: ${text}` : ''}`);
}

export async function getSession(): Promise<SessionView> {
  const res = await fetch(`${API}/session`, { credentials: 'same-origin' });
  if (!res.ok) throw await errorFrom(res);
  return (await res.json()) as SessionView;
}

export async function login(apiKey: string): Promise<SessionView> {
  const res = await fetch(`${API}/session`, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api_key: apiKey }) });
  if (!res.ok) throw await errorFrom(res);
  try {
    sessionStorage.setItem(KEY_STORAGE, apiKey);
  } catch {
    // Storage disabled: the cookie still works until it expires.
  }
  return (await res.json()) as SessionView;
}

export async function logout(): Promise<void> {
  try {
    sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // ignore
  }
  await fetch(`${API}/session`, { method: 'DELETE', credentials: 'same-origin' }).catch(() => undefined);
}

let relogin: Promise<boolean> | null = null;
/** Logs in again with the stored key (once, however many requests are waiting on it). */
export function reloginWithStoredKey(): Promise<boolean> {
  const key = storedKey();
  if (!key) return Promise.resolve(false);
  relogin ??= login(key)
    .then(() => true)
    .catch(() => false)
    .finally(() => setTimeout(() => (relogin = null), 0));
  return relogin;
}

/** fetch() that logs in again on a 401 when it can, and reports to the UI when it cannot. */
export async function authedFetch(url: string, init: RequestInit = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { credentials: 'same-origin', ...init });
  } catch (e) {
    throw new ApiRequestError(0, 'network', `cannot reach the server (${errorText(e)})`);
  }
  if (res.status !== 401) return res;
  if (await reloginWithStoredKey()) {
    res = await fetch(url, { credentials: 'same-origin', ...init });
    if (res.status !== 401) return res;
  }
  const err = await errorFrom(res);
  for (const fn of authListeners) fn(err.message);
  throw new AuthRequiredError(err.message);
}

export async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const init: RequestInit = { method, ...(signal ? { signal } : {}) };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'content-type': 'application/json' };
  }
  const res = await authedFetch(path.startsWith('/') ? path : `${API}/${path}`, init);
  if (!res.ok) throw await errorFrom(res);
  return (await res.json()) as T;
}

export const get = <T,>(path: string, signal?: AbortSignal) => request<T>('GET', path, undefined, signal);
export const post = <T,>(path: string, body?: unknown) => request<T>('POST', path, body ?? {});

/** Query string from the defined, non-empty values. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

// ---- live job events: one EventSource for the whole app ----

type Listener = (e: JobEvent) => void;

class EventHub {
  private es: EventSource | null = null;
  private readonly listeners = new Set<Listener>();
  private readonly stateListeners = new Set<(live: boolean) => void>();
  private retry: ReturnType<typeof setTimeout> | null = null;
  private closing: ReturnType<typeof setTimeout> | null = null;
  private backoff = 1000;
  live = false;

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    if (this.closing) clearTimeout(this.closing);
    this.closing = null;
    this.open();
    return () => {
      this.listeners.delete(fn);
      // Kept open a moment: moving between pages should not reconnect.
      if (this.listeners.size === 0) this.closing ??= setTimeout(() => this.close(), 5000);
    };
  }

  onState(fn: (live: boolean) => void): () => void {
    this.stateListeners.add(fn);
    return () => this.stateListeners.delete(fn);
  }

  private setLive(v: boolean) {
    if (this.live === v) return;
    this.live = v;
    for (const f of this.stateListeners) f(v);
  }

  private emit(e: JobEvent) {
    for (const f of [...this.listeners]) f(e);
  }

  private open() {
    if (this.es || this.retry) return;
    const es = new EventSource(`${API}/events`);
    this.es = es;
    es.addEventListener('hello', () => {
      this.backoff = 1000;
      this.setLive(true);
      // (Re)connected: anything may have happened meanwhile, so listeners reload.
      this.emit({ type: 'hello' });
    });
    for (const name of ['progress', 'status'] as const) {
      es.addEventListener(name, (m: MessageEvent<string>) => {
        try {
          this.emit(JSON.parse(m.data) as JobEvent);
        } catch {
          // A malformed event is dropped; the next reload catches up.
        }
      });
    }
    es.onerror = () => {
      this.setLive(false);
      // The browser retries a dropped stream itself; a refused one (401: session expired) is
      // closed for good, so log in again and reopen.
      if (es.readyState !== EventSource.CLOSED) return;
      this.es = null;
      this.retry = setTimeout(() => {
        this.retry = null;
        void reloginWithStoredKey().finally(() => this.listeners.size && this.open());
      }, this.backoff);
      this.backoff = Math.min(this.backoff * 2, 30_000);
    };
  }

  private close() {
    this.closing = null;
    if (this.listeners.size) return;
    this.es?.close();
    this.es = null;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.setLive(false);
  }
}

export const jobEvents = new EventHub();

/** Subscribes a component to job events; the latest handler is called (one subscription per mount). */
export function useJobEvents(handler: Listener): void {
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => jobEvents.subscribe((e) => ref.current(e)), []);
}

export function useLive(): boolean {
  const [live, setLive] = useState(jobEvents.live);
  useEffect(() => jobEvents.onState(setLive), []);
  return live;
}
