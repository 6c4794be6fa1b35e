// decodePcm's second output: the same audio at another rate from the same decode, streamed in
// chunks; the main output is unchanged by it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { decodePcm } from './decode.ts';
import { probeMedia } from './probe.ts';
import { nullLogger } from './logger.ts';
import { ff, makeTempDir, FFMPEG } from './test-fixtures.ts';

test('extraOutput streams a 16 kHz copy; the 8 kHz output is bit-identical to a plain decode', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    const f = path.join(dir, 'in.wav');
    await ff(['-f', 'lavfi', '-i', 'anoisesrc=d=12:c=pink:r=48000:seed=3', '-ac', '2', '-c:a', 'pcm_s16le', f]);
    const tools = { ffmpeg: FFMPEG, ffprobe: FFMPEG.replace(/ffmpeg$/, 'ffprobe') };
    const probe = await probeMedia(f, { tools, logger: nullLogger });
    const chunks: Int16Array[] = [];
    const a = await decodePcm(f, { tools, logger: nullLogger, probe, selection: { kind: 'auto' }, sampleRate: 8000, extraOutput: { sampleRate: 16000, onChunk: (c) => { chunks.push(c); } } });
    const b = await decodePcm(f, { tools, logger: nullLogger, probe, selection: { kind: 'auto' }, sampleRate: 8000 });
    assert.equal(a.pcm.length, b.pcm.length);
    assert.ok(a.pcm.every((v, i) => v === b.pcm[i]), 'main output unchanged');
    const n16 = chunks.reduce((n, c) => n + c.length, 0);
    assert.ok(Math.abs(n16 - 2 * a.pcm.length) <= 2, `${n16} vs ${2 * a.pcm.length}`);
    // Same level: the 16 kHz copy is the same signal.
    const rms = (xs: Iterable<number>, n: number) => { let s = 0; for (const x of xs) s += x * x; return Math.sqrt(s / n); };
    const r16 = rms((function* () { for (const c of chunks) yield* c; })(), n16);
    const r8 = rms(a.pcm, a.pcm.length);
    assert.ok(r16 > r8 * 0.95, `${r16} vs ${r8}`);
  } finally {
    await cleanup();
  }
});
