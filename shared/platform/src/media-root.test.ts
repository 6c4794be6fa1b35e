// Confinement of client paths on a real directory tree with symlinks pointing in and out.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MediaRoot, OutputRoot, PathError, type PathErrorCode } from './media-root.ts';

let base: string;
let rootDir: string;
let outside: string;
let media: MediaRoot;

before(async () => {
  base = await realpath(await mkdtemp(path.join(tmpdir(), 'media-root-test-')));
  rootDir = path.join(base, 'root');
  outside = path.join(base, 'outside');
  await mkdir(path.join(rootDir, 'sub', 'deeper'), { recursive: true });
  await mkdir(path.join(rootDir, 'Empty dir'));
  await mkdir(outside);
  await writeFile(path.join(outside, 'secret.wav'), 'secret');
  await writeFile(path.join(rootDir, 'a.wav'), 'aaaa');
  await writeFile(path.join(rootDir, 'ep10.mxf'), '10');
  await writeFile(path.join(rootDir, 'ep2.mxf'), '2');
  await writeFile(path.join(rootDir, 'notes.txt'), 'hello');
  await writeFile(path.join(rootDir, '.hidden.wav'), 'h');
  await writeFile(path.join(rootDir, 'sub', 'b.mov'), 'bbb');
  await symlink(path.join(outside, 'secret.wav'), path.join(rootDir, 'link-out.wav'));
  await symlink(outside, path.join(rootDir, 'linkdir-out'));
  await symlink(path.join(rootDir, 'sub', 'b.mov'), path.join(rootDir, 'link-in.mov'));
  await symlink(path.join(rootDir, 'sub'), path.join(rootDir, 'linkdir-in'));
  await symlink(path.join(rootDir, 'nowhere.wav'), path.join(rootDir, 'dangling.wav'));
  // A relative symlink that climbs out.
  await symlink('../../outside/secret.wav', path.join(rootDir, 'sub', 'rel-out.wav'));
  // The configured root itself reached through a symlink.
  await symlink(rootDir, path.join(base, 'root-alias'));
  media = await MediaRoot.open(path.join(base, 'root-alias'));
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

async function rejects(p: Promise<unknown>, code: PathErrorCode, status: number, given?: string): Promise<PathError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PathError, `expected PathError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.status, status);
    // Never reveals where things live outside the root (unless the client named it).
    if (!err.path.includes(outside)) assert.ok(!err.message.includes(outside), err.message);
    if (given !== undefined) assert.equal(err.path, given);
    return err;
  }
  assert.fail(`expected ${code}`);
}

describe('MediaRoot.resolveFile', () => {
  test('realRoot is the real path of the configured root', () => {
    assert.equal(media.realRoot, rootDir);
  });

  test('accepts relative paths and absolute paths inside the root (real or as configured)', async () => {
    for (const p of ['a.wav', './a.wav', 'sub//b.mov', path.join(rootDir, 'a.wav'), path.join(base, 'root-alias', 'sub', 'b.mov')]) {
      const r = await media.resolveFile(p);
      assert.ok(r.absolute.startsWith(rootDir + path.sep), p);
      assert.ok(['a.wav', 'sub/b.mov'].includes(r.relative), `${p} -> ${r.relative}`);
    }
    assert.deepEqual(await media.resolveFile('sub/b.mov'), { absolute: path.join(rootDir, 'sub', 'b.mov'), relative: 'sub/b.mov' });
  });

  test('symlinks that stay inside resolve to their target', async () => {
    assert.equal((await media.resolveFile('link-in.mov')).relative, 'sub/b.mov');
    assert.equal((await media.resolveFile('linkdir-in/b.mov')).relative, 'sub/b.mov');
  });

  test('rejects empty paths, NUL bytes and any .. segment', async () => {
    await rejects(media.resolveFile(''), 'bad_path', 400);
    await rejects(media.resolveFile('   '), 'bad_path', 400);
    await rejects(media.resolveFile('a.wav\0.txt'), 'bad_path', 400);
    await rejects(media.resolveFile('../outside/secret.wav'), 'bad_path', 400, '../outside/secret.wav');
    // Would stay inside, still refused.
    await rejects(media.resolveFile('sub/../a.wav'), 'bad_path', 400);
    await rejects(media.resolveFile(`${rootDir}/sub/../a.wav`), 'bad_path', 400);
    await rejects(media.resolveFile('sub\\..\\a.wav'), 'bad_path', 400);
  });

  test('rejects absolute paths outside the root, and symlinks leading out at any level', async () => {
    await rejects(media.resolveFile('/etc/passwd'), 'outside_root', 403, '/etc/passwd');
    await rejects(media.resolveFile(path.join(outside, 'secret.wav')), 'outside_root', 403);
    // A sibling whose name starts with the root's name is not inside it.
    await rejects(media.resolveFile(`${rootDir}-other/x.wav`), 'outside_root', 403);
    await rejects(media.resolveFile('link-out.wav'), 'outside_root', 403, 'link-out.wav');
    await rejects(media.resolveFile('linkdir-out/secret.wav'), 'outside_root', 403);
    await rejects(media.resolveFile('sub/rel-out.wav'), 'outside_root', 403);
    await rejects(media.resolveDir('linkdir-out'), 'outside_root', 403);
  });

  test('missing paths, directories as files and files as directories', async () => {
    await rejects(media.resolveFile('missing.wav'), 'not_found', 404, 'missing.wav');
    await rejects(media.resolveFile('dangling.wav'), 'not_found', 404);
    await rejects(media.resolveFile('a.wav/x.wav'), 'not_found', 404);
    await rejects(media.resolveFile('sub'), 'not_a_file', 400);
    await rejects(media.resolveDir('a.wav'), 'not_a_directory', 400);
  });

  test('the root itself is a directory', async () => {
    assert.deepEqual(await media.resolveDir('.'), { absolute: rootDir, relative: '.' });
    assert.deepEqual(await media.resolveDir(rootDir), { absolute: rootDir, relative: '.' });
    assert.equal((await media.resolveDir('linkdir-in')).relative, 'sub');
  });

  test('open refuses a missing root or a file as root', async () => {
    await rejects(MediaRoot.open(path.join(base, 'nope')), 'not_found', 404);
    await rejects(MediaRoot.open(path.join(rootDir, 'a.wav')), 'not_a_directory', 400);
  });
});

describe('MediaRoot.list', () => {
  test('directories first, then names in natural order; dotfiles and escaping symlinks hidden', async () => {
    const l = await media.list('.');
    assert.equal(l.path, '.');
    assert.equal(l.truncated, false);
    assert.deepEqual(
      l.entries.map((e) => [e.name, e.type]),
      [
        ['Empty dir', 'dir'],
        ['linkdir-in', 'dir'],
        ['sub', 'dir'],
        ['a.wav', 'file'],
        ['ep2.mxf', 'file'],
        ['ep10.mxf', 'file'],
        ['link-in.mov', 'file'],
        ['notes.txt', 'file'],
      ],
    );
    const a = l.entries.find((e) => e.name === 'a.wav')!;
    assert.equal(a.size, 4);
    assert.equal(a.media, true);
    assert.equal(a.path, 'a.wav');
    assert.ok(!Number.isNaN(Date.parse(a.mtime)));
    assert.equal(l.entries.find((e) => e.name === 'notes.txt')!.media, false);
    assert.equal(l.entries.find((e) => e.name === 'link-in.mov')!.size, 3);
    const sub = l.entries.find((e) => e.name === 'sub')!;
    assert.equal(sub.size, null);
    assert.equal(sub.media, false);
  });

  test('entry paths are usable as input; subdirectories list with their relative path', async () => {
    const l = await media.list('sub');
    assert.equal(l.path, 'sub');
    assert.deepEqual(l.entries.map((e) => e.path), ['sub/deeper', 'sub/b.mov']);
    for (const e of l.entries.filter((x) => x.type === 'file')) await media.resolveFile(e.path);
  });

  test('limit truncates after sorting; hidden files on request', async () => {
    const l = await media.list('.', { limit: 2 });
    assert.equal(l.truncated, true);
    assert.deepEqual(l.entries.map((e) => e.name), ['Empty dir', 'linkdir-in']);
    const all = await media.list('.', { showHidden: true });
    assert.ok(all.entries.some((e) => e.name === '.hidden.wav'));
  });

  test('listing applies the same confinement', async () => {
    await rejects(media.list('linkdir-out'), 'outside_root', 403);
    await rejects(media.list('../'), 'bad_path', 400);
    await rejects(media.list('a.wav'), 'not_a_directory', 400);
  });
});

describe('OutputRoot.allocate', () => {
  let outRootDir: string;
  let out: OutputRoot;

  before(async () => {
    outRootDir = path.join(base, 'out', 'nested');
    out = await OutputRoot.open(outRootDir);
    await symlink(outside, path.join(outRootDir, 'escape'));
  });

  test('creates the root and the directories, and reserves the file', async () => {
    const r = await out.allocate('show/ep1', 'dub.fixed.wav');
    assert.deepEqual(r, { absolute: path.join(outRootDir, 'show', 'ep1', 'dub.fixed.wav'), relative: 'show/ep1/dub.fixed.wav' });
    assert.deepEqual(await readdir(path.join(outRootDir, 'show', 'ep1')), ['dub.fixed.wav']);
  });

  test('a taken name gets a numbered variant, also under concurrency', async () => {
    const rs = await Promise.all(Array.from({ length: 4 }, () => out.allocate('show/ep1', 'dub.fixed.wav')));
    assert.deepEqual(rs.map((r) => r.relative).sort(), ['show/ep1/dub.fixed (1).wav', 'show/ep1/dub.fixed (2).wav', 'show/ep1/dub.fixed (3).wav', 'show/ep1/dub.fixed (4).wav']);
    const noExt = await Promise.all([out.allocate('.', 'README'), out.allocate('', 'README')]);
    assert.deepEqual(noExt.map((r) => r.relative).sort(), ['README', 'README (1)']);
  });

  test('refuses traversal, bad names and symlinked components leading out', async () => {
    await rejects(out.allocate('../x', 'a.wav'), 'bad_path', 400);
    await rejects(out.allocate('show', '../a.wav'), 'bad_path', 400);
    await rejects(out.allocate('show', 'a/b.wav'), 'bad_path', 400);
    await rejects(out.allocate('show', '..'), 'bad_path', 400);
    await rejects(out.allocate('show', ''), 'bad_path', 400);
    await rejects(out.allocate('/etc', 'a.wav'), 'outside_root', 403);
    await rejects(out.allocate('escape/new', 'a.wav'), 'outside_root', 403);
    await rejects(out.allocate('escape', 'a.wav'), 'outside_root', 403);
    // Nothing was created outside the root.
    assert.deepEqual((await readdir(outside)).sort(), ['secret.wav']);
  });

  test('a file in the way of a directory', async () => {
    await writeFile(path.join(outRootDir, 'plain'), 'x');
    await rejects(out.allocate('plain/sub', 'a.wav'), 'not_a_directory', 400);
  });

  test('an existing symlink at the chosen name is never written through', async () => {
    await mkdir(path.join(outRootDir, 'links'));
    await symlink(path.join(outside, 'planted.wav'), path.join(outRootDir, 'links', 'a.wav'));
    const r = await out.allocate('links', 'a.wav');
    assert.equal(r.relative, 'links/a (1).wav');
    assert.deepEqual((await readdir(outside)).sort(), ['secret.wav']);
  });
});
