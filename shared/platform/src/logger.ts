// Structured logging for the services: winston, JSON lines on stdout (what `docker compose
// logs` shows) plus an optional size- and day-rotated file. The interface is the pino-style
// (fields, message) one the media adapter already takes, so one logger flows through every
// layer; ids (requestId, jobId, analysisId) travel as fields, never inside the message.
import winston from 'winston';
import DailyRotateFile from 'winston-daily-rotate-file';
import type { MediaLogger } from '@sync-analyzer/media';

export interface Logger extends MediaLogger {
  /** A logger that adds these fields to every line. */
  child(fields: Record<string, unknown>): Logger;
  /** Flushes and closes the transports (the file transport buffers). */
  close(): Promise<void>;
}

export interface LoggerOptions {
  level: 'error' | 'warn' | 'info' | 'debug';
  service: string;
  /** Rotated log file (a date is inserted before the extension); null: stdout only. */
  file?: string | null;
  /** Rotation limits (default 10 MB, 5 files). */
  maxSize?: string;
  maxFiles?: number;
  /** Where stdout lines go (tests capture them). */
  stream?: NodeJS.WritableStream;
}

/** Field names whose values are never written out. */
const SECRET_KEYS = /^(authorization|cookie|set-cookie|api_?keys?|apikey|password|secret|token|webhook_?secret)$/i;

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) if (SECRET_KEYS.test(key)) info[key] = '[redacted]';
  return info;
});

export function createLogger(opts: LoggerOptions): Logger {
  const format = winston.format.combine(redact(), winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json());
  const transports: winston.transport[] = [
    opts.stream ? new winston.transports.Stream({ stream: opts.stream }) : new winston.transports.Console({ stderrLevels: [] }),
  ];
  if (opts.file) {
    const ext = opts.file.match(/\.[a-z0-9]+$/i)?.[0] ?? '.log';
    transports.push(
      new DailyRotateFile({
        filename: opts.file.slice(0, opts.file.length - (opts.file.endsWith(ext) ? ext.length : 0)) + '-%DATE%' + ext,
        datePattern: 'YYYY-MM-DD',
        maxSize: opts.maxSize ?? '10m',
        maxFiles: opts.maxFiles ?? 5,
        createSymlink: true,
        symlinkName: opts.file.split('/').pop()!,
      }),
    );
  }
  const root = winston.createLogger({ level: opts.level, format, defaultMeta: { service: opts.service, pid: process.pid }, transports });
  return wrap(root, root);
}

function wrap(w: winston.Logger, root: winston.Logger): Logger {
  const at = (level: 'debug' | 'info' | 'warn' | 'error') => (obj: object, msg?: string) => {
    const fields = obj instanceof Error ? { err: { name: obj.name, message: obj.message, stack: obj.stack } } : errFields(obj);
    w.log(level, msg ?? '', fields);
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => wrap(w.child(fields), root),
    close: () =>
      new Promise<void>((resolve) => {
        root.on('finish', () => resolve());
        root.end();
        setTimeout(resolve, 1000).unref();
      }),
  };
}

/** Errors inside fields become plain objects (JSON.stringify drops an Error's message). */
function errFields(obj: object): object {
  const out: Record<string, unknown> = { ...(obj as Record<string, unknown>) };
  for (const [k, v] of Object.entries(out)) if (v instanceof Error) out[k] = { name: v.name, message: v.message, ...('code' in v ? { code: (v as { code: unknown }).code } : {}) };
  return out;
}
