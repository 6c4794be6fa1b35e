// The prepared-master cache on real decoded media (ffmpeg-generated 20 s programme and dub):
// round trip, keys, damage handling, LRU eviction, racing writers (also across processes) and
// identical analysis results with a cached master.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, open, readdir, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENGINE_VERSION, mergeParams, type AnalysisResult } from '@sync-analyzer/engine';
import { MediaInputError, nullLogger, probeMedia, resolveTools, type ProbeResult } from '@sync-analyzer/media';
import { analyzePrepared, DEFAULT_ANALYSIS_RATE, prepareMedia, type AnalyzeFilesOptions, type PreparedMedia } from './analyze-files.ts';
import { PreparedCache, PreparedCacheError, prepareMediaCached, type CacheFingerprint } from './prepared-cache.ts';
import { fingerprintFile } from '../../platform/src/fingerprint.ts';
import { makeDub, makeProgramme, makeTempDir } from '../../../services/cli/src/testing/media-fixtures.ts';

const tools = resolveTools();
const opts: AnalyzeFilesOptions = { tools, logger: nullLogger };
const OFFSET = 0.4;

let tmp: { dir: string; cleanup: () => Promise<void> };
let masterProbe: ProbeResult;
let dubProbe: ProbeResult;
let masterFp: CacheFingerprint;
let master: PreparedMedia;
let entryBytes: number;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function keyParts(over: Partial<Parameters<PreparedCache['key']>[0]> = {}) {
  return {
    fingerprint: masterFp,
    selection: { kind: 'auto' },
    analysisRate: DEFAULT_ANALYSIS_RATE,
    featureParams: mergeParams(undefined).features,
    engineVersion: ENGINE_VERSION,
    ...over,
  };
}

/** Entry names in the cache directory, temp and trash included. */
const listing = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).sort();

before(async () => {
  tmp = await makeTempDir('prepared-cache-test-');
  const mp = path.join(tmp.dir, 'master.wav');
  const dp = path.join(tmp.dir, 'dub.wav');
  await makeProgramme(mp, 21, 20);
  await makeDub(mp, dp, OFFSET);
  [masterProbe, dubProbe] = await Promise.all([probeMedia(mp, opts), probeMedia(dp, opts)]);
  masterFp = await fingerprintFile(mp);
  master = await prepareMedia(masterProbe, undefined, opts);
  entryBytes = master.decoded.pcm.byteLength + master.features.bands.reduce((a, b) => a + b.byteLength, 0) + master.features.energy.byteLength;
});

after(async () => {
  await tmp.cleanup();
});

