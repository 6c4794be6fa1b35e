// Where the ops tools (healthcheck, start_all.sh, backup/restore) get the service's settings:
// the process environment over a dotenv file, exactly as the api and worker see them (they load
// `.env` from their working directory without overriding what is already set).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import dotenv from 'dotenv';

/** The repository (or image) root: services/ops/src/../../.. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export class EnvFileError extends Error {
  override readonly name = 'EnvFileError';
}

export interface LoadedEnv {
  /** process.env over the file's values (the environment wins, as dotenv does for the app). */
  env: Record<string, string | undefined>;
  /** The dotenv file read, or null when none was found. */
  envFile: string | null;
  /** Directory that relative paths (DATA_DIR=./data) are resolved against. */
  baseDir: string;
}

/**
 * Reads `envFile` when given (it must exist), else `.env` in `cwd`, else `.env` at the repository
 * root. Relative paths in the settings are resolved against the directory of the file that was
 * read (the app's working directory), or against `cwd` when none was.
 */
export function loadEnv(opts: { envFile?: string | null; cwd?: string; env?: Record<string, string | undefined> } = {}): LoadedEnv {
  const cwd = opts.cwd ?? process.cwd();
  const base = opts.env ?? process.env;
  let file: string | null = null;
  if (opts.envFile) {
    file = path.resolve(cwd, opts.envFile);
    if (!existsSync(file)) throw new EnvFileError(`env file ${file} does not exist`);
  } else {
    for (const candidate of [path.join(cwd, '.env'), path.join(REPO_ROOT, '.env')]) {
      if (existsSync(candidate)) {
        file = candidate;
        break;
      }
    }
  }
  let parsed: Record<string, string> = {};
  if (file) {
    try {
      parsed = dotenv.parse(readFileSync(file));
    } catch (e) {
      throw new EnvFileError(`cannot read env file ${file}: ${(e as Error).message}`);
    }
  }
  // Like dotenv in the app: a variable present in the environment (even empty) wins over the file.
  const fromEnv = Object.fromEntries(Object.entries(base).filter(([, v]) => v !== undefined));
  return { env: { ...parsed, ...fromEnv }, envFile: file, baseDir: file ? path.dirname(file) : cwd };
}

/** Absolute form of a configured path (relative ones are relative to the app's directory). */
export function resolveFrom(baseDir: string, p: string): string {
  return path.resolve(baseDir, p);
}

/** `redis://user:secret@host:6379/0` -> `redis://user:***@host:6379/0` (for output and logs). */
export function redactUrl(u: string): string {
  try {
    const url = new URL(u);
    if (url.password) url.password = '***';
    return url.toString().replace(/\/$/, '');
  } catch {
    return '(unparseable url)';
  }
}
