// The chaos ledger against a real SQLite report store (the product's own store code writes it,
// the ledger reads it read-only): lost, duplicated and changed reports, wrong offsets, runs of
// one job on two workers at once, and re-runs after a result was stored.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knex from 'knex';
import { openStore, type NewAnalysis, type Store } from '@sync-analyzer/platform';
import { Ledger, StoreReader, analyseRuns, invariantChecks, type LedgerSource } from './ledger.ts';
import type { AnalysisSnapshot, JobEvent, StackHealth } from './stack.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

let dir: string;
let file: string;
let store: Store;
let n = 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'chaos-ledger-'));
  file = join(dir, 'store.sqlite');
  store = await openStore({ client: 'sqlite', filename: file }, quiet);
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function newAnalysis(over: Partial<NewAnalysis> = {}): NewAnalysis {
  n++;
  return {
    id: `an_test${n}`,
    priority: 'normal',
    masterPath: 'm.wav',
    dubPath: `dub-${n}.wav`,
    options: {},
    dedupeKey: `key-${n}`,
    masterFingerprint: { size: 1, mtimeMs: 1, headTailSha256: 'a'.repeat(64) },
    dubFingerprint: { size: 2, mtimeMs: 2, headTailSha256: 'b'.repeat(64) },
    ...over,
  };
}

/** The fields of a result the store and the ledger read (the store does not validate it). */
const result = (offset: number) => ({ verdict: 'offset', match: true, offset_seconds: offset, confidence: 0.99, schema_version: '1', engine: { version: 't' } }) as never;

function source(events: JobEvent[] = []): LedgerSource {
  return {
    sqliteFile: file,
    databaseUrl: null,
    jobEvents: events,
    processExits: () => [],
    async getAnalysis(id): Promise<AnalysisSnapshot | null> {
      const r = await store.analyses.get(id);
      return r ? { id: r.id, status: r.status, master: r.masterPath, dub: r.dubPath, offset_seconds: r.offsetSeconds, verdict: r.verdict, attempts: r.attempts, error: r.errorCode ? { code: r.errorCode, message: r.errorMessage ?? '' } : null, result: r.result, finished_at: r.finishedAt } : null;
    },
  };
}

const healthy: StackHealth = { healthy: true, api: { status: 200, checks: [] }, workers: [], redis: true, detail: 'ok' };

