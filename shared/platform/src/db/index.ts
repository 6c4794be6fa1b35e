// The report store: records of analyses, batches and repairs on SQLite or PostgreSQL.
export { openStore, describeDatabase } from './store.ts';
export type { OpenStoreOptions, StoreDatabase, StoreLogger } from './store.ts';
export { StoreBusyError, StoreConnectionError, StoreConstraintError, StoreInputError } from './errors.ts';
export type { ConstraintKind } from './errors.ts';
export { MIGRATIONS } from './migrations.ts';
export * from './types.ts';
