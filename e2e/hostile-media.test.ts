// Hostile and broken media, end to end (real API, worker with two concurrent jobs, private
// Redis, ffmpeg): empty, truncated, corrupt, mislabelled, audio-less, very short, impossible
// sample rates, 32 channels, durations declared in days, silence, DC, clipped noise, and a dub
// replaced while it is being analysed. Each ends in a completed analysis with the right answer
// (or an honest no_match) or in a failed job whose code names the reason, never retried; the
// probe route answers the same; the worker survives and a good job running alongside is right.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { mulberry32 } from '../shared/engine/src/prng.ts';
import { startStack, makeProgramme, makeDub, ff, until, isAlive, runsOf, type Stack } from './harness.ts';

const OFFSET = 0.42;
let s: Stack;
const media = (name: string) => path.join(s.mediaRoot, name);

type Expect =
  | { status: 'failed'; code: string; message?: RegExp }
  | { status: 'completed'; offset: number; reason?: RegExp }
  | { status: 'completed'; noMatch: RegExp };

interface Case {
  name: string;
  make: () => Promise<void>;
  expect: Expect;
  /** What GET /files/probe answers: 200, or the 422 code. */
  probe: 200 | string;
  /** The hostile file is the master (default: the dub). */
  asMaster?: boolean;
}

async function patched(from: string, to: string, fn: (b: Buffer) => void): Promise<void> {
  const b = Buffer.from(await readFile(from));
  fn(b);
  await writeFile(to, b);
}

const prngBytes = (seed: number, n: number) => {
  const r = mulberry32(seed);
  return Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
};

