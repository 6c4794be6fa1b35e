// Holds the SQLite store's write lock from another process (sqlite-lock-child.ts) for longer than
// the API's busy timeout: the "database locked or busy" fault.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./sqlite-lock-child.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

export class SqliteLockError extends Error {
  override readonly name = 'SqliteLockError';
}

export interface HeldLock {
  pid: number;
  /** performance.now() when the lock was taken. */
  lockedAt: number;
  /** Resolves with performance.now() once the lock is released (held time over, or release()). */
  released: Promise<number>;
  /** Releases early (the transaction is rolled back). */
  release(): Promise<number>;
}

/** Resolves once the other process holds the write lock. */
export function holdSqliteWriteLock(file: string, holdMs: number): Promise<HeldLock> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ['--import', TSX, CHILD, file, String(Math.round(holdMs))], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let out = '';
    let locked = false;
    let onReleased: (t: number) => void = () => undefined;
    const released = new Promise<number>((r) => (onReleased = r));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-2000)));
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (!locked && /^locked \d+$/m.test(out)) {
        locked = true;
        resolve({
          pid: child.pid!,
          lockedAt: performance.now(),
          released,
          release() {
            if (child.exitCode === null) child.kill('SIGTERM');
            return released;
          },
        });
      }
    });
    child.on('error', (e) => reject(new SqliteLockError(`cannot start the lock holder: ${e.message}`, { cause: e })));
    child.on('exit', (code) => {
      onReleased(performance.now());
      if (!locked) reject(new SqliteLockError(`the lock holder ended (exit ${code}) before taking the lock: ${err.trim()}`));
    });
  });
}
