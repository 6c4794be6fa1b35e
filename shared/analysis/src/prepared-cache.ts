// On-disk cache of prepared (decoded + featurised) inputs. Many dubs are checked against one
// master: decoding the master once and keeping its analysis-rate PCM and onset features saves
// most of the decode time of every later pair.
//
// Layout: <dir>/<key>/meta.json (probe, decode and feature metadata, selection, byte sizes,
// sha256 of the data) and <dir>/<key>/data.bin (pcm int16 | pad to 4 | bands f32... | energy f32,
// little-endian). An entry is written completely into a temp directory and renamed into place,
// so readers see a whole entry or none, and of two processes putting the same key one rename
// wins and the other discards its copy. Every read checks sizes and the sha256, so a damaged
// entry is a miss (and is removed), never wrong data. LRU by the entry directory's mtime,
// touched on every hit.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import path from 'node:path';
import { ENGINE_VERSION, mergeParams, type Features, type SpeechSegment } from '@sync-analyzer/engine';
import { MediaInputError, type AudioSelection, type MediaLogger, type ProbeResult } from '@sync-analyzer/media';
import { DEFAULT_ANALYSIS_RATE, DEFAULT_MAX_DURATION_SECONDS, prepareMedia, type AnalyzeFilesOptions, type PreparedMedia } from './analyze-files.ts';

/** Bumped whenever the stored layout changes: old entries then simply stop matching. */
const FORMAT = 1;
const META = 'meta.json';
const DATA = 'data.bin';
const KEY_RE = /^[0-9a-f]{64}$/;
/** Temp / trash directories older than this are leftovers of a crashed process. */
const STALE_MS = 3600_000;
const CHUNK = 16 * 1024 * 1024;

/** The input file's identity (the report store's FileFingerprint has this shape). */
export interface CacheFingerprint {
  size: number;
  mtimeMs: number;
  headTailSha256: string;
}

export interface PreparedKeyParts {
  fingerprint: CacheFingerprint;
  selection: unknown;
  analysisRate: number;
  featureParams: unknown;
  engineVersion: string;
}

export interface PreparedCacheOptions {
  dir: string;
  /** Total bytes kept; the least recently used entries go first. */
  maxBytes: number;
  logger: MediaLogger;
  /**
   * Mixed into every key: pass the ffmpeg version, so that an upgraded decoder (whose
   * resampler may differ in the last bit) does not reuse PCM decoded by the old one.
   */
  namespace?: string;
}

export class PreparedCacheError extends Error {
  override readonly name = 'PreparedCacheError';
}

interface Meta {
  format: number;
  key: string;
  createdAt: string;
  probe: ProbeResult;
  selection: AudioSelection;
  decoded: { sampleRate: number; description: string; decodedSeconds: number; truncated: boolean; warnings: string; samples: number };
  features: { rate: number; hopSeconds: number; length: number; bandLengths: number[]; energyLength: number };
  layout: { pcmBytes: number; padBytes: number; bandBytes: number[]; energyBytes: number; totalBytes: number };
  sha256: string;
  /** Voice activity found while decoding (null: speech detection was off). */
  speech?: { segments: SpeechSegment[]; seconds: number } | null;
}

export class PreparedCache {
  readonly dir: string;
  private readonly maxBytes: number;
  private readonly logger: MediaLogger;
  private readonly namespace: string;
  /** The stored layout is little-endian; a big-endian host just never uses the cache. */
  private readonly usable = endianness() === 'LE';

  constructor(opts: PreparedCacheOptions) {
    this.dir = path.resolve(opts.dir);
    this.maxBytes = opts.maxBytes;
    this.logger = opts.logger;
    this.namespace = opts.namespace ?? '';
  }

  key(parts: PreparedKeyParts): string {
    const f = parts.fingerprint;
    const doc = {
      format: FORMAT,
      namespace: this.namespace,
      fingerprint: { size: f.size, mtimeMs: f.mtimeMs, headTailSha256: f.headTailSha256 },
      selection: parts.selection ?? null,
      analysisRate: parts.analysisRate,
      featureParams: parts.featureParams ?? null,
      engineVersion: parts.engineVersion,
    };
    return createHash('sha256').update(canonicalJson(doc)).digest('hex');
  }

