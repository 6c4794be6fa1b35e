// One suite, run on SQLite (a temp file) and on PostgreSQL (a database created for the run and
// dropped after). PostgreSQL must be reachable at TEST_PG_URL (default
// postgres://postgres@127.0.0.1:5432/postgres) unless SKIP_PG_TESTS=1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import knex, { type Knex } from 'knex';
import { AnalysisResult, FRAME_RATE_KEYS, SCHEMA_VERSION } from '@sync-analyzer/engine';
import { openStore, type StoreDatabase, type StoreLogger } from './store.ts';
import { StoreConstraintError, StoreInputError } from './errors.ts';
import { MIGRATIONS, migrationSource } from './migrations.ts';
import { stringifyExact } from './json.ts';
import type { AnalysisRecord, NewAnalysis, RepairOutcome, Store } from './types.ts';

const PG_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

// ---------------------------------------------------------------- fixtures

// Parsed from text: the literal has more digits than a double keeps, which is the point.
const AWKWARD_OFFSET = Number('-1.2345678901234567e-5');
const AWKWARD_CONFIDENCE = 0.1 + 0.2;

function media(path: string): unknown {
  return {
    path,
    format: 'wav',
    duration: 12.345678901234567,
    audio_streams: [{ index: 0, codec: 'pcm_s16le', sample_rate: 48000, channels: 2, channel_layout: 'stereo', language: null, title: 'Main', duration: 12.5 }],
    selected: 'stream 0 (stereo mix)',
    video_frame_rate: 24000 / 1001,
    video_frame_rate_label: '23.976',
    start_timecode: '01:00:00:00',
    head: { findings: [{ kind: 'bars_tone', start: 0, end: 2, frequency_hz: 1000 }], programme_start: 2.0000000000000004, tail_start: null },
  };
}

/** A valid result by construction (parsed through the engine's schema), full of awkward doubles. */
function makeResult(over: { offset?: number | null; confidence?: number; verdict?: string; match?: boolean; version?: string } = {}): AnalysisResult {
  return AnalysisResult.parse({
    schema_version: SCHEMA_VERSION,
    match: over.match ?? true,
    verdict: over.verdict ?? 'offset',
    reasons: ['offset above one frame', 'unicode: é ü 字'],
    summary: 'dub is 0.000 s (0.0 frames @ 24) early',
    offset_seconds: over.offset === undefined ? AWKWARD_OFFSET : over.offset,
    confidence: over.confidence ?? AWKWARD_CONFIDENCE,
    drift: { speed_ratio: 1001 / 1000, ppm: (1001 / 1000 - 1) * 1e6, standard: '1001/1000', direction: 'late' },
    segments: [{ master_start: 0, master_end: 10.1, dub_start: 0.1, dub_end: 10.2, offset_seconds: 1 / 3, offset_end_seconds: 2 / 3, confidence: 0.9999999999999999 }],
    gaps: [{ kind: 'removed', master_start: 3.3, master_end: 4.4, dub_start: 3.3, dub_end: 3.3, duration_seconds: 1.1000000000000005 }],
    offset_track: [
      { master_time: 0, offset_seconds: -0, confidence: 5e-324 },
      { master_time: 1e-300, offset_seconds: 1.7976931348623157e308, confidence: 1 },
    ],
    frames: Object.fromEntries(FRAME_RATE_KEYS.map((key, i) => [key, { frames: i === 0 ? -0 : -0.000296296296296296 * (i + 1) / 7, timecode: key.endsWith('df') ? '-00:00:00;00' : '-00:00:00:00' }])),
    reference_frame_rate: '24',
    polarity_inverted: false,
    master: media('shows/master.wav'),
    dub: media('shows/dub.wav'),
    timing: { decode: 0.1, total: 0.30000000000000004 },
    resources: { peak_rss_mb: 123.456 },
    diagnostics: { peak: 2 ** 53 + 2, ratio: -0 },
    engine: { name: 'sync-engine', version: over.version ?? '2.3.4', parameters: { nested: { list: [1, -0, 1e21, 'x', null, true] } } },
  });
}

let seq = 0;
function uid(prefix: string): string {
  seq += 1;
  return `${prefix}-${seq}-${randomBytes(3).toString('hex')}`;
}

function newAnalysis(over: Partial<NewAnalysis> = {}): NewAnalysis {
  return {
    id: uid('an'),
    priority: 'normal',
    masterPath: 'shows/a/master.mov',
    dubPath: 'shows/a/dub.wav',
    options: {},
    dedupeKey: uid('key'),
    masterFingerprint: { size: 1234, mtimeMs: Number('1700000000123.4567'), headTailSha256: 'a'.repeat(64) },
    dubFingerprint: { size: 5678, mtimeMs: 1700000000999, headTailSha256: 'b'.repeat(64) },
    ...over,
  };
}

const OUTCOME: RepairOutcome = {
  outputPath: 'repairs/r1/dub.fixed.mov',
  ffmpegArgs: ['-hide_banner', '-i', 'in put.mov', '-af', 'adelay=12.345|12.345', '-c:v', 'copy', 'out.mov'],
  inputProbe: { streams: [{ codec: 'pcm_s24le', rate: 48000 }], duration: 10.000000000000002 },
  outputProbe: { streams: [{ codec: 'pcm_s24le', rate: 48000 }], duration: -0 },
  checks: [
    { name: 'codec', ok: true, detail: 'pcm_s24le = pcm_s24le' },
    { name: 'timecode', ok: false, detail: '01:00:00:00 ≠ 00:59:59:23' },
  ],
};

