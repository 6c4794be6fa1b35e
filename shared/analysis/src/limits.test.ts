// Input limits of the analysis layer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

test('a header that under-states the duration does not get past the limit: the decode itself is capped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sa-limits-'));
  try {
    const honest = join(dir, 'honest.mp3');
    const r = spawnSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'anoisesrc=d=20:r=8000:a=0.3', '-ac', '1', '-c:a', 'libmp3lame', '-b:a', '8k', honest]);
    assert.equal(r.status, 0, String(r.stderr));
    // The Xing header's frame count says 20 frames (about 1.4 s) of what is 20 s of audio.
    const b = readFileSync(honest);
    const xing = b.indexOf('Xing') >= 0 ? b.indexOf('Xing') : b.indexOf('Info');
    assert.ok(xing > 0);
    b.writeUInt32BE(20, xing + 8);
    const lying = join(dir, 'lying.mp3');
    writeFileSync(lying, b);
    await assert.rejects(analyzeFiles(lying, lying, { tools: resolveTools(), logger: nullLogger, maxDurationSeconds: 5 }), (e: unknown) => {
      assert.ok(e instanceof MediaInputError, `got ${String(e)}`);
      assert.equal(e.code, 'too_long');
      assert.match(e.message, /more than 5 s of audio decoded; the file declares 1\.\d s/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
