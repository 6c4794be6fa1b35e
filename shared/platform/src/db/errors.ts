// Named errors of the report store, so callers can tell a bad argument or a constraint
// violation (a duplicate id, a reference to a missing row) from an outage.

/** An argument the store refuses before touching the database (bad timestamp, status, priority). */
export class StoreInputError extends Error {
  override readonly name = 'StoreInputError';
}

export type ConstraintKind = 'unique' | 'foreign_key' | 'not_null' | 'check' | 'other';

/** The database refused a write: duplicate id, missing referenced row, missing required value. */
export class StoreConstraintError extends Error {
  override readonly name = 'StoreConstraintError';
  constructor(
    readonly constraint: ConstraintKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Another process held the SQLite write lock for longer than the store waits (see busy.ts). */
export class StoreBusyError extends Error {
  override readonly name = 'StoreBusyError';
  readonly code = 'store_busy';
}

/** The database could not be reached or opened at start. */
export class StoreConnectionError extends Error {
  override readonly name = 'StoreConnectionError';
}

const PG_CODES: Record<string, ConstraintKind> = { '23505': 'unique', '23503': 'foreign_key', '23502': 'not_null', '23514': 'check' };

/** Maps a driver's constraint error (better-sqlite3 or pg) to StoreConstraintError; other errors pass through. */
export function mapDbError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return err;
  let kind: ConstraintKind | undefined;
  if (code.startsWith('SQLITE_CONSTRAINT')) {
    if (code.endsWith('_PRIMARYKEY') || code.endsWith('_UNIQUE')) kind = 'unique';
    else if (code.endsWith('_FOREIGNKEY')) kind = 'foreign_key';
    else if (code.endsWith('_NOTNULL')) kind = 'not_null';
    else if (code.endsWith('_CHECK')) kind = 'check';
    else kind = 'other';
  } else if (code in PG_CODES) {
    kind = PG_CODES[code];
  } else if (code.startsWith('23')) {
    kind = 'other';
  }
  return kind ? new StoreConstraintError(kind, `${kind} constraint violated: ${err.message}`, { cause: err }) : err;
}

/** Runs a write and rethrows constraint violations as StoreConstraintError. */
export async function guardWrite<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw mapDbError(err);
  }
}