/** Collects log lines so the suite can check what the store reports. */
function recordingLogger(): StoreLogger & { lines: { level: string; msg: string | undefined; obj: object }[] } {
  const lines: { level: string; msg: string | undefined; obj: object }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, msg, obj });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A plain knex on the same database, to look at raw columns and run migrations down. */
function rawKnex(db: StoreDatabase): Knex {
  return db.client === 'sqlite'
    ? knex({ client: 'better-sqlite3', connection: { filename: db.filename }, useNullAsDefault: true })
    : knex({ client: 'pg', connection: db.url, pool: { min: 0, max: 2 } });
}

// ---------------------------------------------------------------- harnesses

interface Harness {
  db: StoreDatabase;
  /** A new, empty database of the same kind. */
  fresh(): Promise<StoreDatabase>;
  cleanup(): Promise<void>;
}

async function sqliteHarness(): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'sa-store-'));
  let n = 0;
  const file = (): StoreDatabase => ({ client: 'sqlite', filename: join(dir, `nested-${++n}`, 'deeper', 'store.sqlite') });
  return {
    db: file(),
    fresh: () => Promise.resolve(file()),
    cleanup: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
  };
}

async function pgHarness(): Promise<Harness> {
  const admin = knex({ client: 'pg', connection: { connectionString: PG_URL, connectionTimeoutMillis: 5000 }, pool: { min: 0, max: 1 }, acquireConnectionTimeout: 8000 });
  try {
    await admin.raw('select 1');
  } catch (err) {
    await admin.destroy().catch(() => undefined);
    throw new Error(`PostgreSQL is not reachable at ${PG_URL}: ${(err as Error).message}. Start it (or point TEST_PG_URL at one), or set SKIP_PG_TESTS=1 to skip the PostgreSQL suite.`, { cause: err });
  }
  const created: string[] = [];
  const fresh = async (): Promise<StoreDatabase> => {
    const name = `sa_test_${process.pid}_${randomBytes(4).toString('hex')}`;
    await admin.raw(`CREATE DATABASE "${name}"`);
    created.push(name);
    const u = new URL(PG_URL);
    u.pathname = `/${name}`;
    return { client: 'pg', url: u.toString() };
  };
  const db = await fresh();
  return {
    db,
    fresh,
    async cleanup() {
      for (const name of created) await admin.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.destroy();
    },
  };
}

// ---------------------------------------------------------------- the suite

