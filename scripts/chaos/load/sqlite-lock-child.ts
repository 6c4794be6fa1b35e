// Entry of the "other process" that holds the SQLite store's write lock: BEGIN IMMEDIATE plus a
// real (value-preserving) UPDATE, held for argv[3] ms or until SIGTERM, then rolled back, so
// nothing it did is ever stored. Prints "locked" once it holds the lock and "released" at the end.
import { createRequire } from 'node:module';

interface Statement {
  run(...params: unknown[]): { changes: number };
}
interface Database {
  exec(sql: string): void;
  prepare(sql: string): Statement;
  close(): void;
}
type DatabaseCtor = new (file: string, opts: { fileMustExist: boolean; timeout: number }) => Database;

const Database = createRequire(import.meta.url)('better-sqlite3') as DatabaseCtor;

const [file, holdArg] = process.argv.slice(2);
const holdMs = Number(holdArg);
if (!file || !Number.isFinite(holdMs) || holdMs <= 0) {
  process.stderr.write('usage: sqlite-lock-child.ts FILE HOLD_MS\n');
  process.exit(64);
}

// Waits for the API's own short writes to end before taking the lock.
const db = new Database(file, { fileMustExist: true, timeout: 30_000 });
db.exec('BEGIN IMMEDIATE');
const touched = db.prepare('UPDATE analyses SET updated_at = updated_at WHERE rowid = (SELECT min(rowid) FROM analyses)').run().changes;
process.stdout.write(`locked ${touched}\n`);

let done = false;
const release = (): void => {
  if (done) return;
  done = true;
  db.exec('ROLLBACK');
  db.close();
  process.stdout.write('released\n');
  process.exit(0);
};
setTimeout(release, holdMs);
process.on('SIGTERM', release);
