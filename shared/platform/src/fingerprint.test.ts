import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canonicalJson, dedupeKey, fingerprintFile, FingerprintError } from './fingerprint.ts';
import type { FileFingerprint } from './db/types.ts';

const MIB = 1024 * 1024;
let dir: string;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fingerprint-test-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const expected = (size: number, ...parts: Buffer[]) => {
  const h = createHash('sha256').update(`size:${size}\n`);
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

async function patchByte(file: string, position: number): Promise<void> {
  const fh = await open(file, 'r+');
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, position);
  b[0] = b[0]! ^ 0xff;
  await fh.write(b, 0, 1, position);
  await fh.close();
}

describe('fingerprintFile', () => {
  test('a small file is hashed whole, with its size', async () => {
    const data = randomBytes(300_000);
    const f = path.join(dir, 'small.bin');
    await writeFile(f, data);
    const fp = await fingerprintFile(f);
    const st = await stat(f);
    assert.equal(fp.size, data.length);
    assert.equal(fp.mtimeMs, Math.floor(st.mtimeMs));
    assert.equal(fp.headTailSha256, expected(data.length, data));
    await patchByte(f, 150_000);
    assert.notEqual((await fingerprintFile(f)).headTailSha256, fp.headTailSha256);
  });

  test('a large file: first and last MiB only (the middle is never read)', async () => {
    const data = randomBytes(3 * MIB + 123);
    const f = path.join(dir, 'large.bin');
    await writeFile(f, data);
    const fp = await fingerprintFile(f);
    assert.equal(fp.headTailSha256, expected(data.length, data.subarray(0, MIB), data.subarray(data.length - MIB)));
    await patchByte(f, MIB + 1000);
    assert.equal((await fingerprintFile(f)).headTailSha256, fp.headTailSha256, 'middle change is not seen');
    await patchByte(f, data.length - 10);
    assert.notEqual((await fingerprintFile(f)).headTailSha256, fp.headTailSha256, 'tail change is seen');
  });

  test('exactly 2 MiB and empty files; the size is part of the hash', async () => {
    const data = randomBytes(2 * MIB);
    const f = path.join(dir, 'two.bin');
    await writeFile(f, data);
    assert.equal((await fingerprintFile(f)).headTailSha256, expected(data.length, data));
    const e = path.join(dir, 'empty.bin');
    await writeFile(e, '');
    assert.deepEqual({ ...(await fingerprintFile(e)), mtimeMs: 0 }, { size: 0, mtimeMs: 0, headTailSha256: expected(0) });
    // Same head and tail bytes, different length.
    const z1 = path.join(dir, 'z1.bin');
    const z2 = path.join(dir, 'z2.bin');
    await writeFile(z1, Buffer.alloc(3 * MIB));
    await writeFile(z2, Buffer.alloc(4 * MIB));
    assert.notEqual((await fingerprintFile(z1)).headTailSha256, (await fingerprintFile(z2)).headTailSha256);
  });

  test('mtime follows the file; directories and missing files fail', async () => {
    const f = path.join(dir, 'touched.bin');
    await writeFile(f, 'x');
    await utimes(f, new Date(1_700_000_000_000), new Date(1_700_000_000_000));
    assert.equal((await fingerprintFile(f)).mtimeMs, 1_700_000_000_000);
    await assert.rejects(fingerprintFile(dir), FingerprintError);
    await assert.rejects(fingerprintFile(path.join(dir, 'missing')), { code: 'ENOENT' });
  });
});

describe('dedupeKey', () => {
  const m: FileFingerprint = { size: 10, mtimeMs: 1000, headTailSha256: 'a'.repeat(64) };
  const d: FileFingerprint = { size: 20, mtimeMs: 2000, headTailSha256: 'b'.repeat(64) };

  test('option key order (at every level) and undefined values do not matter', () => {
    const k1 = dedupeKey(m, d, { fullRate: true, masterSelection: { kind: 'stream', audioIndex: 1 }, params: { a: [1, { y: 2, x: 1 }] } }, '1.0.0');
    const k2 = dedupeKey(m, d, { params: { a: [1, { x: 1, y: 2 }] }, masterSelection: { audioIndex: 1, kind: 'stream' }, fullRate: true, notes: undefined }, '1.0.0');
    assert.equal(k1, k2);
    assert.match(k1, /^[0-9a-f]{64}$/);
    // Extra fields on the fingerprint objects (from a database row) are ignored.
    assert.equal(dedupeKey({ ...m, id: 5 } as FileFingerprint, d, {}, 'v'), dedupeKey(m, d, {}, 'v'));
  });

  test('anything that matters changes the key', () => {
    const k = dedupeKey(m, d, { fullRate: true }, '1.0.0');
    const variants = [
      dedupeKey(m, d, { fullRate: false }, '1.0.0'),
      dedupeKey(m, d, { fullRate: true }, '1.0.1'),
      dedupeKey(d, m, { fullRate: true }, '1.0.0'),
      dedupeKey({ ...m, mtimeMs: 1001 }, d, { fullRate: true }, '1.0.0'),
      dedupeKey(m, { ...d, size: 21 }, { fullRate: true }, '1.0.0'),
      dedupeKey(m, { ...d, headTailSha256: 'c'.repeat(64) }, { fullRate: true }, '1.0.0'),
      dedupeKey(m, d, { fullRate: true, params: { x: [1, 2] } }, '1.0.0'),
      dedupeKey(m, d, { fullRate: true, params: { x: [2, 1] } }, '1.0.0'),
    ];
    assert.equal(new Set([k, ...variants]).size, variants.length + 1);
  });

  test('canonicalJson sorts keys recursively and keeps array order', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, { f: 1, e: 2 }], c: null } }), '{"a":{"c":null,"d":[3,{"e":2,"f":1}]},"b":1}');
    assert.equal(canonicalJson(undefined), 'null');
    assert.equal(canonicalJson({ t: new Date(0) }), '{"t":"1970-01-01T00:00:00.000Z"}');
  });
});
