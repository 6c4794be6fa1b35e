// Cheap identities for input files and submissions: a fingerprint reads at most 2 MiB of a
// file (its head and tail), whatever its size, so fingerprinting a multi-gigabyte master at
// submission time costs milliseconds. The dedupe key hashes both fingerprints with the options
// in a canonical form, so the same submission always gets the same key.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { FileFingerprint } from './db/types.ts';

const MIB = 1024 * 1024;

export class FingerprintError extends Error {
  override readonly name = 'FingerprintError';
}

export async function fingerprintFile(absPath: string): Promise<FileFingerprint> {
  const fh = await open(absPath, 'r');
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new FingerprintError(`${absPath} is not a regular file`);
    const size = st.size;
    const hash = createHash('sha256');
    // The size is hashed too: two files sharing head and tail but not length differ.
    hash.update(`size:${size}\n`);
    if (size < 2 * MIB) await hashRange(fh, hash, 0, size);
    else {
      await hashRange(fh, hash, 0, MIB);
      await hashRange(fh, hash, size - MIB, MIB);
    }
    return { size, mtimeMs: Math.floor(st.mtimeMs), headTailSha256: hash.digest('hex') };
  } finally {
    await fh.close();
  }
}

async function hashRange(fh: Awaited<ReturnType<typeof open>>, hash: ReturnType<typeof createHash>, start: number, length: number): Promise<void> {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  // read() may return less than asked; 0 means the file ended (it shrank since the stat).
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, start + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  hash.update(buf.subarray(0, got));
}

/**
 * Key shared by identical submissions: same two files (by fingerprint), same options, same
 * engine version. Option key order does not matter; keys with undefined values count as absent.
 */
export function dedupeKey(master: FileFingerprint, dub: FileFingerprint, options: unknown, engineVersion: string): string {
  const pick = (f: FileFingerprint) => ({ size: f.size, mtimeMs: f.mtimeMs, headTailSha256: f.headTailSha256 });
  const doc = { v: 1, master: pick(master), dub: pick(dub), options: options ?? null, engineVersion };
  return createHash('sha256').update(canonicalJson(doc)).digest('hex');
}

/** JSON with object keys sorted at every level (arrays keep their order). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? 'null';
}

function sortKeys(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  // Dates and the like serialise the way JSON.stringify would.
  const json = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof json === 'function') return sortKeys(json.call(value));
  if (Array.isArray(value)) return value.map(sortKeys);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort()) out[k] = sortKeys((value as Record<string, unknown>)[k]);
  return out;
}
