/**
 * Cheap header checks ffprobe does not expose: for WAV (RIFF/RIFX) and AIFF, the data
 * chunk's declared size against the file size, to tell a cut-off file from a whole one.
 */
import { open } from 'node:fs/promises';

const HEAD_BYTES = 1 << 16;

/**
 * True when a WAV/AIFF header declares more audio data than the file holds. False for
 * other formats, whole files, and headers with an unknown ("streaming") size.
 */
export async function headerDeclaresMoreData(path: string, fileSize: number): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(Math.min(HEAD_BYTES, fileSize));
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const head = buf.subarray(0, bytesRead);
    const end = declaredDataEnd(head);
    return end !== null && end > fileSize;
  } finally {
    await fh.close();
  }
}

/** Byte offset where the declared audio data ends, or null when unknown. Exported for tests. */
export function declaredDataEnd(head: Buffer): number | null {
  if (head.length < 12) return null;
  const magic = head.toString('latin1', 0, 4);
  const kind = head.toString('latin1', 8, 12);
  if ((magic === 'RIFF' || magic === 'RIFX') && kind === 'WAVE') {
    const le = magic === 'RIFF';
    return findChunk(head, 12, 'data', le, (off, size) => (size === 0 || size === 0xffffffff ? null : off + 8 + size));
  }
  if (magic === 'FORM' && (kind === 'AIFF' || kind === 'AIFC')) {
    return findChunk(head, 12, 'SSND', false, (off, size) => (size === 0 || size === 0xffffffff ? null : off + 8 + size));
  }
  return null;
}

function findChunk(
  head: Buffer,
  start: number,
  id: string,
  le: boolean,
  found: (offset: number, size: number) => number | null,
): number | null {
  let off = start;
  while (off + 8 <= head.length) {
    const cid = head.toString('latin1', off, off + 4);
    const size = le ? head.readUInt32LE(off + 4) : head.readUInt32BE(off + 4);
    if (cid === id) return found(off, size);
    off += 8 + size + (size % 2); // chunks are word-aligned
  }
  return null;
}
