// Speech detection through the decoder's side output at both model rates: the default 8 kHz
// (the analysis rate) and 16 kHz (SPEECH_SAMPLE_RATE / --vad-rate) find the same lines, at the
// times the generated programme has them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { nullLogger, probeMedia, resolveTools } from '@sync-analyzer/media';
import { prepareMedia } from './analyze-files.ts';
import { openSpeechBackend } from './vad-backend.ts';

const run = promisify(execFile);
const tools = resolveTools();
let dir: string;
let file: string;
/** Where the generated programme speaks (seconds), from the lengths of its pieces. */
const spoken: { start: number; end: number }[] = [];

async function seconds(f: string): Promise<number> {
  const { stdout } = await run(tools.ffprobe, ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', f]);
  return Number(stdout.trim());
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'speech-rate-'));
  const lines = ['The harbour lights came on one by one as the boat drew near.', 'Nobody on the pier said a word until the engine stopped.'];
  const pieces: string[] = [];
  let at = 0;
  for (const [i, text] of lines.entries()) {
    const gap = path.join(dir, `gap${i}.wav`);
    await run(tools.ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'anullsrc=r=22050:cl=mono', '-t', '3', '-c:a', 'pcm_s16le', gap]);
    const raw = path.join(dir, `raw${i}.wav`);
    await run(process.env.ESPEAK_NG ?? 'espeak-ng', ['-v', i ? 'en+f3' : 'en+m3', '-s', '160', '-w', raw, text]);
    // Trimmed to the voice so the known times are the speech's own.
    const line = path.join(dir, `line${i}.wav`);
    await run(tools.ffmpeg, ['-v', 'error', '-i', raw, '-af', 'silenceremove=start_periods=1:start_threshold=-50dB,areverse,silenceremove=start_periods=1:start_threshold=-50dB,areverse', '-ar', '22050', '-ac', '1', '-c:a', 'pcm_s16le', line]);
    at += 3;
    const len = await seconds(line);
    spoken.push({ start: at, end: at + len });
    at += len;
    pieces.push(gap, line);
  }
  const list = path.join(dir, 'list.txt');
  await run('sh', ['-c', `printf "file '%s'\\n" "$@" > ${JSON.stringify(list)}`, 'sh', ...pieces]);
  const speech = path.join(dir, 'speech.wav');
  await run(tools.ffmpeg, ['-v', 'error', '-f', 'concat', '-safe', '0', '-i', list, '-c:a', 'pcm_s16le', speech]);
  // A quiet noise bed under it, 48 kHz stereo, as programme audio comes.
  file = path.join(dir, 'programme.wav');
  await run(tools.ffmpeg, ['-v', 'error', '-i', speech, '-f', 'lavfi', '-i', 'anoisesrc=c=pink:a=0.01:r=48000:s=3', '-filter_complex', '[0]aresample=48000[s];[s][1]amix=inputs=2:duration=first:normalize=0', '-ac', '2', '-ar', '48000', '-c:a', 'pcm_s16le', '-t', String(at + 2), file]);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function linesAt(sampleRate: 8000 | 16000) {
  const backend = await openSpeechBackend({ provider: 'cpu', allowCpuFallback: false, modelDir: null, threads: 1, sessions: 1, sampleRate, logger: nullLogger });
  try {
    assert.equal(backend.info().sampleRate, sampleRate);
    assert.match(backend.info().model, new RegExp(`@ ${sampleRate / 1000} kHz$`));
    const probe = await probeMedia(file, { tools, logger: nullLogger });
    const prepared = await prepareMedia(probe, undefined, { tools, logger: nullLogger, speech: backend });
    return prepared.speech!.segments;
  } finally {
    await backend.close();
  }
}

test('8 kHz (default) and 16 kHz find the same lines where the programme speaks', async () => {
  const [at8, at16] = [await linesAt(8000), await linesAt(16000)];
  for (const [rate, segs] of [['8 kHz', at8], ['16 kHz', at16]] as const) {
    for (const s of spoken) {
      const hits = segs.filter((x) => x.end > s.start && x.start < s.end);
      assert.ok(hits.length >= 1, `${rate}: no speech found in ${s.start.toFixed(2)}-${s.end.toFixed(2)}`);
      assert.ok(Math.abs(hits[0]!.start - s.start) <= 0.15, `${rate}: line starts at ${hits[0]!.start}, spoken from ${s.start}`);
      assert.ok(hits.at(-1)!.end - s.end >= -0.15 && hits.at(-1)!.end - s.end <= 0.3, `${rate}: line ends at ${hits.at(-1)!.end}, spoken to ${s.end}`);
    }
    const outside = segs.filter((x) => !spoken.some((s) => x.end > s.start - 0.2 && x.start < s.end + 0.4));
    assert.deepEqual(outside, [], `${rate}: speech found where the programme has only noise`);
  }
});
