/**
 * Minimal structured logger interface (pino-compatible). The media adapter never
 * creates its own logger: callers pass one in.
 */
export interface MediaLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};

/** A logger that discards everything. */
export const nullLogger: MediaLogger = { debug: noop, info: noop, warn: noop, error: noop };