function cases(): Case[] {
  const dub = () => media('dub.wav');
  const wavField = (b: Buffer, chunk: string, at: number) => b.indexOf(chunk) + at;
  return [
    { name: 'zero.wav', make: () => writeFile(media('zero.wav'), ''), expect: { status: 'failed', code: 'empty' }, probe: 'empty' },
    { name: 'zero.wav', asMaster: true, make: async () => undefined, expect: { status: 'failed', code: 'empty' }, probe: 'empty' },
    {
      name: 'truncated-half.wav',
      make: async () => {
        const b = await readFile(dub());
        await writeFile(media('truncated-half.wav'), b.subarray(0, Math.floor(b.length / 2)));
      },
      expect: { status: 'completed', offset: OFFSET, reason: /the dub is truncated/ },
      probe: 200,
    },
    {
      name: 'cut-before-index.mp4',
      make: async () => {
        await ff(['-i', dub(), '-c:a', 'aac', '-b:a', '128k', media('whole.mp4')]);
        const b = await readFile(media('whole.mp4'));
        await writeFile(media('cut-before-index.mp4'), b.subarray(0, Math.floor(b.length * 0.6)));
      },
      expect: { status: 'failed', code: 'corrupt', message: /moov/ },
      probe: 'corrupt',
    },
    { name: 'garbage-header.wav', make: () => patched(dub(), media('garbage-header.wav'), (b) => prngBytes(7, 64).copy(b, 0)), expect: { status: 'failed', code: 'not_media' }, probe: 'not_media' },
    { name: 'random-bytes.wav', make: () => writeFile(media('random-bytes.wav'), prngBytes(11, 65536)), expect: { status: 'failed', code: 'not_media' }, probe: 'not_media' },
    { name: 'text.wav', make: () => writeFile(media('text.wav'), 'RIFF? no: a text file with a media name\n'.repeat(50)), expect: { status: 'failed', code: 'not_media' }, probe: 'not_media' },
    { name: 'flac-inside.wav', make: () => ff(['-i', dub(), '-c:a', 'flac', '-f', 'flac', media('flac-inside.wav')]), expect: { status: 'completed', offset: OFFSET }, probe: 200 },
    { name: 'wav-inside.mp3', make: () => ff(['-i', dub(), '-c:a', 'pcm_s16le', '-f', 'wav', media('wav-inside.mp3')]), expect: { status: 'completed', offset: OFFSET }, probe: 200 },
    {
      name: 'video-only.mp4',
      make: () => ff(['-f', 'lavfi', '-i', 'testsrc2=size=64x48:rate=25:duration=3', '-c:v', 'mpeg4', media('video-only.mp4')]),
      expect: { status: 'failed', code: 'no_audio', message: /video/ },
      probe: 'no_audio',
    },
    { name: 'video-only.mp4', asMaster: true, make: async () => undefined, expect: { status: 'failed', code: 'no_audio' }, probe: 'no_audio' },
    {
      name: 'subtitles-only.mkv',
      make: async () => {
        await writeFile(media('subs.srt'), '1\n00:00:01,000 --> 00:00:02,000\nhello\n');
        await ff(['-i', media('subs.srt'), '-c:s', 'srt', media('subtitles-only.mkv')]);
      },
      expect: { status: 'failed', code: 'no_audio', message: /subtitle/ },
      probe: 'no_audio',
    },
    { name: 'one-second.wav', make: () => ff(['-i', dub(), '-t', '1', '-c:a', 'pcm_s16le', media('one-second.wav')]), expect: { status: 'completed', noMatch: /too little audio/ }, probe: 200 },
    { name: 'rate-0-hz.wav', make: () => patched(dub(), media('rate-0-hz.wav'), (b) => b.writeUInt32LE(0, wavField(b, 'fmt ', 12))), expect: { status: 'failed', code: 'not_media' }, probe: 'not_media' },
    // 1 Hz: the 20 s of samples now "last" 270 hours.
    { name: 'rate-1-hz.wav', make: () => patched(dub(), media('rate-1-hz.wav'), (b) => b.writeUInt32LE(1, wavField(b, 'fmt ', 12))), expect: { status: 'failed', code: 'too_long', message: /\(\d{3}\.\d\d h; the limit is 6\.00 h\)/ }, probe: 200 },
    { name: 'rate-4-khz.wav', make: () => ff(['-i', dub(), '-ar', '4000', '-c:a', 'pcm_s16le', media('rate-4-khz.wav')]), expect: { status: 'completed', offset: OFFSET }, probe: 200 },
    { name: 'rate-384-khz.wav', make: () => ff(['-i', dub(), '-ar', '384000', '-c:a', 'pcm_s24le', media('rate-384-khz.wav')]), expect: { status: 'completed', offset: OFFSET }, probe: 200 },
    {
      name: '32-channels.wav',
      make: () => {
        const labels = Array.from({ length: 32 }, (_, i) => `[c${i}]`).join('');
        return ff(['-i', dub(), '-filter_complex', `[0:a]pan=mono|c0=0.5*c0+0.5*c1,asplit=32${labels};${labels}amerge=inputs=32[a]`, '-map', '[a]', '-c:a', 'pcm_s16le', media('32-channels.wav')]);
      },
      expect: { status: 'completed', offset: OFFSET },
      probe: 200,
    },
    {
      // mvhd and mdhd durations set to 2^32-16 ticks: about 1,193 hours.
      name: 'declares-weeks.m4a',
      make: async () => {
        await ff(['-i', dub(), '-c:a', 'aac', '-b:a', '128k', media('whole.m4a')]);
        await patched(media('whole.m4a'), media('declares-weeks.m4a'), (b) => {
          for (const box of ['mvhd', 'mdhd']) for (let i = b.indexOf(box); i >= 0; i = b.indexOf(box, i + 1)) b.writeUInt32BE(0xfffffff0, i + 20);
        });
      },
      expect: { status: 'failed', code: 'too_long' },
      probe: 200,
    },
    {
      // Matroska Duration (an 8-byte float, in milliseconds) set to 10^13: 317 years.
      name: 'declares-centuries.mkv',
      make: async () => {
        await ff(['-i', dub(), '-c:a', 'flac', media('whole.mkv')]);
        await patched(media('whole.mkv'), media('declares-centuries.mkv'), (b) => b.writeDoubleBE(1e13, b.indexOf(Buffer.from([0x44, 0x89, 0x88])) + 3));
      },
      expect: { status: 'failed', code: 'too_long' },
      probe: 200,
    },
    {
      name: 'data-size-huge.wav',
      make: () => patched(dub(), media('data-size-huge.wav'), (b) => {
        b.writeUInt32LE(0xfffffff8, 4);
        b.writeUInt32LE(0xfffffff0, wavField(b, 'data', 4));
      }),
      expect: { status: 'completed', offset: OFFSET, reason: /the dub is truncated/ },
      probe: 200,
    },
    { name: 'silent.wav', make: () => ff(['-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=stereo', '-t', '20', '-c:a', 'pcm_s16le', media('silent.wav')]), expect: { status: 'completed', noMatch: /silent/ }, probe: 200 },
    { name: 'dc.wav', make: () => ff(['-f', 'lavfi', '-i', 'aevalsrc=0.5|0.5:s=48000:d=20', '-c:a', 'pcm_s16le', media('dc.wav')]), expect: { status: 'completed', noMatch: /./ }, probe: 200 },
    {
      name: 'clipped-noise.wav',
      make: () => ff(['-f', 'lavfi', '-i', 'anoisesrc=d=20:c=white:r=48000:a=1:s=987654', '-af', 'volume=20dB', '-c:a', 'pcm_s16le', media('clipped-noise.wav')]),
      expect: { status: 'completed', noMatch: /./ },
      probe: 200,
    },
    { name: 'clipped-dub.wav', make: () => ff(['-i', dub(), '-af', 'volume=30dB', '-c:a', 'pcm_s16le', media('clipped-dub.wav')]), expect: { status: 'completed', offset: OFFSET }, probe: 200 },
  ];
}

