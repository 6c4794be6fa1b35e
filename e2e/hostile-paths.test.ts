// Hostile paths, end to end (real API, worker, private Redis, ffmpeg): traversal, absolute
// paths and symlinks leaving the media root, missing files, directories, FIFOs, sockets and
// device nodes are refused with the precise status and code on every route that takes a path;
// a file swapped for an escaping symlink after submission is refused by the worker too. Names
// with spaces, quotes, newlines and shell metacharacters analyse correctly, and canaries such
// as `$(touch /tmp/pwned-…)` create nothing: no shell is involved anywhere. The service keeps
// answering, and a good job submitted among the bad ones completes correctly.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, rename, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startStack, makeProgramme, makeDub, until, runsOf, type Stack } from './harness.ts';

const OFFSET = 0.37;
let s: Stack;
let outside: string;
let sibling: string;
const tag = randomBytes(4).toString('hex');
/** Files a shell would create if any path ever reached one. */
const canaries = [1, 2, 3, 4, 5].map((n) => path.join(os.tmpdir(), `pwned-${tag}-${n}`));
const bareCanaries = [6, 7, 8, 9, 10].map((n) => `pwned-${tag}-${n}`);
let socketServer: net.Server;
let deviceNode = false;

function run(cmd: string, args: string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: 'ignore' });
    p.on('error', () => resolve(null));
    p.on('close', resolve);
  });
}

/** A copy of `source` at `rel` under the media root (directories created). */
async function place(source: string, rel: string): Promise<void> {
  const target = path.join(s.mediaRoot, rel);
  await mkdir(path.dirname(target), { recursive: true });
  await copyFile(source, target);
}

before(async () => {
  // Well over a hundred refused requests: the per-key rate limit is not what is tested here.
  s = await startStack({ env: { RATE_LIMIT_PER_MINUTE: '100000' } });
  const root = s.mediaRoot;
  await makeProgramme(path.join(root, 'master.wav'), 301, 15);
  await makeDub(path.join(root, 'master.wav'), path.join(root, 'dub.wav'), OFFSET);
  // Real media outside the root: refusing it is confinement, not a failed probe.
  outside = path.join(s.dir, 'outside');
  await mkdir(outside, { recursive: true });
  await copyFile(path.join(root, 'dub.wav'), path.join(outside, 'secret.wav'));
  // A sibling whose name starts with the root's: a prefix test would let it through.
  sibling = `${root}-evil`;
  await mkdir(sibling, { recursive: true });
  await copyFile(path.join(root, 'dub.wav'), path.join(sibling, 'x.wav'));

  await symlink('../outside/secret.wav', path.join(root, 'link-out-relative.wav'));
  await symlink(path.join(outside, 'secret.wav'), path.join(root, 'link-out-absolute.wav'));
  await symlink(outside, path.join(root, 'link-dir-out'));
  await symlink('chain-2.wav', path.join(root, 'chain-1.wav'));
  await symlink('link-out-relative.wav', path.join(root, 'chain-2.wav'));
  await mkdir(path.join(root, 'sub'), { recursive: true });
  await symlink('../../outside', path.join(root, 'sub', 'inner'));
  await symlink('loop-b', path.join(root, 'loop-a'));
  await symlink('loop-a', path.join(root, 'loop-b'));
  await symlink('nowhere.wav', path.join(root, 'dangling.wav'));
  await symlink('/dev/zero', path.join(root, 'dev-zero-link.wav'));
  await symlink(path.join(root, 'dub.wav'), path.join(root, 'link-in.wav'));
  await mkdir(path.join(root, 'a-directory.wav'), { recursive: true });
  assert.equal(await run('mkfifo', [path.join(root, 'pipe.wav')]), 0, 'mkfifo');
  socketServer = net.createServer();
  await new Promise<void>((r) => socketServer.listen(path.join(root, 'socket.wav'), () => r()));
  // A character device (like /dev/null) inside the root needs root privileges to create.
  deviceNode = (await run('mknod', [path.join(root, 'null.wav'), 'c', '1', '3'])) === 0;

  // Hostile names (real copies of the pair). Directory levels make the canaries' absolute
  // paths part of the name: `x$(touch /tmp/pwned-…-1).wav` is a file in 'x$(touch /tmp/'.
  const masterSrc = path.join(root, 'master.wav');
  const dubSrc = path.join(root, 'dub.wav');
  for (const [rel, src] of Object.entries(namedFiles())) await place(src === 'master' ? masterSrc : dubSrc, rel);
});

after(async () => {
  socketServer?.close();
  await s?.close();
  assert.deepEqual(s.contract.violations, [], 'responses that do not match the OpenAPI document');
});