describe('PreparedCache', () => {
  test('put then get returns the same media (typed arrays equal), with the current probe', async () => {
    const cache = new PreparedCache({ dir: path.join(tmp.dir, 'c-roundtrip'), maxBytes: 100 * 1024 * 1024, logger: nullLogger });
    const key = cache.key(keyParts());
    assert.equal(await cache.get(key, masterProbe), null);
    await cache.put(key, master);
    const got = await cache.get(key);
    assert.ok(got);
    assert.deepEqual(got, master);
    assert.ok(got.decoded.pcm instanceof Int16Array);
    assert.ok(got.features.bands.every((b) => b instanceof Float32Array));
    assert.ok(got.decoded.pcm.length > 19 * DEFAULT_ANALYSIS_RATE);
    const moved = { ...masterProbe, path: '/elsewhere/master.wav' };
    assert.equal((await cache.get(key, moved))!.probe, moved);
    // One entry, no temp leftovers; the stored bytes are the arrays plus a small metadata file.
    assert.deepEqual(await listing(cache.dir), [key]);
    const usage = await cache.usage();
    assert.equal(usage.entries, 1);
    assert.ok(usage.bytes >= entryBytes && usage.bytes < entryBytes + 64 * 1024, String(usage.bytes));
  });

  test('the key changes with fingerprint, selection, rate, feature parameters, engine version and namespace', () => {
    const cache = new PreparedCache({ dir: path.join(tmp.dir, 'c-keys'), maxBytes: 1, logger: nullLogger });
    const k = cache.key(keyParts());
    assert.match(k, /^[0-9a-f]{64}$/);
    const variants = [
      cache.key(keyParts({ fingerprint: { ...masterFp, mtimeMs: masterFp.mtimeMs + 1 } })),
      cache.key(keyParts({ fingerprint: { ...masterFp, size: masterFp.size + 1 } })),
      cache.key(keyParts({ fingerprint: { ...masterFp, headTailSha256: '0'.repeat(64) } })),
      cache.key(keyParts({ selection: { kind: 'stream', audioIndex: 0 } })),
      cache.key(keyParts({ selection: { kind: 'channel', channel: 1 } })),
      cache.key(keyParts({ analysisRate: 16000 })),
      cache.key(keyParts({ featureParams: mergeParams({ features: { hopSeconds: 0.01 } }).features })),
      cache.key(keyParts({ engineVersion: `${ENGINE_VERSION}-next` })),
      new PreparedCache({ dir: cache.dir, maxBytes: 1, logger: nullLogger, namespace: 'ffmpeg 7.1' }).key(keyParts()),
    ];
    assert.equal(new Set([k, ...variants]).size, variants.length + 1);
    // Key order inside the parts does not matter.
    const fp = mergeParams(undefined).features as unknown as Record<string, unknown>;
    const reversed = Object.fromEntries(Object.entries(fp).reverse());
    assert.equal(cache.key(keyParts({ featureParams: reversed, selection: { audioIndex: 0, kind: 'stream' } })), cache.key(keyParts({ selection: { kind: 'stream', audioIndex: 0 } })));
  });

  test('only well-formed keys name entries', async () => {
    const cache = new PreparedCache({ dir: path.join(tmp.dir, 'c-badkey'), maxBytes: 1e9, logger: nullLogger });
    await assert.rejects(cache.get('../../etc'), PreparedCacheError);
    await assert.rejects(cache.put(`${'a'.repeat(63)}/`, master), PreparedCacheError);
    await assert.rejects(cache.get('A'.repeat(64)), PreparedCacheError);
    assert.deepEqual(await listing(cache.dir), []);
  });

  test('a damaged entry is a miss and is removed (flipped byte, truncated data, broken metadata)', async () => {
    const dir = path.join(tmp.dir, 'c-damage');
    const cache = new PreparedCache({ dir, maxBytes: 100 * 1024 * 1024, logger: nullLogger });
    const key = cache.key(keyParts());
    const damage: Record<string, (entry: string) => Promise<void>> = {
      'flipped byte in the middle of the data': async (entry) => {
        const fh = await open(path.join(entry, 'data.bin'), 'r+');
        const b = Buffer.alloc(1);
        await fh.read(b, 0, 1, 100_000);
        b[0] = b[0]! ^ 0x01;
        await fh.write(b, 0, 1, 100_000);
        await fh.close();
      },
      'truncated data': (entry) => truncate(path.join(entry, 'data.bin'), 1000),
      'data longer than recorded': async (entry) => writeFile(path.join(entry, 'data.bin'), Buffer.alloc(8), { flag: 'a' }),
      'metadata not JSON': (entry) => writeFile(path.join(entry, 'meta.json'), '{"format":1,'),
      'metadata sizes edited': async (entry) => {
        const meta = JSON.parse(await readFile(path.join(entry, 'meta.json'), 'utf8'));
        meta.decoded.samples += 2;
        await writeFile(path.join(entry, 'meta.json'), JSON.stringify(meta));
      },
      'data file missing': (entry) => rm(path.join(entry, 'data.bin')),
    };
    for (const [what, hurt] of Object.entries(damage)) {
      await cache.put(key, master);
      assert.ok(await cache.get(key), what);
      await hurt(path.join(dir, key));
      assert.equal(await cache.get(key), null, what);
      assert.deepEqual(await listing(dir), [], `${what}: entry removed`);
    }
  });

  test('LRU eviction by total bytes: a hit refreshes an entry; an entry larger than the cache is not stored', async () => {
    const dir = path.join(tmp.dir, 'c-lru');
    // Room for two entries, not three.
    const cache = new PreparedCache({ dir, maxBytes: Math.round(entryBytes * 2.5), logger: nullLogger });
    const [a, b, c] = ['a', 'b', 'c'].map((s) => cache.key(keyParts({ fingerprint: { ...masterFp, headTailSha256: s.repeat(64) } })));
    await cache.put(a!, master);
    await sleep(30);
    await cache.put(b!, master);
    await sleep(30);
    assert.ok(await cache.get(a!), 'a is used again');
    await sleep(30);
    await cache.put(c!, master);
    assert.deepEqual(await listing(dir), [a!, c!].sort(), 'b, least recently used, was evicted');
    assert.ok((await cache.usage()).bytes <= Math.round(entryBytes * 2.5));

    const tiny = new PreparedCache({ dir: path.join(tmp.dir, 'c-tiny'), maxBytes: Math.round(entryBytes / 2), logger: nullLogger });
    await tiny.put(a!, master);
    assert.equal(await tiny.get(a!), null);
  });

  test('stale temp directories from a crashed writer are cleaned; fresh ones are left alone', async () => {
    const dir = path.join(tmp.dir, 'c-stale');
    const cache = new PreparedCache({ dir, maxBytes: 100 * 1024 * 1024, logger: nullLogger });
    const key = cache.key(keyParts());
    await cache.put(key, master);
    const stale = path.join(dir, `.tmp-${key}-1-old`);
    const fresh = path.join(dir, `.tmp-${key}-2-new`);
    await mkdir(stale);
    await mkdir(fresh);
    await writeFile(path.join(stale, 'data.bin'), 'partial');
    const old = new Date(Date.now() - 2 * 3600_000);
    await utimes(stale, old, old);
    await cache.evict();
    assert.deepEqual(await listing(dir), [`.tmp-${key}-2-new`, key].sort());
    // A half-written temp directory is never read as an entry.
    assert.deepEqual(await cache.get(key), master);
  });

  test('concurrent puts of one key (same process) leave one whole entry', async () => {
    const dir = path.join(tmp.dir, 'c-race');
    const cache = new PreparedCache({ dir, maxBytes: 100 * 1024 * 1024, logger: nullLogger });
    const key = cache.key(keyParts());
    await Promise.all(Array.from({ length: 4 }, () => cache.put(key, master)));
    assert.deepEqual(await listing(dir), [key]);
    assert.deepEqual(await cache.get(key), master);
  });

  test('concurrent puts of one key from two processes leave one whole entry', async () => {
    const dir = path.join(tmp.dir, 'c-procs');
    const key = 'f'.repeat(64);
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'prepared-cache.ts');
    // Each child builds the same 2M-sample entry and waits for the go file, so both write at once.
    const code = `
      import { PreparedCache } from ${JSON.stringify(script)};
      import { existsSync } from 'node:fs';
      const n = 2_000_000;
      const pcm = new Int16Array(n); for (let i = 0; i < n; i++) pcm[i] = (i * 7919) % 65536 - 32768;
      const bands = [0, 1, 2].map((b) => Float32Array.from({ length: 2500 }, (_, i) => Math.sin(i * (b + 1))));
      const energy = Float32Array.from({ length: 2500 }, (_, i) => i / 2500);
      const media = { probe: { path: 'x' }, decoded: { pcm, sampleRate: 8000, description: 'd', decodedSeconds: n / 8000, truncated: false, warnings: '' },
        features: { rate: 100, hopSeconds: 0.01, length: 2500, bands, energy }, selection: { kind: 'auto' } };
      const cache = new PreparedCache({ dir: ${JSON.stringify(dir)}, maxBytes: 1e9, logger: { debug() {}, info() {}, warn() {}, error() {} } });
      while (!existsSync(${JSON.stringify(path.join(tmp.dir, 'go'))})) await new Promise((r) => setTimeout(r, 5));
      await cache.put(${JSON.stringify(key)}, media);
    `;
    const run = () =>
      new Promise<number | null>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'ignore', 'inherit'] });
        child.on('error', reject);
        child.on('close', resolve);
      });
    const children = [run(), run()];
    await sleep(1500);
    await writeFile(path.join(tmp.dir, 'go'), '');
    assert.deepEqual(await Promise.all(children), [0, 0]);
    assert.deepEqual(await listing(dir), [key]);
    const cache = new PreparedCache({ dir, maxBytes: 1e9, logger: nullLogger });
    const got = await cache.get(key);
    assert.ok(got);
    assert.equal(got.decoded.pcm.length, 2_000_000);
    assert.equal(got.decoded.pcm[12345], (12345 * 7919) % 65536 - 32768);
    assert.equal((await stat(path.join(dir, key, 'data.bin'))).size, 2_000_000 * 2 + 3 * 2500 * 4 + 2500 * 4);
  });
});