before(async () => {
  // Two jobs at a time: a hostile job and a good one share the worker.
  s = await startStack({ worker: { concurrency: 2 }, env: { RATE_LIMIT_PER_MINUTE: '100000' } });
  await makeProgramme(media('master.wav'), 401, 20);
  await makeDub(media('master.wav'), media('dub.wav'), OFFSET);
  for (const c of cases()) await c.make();
});

after(async () => {
  await s?.close();
  assert.deepEqual(s.contract.violations, [], 'responses that do not match the OpenAPI document');
});


async function final(id: string, seconds = 240): Promise<any> {
  return until(async () => {
    const a = (await s.request('GET', `/api/v1/analyses/${id}`)).body.analysis;
    return ['completed', 'failed', 'cancelled', 'timed_out'].includes(a.status) ? a : null;
  }, seconds * 1000, `analysis ${id} final`);
}

describe('broken and hostile media', () => {
  test('each file ends in the right answer or a failure naming the reason; a good job alongside is right', async (t) => {
    const all = cases();
    const ids: string[] = [];
    for (const [i, c] of all.entries()) {
      const r = await s.request('POST', '/api/v1/analyses', c.asMaster ? { master: c.name, dub: 'dub.wav' } : { master: 'master.wav', dub: c.name });
      assert.equal(r.status, 202, `${c.name}: ${r.text}`);
      ids.push(r.body.analysis.id);
      // The good pair goes in among the hostile ones.
      if (i === 3) ids.push((await s.request('POST', '/api/v1/analyses', { master: 'master.wav', dub: 'dub.wav' })).body.analysis.id);
    }
    const good = ids.splice(4, 1)[0]!;
    const problems: string[] = [];
    for (const [i, c] of all.entries()) {
      const a = await final(ids[i]!);
      const e = c.expect;
      const label = `${c.asMaster ? 'master' : 'dub'} ${c.name}`;
      if (e.status === 'failed') {
        if (a.status !== 'failed' || a.error?.code !== e.code) problems.push(`${label}: expected failed/${e.code}, got ${a.status} ${JSON.stringify(a.error)} ${a.result?.reasons ?? ''}`);
        else {
          if (runsOf(s, a.id) !== 1) problems.push(`${label}: bad input retried (${runsOf(s, a.id)} runs)`);
          if (e.message && !e.message.test(a.error.message)) problems.push(`${label}: message ${JSON.stringify(a.error.message)} does not match ${e.message}`);
          if (!a.error.message.includes(c.name)) problems.push(`${label}: message does not name the file: ${a.error.message}`);
        }
      } else if (a.status !== 'completed') problems.push(`${label}: expected completed, got ${a.status} ${JSON.stringify(a.error)}`);
      else if ('noMatch' in e) {
        if (a.match !== false || a.verdict !== 'no_match' || !a.result.reasons.some((r: string) => e.noMatch.test(r))) problems.push(`${label}: expected no_match (${e.noMatch}), got ${a.verdict} ${a.offset_seconds} ${JSON.stringify(a.result.reasons)}`);
      } else {
        if (a.match !== true || Math.abs(a.offset_seconds - e.offset) >= 0.001) problems.push(`${label}: expected offset ${e.offset}, got ${a.verdict} ${a.offset_seconds}`);
        if (e.reason && !a.result.reasons.some((r: string) => e.reason!.test(r))) problems.push(`${label}: reasons ${JSON.stringify(a.result.reasons)} lack ${e.reason}`);
      }
    }
    if (problems.length > 0) {
      // What the services logged about the jobs that went wrong.
      const wrong = all.map((c, i) => [c.name, ids[i]!] as const).filter(([name]) => problems.some((p) => p.includes(` ${name}:`)));
      for (const [name, id] of wrong) t.diagnostic(`${name} (${id}):\n${s.logs.filter((l) => l.includes(id)).join('\n')}`);
    }
    assert.deepEqual(problems, []);
    const g = await final(good);
    assert.equal(g.status, 'completed', JSON.stringify(g.error));
    assert.ok(Math.abs(g.offset_seconds - OFFSET) < 0.001, String(g.offset_seconds));
  });

  test('the probe route answers each file the same way', async () => {
    for (const c of cases().filter((x) => !x.asMaster)) {
      const r = await s.request('GET', `/api/v1/files/probe?path=${encodeURIComponent(c.name)}`);
      if (c.probe === 200) assert.equal(r.status, 200, `${c.name}: ${r.text}`);
      else {
        assert.equal(r.status, 422, `${c.name}: ${r.text}`);
        assert.equal(r.body.error.code, c.probe, c.name);
      }
    }
  });

  test('a dub replaced (renamed over) while it is analysed: the result is discarded with input_changed; analysed again, the new file is measured', async () => {
    // Long enough that decoding is still under way when the poll sees it (150 s finished between two polls).
    await makeProgramme(media('long-master.wav'), 402, 600);
    await makeDub(media('long-master.wav'), media('long-dub.wav'), 1.1);
    await makeDub(media('long-master.wav'), media('replacement.wav'), 0.2);
    const sub = await s.request('POST', '/api/v1/analyses', { master: 'long-master.wav', dub: 'long-dub.wav' });
    assert.equal(sub.status, 202, sub.text);
    const id = sub.body.analysis.id as string;
    // Decoding has begun: the job has read (and fingerprinted) the original.
    await until(async () => {
      const a = (await s.request('GET', `/api/v1/analyses/${id}`)).body.analysis;
      assert.ok(!['completed', 'failed'].includes(a.status), `finished before the replacement: ${a.status}`);
      return a.progress.stage === 'decode' && a.progress.percent > 0;
    }, 120_000, 'decoding under way');
    await copyFile(media('replacement.wav'), media('long-dub.wav.part'));
    await rename(media('long-dub.wav.part'), media('long-dub.wav'));
    const a = await final(id);
    assert.equal(a.status, 'failed', `${a.status} ${a.offset_seconds}`);
    assert.equal(a.error.code, 'input_changed', JSON.stringify(a.error));
    assert.match(a.error.message, /long-dub\.wav: the file changed while it was being analysed/);
    assert.equal(runsOf(s, id), 1, 'not retried');
    assert.equal(a.result, null, 'no result stored for a file that changed under it');
    // Submitted again, the new content gets its own fingerprints and its own, right, answer.
    const again = await s.request('POST', '/api/v1/analyses?wait=240', { master: 'long-master.wav', dub: 'long-dub.wav' });
    assert.equal(again.body.deduplicated, false);
    assert.equal(again.body.analysis.status, 'completed', JSON.stringify(again.body.analysis.error));
    assert.ok(Math.abs(again.body.analysis.offset_seconds - 0.2) < 0.001, String(again.body.analysis.offset_seconds));
    assert.notEqual(again.body.analysis.fingerprints.dub.head_tail_sha256, sub.body.analysis.fingerprints.dub.head_tail_sha256);
  });

  test('afterwards the API and the worker answer, nothing is left running, and a good job completes', async () => {
    assert.equal((await fetch(`${s.api.url}/livez`)).status, 200);
    assert.equal((await fetch(`${s.api.url}/readyz`)).status, 200);
    assert.ok((await s.request('GET', '/health')).body.workers.length >= 1);
    await until(async () => s.worker!.status().active.length === 0, 180_000, 'worker idle');
    const pids = [...s.spawned.values()].flat();
    assert.ok(pids.length > 20, `job processes seen: ${pids.length}`);
    await until(async () => pids.every((p) => !isAlive(p)), 10_000, 'every job process and ffmpeg gone');
    const r = await s.request('POST', '/api/v1/analyses?wait=180', { master: 'master.wav', dub: 'dub.wav', options: { frameRate: '25' } });
    assert.equal(r.body.analysis.status, 'completed', JSON.stringify(r.body.analysis.error));
    assert.ok(Math.abs(r.body.analysis.offset_seconds - OFFSET) < 0.001);
  });
});
