// End to end: repairs through the API. An offset dub, a 25/24 dub and an edited dub are
// repaired from their analyses; the automatic verification analysis of each output must be in
// sync over at least 99% of programme time within one frame. The source is never touched.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFile, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { startStack, makeProgramme, makeDub, ff, until, type Stack } from './harness.ts';

let s: Stack;
const FRAME = 1 / 25;

before(async () => {
  s = await startStack();
  const m = path.join(s.mediaRoot, 'master.wav');
  await makeProgramme(m, 51, 40);
  await makeDub(m, path.join(s.mediaRoot, 'dub-offset.wav'), 0.62);
  // PAL speed-up: 24 fps material played at 25 (pitch goes up with it).
  await ff(['-i', m, '-af', 'asetrate=50000,aresample=48000,equalizer=f=2500:t=q:w=1:g=-4', '-c:a', 'pcm_s16le', path.join(s.mediaRoot, 'dub-pal.wav')]);
  // A 4 s scene cut out of the middle.
  await ff(['-i', m, '-filter_complex', '[0:a]atrim=0:15,asetpts=PTS-STARTPTS[a];[0:a]atrim=19,asetpts=PTS-STARTPTS[b];[a][b]concat=n=2:v=0:a=1,volume=0.9', '-c:a', 'pcm_s16le', path.join(s.mediaRoot, 'dub-cut.wav')]);
  await makeProgramme(path.join(s.mediaRoot, 'unrelated.wav'), 77, 40);
});
after(async () => {
  await s.close();
  assert.deepEqual(s.contract.violations, []);
});

const sha = async (f: string) => createHash('sha256').update(await readFile(f)).digest('hex');

async function analyse(dub: string) {
  const r = await s.request('POST', '/api/v1/analyses?wait=120', { master: 'master.wav', dub });
  assert.equal(r.body.analysis.status, 'completed', JSON.stringify(r.body.analysis.error));
  return r.body.analysis;
}

async function repairAndVerify(body: Record<string, unknown>) {
  const r = await s.request('POST', '/api/v1/repairs', body);
  assert.equal(r.status, 202, r.text);
  const repair = await until(async () => {
    const x = (await s.request('GET', `/api/v1/repairs/${r.body.repair.id}`)).body.repair;
    return ['completed', 'failed'].includes(x.status) && (x.status === 'failed' || x.verification_analysis_id) ? x : null;
  }, 120_000, 'repair done');
  assert.equal(repair.status, 'completed', JSON.stringify(repair.error));
  const verification = (await s.request('GET', `/api/v1/analyses/${repair.verification_analysis_id}?wait=120`)).body.analysis;
  assert.equal(verification.status, 'completed');
  assert.equal(verification.repair_id, repair.id);
  const res = verification.result;
  const inSync = res.segments.filter((g: any) => Math.abs(g.offset_seconds) < FRAME && Math.abs(g.offset_end_seconds) < FRAME).reduce((t: number, g: any) => t + g.master_end - g.master_start, 0);
  return { repair, verification, fraction: inSync / res.master.duration };
}

describe('repairs', () => {
  test('offset dub: repaired output in sync, source untouched, command and checks recorded', async () => {
    const src = path.join(s.mediaRoot, 'dub-offset.wav');
    const before = await sha(src);
    const a = await analyse('dub-offset.wav');
    const { repair, verification, fraction } = await repairAndVerify({ analysis_id: a.id });
    assert.equal(repair.offset_seconds, a.offset_seconds, 'the measured offset, same convention');
    assert.equal(repair.applied_shift_seconds, -a.offset_seconds);
    assert.ok(repair.output.startsWith('repairs/'));
    assert.ok((await stat(path.join(s.outputRoot, repair.output))).size > 0);
    assert.ok(repair.ffmpeg_args.length > 3);
    assert.ok(repair.checks.length > 0 && repair.checks.every((c: any) => c.ok), JSON.stringify(repair.checks.filter((c: any) => !c.ok)));
    assert.equal(verification.verdict, 'in_sync');
    assert.ok(fraction >= 0.99, String(fraction));
    assert.equal(await sha(src), before, 'source untouched');
  });

  test('25/24 dub: drift conformed, in sync over >= 99% of programme time', async () => {
    const a = await analyse('dub-pal.wav');
    assert.equal(a.verdict, 'drift');
    const { verification, fraction } = await repairAndVerify({ analysis_id: a.id, conform_drift: true });
    assert.equal(verification.verdict, 'in_sync', JSON.stringify(verification.result.reasons));
    assert.ok(fraction >= 0.99, String(fraction));
  });

  test('edited dub: edit map conformed, in sync over >= 99% of programme time', async () => {
    const a = await analyse('dub-cut.wav');
    assert.equal(a.verdict, 'edited');
    const { verification, fraction } = await repairAndVerify({ analysis_id: a.id, conform_edits: true });
    assert.equal(verification.verdict, 'in_sync', JSON.stringify(verification.result.reasons));
    assert.ok(fraction >= 0.99, String(fraction));
  });

  test('explicit offset with a master to verify against; refusals', async () => {
    const { repair, verification } = await repairAndVerify({ dub: 'dub-offset.wav', offset_seconds: 0.62, master: 'master.wav' });
    assert.equal(repair.analysis_id, null);
    assert.equal(verification.verdict, 'in_sync');
    const none = await analyse('unrelated.wav');
    const r = await s.request('POST', '/api/v1/repairs', { analysis_id: none.id });
    assert.equal(r.status, 409);
    assert.equal(r.body.error.code, 'no_match');
    assert.equal((await s.request('POST', '/api/v1/repairs', { dub: 'dub-offset.wav' })).status, 400);
    assert.equal((await s.request('POST', '/api/v1/repairs', { dub: '../x.wav', offset_seconds: 1 })).status, 400);
    assert.equal((await s.request('POST', '/api/v1/repairs', { analysis_id: 'an_missing' })).status, 404);
    const list = await s.request('GET', '/api/v1/repairs');
    assert.ok(list.body.total >= 4);
  });
});
