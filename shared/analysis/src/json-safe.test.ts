// A result survives JSON (the queue, the database, --json): no NaN or Infinity anywhere, so the
// parsed document still validates. Regression: an edited dub whose drift fit had no standard
// error produced diagnostics.ratioStdErr = NaN, which JSON turned into null.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { AnalysisResult } from '@sync-analyzer/engine';
import { nullLogger, resolveTools } from '@sync-analyzer/media';
import { analyzeFiles } from './analyze-files.ts';
import { ff, makeTempDir } from '../../media/src/test-fixtures.ts';

test('an edited pink-noise dub: every number in the result is finite and the JSON round trip validates', async () => {
  const { dir, cleanup } = await makeTempDir('json-safe-');
  try {
    const m = path.join(dir, 'm.wav');
    const d = path.join(dir, 'd.wav');
    await ff(['-f', 'lavfi', '-i', 'anoisesrc=d=30:c=pink:r=48000:seed=5', '-c:a', 'pcm_s16le', m]);
    await ff(['-i', m, '-filter_complex', '[0:a]atrim=0:10,asetpts=PTS-STARTPTS[a];[0:a]atrim=13,asetpts=PTS-STARTPTS[b];[a][b]concat=n=2:v=0:a=1', '-c:a', 'pcm_s16le', d]);
    const r = await analyzeFiles(m, d, { tools: resolveTools(), logger: nullLogger });
    const nonFinite: string[] = [];
    const walk = (v: unknown, at: string): void => {
      if (typeof v === 'number' && !Number.isFinite(v)) nonFinite.push(at);
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, `${at}.${k}`);
    };
    walk(r, 'result');
    assert.deepEqual(nonFinite, []);
    const parsed = AnalysisResult.safeParse(JSON.parse(JSON.stringify(r)));
    assert.ok(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues.slice(0, 3)));
  } finally {
    await cleanup();
  }
});