function storeSuite(label: string, makeHarness: () => Promise<Harness>, skip: string | false): void {
  describe(label, { skip }, () => {
    let h: Harness;
    let store: Store;
    const logger = recordingLogger();
    /** The clock the store uses for creation and progress timestamps; null: real time. */
    let pinned: Date | null = null;
    const now = () => pinned ?? new Date();

    before(async () => {
      h = await makeHarness();
      store = await openStore(h.db, logger, { now });
    });
    after(async () => {
      await store?.close();
      await h?.cleanup();
    });

    test('migrations are applied at open and reported; migrate:false leaves them pending; down and up work', async () => {
      assert.deepEqual(await store.migrationStatus(), { applied: MIGRATIONS.map((m) => m.name), pending: [] });
      assert.ok(logger.lines.some((l) => l.msg === 'report store migrated'), 'first open logs the migrations it applied');
      await store.ping();

      const fresh = await h.fresh();
      const unmigrated = await openStore(fresh, recordingLogger(), { migrate: false });
      try {
        assert.deepEqual(await unmigrated.migrationStatus(), { applied: [], pending: ['0001_initial'] });
      } finally {
        await unmigrated.close();
      }
      const migrated = await openStore(fresh, recordingLogger());
      assert.deepEqual(await migrated.migrationStatus(), { applied: ['0001_initial'], pending: [] });
      await migrated.close();
      const againLog = recordingLogger();
      const again = await openStore(fresh, againLog);
      assert.ok(!againLog.lines.some((l) => l.msg === 'report store migrated'), 'nothing to apply the second time');
      await again.close();

      // The down migration removes every table; up restores them.
      const raw = rawKnex(fresh);
      try {
        await raw.migrate.rollback({ migrationSource }, true);
        for (const t of ['analyses', 'batches', 'repairs']) assert.equal(await raw.schema.hasTable(t), false, `${t} dropped`);
        await raw.migrate.latest({ migrationSource });
        for (const t of ['analyses', 'batches', 'repairs']) assert.equal(await raw.schema.hasTable(t), true, `${t} restored`);
      } finally {
        await raw.destroy();
      }
      if (h.db.client === 'sqlite') {
        assert.ok(existsSync(h.db.filename), 'parent directories created');
        const r = rawKnex(h.db);
        try {
          const rows = (await r.raw('pragma journal_mode')) as { journal_mode: string }[];
          assert.equal(rows[0]?.journal_mode, 'wal');
        } finally {
          await r.destroy();
        }
      }
    });

    test('create/get round-trips every field', async () => {
      pinned = new Date('2020-02-03T04:05:06.789Z');
      try {
        const input = newAnalysis({
          priority: 'urgent',
          masterPath: 'Shows/Épisode 1/master.mov',
          dubPath: 'Shows/Épisode 1/dub de.wav',
          options: { masterSelection: { kind: 'channel', audioIndex: 1, channel: 0 }, dubSelection: { kind: 'mix' }, frameRate: '29.97df', inSyncFrames: 0.5, driftMinFrames: 2 },
          episode: 'S01E01',
          notes: 'line one\nline "two" — ü',
        });
        const expected: AnalysisRecord = {
          id: input.id,
          status: 'queued',
          priority: 'urgent',
          masterPath: input.masterPath,
          dubPath: input.dubPath,
          options: input.options,
          dedupeKey: input.dedupeKey,
          masterFingerprint: input.masterFingerprint,
          dubFingerprint: input.dubFingerprint,
          batchId: null,
          batchIndex: null,
          episode: 'S01E01',
          notes: input.notes!,
          repairId: null,
          progressPercent: 0,
          progressStage: null,
          attempts: 0,
          result: null,
          verdict: null,
          match: null,
          offsetSeconds: null,
          confidence: null,
          engineVersion: null,
          schemaVersion: null,
          errorCode: null,
          errorMessage: null,
          createdAt: '2020-02-03T04:05:06.789Z',
          startedAt: null,
          finishedAt: null,
          updatedAt: '2020-02-03T04:05:06.789Z',
        };
        assert.deepEqual(await store.analyses.create(input), expected);
        assert.deepEqual(await store.analyses.get(input.id), expected);
        assert.equal(await store.analyses.get('no-such-id'), null);
        await assert.rejects(store.analyses.create(input), (e: unknown) => e instanceof StoreConstraintError && e.constraint === 'unique');
        await assert.rejects(store.analyses.create(newAnalysis({ priority: 'whenever' as never })), StoreInputError);
        await assert.rejects(store.analyses.create(newAnalysis({ repairId: 'no-such-repair' })), (e: unknown) => e instanceof StoreConstraintError && e.constraint === 'foreign_key');
      } finally {
        pinned = null;
      }
    });

    test('the result is stored exactly and the denormalised fields come from it', async () => {
      const a = await store.analyses.create(newAnalysis());
      const result = makeResult();
      await store.analyses.markRunning(a.id, 1, '2024-05-01T10:00:00Z');
      assert.equal(await store.analyses.storeResult(a.id, result, '2024-05-01T10:01:00Z'), true);
      const got = await store.analyses.get(a.id);
      assert.ok(got);
      assert.deepStrictEqual(got.result, result);
      assert.ok(Object.is(got.result?.offset_track[0]?.offset_seconds, -0), '-0 survives the round trip');
      assert.equal(got.status, 'completed');
      assert.equal(got.verdict, 'offset');
      assert.equal(got.match, true);
      assert.equal(got.offsetSeconds, AWKWARD_OFFSET);
      assert.equal(got.confidence, AWKWARD_CONFIDENCE);
      assert.equal(got.engineVersion, '2.3.4');
      assert.equal(got.schemaVersion, SCHEMA_VERSION);
      assert.equal(got.progressPercent, 100);
      assert.equal(got.startedAt, '2024-05-01T10:00:00.000Z', 'timestamps are normalised to toISOString form');
      assert.equal(got.finishedAt, '2024-05-01T10:01:00.000Z');
      assert.equal(got.updatedAt, '2024-05-01T10:01:00.000Z');

      // The filter columns hold the same 64-bit doubles (not 32-bit floats or rounded numerics).
      const raw = rawKnex(h.db);
      try {
        const row = (await raw('analyses').where('id', a.id).first()) as Record<string, unknown>;
        assert.equal(row.offset_seconds, AWKWARD_OFFSET);
        assert.equal(row.confidence, AWKWARD_CONFIDENCE);
        assert.equal(row.verdict, 'offset');
        assert.ok(row.match === true || row.match === 1);
        assert.equal(row.result, stringifyExact(result));
      } finally {
        await raw.destroy();
      }

      // A no-match result: offset null, match false.
      const b = await store.analyses.create(newAnalysis());
      assert.equal(await store.analyses.storeResult(b.id, makeResult({ offset: null, match: false, verdict: 'no_match', confidence: 0 }), '2024-05-01T10:02:00.000Z'), true);
      const gb = await store.analyses.get(b.id);
      assert.equal(gb?.offsetSeconds, null);
      assert.equal(gb?.match, false);
      assert.equal(gb?.verdict, 'no_match');
      assert.equal(gb?.confidence, 0);
    });

    test('storeResult is idempotent and markEnded after completion is a no-op', async () => {
      const a = await store.analyses.create(newAnalysis());
      const first = makeResult({ offset: 1.5, version: 'first' });
      assert.equal(await store.analyses.storeResult(a.id, first, '2024-01-01T00:00:00.000Z'), true);
      assert.equal(await store.analyses.storeResult(a.id, makeResult({ offset: 9, version: 'second' }), '2024-01-01T00:00:01.000Z'), false);
      assert.equal(await store.analyses.markEnded(a.id, 'failed', 'E', 'late failure', '2024-01-01T00:00:02.000Z'), false);
      await store.analyses.markRunning(a.id, 2, '2024-01-01T00:00:03.000Z');
      await store.analyses.updateProgress(a.id, 100, 'late');
      const got = await store.analyses.get(a.id);
      assert.deepStrictEqual(got?.result, first);
      assert.equal(got?.engineVersion, 'first');
      assert.equal(got?.offsetSeconds, 1.5);
      assert.equal(got?.status, 'completed');
      assert.equal(got?.errorCode, null);
      assert.equal(got?.attempts, 0, 'markRunning on a final record changes nothing');
      assert.equal(got?.progressStage, null);
      assert.equal(got?.finishedAt, '2024-01-01T00:00:00.000Z');
      assert.equal(await store.analyses.storeResult('no-such-id', first, '2024-01-01T00:00:00.000Z'), false);
    });

    test('progress never decreases within an attempt; a new attempt restarts at 0', async () => {
      const a = await store.analyses.create(newAnalysis());
      await store.analyses.updateProgress(a.id, 5, 'waiting');
      await store.analyses.markRunning(a.id, 1, '2024-01-01T00:00:00.000Z');
      let got = await store.analyses.get(a.id);
      assert.equal(got?.status, 'running');
      assert.equal(got?.progressPercent, 0, 'markRunning starts the attempt at 0');
      assert.equal(got?.attempts, 1);
      await store.analyses.updateProgress(a.id, 10, 'decode');
      await store.analyses.updateProgress(a.id, 40.5, 'coarse');
      await store.analyses.updateProgress(a.id, 20, 'stale');
      got = await store.analyses.get(a.id);
      assert.equal(got?.progressPercent, 40.5);
      assert.equal(got?.progressStage, 'coarse');
      // A repeated notice for the same attempt keeps progress and start time.
      await store.analyses.markRunning(a.id, 1, '2024-01-01T00:05:00.000Z');
      got = await store.analyses.get(a.id);
      assert.equal(got?.progressPercent, 40.5);
      assert.equal(got?.startedAt, '2024-01-01T00:00:00.000Z');
      await store.analyses.markRunning(a.id, 2, '2024-01-01T00:10:00.000Z');
      got = await store.analyses.get(a.id);
      assert.equal(got?.progressPercent, 0);
      assert.equal(got?.progressStage, null);
      assert.equal(got?.attempts, 2);
      assert.equal(got?.startedAt, '2024-01-01T00:10:00.000Z');
      await store.analyses.updateProgress(a.id, 150, 'over');
      assert.equal((await store.analyses.get(a.id))?.progressPercent, 100, 'clamped to 100');
      await assert.rejects(store.analyses.updateProgress(a.id, Number.NaN, 'x'), StoreInputError);
      await assert.rejects(store.analyses.markRunning(a.id, 0, '2024-01-01T00:00:00.000Z'), StoreInputError);
      assert.equal(await store.analyses.markEnded(a.id, 'timed_out', 'TIMEOUT', 'too slow', '2024-01-01T01:00:00.000Z'), true);
      await store.analyses.updateProgress(a.id, 100, 'after end');
      got = await store.analyses.get(a.id);
      assert.equal(got?.progressPercent, 100);
      assert.equal(got?.progressStage, 'over', 'no progress after the record is final');
    });

    test('markEnded and resetForRetry', async () => {
      for (const status of ['failed', 'cancelled', 'timed_out'] as const) {
        const a = await store.analyses.create(newAnalysis());
        assert.equal(await store.analyses.resetForRetry(a.id, '2024-01-01T00:00:00.000Z'), false, 'not from queued');
        await store.analyses.markRunning(a.id, 1, '2024-01-01T00:00:00.000Z');
        await store.analyses.updateProgress(a.id, 50, 'fine');
        assert.equal(await store.analyses.resetForRetry(a.id, '2024-01-01T00:00:00.000Z'), false, 'not from running');
        assert.equal(await store.analyses.markEnded(a.id, status, 'CODE', `ended ${status}`, '2024-01-01T00:01:00.000Z'), true);
        assert.equal(await store.analyses.markEnded(a.id, 'failed', 'OTHER', 'second', '2024-01-01T00:02:00.000Z'), false);
        let got = await store.analyses.get(a.id);
        assert.equal(got?.status, status);
        assert.equal(got?.errorCode, 'CODE');
        assert.equal(got?.errorMessage, `ended ${status}`);
        assert.equal(got?.finishedAt, '2024-01-01T00:01:00.000Z');
        assert.equal(await store.analyses.storeResult(a.id, makeResult(), '2024-01-01T00:03:00.000Z'), false);
        assert.equal(await store.analyses.resetForRetry(a.id, '2024-01-01T00:04:00.000Z'), true);
        got = await store.analyses.get(a.id);
        assert.equal(got?.status, 'queued');
        assert.equal(got?.errorCode, null);
        assert.equal(got?.errorMessage, null);
        assert.equal(got?.result, null);
        assert.equal(got?.progressPercent, 0);
        assert.equal(got?.startedAt, null);
        assert.equal(got?.finishedAt, null);
        assert.equal(got?.updatedAt, '2024-01-01T00:04:00.000Z');
        assert.equal(await store.analyses.resetForRetry(a.id, '2024-01-01T00:05:00.000Z'), false, 'already queued');
        // The retried record can complete normally.
        assert.equal(await store.analyses.storeResult(a.id, makeResult(), '2024-01-01T00:06:00.000Z'), true);
        assert.equal(await store.analyses.resetForRetry(a.id, '2024-01-01T00:07:00.000Z'), false, 'not from completed');
      }
      const a = await store.analyses.create(newAnalysis());
      await assert.rejects(store.analyses.markEnded(a.id, 'completed' as never, 'X', 'y', '2024-01-01T00:00:00.000Z'), StoreInputError);
      await assert.rejects(store.analyses.markEnded(a.id, 'failed', 'X', 'y', 'not a date'), StoreInputError);
      assert.equal((await store.analyses.get(a.id))?.status, 'queued');
    });

    test('list filters (status, verdict, file substring with wildcards, dates) and pagination', async () => {
      const tok = `lst${randomBytes(3).toString('hex')}`;
      const at = async (iso: string, over: Partial<NewAnalysis>) => {
        pinned = new Date(iso);
        try {
          return await store.analyses.create(newAnalysis(over));
        } finally {
          pinned = null;
        }
      };
      const a1 = await at('2001-01-01T00:00:00.000Z', { masterPath: `${tok}/Show_A/ep1 100%.mov`, dubPath: `${tok}/dub/ep1.wav` });
      const a2 = await at('2001-01-02T00:00:00.000Z', { masterPath: `${tok}/ShowXA/ep2 100X.mov`, dubPath: `${tok}/dub/ep2.wav` });
      const a3 = await at('2001-01-02T12:00:00.000Z', { masterPath: `${tok}/other/ep3.mov`, dubPath: `${tok}/DUBS/Épisode 3.WAV` });
      const a4 = await at('2001-01-03T00:00:00.000Z', { masterPath: `${tok}/other/ep4.mov`, dubPath: `${tok}/other/ep4.wav` });
      await store.analyses.storeResult(a1.id, makeResult({ verdict: 'offset' }), '2001-01-05T00:00:00.000Z');
      await store.analyses.storeResult(a3.id, makeResult({ verdict: 'in_sync', offset: 0 }), '2001-01-05T00:00:00.000Z');
      await store.analyses.markEnded(a2.id, 'failed', 'E', 'x', '2001-01-05T00:00:00.000Z');

      const ids = (p: { items: AnalysisRecord[] }) => p.items.map((r) => r.id);
      const all = await store.analyses.list({ file: tok });
      assert.deepEqual(ids(all), [a4.id, a3.id, a2.id, a1.id], 'newest first');
      assert.equal(all.total, 4);
      assert.equal(all.limit, 50);
      assert.equal(all.offset, 0);

      assert.deepEqual(ids(await store.analyses.list({ file: `${tok}/show_a` })), [a1.id], "'_' matches only itself, case-insensitively");
      assert.deepEqual(ids(await store.analyses.list({ file: '1 100%.mov' })), [a1.id], "'%' matches only itself");
      assert.deepEqual(ids(await store.analyses.list({ file: `${tok.toUpperCase()}/dubs/ÉPISODE` })), [a3.id], 'dub path, non-ASCII case folding');
      assert.deepEqual(ids(await store.analyses.list({ file: `${tok}/dub/` })), [a2.id, a1.id]);
      assert.deepEqual(ids(await store.analyses.list({ file: `${tok}\\` })), [], 'a backslash is literal too');

      assert.deepEqual(ids(await store.analyses.list({ file: tok, status: 'completed' })), [a3.id, a1.id]);
      assert.deepEqual(ids(await store.analyses.list({ file: tok, status: 'failed' })), [a2.id]);
      assert.deepEqual(ids(await store.analyses.list({ file: tok, status: 'queued' })), [a4.id]);
      assert.deepEqual(ids(await store.analyses.list({ file: tok, verdict: 'in_sync' })), [a3.id]);
      assert.deepEqual(ids(await store.analyses.list({ file: tok, verdict: 'offset', status: 'completed' })), [a1.id]);

      // From is inclusive, to exclusive; bounds without milliseconds are normalised.
      const range = await store.analyses.list({ file: tok, createdFrom: '2001-01-02T00:00:00Z', createdTo: '2001-01-03T00:00:00Z' });
      assert.deepEqual(ids(range), [a3.id, a2.id]);
      assert.equal(range.total, 2);
      assert.deepEqual(ids(await store.analyses.list({ file: tok, createdFrom: '2001-01-02T12:00:00.000Z' })), [a4.id, a3.id]);
      assert.deepEqual(ids(await store.analyses.list({ file: tok, createdTo: '2001-01-02T00:00:00.001Z' })), [a2.id, a1.id]);
      assert.deepEqual(ids(await store.analyses.list({ createdFrom: '2001-01-01T00:00:00.000Z', createdTo: '2001-01-04T00:00:00.000Z' })).sort(), [a1.id, a2.id, a3.id, a4.id].sort(), 'date range alone');
      await assert.rejects(store.analyses.list({ createdFrom: 'yesterday-ish' }), StoreInputError);

      const p1 = await store.analyses.list({ file: tok, limit: 3 });
      const p2 = await store.analyses.list({ file: tok, limit: 3, offset: 3 });
      assert.deepEqual(ids(p1), [a4.id, a3.id, a2.id]);
      assert.deepEqual(ids(p2), [a1.id]);
      assert.equal(p1.total, 4);
      assert.equal(p2.total, 4);
      assert.equal(p2.offset, 3);
      assert.equal((await store.analyses.list({ file: tok, limit: 0 })).limit, 1, 'limit clamped to 1..500');
      assert.equal((await store.analyses.list({ file: tok, limit: 10_000 })).limit, 500);
      const beyond = await store.analyses.list({ file: tok, offset: 10 });
      assert.deepEqual(beyond.items, []);
      assert.equal(beyond.total, 4);
    });

    test('findReusable ignores failed and cancelled records; listUnfinished lists queued and running', async () => {
      const key = uid('dedupe');
      const t = async (iso: string) => {
        pinned = new Date(iso);
        try {
          return await store.analyses.create(newAnalysis({ dedupeKey: key }));
        } finally {
          pinned = null;
        }
      };
      const done = await t('2002-01-01T00:00:00.000Z');
      await store.analyses.storeResult(done.id, makeResult(), '2002-01-01T00:01:00.000Z');
      const failed = await t('2002-01-02T00:00:00.000Z');
      await store.analyses.markEnded(failed.id, 'failed', 'E', 'x', '2002-01-02T00:01:00.000Z');
      const cancelled = await t('2002-01-03T00:00:00.000Z');
      await store.analyses.markEnded(cancelled.id, 'cancelled', 'C', 'x', '2002-01-03T00:01:00.000Z');
      assert.equal((await store.analyses.findReusable(key))?.id, done.id);
      const queued = await t('2002-01-04T00:00:00.000Z');
      assert.equal((await store.analyses.findReusable(key))?.id, queued.id, 'the newest reusable one');
      await store.analyses.markRunning(queued.id, 1, '2002-01-04T00:01:00.000Z');
      assert.equal((await store.analyses.findReusable(key))?.id, queued.id);
      assert.equal(await store.analyses.findReusable(uid('unknown-key')), null);

      const onlyFailedKey = uid('dedupe');
      const f = await store.analyses.create(newAnalysis({ dedupeKey: onlyFailedKey }));
      await store.analyses.markEnded(f.id, 'timed_out', 'T', 'x', '2002-01-05T00:00:00.000Z');
      assert.equal(await store.analyses.findReusable(onlyFailedKey), null, 'timed_out is not reusable either');

      const unfinished = (await store.analyses.listUnfinished()).map((r) => r.id);
      assert.ok(unfinished.includes(queued.id));
      for (const id of [done.id, failed.id, cancelled.id, f.id]) assert.ok(!unfinished.includes(id), `${id} is final`);
      for (const r of await store.analyses.listUnfinished()) assert.ok(r.status === 'queued' || r.status === 'running');
    });

    test('createMany and batch create are single transactions', async () => {
      const many = [newAnalysis(), newAnalysis(), newAnalysis()];
      const created = await store.analyses.createMany(many);
      assert.deepEqual(created.map((r) => r.id), many.map((a) => a.id));
      for (const a of many) assert.equal((await store.analyses.get(a.id))?.status, 'queued');
      assert.deepEqual(await store.analyses.createMany([]), []);

      const good = newAnalysis();
      await assert.rejects(store.analyses.createMany([good, newAnalysis({ id: many[0]!.id })]), (e: unknown) => e instanceof StoreConstraintError && e.constraint === 'unique');
      assert.equal(await store.analyses.get(good.id), null, 'the good item is rolled back');

      const batchId = uid('batch');
      const items = [newAnalysis(), newAnalysis(), newAnalysis({ repairId: 'no-such-repair' })];
      await assert.rejects(store.batches.create({ id: batchId, priority: 'batch' }, items), (e: unknown) => e instanceof StoreConstraintError && e.constraint === 'foreign_key');
      assert.equal(await store.batches.get(batchId), null, 'the batch is rolled back');
      for (const a of items) assert.equal(await store.analyses.get(a.id), null, 'and every item');

      const dupId = uid('dup');
      const dupBatch = uid('batch');
      await assert.rejects(store.batches.create({ id: dupBatch, priority: 'batch' }, [newAnalysis({ id: dupId }), newAnalysis({ id: dupId })]), StoreConstraintError);
      assert.equal(await store.batches.get(dupBatch), null);
      assert.equal(await store.analyses.get(dupId), null);
    });

    test('batches: counts, items in sheet order, completeIfDone once, reopen, webhook state', async () => {
      pinned = new Date('2003-01-01T00:00:00.000Z');
      const batchId = uid('batch');
      const sheet = [newAnalysis({ masterPath: 'z-first.mov' }), newAnalysis({ masterPath: 'a-second.mov' }), newAnalysis({ masterPath: 'm-third.mov' })];
      let created;
      try {
        created = await store.batches.create({ id: batchId, name: 'Season 1', priority: 'batch', webhookUrl: 'https://hooks.example/done' }, sheet);
      } finally {
        pinned = null;
      }
      assert.deepEqual(created.batch, {
        id: batchId,
        name: 'Season 1',
        status: 'running',
        priority: 'batch',
        total: 3,
        webhookUrl: 'https://hooks.example/done',
        webhookStatus: 'pending',
        webhookAttempts: 0,
        webhookLastError: null,
        createdAt: '2003-01-01T00:00:00.000Z',
        finishedAt: null,
        updatedAt: '2003-01-01T00:00:00.000Z',
      });
      assert.deepEqual(await store.batches.get(batchId), created.batch);
      assert.deepEqual(created.items.map((r) => [r.id, r.batchId, r.batchIndex]), sheet.map((a, i) => [a.id, batchId, i]));
      const items = await store.batches.items(batchId);
      assert.deepEqual(items.map((r) => r.id), sheet.map((a) => a.id), 'sheet order, not name or id order');
      assert.deepEqual(items, created.items);
      assert.deepEqual((await store.analyses.list({ batchId })).items.map((r) => r.id).sort(), sheet.map((a) => a.id).sort());

      assert.deepEqual(await store.batches.counts(batchId), { queued: 3, running: 0, completed: 0, failed: 0, cancelled: 0, timed_out: 0 });
      assert.deepEqual(await store.batches.counts('no-such-batch'), { queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0, timed_out: 0 });

      const [i0, i1, i2] = sheet.map((a) => a.id) as [string, string, string];
      await store.analyses.markRunning(i1, 1, '2003-01-01T00:01:00.000Z');
      await store.analyses.storeResult(i0, makeResult(), '2003-01-01T00:02:00.000Z');
      assert.deepEqual(await store.batches.counts(batchId), { queued: 1, running: 1, completed: 1, failed: 0, cancelled: 0, timed_out: 0 });
      assert.equal(await store.batches.completeIfDone(batchId, '2003-01-01T00:03:00.000Z'), false, 'items still open');
      await store.analyses.markEnded(i1, 'failed', 'E', 'x', '2003-01-01T00:04:00.000Z');
      await store.analyses.markEnded(i2, 'cancelled', 'C', 'x', '2003-01-01T00:04:00.000Z');
      assert.deepEqual(await store.batches.counts(batchId), { queued: 0, running: 0, completed: 1, failed: 1, cancelled: 1, timed_out: 0 });
      assert.deepEqual(await store.batches.listPendingWebhooks().then((b) => b.filter((x) => x.id === batchId)), [], 'not pending while running');

      const flags = await Promise.all([store.batches.completeIfDone(batchId, '2003-01-01T00:05:00.000Z'), store.batches.completeIfDone(batchId, '2003-01-01T00:05:00.000Z')]);
      assert.deepEqual(flags.sort(), [false, true], 'exactly one caller sees the transition');
      assert.equal(await store.batches.completeIfDone(batchId, '2003-01-01T00:06:00.000Z'), false);
      let b = await store.batches.get(batchId);
      assert.equal(b?.status, 'completed');
      assert.equal(b?.finishedAt, '2003-01-01T00:05:00.000Z');
      assert.ok((await store.batches.listPendingWebhooks()).some((x) => x.id === batchId), 'completed with the webhook pending');

      await store.batches.setWebhookState(batchId, 'failed', 1, 'HTTP 503', '2003-01-01T00:07:00.000Z');
      b = await store.batches.get(batchId);
      assert.deepEqual([b?.webhookStatus, b?.webhookAttempts, b?.webhookLastError, b?.updatedAt], ['failed', 1, 'HTTP 503', '2003-01-01T00:07:00.000Z']);
      assert.ok(!(await store.batches.listPendingWebhooks()).some((x) => x.id === batchId));
      await store.batches.setWebhookState(batchId, 'delivered', 2, null, '2003-01-01T00:08:00.000Z');
      b = await store.batches.get(batchId);
      assert.deepEqual([b?.webhookStatus, b?.webhookAttempts, b?.webhookLastError], ['delivered', 2, null]);
      await assert.rejects(store.batches.setWebhookState(batchId, 'bogus' as never, 0, null, '2003-01-01T00:08:00.000Z'), StoreInputError);

      // Retrying an item reopens the batch; it completes (and owes its webhook) again.
      assert.equal(await store.analyses.resetForRetry(i1, '2003-01-02T00:00:00.000Z'), true);
      await store.batches.reopen(batchId, '2003-01-02T00:00:00.000Z');
      b = await store.batches.get(batchId);
      assert.deepEqual([b?.status, b?.finishedAt, b?.webhookStatus, b?.webhookAttempts], ['running', null, 'pending', 0]);
      assert.equal(await store.batches.completeIfDone(batchId, '2003-01-02T00:01:00.000Z'), false);
      await store.analyses.storeResult(i1, makeResult(), '2003-01-02T00:02:00.000Z');
      assert.equal(await store.batches.completeIfDone(batchId, '2003-01-02T00:03:00.000Z'), true);
      assert.equal((await store.batches.get(batchId))?.finishedAt, '2003-01-02T00:03:00.000Z');
      assert.ok((await store.batches.listPendingWebhooks()).some((x) => x.id === batchId));

      // Without a webhook: no webhook state and never pending.
      const quiet = uid('batch');
      const q = await store.batches.create({ id: quiet, priority: 'normal' }, [newAnalysis()]);
      assert.equal(q.batch.webhookStatus, null);
      assert.equal(q.batch.name, null);
      await store.analyses.storeResult(q.items[0]!.id, makeResult(), '2003-01-03T00:00:00.000Z');
      assert.equal(await store.batches.completeIfDone(quiet, '2003-01-03T00:00:01.000Z'), true);
      await store.batches.reopen(quiet, '2003-01-03T00:00:02.000Z');
      assert.equal((await store.batches.get(quiet))?.webhookStatus, null, 'reopen owes no webhook when there is none');
      assert.ok(!(await store.batches.listPendingWebhooks()).some((x) => x.id === quiet));

      const page = await store.batches.list(1, 0);
      assert.equal(page.items.length, 1);
      assert.ok(page.total >= 2);
      const everything = await store.batches.list(500, 0);
      assert.ok(everything.items.some((x) => x.id === batchId) && everything.items.some((x) => x.id === quiet));
      assert.equal(await store.batches.get('no-such-batch'), null);
    });

    test('repairs: create, progress, outcome, verification, end and retry', async () => {
      const source = await store.analyses.create(newAnalysis());
      await assert.rejects(
        store.repairs.create({ id: uid('rep'), analysisId: 'no-such-analysis', dubPath: 'x.wav', offsetSeconds: 1, options: { keepDuration: false, conformDrift: false, conformEdits: false } }),
        (e: unknown) => e instanceof StoreConstraintError && e.constraint === 'foreign_key',
      );
      pinned = new Date('2004-01-01T00:00:00.000Z');
      let r;
      try {
        r = await store.repairs.create({ id: uid('rep'), analysisId: source.id, dubPath: 'shows/a/dub.wav', offsetSeconds: AWKWARD_OFFSET, speedRatio: 1001 / 1000, options: { keepDuration: true, conformDrift: true, conformEdits: false } });
      } finally {
        pinned = null;
      }
      const expected = {
        id: r.id,
        status: 'queued',
        analysisId: source.id,
        dubPath: 'shows/a/dub.wav',
        offsetSeconds: AWKWARD_OFFSET,
        speedRatio: 1001 / 1000,
        options: { keepDuration: true, conformDrift: true, conformEdits: false },
        outcome: null,
        outputPath: null,
        verificationAnalysisId: null,
        progressPercent: 0,
        errorCode: null,
        errorMessage: null,
        createdAt: '2004-01-01T00:00:00.000Z',
        startedAt: null,
        finishedAt: null,
        updatedAt: '2004-01-01T00:00:00.000Z',
      };
      assert.deepEqual(r, expected);
      assert.deepEqual(await store.repairs.get(r.id), expected);
      assert.equal(await store.repairs.get('no-such-repair'), null);
      assert.ok((await store.repairs.listUnfinished()).some((x) => x.id === r.id));

      await store.repairs.markRunning(r.id, '2004-01-01T00:01:00Z');
      await store.repairs.updateProgress(r.id, 30);
      await store.repairs.updateProgress(r.id, 10);
      let got = await store.repairs.get(r.id);
      assert.equal(got?.status, 'running');
      assert.equal(got?.startedAt, '2004-01-01T00:01:00.000Z');
      assert.equal(got?.progressPercent, 30, 'progress never decreases');

      assert.equal(await store.repairs.storeOutcome(r.id, OUTCOME, '2004-01-01T00:02:00.000Z'), true);
      assert.equal(await store.repairs.storeOutcome(r.id, { ...OUTCOME, outputPath: 'other.mov' }, '2004-01-01T00:03:00.000Z'), false);
      assert.equal(await store.repairs.markEnded(r.id, 'failed', 'E', 'late', '2004-01-01T00:04:00.000Z'), false);
      assert.equal(await store.repairs.resetForRetry(r.id, '2004-01-01T00:05:00.000Z'), false);
      got = await store.repairs.get(r.id);
      assert.equal(got?.status, 'completed');
      assert.deepStrictEqual(got?.outcome, OUTCOME);
      assert.ok(Object.is((got?.outcome?.outputProbe as { duration: number }).duration, -0));
      assert.equal(got?.outputPath, OUTCOME.outputPath);
      assert.equal(got?.progressPercent, 100);
      assert.equal(got?.finishedAt, '2004-01-01T00:02:00.000Z');
      assert.ok(!(await store.repairs.listUnfinished()).some((x) => x.id === r.id));

      // The verification analysis points at the repair and the repair back at it.
      const verification = await store.analyses.create(newAnalysis({ repairId: r.id }));
      await store.repairs.setVerification(r.id, verification.id);
      assert.equal((await store.repairs.get(r.id))?.verificationAnalysisId, verification.id);
      assert.equal((await store.analyses.get(verification.id))?.repairId, r.id);
      await assert.rejects(store.repairs.setVerification(r.id, 'no-such-analysis'), StoreConstraintError);

      const r2 = await store.repairs.create({ id: uid('rep'), dubPath: 'b.wav', offsetSeconds: -2.5, options: { keepDuration: false, conformDrift: false, conformEdits: true } });
      assert.equal(r2.analysisId, null);
      assert.equal(r2.speedRatio, null);
      assert.equal(await store.repairs.resetForRetry(r2.id, '2004-01-02T00:00:00.000Z'), false, 'not from queued');
      await store.repairs.markRunning(r2.id, '2004-01-02T00:00:00.000Z');
      await store.repairs.updateProgress(r2.id, 80);
      assert.equal(await store.repairs.markEnded(r2.id, 'timed_out', 'TIMEOUT', 'ffmpeg too slow', '2004-01-02T00:01:00.000Z'), true);
      assert.equal(await store.repairs.markEnded(r2.id, 'failed', 'X', 'y', '2004-01-02T00:02:00.000Z'), false);
      got = await store.repairs.get(r2.id);
      assert.deepEqual([got?.status, got?.errorCode, got?.errorMessage, got?.finishedAt], ['timed_out', 'TIMEOUT', 'ffmpeg too slow', '2004-01-02T00:01:00.000Z']);
      assert.equal(await store.repairs.resetForRetry(r2.id, '2004-01-02T00:03:00.000Z'), true);
      got = await store.repairs.get(r2.id);
      assert.deepEqual([got?.status, got?.errorCode, got?.outcome, got?.progressPercent, got?.finishedAt], ['queued', null, null, 0, null]);
      await store.repairs.markRunning(r2.id, '2004-01-02T00:04:00.000Z');
      assert.equal((await store.repairs.get(r2.id))?.progressPercent, 0, 'a new run starts at 0');
      await assert.rejects(store.repairs.markEnded(r2.id, 'completed' as never, 'X', 'y', '2004-01-02T00:05:00.000Z'), StoreInputError);

      const page = await store.repairs.list(1, 0);
      assert.equal(page.items.length, 1);
      assert.ok(page.total >= 2);
      assert.ok((await store.repairs.list(500, 0)).items.some((x) => x.id === r2.id));
    });

    test('concurrent storeResult / markEnded from two connections make exactly one transition', async () => {
      // A second Store on the same database: separate connections (SQLite: the same file).
      const other = await openStore(h.db, recordingLogger(), { migrate: true });
      try {
        for (let i = 0; i < 5; i++) {
          const a = await store.analyses.create(newAnalysis());
          const r1 = makeResult({ version: 'from-one' });
          const r2 = makeResult({ version: 'from-two' });
          const outcomes = await Promise.all([store.analyses.storeResult(a.id, r1, '2005-01-01T00:00:00.000Z'), other.analyses.storeResult(a.id, r2, '2005-01-01T00:00:00.000Z')]);
          assert.equal(outcomes.filter(Boolean).length, 1, `exactly one storeResult wins (${outcomes.join(',')})`);
          const stored = await other.analyses.get(a.id);
          assert.deepStrictEqual(stored?.result, outcomes[0] ? r1 : r2, 'the winner’s result is the one kept');
        }
        for (let i = 0; i < 5; i++) {
          const a = await other.analyses.create(newAnalysis());
          const outcomes = await Promise.all([other.analyses.markEnded(a.id, 'cancelled', 'C', 'user', '2005-01-02T00:00:00.000Z'), store.analyses.storeResult(a.id, makeResult(), '2005-01-02T00:00:00.000Z')]);
          assert.equal(outcomes.filter(Boolean).length, 1);
          assert.equal((await store.analyses.get(a.id))?.status, outcomes[0] ? 'cancelled' : 'completed');
        }
      } finally {
        await other.close();
      }
    });

    test('close ends the connection; closing twice is harmless', async () => {
      const s = await openStore(h.db, recordingLogger());
      await s.ping();
      await s.close();
      await s.close();
      await assert.rejects(s.ping());
    });
  });
}

storeSuite('report store on SQLite', sqliteHarness, false);
storeSuite('report store on PostgreSQL', pgHarness, process.env.SKIP_PG_TESTS === '1' ? 'SKIP_PG_TESTS=1' : false);
