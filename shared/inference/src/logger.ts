/**
 * Structured logger interface (pino-compatible, same shape as @sync-analyzer/media's
 * MediaLogger). The inference layer never creates its own logger: callers pass one in.
 */
export interface InferenceLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};

/** A logger that discards everything. */
export const nullLogger: InferenceLogger = { debug: noop, info: noop, warn: noop, error: noop };
