// Input limits of the analysis layer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MediaInputError, nullLogger, resolveTools } from '@sync-analyzer/media';
import { analyzeFiles } from './analyze-files.ts';

test('a programme longer than the limit is refused as bad input, naming the limit', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sa-limits-'));
  try {
    const f = join(dir, 'tone.wav');
    const r = spawnSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=f=440:d=5', f]);
    assert.equal(r.status, 0, String(r.stderr));
    await assert.rejects(analyzeFiles(f, f, { tools: resolveTools(), logger: nullLogger, maxDurationSeconds: 3 }), (e: unknown) => {
      assert.ok(e instanceof MediaInputError, `got ${String(e)}`);
      assert.equal(e.code, 'too_long');
      assert.match(e.message, /limit is 0\.00 h|limit/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
