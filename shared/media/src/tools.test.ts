import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ToolMissingError } from './errors.ts';
import { makeTempDir } from './test-fixtures.ts';
import { checkTools, resolveTools } from './tools.ts';

function assertToolMissing(tool: 'ffmpeg' | 'ffprobe', toolPath: string, why: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof ToolMissingError, `expected ToolMissingError, got ${String(e)}`);
    assert.equal(e.tool, tool);
    assert.equal(e.envVar, tool === 'ffmpeg' ? 'FFMPEG_PATH' : 'FFPROBE_PATH');
    assert.match(e.message, new RegExp(`^${tool} not found or not runnable at '${toolPath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}'`));
    assert.match(e.message, new RegExp(`set ${e.envVar} to the ${tool} binary`));
    assert.match(e.message, why);
    return true;
  };
}

describe('resolveTools', () => {
  test('defaults to the names on PATH; honours FFMPEG_PATH / FFPROBE_PATH', () => {
    assert.deepEqual(resolveTools({}), { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe' });
    assert.deepEqual(resolveTools({ FFMPEG_PATH: ' ', FFPROBE_PATH: '' }), { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe' });
    assert.deepEqual(resolveTools({ FFMPEG_PATH: '/opt/a/ffmpeg', FFPROBE_PATH: '/opt/b/ffprobe' }), {
      ffmpeg: '/opt/a/ffmpeg',
      ffprobe: '/opt/b/ffprobe',
    });
  });

  test('with only FFMPEG_PATH, an ffprobe beside it is used when it exists', async () => {
    const { dir, cleanup } = await makeTempDir();
    try {
      const ffmpeg = path.join(dir, 'ffmpeg');
      await writeFile(ffmpeg, '');
      assert.deepEqual(resolveTools({ FFMPEG_PATH: ffmpeg }), { ffmpeg, ffprobe: 'ffprobe' });
      await writeFile(path.join(dir, 'ffprobe'), '');
      assert.deepEqual(resolveTools({ FFMPEG_PATH: ffmpeg }), { ffmpeg, ffprobe: path.join(dir, 'ffprobe') });
    } finally {
      await cleanup();
    }
  });
});

describe('checkTools', () => {
  test('reports the versions of the real tools', async () => {
    const v = await checkTools({ ffmpeg: '/usr/bin/ffmpeg', ffprobe: '/usr/bin/ffprobe' });
    assert.match(v.ffmpegVersion, /^\S*\d+\.\d+/);
    assert.match(v.ffprobeVersion, /^\S*\d+\.\d+/);
    assert.equal(typeof v.soxr, 'boolean');
  });

  test('a bogus FFMPEG_PATH gives ToolMissingError naming FFMPEG_PATH', async () => {
    const tools = resolveTools({ FFMPEG_PATH: '/nonexistent/dir/ffmpeg' });
    await assert.rejects(checkTools(tools), assertToolMissing('ffmpeg', '/nonexistent/dir/ffmpeg', /ENOENT/));
  });

  test('a bogus FFPROBE_PATH gives ToolMissingError naming FFPROBE_PATH', async () => {
    const tools = resolveTools({ FFMPEG_PATH: '/usr/bin/ffmpeg', FFPROBE_PATH: '/nonexistent/ffprobe' });
    await assert.rejects(checkTools(tools), assertToolMissing('ffprobe', '/nonexistent/ffprobe', /ENOENT/));
  });

  test('tools that exist but do not work are rejected too', async () => {
    const { dir, cleanup } = await makeTempDir();
    try {
      const notExec = path.join(dir, 'ffmpeg');
      await writeFile(notExec, 'not a program\n');
      await chmod(notExec, 0o644);
      await assert.rejects(checkTools({ ffmpeg: notExec, ffprobe: '/usr/bin/ffprobe' }), assertToolMissing('ffmpeg', notExec, /EACCES/));
      // Runs, but fails.
      const failing = path.join(dir, 'failing-ffprobe');
      await writeFile(failing, '#!/bin/sh\necho "broken build" >&2\nexit 3\n');
      await chmod(failing, 0o755);
      await assert.rejects(
        checkTools({ ffmpeg: '/usr/bin/ffmpeg', ffprobe: failing }),
        assertToolMissing('ffprobe', failing, /exited with 3: broken build/),
      );
      // Runs, succeeds, but is not ffprobe.
      await assert.rejects(checkTools({ ffmpeg: '/usr/bin/ffmpeg', ffprobe: '/bin/echo' }), assertToolMissing('ffprobe', '/bin/echo', /did not print a ffprobe version/));
    } finally {
      await cleanup();
    }
  });
});
