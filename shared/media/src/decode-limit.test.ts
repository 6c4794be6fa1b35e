// decodePcm's maxSeconds: a header that under-states the duration (here an MP3 whose Xing
// header counts 20 frames of two minutes of audio) cannot make a decode run past the limit.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decodePcm } from './decode.ts';
import { MediaInputError } from './errors.ts';
import { nullLogger } from './logger.ts';
import { probeMedia } from './probe.ts';
import { ff, makeTempDir } from './test-fixtures.ts';

const tools = { ffmpeg: '/usr/bin/ffmpeg', ffprobe: '/usr/bin/ffprobe' };
let dir: string;
let cleanup: () => Promise<void>;
let lying: string;

before(async () => {
  ({ dir, cleanup } = await makeTempDir('decode-limit-'));
  const honest = path.join(dir, 'honest.mp3');
  await ff(['-f', 'lavfi', '-i', 'anoisesrc=d=120:r=8000:a=0.3:s=3', '-ac', '1', '-c:a', 'libmp3lame', '-b:a', '8k', honest]);
  const b = Buffer.from(await readFile(honest));
  const xing = b.indexOf('Xing') >= 0 ? b.indexOf('Xing') : b.indexOf('Info');
  assert.ok(xing > 0, 'LAME wrote a Xing/Info header');
  b.writeUInt32BE(20, xing + 8); // frame count: 20 frames, about 1.4 s
  lying = path.join(dir, 'lying.mp3');
  await writeFile(lying, b);
});
after(() => cleanup());

test('the probe believes the header; the decode stops at maxSeconds with too_long, and ffmpeg is gone', async () => {
  const probe = await probeMedia(lying, { tools, logger: nullLogger });
  assert.ok(probe.duration !== null && probe.duration < 2, `declared ${probe.duration} s`);
  let pid = 0;
  await assert.rejects(
    decodePcm(lying, { tools, logger: nullLogger, probe, selection: { kind: 'auto' }, sampleRate: 8000, maxSeconds: 30, onSpawn: (p) => (pid = p) }),
    (e: unknown) => e instanceof MediaInputError && e.code === 'too_long' && /more than 30 s of audio decoded; the file declares 1\.\d s/.test(e.message),
  );
  assert.ok(pid > 0);
  const gone = () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  };
  for (let i = 0; i < 50 && !gone(); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(gone(), 'ffmpeg stopped');
});

test('under the limit the whole file decodes, whatever the header said', async () => {
  const probe = await probeMedia(lying, { tools, logger: nullLogger });
  const r = await decodePcm(lying, { tools, logger: nullLogger, probe, selection: { kind: 'auto' }, sampleRate: 8000, maxSeconds: 300 });
  assert.ok(Math.abs(r.decodedSeconds - 120) < 0.5, `${r.decodedSeconds} s`);
});

test('maxSeconds must be positive', async () => {
  const probe = await probeMedia(lying, { tools, logger: nullLogger });
  await assert.rejects(decodePcm(lying, { tools, logger: nullLogger, probe, selection: { kind: 'auto' }, sampleRate: 8000, maxSeconds: 0 }), RangeError);
});
