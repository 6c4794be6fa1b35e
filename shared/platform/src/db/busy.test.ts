// The report store while ANOTHER process holds SQLite's write lock (a long write transaction):
// the event loop keeps running (better-sqlite3 is synchronous, so a busy_timeout would freeze the
// whole API), a write waits and succeeds once the lock is released, a write that meets the lock
// past the deadline fails with StoreBusyError and writes nothing, and reads are never held up.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { openStore, type StoreLogger } from './store.ts';
import { StoreBusyError } from './errors.ts';
import { isBusyError } from './busy.ts';
import type { NewAnalysis, Store } from './types.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const silent: StoreLogger = { debug() {}, info() {}, warn() {}, error() {} };

let dir: string;
let file: string;
let store: Store;

function analysis(): NewAnalysis {
  return {
    id: `an_busy_${randomBytes(4).toString('hex')}`,
    priority: 'normal',
    masterPath: 'm.wav',
    dubPath: 'd.wav',
    options: {},
    dedupeKey: randomBytes(8).toString('hex'),
    masterFingerprint: { size: 1, mtimeMs: 1, headTailSha256: 'a'.repeat(64) },
    dubFingerprint: { size: 2, mtimeMs: 2, headTailSha256: 'b'.repeat(64) },
  };
}

/** Another process: BEGIN IMMEDIATE + a real write, held for holdMs, then rolled back. Resolves once it holds the lock. */
function holdLock(holdMs: number): Promise<{ child: ChildProcess; gone: Promise<void> }> {
  const script = `
    const D = require('better-sqlite3');
    const db = new D(process.argv[1], { fileMustExist: true });
    db.exec('BEGIN IMMEDIATE');
    db.prepare('UPDATE analyses SET updated_at = updated_at').run();
    process.stdout.write('locked\\n');
    setTimeout(() => { db.exec('ROLLBACK'); db.close(); }, Number(process.argv[2]));`;
  const child = spawn(process.execPath, ['-e', script, file, String(holdMs)], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => c.toString().includes('locked') && resolve({ child, gone }));
    child.once('exit', (code) => reject(new Error(`lock holder exited (${code}) before locking`)));
  });
}

/** The longest gap between 20 ms ticks while fn runs: how long the event loop was held. */
async function longestStall<T>(fn: () => Promise<T>): Promise<{ value: T | Error; stallMs: number }> {
  let last = performance.now();
  let worst = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 20);
  try {
    const value = await fn().catch((e: Error) => e);
    return { value, stallMs: Math.max(worst, performance.now() - last) };
  } finally {
    clearInterval(tick);
  }
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'sa-busy-'));
  file = path.join(dir, 'sync-analyzer.sqlite');
  store = await openStore({ client: 'sqlite', filename: file }, silent, { busyDeadlineMs: 2_500 });
  await store.analyses.create(analysis());
});

after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a write that meets the lock waits without holding the event loop, then succeeds once released', async () => {
  const { gone } = await holdLock(1_500);
  const a = analysis();
  const t0 = performance.now();
  const { value, stallMs } = await longestStall(() => store.analyses.create(a));
  const waited = performance.now() - t0;
  assert.ok(!(value instanceof Error), `the write failed: ${String(value)}`);
  // It did meet the lock (held for 1.5 s from before the write started)...
  assert.ok(waited >= 200, `the write did not wait for the lock (${waited.toFixed(0)} ms)`);
  // ...and the loop kept turning meanwhile (a synchronous busy wait would stall it that long).
  assert.ok(stallMs < 400, `the event loop stalled for ${stallMs.toFixed(0)} ms`);
  assert.equal((await store.analyses.get(a.id))?.id, a.id);
  await gone;
});

test('past the deadline: StoreBusyError (code store_busy), nothing written; reads go on meanwhile', async () => {
  const { gone } = await holdLock(6_000);
  try {
    const a = analysis();
    const write = longestStall(() => store.analyses.create(a));
    // A read while the write is waiting: answered at once (WAL readers do not wait for writers).
    const t0 = performance.now();
    const page = await store.analyses.list({ limit: 5 });
    assert.ok(page.total >= 1);
    assert.ok(performance.now() - t0 < 1_000, `a read took ${(performance.now() - t0).toFixed(0)} ms`);
    const { value, stallMs } = await write;
    assert.ok(value instanceof StoreBusyError, `expected StoreBusyError, got ${String(value)}`);
    assert.equal(value.code, 'store_busy');
    assert.match(value.message, /locked by another process \(analyses\.create: still locked after 2\.\d s\)/);
    assert.ok(isBusyError(value.cause), 'the cause is the driver\'s SQLITE_BUSY');
    assert.ok(stallMs < 400, `the event loop stalled for ${stallMs.toFixed(0)} ms`);
    assert.equal(await store.analyses.get(a.id), null);
  } finally {
    await gone;
  }
  // Released: writes work again.
  const b = analysis();
  await store.analyses.create(b);
  assert.equal((await store.analyses.get(b.id))?.id, b.id);
});
