// Opens the report store: knex on SQLite (better-sqlite3, one file under DATA_DIR) or
// PostgreSQL, migrated at open, with the three repositories on top.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import knex, { type Knex } from 'knex';
import type { Store } from './types.ts';
import { analysisRepository } from './analyses.ts';
import { batchRepository } from './batches.ts';
import { repairRepository } from './repairs.ts';
import type { Clock } from './common.ts';
import { StoreConnectionError } from './errors.ts';
import { DEFAULT_BUSY_RETRY, retryWhenBusy } from './busy.ts';
import { MIGRATIONS, migrationSource } from './migrations.ts';

export type StoreDatabase = { client: 'sqlite'; filename: string } | { client: 'pg'; url: string };

export interface StoreLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface OpenStoreOptions {
  /** Apply pending migrations at open (default true). */
  migrate?: boolean;
  /** Clock for the timestamps the store sets itself (createdAt, progress updates); tests pin it. */
  now?: Clock;
  /** SQLite: how long a call retries while another process holds the write lock (ms, default 5000). */
  busyDeadlineMs?: number;
}

/** Minimal view of a better-sqlite3 connection, as knex's pool hands it to afterCreate. */
interface SqliteConnection {
  pragma(source: string): unknown;
}

function isFileBacked(filename: string): boolean {
  return filename !== '' && filename !== ':memory:' && !filename.startsWith('file:');
}

/**
 * SQLite's busy_timeout (ms). Opening and migrating may wait for another process's lock (5 s, on
 * the JS thread: nothing is served yet); once open it is 0, so a locked database never stalls the
 * event loop, and the repositories retry asynchronously instead (busy.ts).
 */
const OPEN_BUSY_TIMEOUT_MS = 5000;

function knexConfig(db: StoreDatabase, sqliteBusyTimeout: () => number): Knex.Config {
  if (db.client === 'sqlite') {
    return {
      client: 'better-sqlite3',
      connection: { filename: db.filename },
      useNullAsDefault: true,
      // better-sqlite3 is synchronous: one connection per process serialises the writes that the
      // single writer (the API) makes anyway; WAL lets other processes read meanwhile.
      pool: {
        min: 1,
        max: 1,
        afterCreate(conn: SqliteConnection, done: (err: Error | null, conn: SqliteConnection) => void) {
          try {
            conn.pragma('journal_mode = WAL');
            conn.pragma(`busy_timeout = ${sqliteBusyTimeout()}`);
            conn.pragma('foreign_keys = ON');
            conn.pragma('synchronous = NORMAL');
            done(null, conn);
          } catch (err) {
            done(err as Error, conn);
          }
        },
      },
    };
  }
  return {
    client: 'pg',
    connection: { connectionString: db.url, application_name: 'sync-analyzer' },
    pool: { min: 0, max: 10, idleTimeoutMillis: 30_000 },
    acquireConnectionTimeout: 10_000,
  };
}

/** Where the store is, for logs and errors, without credentials. */
export function describeDatabase(db: StoreDatabase): string {
  if (db.client === 'sqlite') return `sqlite:${db.filename}`;
  try {
    const u = new URL(db.url);
    return `postgres://${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return 'postgres://(unparseable url)';
  }
}

export async function openStore(db: StoreDatabase, logger: StoreLogger, opts: OpenStoreOptions = {}): Promise<Store> {
  const where = describeDatabase(db);
  if (db.client === 'sqlite' && isFileBacked(db.filename)) mkdirSync(dirname(db.filename), { recursive: true });
  let busyTimeoutMs = OPEN_BUSY_TIMEOUT_MS;
  const k = knex(knexConfig(db, () => busyTimeoutMs));
  try {
    await k.raw('select 1');
  } catch (err) {
    await k.destroy().catch(() => undefined);
    throw new StoreConnectionError(`cannot open the report store at ${where}: ${(err as Error).message}`, { cause: err });
  }

  if (opts.migrate !== false) {
    try {
      const [, applied] = (await k.migrate.latest({ migrationSource })) as [number, string[]];
      if (applied.length > 0) logger.info({ db: where, migrations: applied }, 'report store migrated');
    } catch (err) {
      await k.destroy().catch(() => undefined);
      throw err;
    }
  }

  if (db.client === 'sqlite') {
    busyTimeoutMs = 0;
    await k.raw('PRAGMA busy_timeout = 0');
  }

  const clock: Clock = opts.now ?? (() => new Date());
  const busy = { deadlineMs: opts.busyDeadlineMs ?? DEFAULT_BUSY_RETRY.deadlineMs };
  let closed = false;
  logger.info({ db: where }, 'report store opened');

  return {
    analyses: retryWhenBusy(analysisRepository(k, clock), 'analyses', busy),
    batches: retryWhenBusy(batchRepository(k, clock), 'batches', busy),
    repairs: retryWhenBusy(repairRepository(k, clock), 'repairs', busy),
    async migrationStatus() {
      const [completed] = (await k.migrate.list({ migrationSource })) as [({ name: string } | string)[], unknown[]];
      const applied = completed.map((m) => (typeof m === 'string' ? m : m.name));
      const known = MIGRATIONS.map((m) => m.name);
      return { applied, pending: known.filter((n) => !applied.includes(n)) };
    },
    async ping() {
      await k.raw('select 1');
    },
    async close() {
      if (closed) return;
      closed = true;
      await k.destroy();
      logger.debug({ db: where }, 'report store closed');
    },
  };
}