  /** The cached entry, or null (missing, or damaged: then it is removed). `probeNow` replaces the stored probe. */
  async get(key: string, probeNow?: ProbeResult): Promise<PreparedMedia | null> {
    checkKey(key);
    if (!this.usable) return null;
    const entry = path.join(this.dir, key);
    let metaText: string;
    try {
      metaText = await readFile(path.join(entry, META), 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') this.logger.warn({ key, error: (err as Error).message }, 'prepared cache: unreadable entry');
      return null;
    }
    let media: PreparedMedia;
    try {
      const meta = parseMeta(metaText, key);
      media = await readData(path.join(entry, DATA), meta);
    } catch (err) {
      // The whole entry evicted by another process between our two reads: just a miss. With
      // the metadata still there, the data file itself is missing: a damaged entry.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !(await exists(path.join(entry, META)))) return null;
      this.logger.warn({ key, error: (err as Error).message }, 'prepared cache: damaged entry removed');
      await this.remove(key);
      return null;
    }
    const now = new Date();
    await utimes(entry, now, now).catch(() => {});
    this.logger.debug({ key, samples: media.decoded.pcm.length }, 'prepared cache hit');
    return probeNow ? { ...media, probe: probeNow } : media;
  }

  /** Stores an entry (no-op when one with this key exists, or when it alone exceeds maxBytes). */
  async put(key: string, media: PreparedMedia): Promise<void> {
    checkKey(key);
    if (!this.usable) return;
    const { pcm } = media.decoded;
    const { bands, energy } = media.features;
    const pcmBytes = pcm.byteLength;
    const padBytes = (4 - (pcmBytes % 4)) % 4;
    const bandBytes = bands.map((b) => b.byteLength);
    const totalBytes = pcmBytes + padBytes + bandBytes.reduce((a, b) => a + b, 0) + energy.byteLength;
    if (totalBytes > this.maxBytes) {
      this.logger.debug({ key, totalBytes, maxBytes: this.maxBytes }, 'prepared cache: entry larger than the cache, not stored');
      return;
    }
    await mkdir(this.dir, { recursive: true });
    const entry = path.join(this.dir, key);
    const tmp = path.join(this.dir, `.tmp-${key}-${process.pid}-${randomUUID()}`);
    try {
      await mkdir(tmp);
      const hash = createHash('sha256');
      const fh = await open(path.join(tmp, DATA), 'wx');
      try {
        const parts: ArrayBufferView[] = [pcm, new Uint8Array(padBytes), ...bands, energy];
        let position = 0;
        for (const part of parts) position = await writeAll(fh, bytesOf(part), position, hash);
      } finally {
        await fh.close();
      }
      const meta: Meta = {
        format: FORMAT,
        key,
        createdAt: new Date().toISOString(),
        probe: media.probe,
        selection: media.selection,
        decoded: {
          sampleRate: media.decoded.sampleRate,
          description: media.decoded.description,
          decodedSeconds: media.decoded.decodedSeconds,
          truncated: media.decoded.truncated,
          warnings: media.decoded.warnings,
          samples: pcm.length,
        },
        features: {
          rate: media.features.rate,
          hopSeconds: media.features.hopSeconds,
          length: media.features.length,
          bandLengths: bands.map((b) => b.length),
          energyLength: energy.length,
        },
        layout: { pcmBytes, padBytes, bandBytes, energyBytes: energy.byteLength, totalBytes },
        sha256: hash.digest('hex'),
        speech: media.speech ?? null,
      };
      await writeFile(path.join(tmp, META), JSON.stringify(meta));
      try {
        await rename(tmp, entry);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Someone stored this key first: theirs is as good as ours.
        if (code === 'ENOTEMPTY' || code === 'EEXIST') return;
        throw err;
      }
      this.logger.debug({ key, totalBytes }, 'prepared cache: stored');
    } finally {
      await rm(tmp, { recursive: true, force: true }).catch(() => {});
    }
    await this.evict(key);
  }

  /** Entries and their total bytes (the temp and trash directories not counted). */
  async usage(): Promise<{ entries: number; bytes: number }> {
    const list = await this.scan();
    return { entries: list.length, bytes: list.reduce((a, e) => a + e.bytes, 0) };
  }

  /** Removes least recently used entries until the total fits maxBytes (never `keep`). */
  async evict(keep?: string): Promise<void> {
    const list = await this.scan();
    let total = list.reduce((a, e) => a + e.bytes, 0);
    list.sort((a, b) => a.usedMs - b.usedMs);
    for (const e of list) {
      if (total <= this.maxBytes) break;
      if (e.key === keep) continue;
      await this.remove(e.key);
      total -= e.bytes;
      this.logger.debug({ key: e.key, bytes: e.bytes }, 'prepared cache: evicted');
    }
  }

  private async scan(): Promise<{ key: string; bytes: number; usedMs: number }[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: { key: string; bytes: number; usedMs: number }[] = [];
    for (const name of names) {
      const full = path.join(this.dir, name);
      if (name.startsWith('.tmp-') || name.startsWith('.trash-')) {
        const st = await stat(full).catch(() => null);
        if (st && Date.now() - st.mtimeMs > STALE_MS) await rm(full, { recursive: true, force: true }).catch(() => {});
        continue;
      }
      if (!KEY_RE.test(name)) continue;
      const [d, m, b] = await Promise.all([stat(full), stat(path.join(full, META)), stat(path.join(full, DATA))].map((p) => p.catch(() => null)));
      // Vanished meanwhile (another process evicted it).
      if (!d) continue;
      out.push({ key: name, bytes: (m?.size ?? 0) + (b?.size ?? 0), usedMs: d.mtimeMs });
    }
    return out;
  }

  /** Renamed away first, so no reader ever opens a half-deleted entry. */
  private async remove(key: string): Promise<void> {
    const trash = path.join(this.dir, `.trash-${key}-${process.pid}-${randomUUID()}`);
    try {
      await rename(path.join(this.dir, key), trash);
    } catch {
      return; // already gone
    }
    await rm(trash, { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * prepareMedia through the cache: a hit skips the decode (the duration limit is still
 * enforced); a miss decodes and stores. Cache failures are logged, never fatal.
 */
export async function prepareMediaCached(
  cache: PreparedCache | null,
  fingerprint: CacheFingerprint,
  probe: ProbeResult,
  selection: AudioSelection | undefined,
  opts: AnalyzeFilesOptions,
  onFraction?: (f: number) => void,
): Promise<{ media: PreparedMedia; cacheHit: boolean }> {
  if (!cache) return { media: await prepareMedia(probe, selection, opts, onFraction), cacheHit: false };
  const maxDuration = opts.maxDurationSeconds ?? DEFAULT_MAX_DURATION_SECONDS;
  if (probe.duration !== null && probe.duration > maxDuration) {
    throw new MediaInputError('too_long', probe.path, `${(probe.duration / 3600).toFixed(2)} h; the limit is ${(maxDuration / 3600).toFixed(2)} h`);
  }
  const sel = selection ?? { kind: 'auto' };
  const key = cache.key({
    fingerprint,
    selection: sel,
    analysisRate: opts.analysisRate ?? DEFAULT_ANALYSIS_RATE,
    featureParams: { ...mergeParams(opts.params).features, speech: opts.speech ? opts.speech.info().model : null },
    engineVersion: ENGINE_VERSION,
  });
  opts.signal?.throwIfAborted();
  const hit = await cache.get(key, probe).catch((err: unknown) => {
    opts.logger.warn({ path: probe.path, error: (err as Error).message }, 'prepared cache: lookup failed');
    return null;
  });
  if (hit) {
    onFraction?.(1);
    return { media: hit, cacheHit: true };
  }
  const media = await prepareMedia(probe, selection, opts, onFraction);
  // Stored before returning: the engine masks feature frames in place during analysis.
  await cache.put(key, media).catch((err: unknown) => {
    opts.logger.warn({ path: probe.path, error: (err as Error).message }, 'prepared cache: store failed');
  });
  return { media, cacheHit: false };
}

const exists = (p: string) => stat(p).then(() => true, () => false);

function checkKey(key: string): void {
  // The key names a directory: anything else could point outside the cache.
  if (!KEY_RE.test(key)) throw new PreparedCacheError(`not a cache key: ${JSON.stringify(key)}`);
}

const bytesOf = (v: ArrayBufferView) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

async function writeAll(fh: Awaited<ReturnType<typeof open>>, bytes: Uint8Array, position: number, hash: ReturnType<typeof createHash>): Promise<number> {
  for (let off = 0; off < bytes.length; ) {
    const n = Math.min(CHUNK, bytes.length - off);
    const chunk = bytes.subarray(off, off + n);
    hash.update(chunk);
    let done = 0;
    while (done < n) {
      const { bytesWritten } = await fh.write(chunk, done, n - done, position + off + done);
      done += bytesWritten;
    }
    off += n;
  }
  return position + bytes.length;
}

function parseMeta(text: string, key: string): Meta {
  const m = JSON.parse(text) as Meta;
  const nat = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x >= 0;
  const ok =
    m?.format === FORMAT &&
    m.key === key &&
    typeof m.sha256 === 'string' &&
    typeof m.probe === 'object' &&
    typeof m.selection === 'object' &&
    nat(m.decoded?.samples) &&
    typeof m.decoded.sampleRate === 'number' &&
    typeof m.features?.rate === 'number' &&
    typeof m.features.hopSeconds === 'number' &&
    nat(m.features.length) &&
    Array.isArray(m.features.bandLengths) &&
    m.features.bandLengths.every(nat) &&
    nat(m.features.energyLength) &&
    nat(m.layout?.totalBytes);
  if (!ok) throw new PreparedCacheError('metadata does not match this cache format');
  const { decoded: d, features: f, layout: l } = m;
  const expected = d.samples * 2 + ((4 - ((d.samples * 2) % 4)) % 4) + f.bandLengths.reduce((a, n) => a + n * 4, 0) + f.energyLength * 4;
  if (expected !== l.totalBytes) throw new PreparedCacheError(`metadata sizes disagree (${expected} vs ${l.totalBytes} bytes)`);
  return m;
}

async function readData(file: string, meta: Meta): Promise<PreparedMedia> {
  const fh = await open(file, 'r');
  try {
    const st = await fh.stat();
    if (st.size !== meta.layout.totalBytes) throw new PreparedCacheError(`data is ${st.size} bytes, expected ${meta.layout.totalBytes}`);
    const hash = createHash('sha256');
    // Read straight into the typed arrays: no second copy of a multi-hour PCM.
    const pcm = new Int16Array(meta.decoded.samples);
    let position = await readAll(fh, bytesOf(pcm), 0, hash);
    const pad = (4 - (pcm.byteLength % 4)) % 4;
    position = await readAll(fh, new Uint8Array(pad), position, hash);
    const bands: Float32Array[] = [];
    for (const n of meta.features.bandLengths) {
      const b = new Float32Array(n);
      position = await readAll(fh, bytesOf(b), position, hash);
      bands.push(b);
    }
    const energy = new Float32Array(meta.features.energyLength);
    await readAll(fh, bytesOf(energy), position, hash);
    if (hash.digest('hex') !== meta.sha256) throw new PreparedCacheError('data checksum mismatch');
    const d = meta.decoded;
    const f = meta.features;
    const features: Features = { rate: f.rate, hopSeconds: f.hopSeconds, length: f.length, bands, energy };
    return {
      probe: meta.probe,
      decoded: { pcm, sampleRate: d.sampleRate, description: d.description, decodedSeconds: d.decodedSeconds, truncated: d.truncated, warnings: d.warnings },
      features,
      selection: meta.selection,
      speech: meta.speech ?? null,
    };
  } finally {
    await fh.close();
  }
}

async function readAll(fh: Awaited<ReturnType<typeof open>>, into: Uint8Array, position: number, hash: ReturnType<typeof createHash>): Promise<number> {
  for (let off = 0; off < into.length; ) {
    const { bytesRead } = await fh.read(into, off, Math.min(CHUNK, into.length - off), position + off);
    if (bytesRead === 0) throw new PreparedCacheError('data ended early');
    hash.update(into.subarray(off, off + bytesRead));
    off += bytesRead;
  }
  return position + into.length;
}

/** JSON with object keys sorted at every level, so key order never changes a cache key. */
function canonicalJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map(sort);
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sort((v as Record<string, unknown>)[k]);
    return out;
  };
  return JSON.stringify(sort(value)) ?? 'null';
}
