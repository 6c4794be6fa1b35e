// Helpers shared by the repositories: timestamps, pagination bounds, row counts.
import type { Knex } from 'knex';
import { StoreInputError } from './errors.ts';

/** A knex instance or a transaction: repositories run the same queries on either. */
export type Db = Knex | Knex.Transaction;

/** The clock for timestamps the caller does not supply (creation, progress). */
export type Clock = () => Date;

/**
 * Normalises a caller's timestamp to Date#toISOString form. Every stored timestamp has this one
 * fixed-width form, so text order is time order (a mix of "…:00Z" and "…:00.500Z" would not be).
 */
export function toIso(at: string | Date, what = 'timestamp'): string {
  const d = at instanceof Date ? at : new Date(at);
  const ms = d.getTime();
  if (!Number.isFinite(ms)) throw new StoreInputError(`${what} is not a valid date: ${String(at)}`);
  return d.toISOString();
}

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

export function pageBounds(limit: number | undefined, offset: number | undefined): { limit: number; offset: number } {
  const l = limit === undefined || !Number.isFinite(limit) ? DEFAULT_LIMIT : Math.min(MAX_LIMIT, Math.max(1, Math.floor(limit)));
  const o = offset === undefined || !Number.isFinite(offset) ? 0 : Math.max(0, Math.floor(offset));
  return { limit: l, offset: o };
}

/** count(*) comes back as a string from PostgreSQL (bigint) and a number from SQLite. */
export function countOf(row: Record<string, unknown> | undefined): number {
  if (!row) return 0;
  const v = Object.values(row)[0];
  return Number(v ?? 0);
}

export function clampPercent(percent: number): number {
  if (!Number.isFinite(percent)) throw new StoreInputError(`progress percent is not a finite number: ${String(percent)}`);
  return Math.min(100, Math.max(0, percent));
}

/** SQLite returns booleans as 0/1. */
export function toBool(v: unknown): boolean | null {
  if (v === null || v === undefined) return null;
  return v === true || v === 1 || v === '1' || v === 't' || v === 'true';
}

/** Escapes LIKE wildcards so a user's '%' or '_' matches itself (used with ESCAPE '\'). */
export function likeContains(needle: string): string {
  return `%${needle.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Inserts in slices: SQLite and PostgreSQL both cap the bound parameters of one statement. */
export async function insertChunked(db: Db, table: string, rows: object[], size = 100): Promise<void> {
  for (let i = 0; i < rows.length; i += size) await db(table).insert(rows.slice(i, i + size));
}
