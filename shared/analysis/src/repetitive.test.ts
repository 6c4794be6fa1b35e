// Regression on the quick-start demo pair (repetitive bed: gated noise and a looping melody,
// dialogue in two languages, a 10 s scene cut, AAC): the feature match is ambiguous there and
// the PCM stage must still find both segments. An earlier build reported one wrong offset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { nullLogger, resolveTools } from '@sync-analyzer/media';
import { makeTempDir } from '../../../services/cli/src/testing/media-fixtures.ts';
import { analyzeFiles } from './analyze-files.ts';

test('the demo pair: two segments (+2.5 s, then -7.5 s after the cut), boundary within 0.5 s', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    const gen = spawnSync('bash', ['scripts/make-demo-pair.sh', dir], { encoding: 'utf8' });
    assert.equal(gen.status, 0, gen.stderr);
    const r = await analyzeFiles(join(dir, 'master.wav'), join(dir, 'dub.m4a'), { tools: resolveTools(), logger: nullLogger });
    const what = JSON.stringify(r.segments.map((s) => [s.master_start, s.master_end, s.offset_seconds].map((x) => +x.toFixed(3))));
    assert.equal(r.verdict, 'edited', what);
    assert.equal(r.segments.length, 2, what);
    assert.ok(Math.abs(r.offset_seconds! - 2.5) < 0.001, what);
    // aselect cuts on 1024-sample frames: the removed span is 10 s to within a few ms.
    assert.ok(Math.abs(r.segments[1]!.offset_seconds + 7.5) < 0.01, what);
    const gap = r.gaps.find((g) => g.kind === 'removed');
    assert.ok(gap && Math.abs(gap.master_start - 60) < 0.5 && Math.abs(gap.master_end - 70) < 0.5, JSON.stringify(r.gaps));
    assert.ok(r.confidence > 0.5, `confidence ${r.confidence}`);
  } finally {
    await cleanup();
  }
});
