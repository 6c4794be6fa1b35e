// Listening proxies and energy overviews for the web UI: made once by a worker after an
// analysis completes, served with range requests (seekable audio), shared between analyses of
// the same file.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { startStack, makeProgramme, makeDub, until, type Stack } from './harness.ts';

let s: Stack;
before(async () => {
  s = await startStack();
  await makeProgramme(path.join(s.mediaRoot, 'm.wav'), 81, 20);
  await makeDub(path.join(s.mediaRoot, 'm.wav'), path.join(s.mediaRoot, 'd.wav'), 0.4);
});
after(async () => {
  await s.close();
  assert.deepEqual(s.contract.violations, []);
});

test('proxies and overviews: prepared after the analysis, seekable Ogg Opus, energy aligned with the offset', async () => {
  const a = (await s.request('POST', '/api/v1/analyses?wait=60', { master: 'm.wav', dub: 'd.wav' })).body.analysis;
  const ov = await until(async () => {
    const r = await s.request('GET', `/api/v1/analyses/${a.id}/overview`);
    return r.status === 200 && !r.body.pending ? r.body : null;
  }, 60_000, 'overview ready');
  assert.equal(ov.master.hop_seconds, 0.05);
  assert.ok(Math.abs(ov.master.duration_seconds - 20) < 0.1);
  assert.ok(Math.abs(ov.dub.duration_seconds - 20.4) < 0.1);
  // The dub's energy is the master's, 0.4 s (8 hops) later.
  const m = ov.master.db as number[];
  const d = ov.dub.db as number[];
  let best = -1;
  let bestErr = Infinity;
  for (let lag = 0; lag < 20; lag++) {
    let err = 0;
    for (let i = 20; i < 300; i++) err += Math.abs(m[i]! - d[i + lag]!);
    if (err < bestErr) [best, bestErr] = [lag, err];
  }
  assert.ok(Math.abs(best - 8) <= 1, `energy lag ${best} hops`);

  const res = await fetch(`${s.api.url}/api/v1/analyses/${a.id}/proxy/dub`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'audio/ogg');
  assert.equal(res.headers.get('accept-ranges'), 'bytes');
  const bytes = Buffer.from(await res.arrayBuffer());
  assert.equal(bytes.subarray(0, 4).toString(), 'OggS');
  const part = await fetch(`${s.api.url}/api/v1/analyses/${a.id}/proxy/dub`, { headers: { range: 'bytes=100-199' } });
  assert.equal(part.status, 206);
  assert.equal((await part.arrayBuffer()).byteLength, 100);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'proxy-'));
  try {
    writeFileSync(path.join(dir, 'p.ogg'), bytes);
    const probe = JSON.parse(execFileSync('/usr/bin/ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', path.join(dir, 'p.ogg')], { encoding: 'utf8' }));
    assert.equal(probe.streams[0].codec_name, 'opus');
    assert.equal(probe.streams[0].channels, 1);
    assert.ok(Math.abs(Number(probe.format.duration) - 20.4) < 0.1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // A second analysis of the same master reuses its proxy (no new job for the same key): the
  // file is the same one (its ETag carries size and modification time), and only the new dub's
  // proxy is made. (A count of completed proxy jobs in Redis is no measure: the API prunes
  // finished jobs once their results are stored.)
  const masterTag = (await fetch(`${s.api.url}/api/v1/analyses/${a.id}/proxy/master`)).headers.get('etag');
  assert.ok(masterTag, 'the proxy has an ETag');
  await makeDub(path.join(s.mediaRoot, 'm.wav'), path.join(s.mediaRoot, 'd2.wav'), -0.2);
  const b = (await s.request('POST', '/api/v1/analyses?wait=60', { master: 'm.wav', dub: 'd2.wav' })).body.analysis;
  const masterProxy = await fetch(`${s.api.url}/api/v1/analyses/${b.id}/proxy/master`);
  assert.equal(masterProxy.status, 200, 'the master proxy already exists');
  await until(async () => (await s.request('GET', `/api/v1/analyses/${b.id}/overview`)).body.pending === false, 60_000, 'second overview');
  assert.equal((await fetch(`${s.api.url}/api/v1/analyses/${b.id}/proxy/master`)).headers.get('etag'), masterTag, 'the master proxy was not made again');
  const dubTag = (await fetch(`${s.api.url}/api/v1/analyses/${b.id}/proxy/dub`)).headers.get('etag');
  assert.ok(dubTag && dubTag !== masterTag, 'the new dub has its own proxy');
  assert.notEqual(dubTag, (await fetch(`${s.api.url}/api/v1/analyses/${a.id}/proxy/dub`)).headers.get('etag'), 'not the first dub\'s');
});