/** Relative path -> which content it holds. */
function namedFiles(): Record<string, 'master' | 'dub'> {
  return Object.fromEntries(PAIRS.flatMap(([m, d]) => [[m, 'master'], [d, 'dub']]));
}

const PAIRS: Array<[string, string]> = [
  [`x$(touch ${canaries[0]}).wav`, `\`touch ${canaries[1]}\`.wav`],
  [`a; touch ${canaries[2]}; b.wav`, `c | touch ${canaries[3]} & touch ${canaries[4]} &.wav`],
  [`master "double" 'single' name.wav`, `dub $(touch ${bareCanaries[0]}) \`touch ${bareCanaries[1]}\`; touch ${bareCanaries[2]} | touch ${bareCanaries[3]} & touch ${bareCanaries[4]}.wav`],
  ['new\nline master.wav', 'tab\tand\rcarriage return dub.wav'],
  ['-i master.wav', '--help.wav'],
  ['épisode 01 — 日本語 ✓.wav', '*?[a]{b,c} ~$HOME %2e%2e %s.wav'],
  [' spaced master .wav', 'back\\slash dub.wav'],
];

type Case = { path: string; status: number; code: string };

function refusals(): Case[] {
  const list: Case[] = [
    { path: '../outside/secret.wav', status: 400, code: 'bad_path' },
    { path: 'sub/../../outside/secret.wav', status: 400, code: 'bad_path' },
    { path: 'sub/../dub.wav', status: 400, code: 'bad_path' },
    { path: '..\\outside\\secret.wav', status: 400, code: 'bad_path' },
    { path: 'nul\u0000.wav', status: 400, code: 'bad_path' },
    { path: `${'n'.repeat(300)}.wav`, status: 400, code: 'bad_path' },
    { path: 'loop-a', status: 400, code: 'bad_path' },
    // URL encoding means nothing in a JSON body: a literal (absent) name.
    { path: '%2e%2e/outside/secret.wav', status: 404, code: 'not_found' },
    { path: path.join(outside, 'secret.wav'), status: 403, code: 'outside_root' },
    { path: '/etc/passwd', status: 403, code: 'outside_root' },
    { path: path.join(sibling, 'x.wav'), status: 403, code: 'outside_root' },
    { path: 'link-out-relative.wav', status: 403, code: 'outside_root' },
    { path: 'link-out-absolute.wav', status: 403, code: 'outside_root' },
    { path: 'link-dir-out/secret.wav', status: 403, code: 'outside_root' },
    { path: 'chain-1.wav', status: 403, code: 'outside_root' },
    { path: 'sub/inner/secret.wav', status: 403, code: 'outside_root' },
    { path: 'dev-zero-link.wav', status: 403, code: 'outside_root' },
    { path: 'dangling.wav', status: 404, code: 'not_found' },
    { path: 'missing.wav', status: 404, code: 'not_found' },
    { path: 'a-directory.wav', status: 400, code: 'not_a_file' },
    { path: '.', status: 400, code: 'not_a_file' },
    { path: 'pipe.wav', status: 400, code: 'not_a_file' },
    { path: 'socket.wav', status: 400, code: 'not_a_file' },
    // The schema's own limits.
    { path: '', status: 400, code: 'invalid_request' },
    { path: 'a/'.repeat(2100), status: 400, code: 'invalid_request' },
  ];
  if (deviceNode) list.push({ path: 'null.wav', status: 400, code: 'not_a_file' });
  return list;
}

/** The answer must not name anything outside the root that the client did not name itself. */
function assertNoLeak(c: Case, text: string): void {
  if (!path.isAbsolute(c.path)) assert.ok(!text.includes(outside) && !text.includes(s.dir), `${JSON.stringify(c.path)}: the answer names a server path: ${text}`);
}


async function analysisCount(): Promise<number> {
  return (await s.request('GET', '/api/v1/analyses?limit=1')).body.total;
}