describe('ledger', () => {
  test('a clean run: every job completed once, offsets right, all four invariants hold', async () => {
    const ledger = new Ledger(source());
    for (const off of [0.25, -0.5]) {
      const a = await store.analyses.create(newAnalysis());
      ledger.record(a.id, { offsetSeconds: off });
      await store.analyses.storeResult(a.id, result(off + 0.0002), new Date().toISOString());
    }
    await ledger.observe();
    const rep = await ledger.verify();
    assert.equal(rep.submitted, 2);
    assert.equal(rep.completed, 2);
    assert.equal(rep.lost + rep.duplicated + rep.changed, 0, JSON.stringify(rep));
    assert.deepEqual(rep.offsetMismatches, []);
    assert.ok(invariantChecks(rep, healthy).every((c) => c.ok));
    await ledger.close();
  });

  test('lost, wrong offset, duplicated row, changed after final and failed reasons are all counted', async () => {
    const ledger = new Ledger(source());
    const queued = await store.analyses.create(newAnalysis());
    const wrong = await store.analyses.create(newAnalysis());
    const twice = newAnalysis();
    const first = await store.analyses.create(twice);
    await store.analyses.create({ ...twice, id: `${twice.id}_again` });
    const failed = await store.analyses.create(newAnalysis());
    const changed = await store.analyses.create(newAnalysis());
    for (const a of [queued, wrong, first, failed, changed]) ledger.record(a.id, { offsetSeconds: 0.1 });
    const at = new Date().toISOString();
    await store.analyses.storeResult(wrong.id, result(0.2), at);
    await store.analyses.storeResult(first.id, result(0.1), at);
    await store.analyses.markEnded(failed.id, 'failed', 'not_media', 'not a media file', at);
    await store.analyses.storeResult(changed.id, result(0.1), at);
    await ledger.observe();
    // Something rewrites a stored report behind the store's back.
    const raw = knex({ client: 'better-sqlite3', connection: { filename: file }, useNullAsDefault: true });
    await raw('analyses').where('id', changed.id).update({ offset_seconds: 0.3 });
    await raw.destroy();

    const rep = await ledger.verify();
    assert.deepEqual(rep.lostIds, [queued.id]);
    // The rewritten one no longer matches its known offset either.
    assert.deepEqual(rep.offsetMismatches.map((m) => m.id), [wrong.id, changed.id]);
    assert.equal(rep.duplicateRows, 1);
    assert.deepEqual(rep.changedIds, [changed.id]);
    // The API (here: the store's own read) shows the rewritten offset, not the stored result's.
    assert.ok(rep.apiMismatches.includes(changed.id));
    assert.deepEqual(rep.failedReasons, { not_media: 1 });
    assert.deepEqual(rep.unexpectedStatus.map((u) => u.id), [failed.id]);
    assert.equal(rep.unknownRows > 0, true);
    const checks = invariantChecks(rep, { ...healthy, healthy: false, detail: 'worker-1 /readyz 503' });
    assert.deepEqual(checks.filter((c) => !c.ok).map((c) => c.name), ['no job lost', 'no report duplicated', 'no stored report changed', 'healthy at end']);
    await ledger.close();
  });

  test('the reader is read only', async () => {
    const reader = StoreReader.open({ sqliteFile: file, databaseUrl: null });
    const rows = await reader.rows();
    assert.ok(rows.length > 0);
    const k = (reader as unknown as { k: knex.Knex }).k;
    await assert.rejects(k('analyses').delete(), /readonly/i);
    assert.equal((await reader.rows()).length, rows.length);
    await reader.close();
  });
});

describe('runs from worker job events', () => {
  const ev = (at: number, worker: string, pid: number, jobId: string, event: JobEvent['event']): JobEvent => ({ at, worker, pid, jobId, event, attempt: 1 });
  const row = (finishedAt: number) => ({ id: 'j', status: 'completed', finished_at: new Date(finishedAt).toISOString() }) as never;

  test('a crash re-run (the first run never finished) is a re-run, not a duplicate', () => {
    // worker-1 (pid 10) starts j and is killed at 1500 (its exit); worker-2 runs it again.
    const r = analyseRuns([ev(1000, 'worker-1', 10, 'j', 'started'), ev(6000, 'worker-2', 20, 'j', 'started'), ev(8000, 'worker-2', 20, 'j', 'completed')], [{ pid: 10, at: 1500, code: null, signal: 'SIGKILL' }], new Map([['j', row(8000)]]), []);
    assert.equal(r.reruns, 1);
    assert.deepEqual(r.concurrent, []);
    assert.deepEqual(r.rerunAfterStored, []);
  });

  test('two workers running one job at the same time is a duplicate', () => {
    const r = analyseRuns([ev(1000, 'worker-1', 10, 'j', 'started'), ev(2000, 'worker-2', 20, 'j', 'started'), ev(3000, 'worker-1', 10, 'j', 'completed'), ev(4000, 'worker-2', 20, 'j', 'completed')], [], new Map([['j', row(3000)]]), []);
    assert.equal(r.concurrent.length, 1);
    assert.match(r.concurrent[0]!.workers.join(' '), /worker-1 \(pid 10\).*worker-2 \(pid 20\)/);
  });

  test('a job started again after its result was stored is a duplicate, unless Redis lost that write on purpose', () => {
    const events = [ev(1000, 'worker-1', 10, 'j', 'started'), ev(2000, 'worker-1', 10, 'j', 'completed'), ev(9000, 'worker-2', 20, 'j', 'started'), ev(10_000, 'worker-2', 20, 'j', 'completed')];
    const rows = new Map([['j', row(2000)]]);
    assert.deepEqual(analyseRuns(events, [], rows, []).rerunAfterStored, ['j']);
    assert.deepEqual(analyseRuns(events, [], rows, [[1500, 2500]]).rerunAfterStored, []);
  });
});
