// HTTP errors: every error answer is `{error: {code, message, details}}` with a fitting status.
import type { ErrorRequestHandler } from 'express';
import { MulterError } from 'multer';
import { MediaInputError } from '@sync-analyzer/media';
import { PathError, ConfigError, StoreBusyError } from '@sync-analyzer/platform';
import type { Logger } from '@sync-analyzer/platform';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** Redis (the queue) is unreachable: the client should retry later. */
export class QueueUnavailableError extends ApiError {
  constructor(cause: unknown) {
    super(503, 'queue_unavailable', 'the job queue (Redis) is unreachable; nothing was queued, retry shortly', { cause: cause instanceof Error ? cause.message : String(cause) });
  }
}

export function errorBody(code: string, message: string, details?: unknown) {
  return { error: { code, message, ...(details === undefined ? {} : { details }) } };
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const requestId = (req as { id?: string }).id;
    let e: ApiError;
    if (err instanceof ApiError) e = err;
    else if (err instanceof PathError) e = new ApiError(err.status, err.code, err.message);
    else if (err instanceof MediaInputError) e = new ApiError(422, err.code, err.message);
    else if (err instanceof StoreBusyError) e = new ApiError(503, 'store_busy', err.message);
    else if (err instanceof ConfigError) e = new ApiError(500, 'config', err.message);
    else if (err instanceof MulterError) e = new ApiError(err.code === 'LIMIT_FILE_SIZE' ? 413 : 400, err.code === 'LIMIT_FILE_SIZE' ? 'payload_too_large' : 'invalid_body', `upload refused: ${err.message}${err.field ? ` (field "${err.field}")` : ''}`);
    else if (isBodyParserError(err)) e = new ApiError(err.status ?? 400, err.type === 'entity.too.large' ? 'payload_too_large' : 'invalid_body', err.message);
    else {
      logger.error({ err, requestId, path: req.path }, 'unhandled request error');
      e = new ApiError(500, 'internal', 'internal error; the request id is in the logs', { requestId });
    }
    if (res.headersSent) return;
    res.status(e.status).json(errorBody(e.code, e.message, e.details));
  };
}

function isBodyParserError(e: unknown): e is { status?: number; type?: string; message: string } {
  return typeof e === 'object' && e !== null && 'type' in e && typeof (e as { type: unknown }).type === 'string' && 'status' in e;
}