describe('paths leaving the root, and things that are not files', () => {
  test('analyses: every hostile path is refused with its status and code, and nothing is stored', async () => {
    const good = await s.request('POST', '/api/v1/analyses', { master: 'master.wav', dub: 'dub.wav' });
    assert.equal(good.status, 202, good.text);
    const stored = await analysisCount();
    for (const c of refusals()) {
      for (const side of ['master', 'dub'] as const) {
        const body = side === 'master' ? { master: c.path, dub: 'dub.wav' } : { master: 'master.wav', dub: c.path };
        const r = await s.request('POST', '/api/v1/analyses', body);
        assert.equal(r.status, c.status, `${side} ${JSON.stringify(c.path)}: ${r.text}`);
        assert.equal(r.body.error.code, c.code, `${side} ${JSON.stringify(c.path)}: ${r.text}`);
        if (c.code === 'invalid_request') assert.match(r.body.error.message, new RegExp(side));
        assertNoLeak(c, r.text);
      }
    }
    assert.equal(await analysisCount(), stored, 'a refused submission stores nothing');
    // The good job submitted first is unaffected.
    const done = await s.request('GET', `/api/v1/analyses/${good.body.analysis.id}?wait=180`);
    assert.equal(done.body.analysis.status, 'completed', JSON.stringify(done.body.analysis.error));
    assert.ok(Math.abs(done.body.analysis.offset_seconds - OFFSET) < 0.001, String(done.body.analysis.offset_seconds));
  });

  test('probe, listing, batches and repairs refuse the same paths the same way', async () => {
    for (const c of refusals()) {
      const probe = await s.request('GET', `/api/v1/files/probe?path=${encodeURIComponent(c.path)}`);
      assert.equal(probe.status, c.status, `probe ${JSON.stringify(c.path)}: ${probe.text}`);
      assert.equal(probe.body.error.code, c.code, `probe ${JSON.stringify(c.path)}`);
      assertNoLeak(c, probe.text);
      if (c.code === 'invalid_request') continue;
      const repair = await s.request('POST', '/api/v1/repairs', { dub: c.path, offset_seconds: 0.1, verify: false });
      assert.equal(repair.status, c.status, `repair ${JSON.stringify(c.path)}: ${repair.text}`);
      assert.equal(repair.body.error.code, c.code, `repair ${JSON.stringify(c.path)}`);
    }
    // A batch with one hostile item among good ones is refused whole, naming the item.
    const batches = (await s.request('GET', '/api/v1/batches')).body.total;
    for (const c of refusals().filter((x) => x.code !== 'invalid_request')) {
      const r = await s.request('POST', '/api/v1/batches', { items: [{ master: 'master.wav', dub: 'dub.wav' }, { master: 'master.wav', dub: c.path }] });
      assert.equal(r.status, 422, `batch ${JSON.stringify(c.path)}: ${r.text}`);
      assert.equal(r.body.error.code, 'bad_batch_items');
      assert.deepEqual(r.body.error.details.problems.map((p: any) => [p.item, p.field]), [[2, 'dub']]);
      assertNoLeak(c, r.text);
    }
    assert.equal((await s.request('GET', '/api/v1/batches')).body.total, batches, 'refused batches store nothing');
    // Listings: traversal and escaping directory symlinks refused; escaping entries hidden.
    assert.equal((await s.request('GET', '/api/v1/files?path=..')).body.error.code, 'bad_path');
    assert.equal((await s.request('GET', '/api/v1/files?path=link-dir-out')).body.error.code, 'outside_root');
    assert.equal((await s.request('GET', '/api/v1/files?path=sub%2Finner')).body.error.code, 'outside_root');
    assert.equal((await s.request('GET', `/api/v1/files?path=${encodeURIComponent(outside)}`)).body.error.code, 'outside_root');
    const root = await s.request('GET', '/api/v1/files');
    const names: string[] = root.body.entries.map((e: any) => e.name);
    for (const hidden of ['link-out-relative.wav', 'link-out-absolute.wav', 'link-dir-out', 'chain-1.wav', 'dev-zero-link.wav', 'dangling.wav', 'pipe.wav', 'socket.wav', 'loop-a']) assert.ok(!names.includes(hidden), `${hidden} listed`);
    assert.ok(names.includes('link-in.wav') && names.includes('dub.wav'), names.join(','));
  });

  test('a symlink that stays inside the root is followed and analysed', async () => {
    const r = await s.request('POST', '/api/v1/analyses?wait=180', { master: 'master.wav', dub: 'link-in.wav', options: { frameRate: '25' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.analysis.status, 'completed', JSON.stringify(r.body.analysis.error));
    assert.equal(r.body.analysis.dub, 'dub.wav', 'stored as the real path inside the root');
    assert.ok(Math.abs(r.body.analysis.offset_seconds - OFFSET) < 0.001);
  });

  test('a file swapped for an escaping symlink after submission is refused by the worker', async () => {
    await s.stopWorker();
    try {
      await copyFile(path.join(s.mediaRoot, 'dub.wav'), path.join(s.mediaRoot, 'swap.wav'));
      const sub = await s.request('POST', '/api/v1/analyses', { master: 'master.wav', dub: 'swap.wav' });
      assert.equal(sub.status, 202, sub.text);
      // Atomically replaced by a symlink to real media outside the root.
      await symlink(path.join(outside, 'secret.wav'), path.join(s.mediaRoot, 'swap.tmp'));
      await rename(path.join(s.mediaRoot, 'swap.tmp'), path.join(s.mediaRoot, 'swap.wav'));
      await s.startWorker();
      const a = (await s.request('GET', `/api/v1/analyses/${sub.body.analysis.id}?wait=120`)).body.analysis;
      assert.equal(a.status, 'failed', JSON.stringify(a));
      assert.equal(a.error.code, 'outside_root', JSON.stringify(a.error));
      assert.equal(runsOf(s, a.id), 1, 'refused once, not retried');
      assert.equal(a.result, null);
    } finally {
      if (!s.worker) await s.startWorker();
    }
  });
});

describe('names a shell would mangle', () => {
  test('spaces, quotes, newlines, $(...), backticks, ; | & and leading dashes analyse correctly; no canary is created', async () => {
    const subs = [];
    for (const [master, dub] of PAIRS) {
      const r = await s.request('POST', '/api/v1/analyses', { master, dub });
      assert.equal(r.status, 202, `${JSON.stringify([master, dub])}: ${r.text}`);
      assert.equal(r.body.analysis.master, master);
      assert.equal(r.body.analysis.dub, dub);
      subs.push(r.body.analysis.id as string);
    }
    // The browser and the probe route see the same names.
    const probe = await s.request('GET', `/api/v1/files/probe?path=${encodeURIComponent(PAIRS[3]![0])}`);
    assert.equal(probe.status, 200, probe.text);
    assert.equal(probe.body.path, PAIRS[3]![0]);
    const listing = await s.request('GET', `/api/v1/files?path=${encodeURIComponent(`x$(touch ${os.tmpdir()}`)}`);
    assert.equal(listing.status, 200, listing.text);
    for (const [i, id] of subs.entries()) {
      const a = (await s.request('GET', `/api/v1/analyses/${id}?wait=240`)).body.analysis;
      assert.equal(a.status, 'completed', `${JSON.stringify(PAIRS[i])}: ${JSON.stringify(a.error)}`);
      assert.equal(a.verdict, 'offset', JSON.stringify(PAIRS[i]));
      assert.ok(Math.abs(a.offset_seconds - OFFSET) < 0.001, `${JSON.stringify(PAIRS[i])}: ${a.offset_seconds}`);
      assert.equal(a.result.dub.path.endsWith(PAIRS[i]![1]), true, a.result.dub.path);
      // Reports carry the names (quoted, escaped) without breaking.
      const csv = await s.request('GET', `/api/v1/analyses/${id}/report.csv`);
      assert.equal(csv.status, 200);
      const html = await s.request('GET', `/api/v1/analyses/${id}/report.html`);
      assert.equal(html.status, 200);
      assert.doesNotMatch(html.text, /<[^>]*"double" 'single'/);
    }
    // A repair of a hostile-named dub writes its output beside nothing else, also without a shell.
    const rep = await s.request('POST', '/api/v1/repairs', { dub: PAIRS[0]![1], offset_seconds: OFFSET, verify: false });
    assert.equal(rep.status, 202, rep.text);
    const done = await until(async () => {
      const r = (await s.request('GET', `/api/v1/repairs/${rep.body.repair.id}`)).body.repair;
      return ['completed', 'failed'].includes(r.status) ? r : null;
    }, 180_000, 'repair of a hostile-named dub');
    assert.equal(done.status, 'completed', JSON.stringify(done.error));
    assert.ok(existsSync(path.join(s.outputRoot, done.output)), done.output);
    assert.ok(done.ffmpeg_args.includes(path.join(s.mediaRoot, PAIRS[0]![1])), 'the name is one argument, as is');

    for (const c of canaries) assert.equal(existsSync(c), false, `${c} was created: a shell ran a path`);
    for (const dir of [process.cwd(), s.dir, s.mediaRoot, os.tmpdir(), path.join(s.dir, 'data')]) {
      const found = (await readdir(dir).catch(() => [] as string[])).filter((n) => bareCanaries.includes(n));
      assert.deepEqual(found, [], `canaries created in ${dir}`);
    }
  });
});

describe('the service after all that', () => {
  test('API and worker still answer, and a fresh good job completes', async () => {
    assert.equal((await fetch(`${s.api.url}/livez`)).status, 200);
    assert.equal((await fetch(`${s.api.url}/readyz`)).status, 200);
    const health = await s.request('GET', '/health');
    assert.ok(health.body.workers.length >= 1, 'worker heartbeat');
    const r = await s.request('POST', '/api/v1/analyses?wait=180', { master: 'master.wav', dub: 'dub.wav', options: { frameRate: '30' } });
    assert.equal(r.body.analysis.status, 'completed', JSON.stringify(r.body.analysis.error));
    assert.ok(Math.abs(r.body.analysis.offset_seconds - OFFSET) < 0.001);
  });
});