describe('prepareMediaCached', () => {
  const strip = (r: AnalysisResult) => ({ ...r, timing: {}, resources: {} });

  test('a cached master with a fresh dub gives exactly the result of a fresh pair', async () => {
    const cache = new PreparedCache({ dir: path.join(tmp.dir, 'c-analysis'), maxBytes: 100 * 1024 * 1024, logger: nullLogger });
    const fractions: number[] = [];
    const first = await prepareMediaCached(cache, masterFp, masterProbe, undefined, opts);
    assert.equal(first.cacheHit, false);
    const fresh = await analyzePrepared(first.media, await prepareMedia(dubProbe, undefined, opts), opts);
    assert.equal(fresh.match, true);
    assert.ok(Math.abs(fresh.offset_seconds! - OFFSET) < 0.002, `offset ${fresh.offset_seconds}`);

    const second = await prepareMediaCached(cache, masterFp, masterProbe, undefined, opts, (f) => fractions.push(f));
    assert.equal(second.cacheHit, true);
    assert.deepEqual(fractions, [1]);
    const cached = await analyzePrepared(second.media, await prepareMedia(dubProbe, undefined, opts), opts);
    assert.equal(cached.offset_seconds, fresh.offset_seconds);
    assert.deepEqual(cached.segments, fresh.segments);
    assert.deepEqual(cached.offset_track, fresh.offset_track);
    assert.deepEqual(strip(cached), strip(fresh));
  });

  test('other options miss; the duration limit holds on a hit; no cache means a plain decode', async () => {
    const cache = new PreparedCache({ dir: path.join(tmp.dir, 'c-options'), maxBytes: 100 * 1024 * 1024, logger: nullLogger });
    assert.equal((await prepareMediaCached(cache, masterFp, masterProbe, undefined, opts)).cacheHit, false);
    assert.equal((await prepareMediaCached(cache, masterFp, masterProbe, { kind: 'auto' }, opts)).cacheHit, true);
    const stream = await prepareMediaCached(cache, masterFp, masterProbe, { kind: 'channel', channel: 0 }, opts);
    assert.equal(stream.cacheHit, false);
    assert.deepEqual(stream.media.selection, { kind: 'channel', channel: 0 });
    assert.equal((await prepareMediaCached(cache, masterFp, masterProbe, undefined, { ...opts, params: { features: { hopSeconds: 0.01 } } })).cacheHit, false);
    assert.equal((await cache.usage()).entries, 3);
    await assert.rejects(prepareMediaCached(cache, masterFp, masterProbe, undefined, { ...opts, maxDurationSeconds: 10 }), (e: unknown) => e instanceof MediaInputError && e.code === 'too_long');
    const plain = await prepareMediaCached(null, masterFp, masterProbe, undefined, opts);
    assert.equal(plain.cacheHit, false);
    assert.deepEqual(plain.media.decoded.pcm, master.decoded.pcm);
  });
});
