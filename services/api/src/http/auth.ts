// API-key authentication. Scripts send `Authorization: Bearer <key>`; browsers (whose
// EventSource, <audio> and download links cannot send that header) log in once with the key
// and get a signed, HttpOnly, SameSite session cookie. No server-side session state: the
// cookie is an expiry signed with a hash of the key, so rotating API_KEYS ends every session.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { ApiError } from './errors.ts';

export const SESSION_COOKIE = 'sa_session';

export type AuthVia = 'open' | 'key' | 'session';

export interface AuthedRequest extends Request {
  authVia?: AuthVia;
}

const sha = (s: string) => createHash('sha256').update(s).digest();
const same = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);

export class ApiKeyAuth {
  private readonly keyHashes: Buffer[];
  constructor(
    keys: string[],
    private readonly sessionTtlMs: number,
  ) {
    this.keyHashes = keys.map(sha);
  }

  get required(): boolean {
    return this.keyHashes.length > 0;
  }

  private keyMatches(key: string): Buffer | null {
    const h = sha(key);
    return this.keyHashes.find((k) => same(k, h)) ?? null;
  }

  private sign(keyHash: Buffer, exp: number): string {
    return createHmac('sha256', keyHash).update(`session:${exp}`).digest('base64url');
  }

  sessionCookieValue(key: string, now = Date.now()): { value: string; expires: Date } | null {
    const kh = this.keyMatches(key);
    if (!kh) return null;
    const exp = now + this.sessionTtlMs;
    return { value: `${exp}.${this.sign(kh, exp)}`, expires: new Date(exp) };
  }

  sessionValid(cookie: string | undefined, now = Date.now()): boolean {
    if (!cookie) return false;
    const [expS, sig] = cookie.split('.');
    const exp = Number(expS);
    if (!sig || !Number.isFinite(exp) || exp < now) return false;
    const given = Buffer.from(sig);
    return this.keyHashes.some((kh) => same(Buffer.from(this.sign(kh, exp)), given));
  }

  /** Who is calling; null when auth is required and nothing valid was presented. */
  identify(req: Request): AuthVia | null {
    if (!this.required) return 'open';
    // The scheme name is case-insensitive (RFC 9110 11.1): 'bearer KEY' is the same credential.
    const bearer = /^bearer +(.+?)\s*$/i.exec(req.headers.authorization ?? '');
    if (bearer && this.keyMatches(bearer[1]!)) return 'key';
    if (this.sessionValid((req as { cookies?: Record<string, string> }).cookies?.[SESSION_COOKIE])) return 'session';
    return null;
  }

  middleware(): RequestHandler {
    return (req, res, next) => {
      const via = this.identify(req);
      if (!via) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="sync-analyzer"');
        return next(new ApiError(401, 'unauthorized', req.headers.authorization ? 'the API key is not valid' : 'an API key is required: send Authorization: Bearer <key>, or log in at POST /api/v1/session'));
      }
      (req as AuthedRequest).authVia = via;
      next();
    };
  }

  setCookie(req: Request, res: Response, value: string, expires: Date): void {
    res.cookie(SESSION_COOKIE, value, { httpOnly: true, sameSite: 'strict', secure: req.secure, expires, path: '/' });
  }
}
