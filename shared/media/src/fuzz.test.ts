// Fuzzing the probe + decode path of the analysis (probeMedia, then the analysis's
// prepareMedia: duration limit, audio plan, streamed decode, onset features) with deterministic
// mutations of small valid files: byte flips, truncations, corrupted headers, inserted garbage,
// size fields set huge, and combinations. Each mutated file must end, within a time limit, in
// decoded audio or a named media error; afterwards no ffmpeg/ffprobe may be left running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { mulberry32 } from '../../engine/src/prng.ts';
import { prepareMedia } from '../../analysis/src/index.ts';
import { DecodeError, MediaInputError } from './errors.ts';
import { nullLogger } from './logger.ts';
import { probeMedia } from './probe.ts';
import { ff, makeTempDir } from './test-fixtures.ts';

const TOOLS = { ffmpeg: '/usr/bin/ffmpeg', ffprobe: '/usr/bin/ffprobe' };
const SEED_SECONDS = 1.5;
/** 6 seeds x 170 = 1,020 mutated files. */
const MUTATIONS_PER_SEED = 170;
/** Two files at a time: the test machines have two cores. */
const CONCURRENCY = 2;
/** A file still undecided after this long counts as a hang (a 1.5 s seed decodes in well under a second). */
const PER_FILE_LIMIT_MS = 45_000;
const PROBE_TIMEOUT_MS = 20_000;
/** The analysis's duration limit, lowered: a mutation that claims (or decodes to) more is too_long. */
const MAX_SECONDS = 60;
/**
 * Each file costs two tool starts (ffprobe, ffmpeg): 0.47 s of CPU measured on the shared test
 * machine, nearly all of it starting the tools. That is about 4 minutes on two idle cores; it
 * took 40 minutes at a load average of 16. Generous, so that load alone cannot fail it.
 */
const FUZZ_TIMEOUT_MS = 60 * 60_000;

type Kind = 'wav' | 'flac' | 'mp3' | 'm4a' | 'mkv' | 'ogg';

const BITEXACT = ['-fflags', '+bitexact', '-flags:a', '+bitexact'];
const SEEDS: Record<Kind, string[]> = {
  wav: ['-map', '0:a', '-c:a', 'pcm_s16le'],
  flac: ['-map', '0:a', '-c:a', 'flac'],
  mp3: ['-map', '0:a', '-c:a', 'libmp3lame', '-b:a', '128k'],
  m4a: ['-map', '0:a', '-c:a', 'aac', '-b:a', '128k'],
  // With a small video track: the demuxer and the stream selection see a real container.
  mkv: ['-map', '1:v', '-map', '0:a', '-c:v', 'mpeg4', '-flags:v', '+bitexact', '-c:a', 'libopus', '-b:a', '96k'],
  ogg: ['-map', '0:a', '-c:a', 'libvorbis', '-q:a', '4'],
};

async function makeSeed(dir: string, kind: Kind): Promise<string> {
  const file = path.join(dir, `seed.${kind}`);
  await ff([
    '-f', 'lavfi', '-i', `aevalsrc=exprs=0.3*sin(2*PI*440*t)+0.1*sin(2*PI*1234*t)|0.3*sin(2*PI*660*t):s=48000:d=${SEED_SECONDS}`,
    '-f', 'lavfi', '-i', `testsrc2=size=32x32:rate=25:duration=${SEED_SECONDS}`,
    ...SEEDS[kind], ...BITEXACT, file,
  ]);
  return file;
}

type Rand = () => number;
const int = (r: Rand, n: number) => Math.floor(r() * n);
const randomBytes = (r: Rand, n: number) => Buffer.from(Array.from({ length: n }, () => int(r, 256)));

interface Field {
  offset: number;
  bytes: 1 | 2 | 4 | 8;
  le: boolean;
  what: string;
}

/** Size, count, rate and duration fields of the container headers (where they are in this file). */
function headerFields(kind: Kind, b: Buffer): Field[] {
  const f: Field[] = [];
  const at = (tag: string | Buffer, from = 0) => b.indexOf(tag, from);
  const each = (tag: string | Buffer, fn: (i: number) => void) => {
    for (let i = at(tag); i >= 0 && i < b.length; i = at(tag, i + 1)) fn(i);
  };
  switch (kind) {
    case 'wav': {
      f.push({ offset: 4, bytes: 4, le: true, what: 'RIFF size' });
      const fmt = at('fmt ');
      if (fmt >= 0) {
        f.push({ offset: fmt + 4, bytes: 4, le: true, what: 'fmt size' }, { offset: fmt + 10, bytes: 2, le: true, what: 'channels' }, { offset: fmt + 12, bytes: 4, le: true, what: 'sample rate' }, { offset: fmt + 16, bytes: 4, le: true, what: 'byte rate' }, { offset: fmt + 20, bytes: 2, le: true, what: 'block align' }, { offset: fmt + 22, bytes: 2, le: true, what: 'bits per sample' });
      }
      const data = at('data');
      if (data >= 0) f.push({ offset: data + 4, bytes: 4, le: true, what: 'data size' });
      break;
    }
    case 'flac':
      // STREAMINFO after 'fLaC' and its 4-byte block header.
      f.push({ offset: 5, bytes: 2, le: false, what: 'metadata block length' }, { offset: 8, bytes: 2, le: false, what: 'min block size' }, { offset: 10, bytes: 2, le: false, what: 'max block size' }, { offset: 18, bytes: 4, le: false, what: 'sample rate/channels/bits' }, { offset: 22, bytes: 4, le: false, what: 'total samples' });
      break;
    case 'mp3':
      for (const tag of ['Xing', 'Info']) each(tag, (i) => f.push({ offset: i + 8, bytes: 4, le: false, what: `${tag} frames` }, { offset: i + 12, bytes: 4, le: false, what: `${tag} bytes` }));
      each('ID3', (i) => f.push({ offset: i + 6, bytes: 4, le: false, what: 'ID3 size' }));
      break;
    case 'm4a':
      for (const box of ['ftyp', 'moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd', 'stts', 'stsc', 'stsz', 'stco', 'mdat', 'esds', 'mp4a']) each(box, (i) => i >= 4 && f.push({ offset: i - 4, bytes: 4, le: false, what: `${box} box size` }));
      for (const box of ['mvhd', 'mdhd']) each(box, (i) => f.push({ offset: i + 16, bytes: 4, le: false, what: `${box} timescale` }, { offset: i + 20, bytes: 4, le: false, what: `${box} duration` }));
      each('stsz', (i) => f.push({ offset: i + 12, bytes: 4, le: false, what: 'stsz sample count' }));
      each('mp4a', (i) => f.push({ offset: i + 20, bytes: 2, le: false, what: 'mp4a channels' }, { offset: i + 28, bytes: 4, le: false, what: 'mp4a sample rate' }));
      break;
    case 'mkv': {
      // EBML: the byte after an element ID starts its size (a vint); Duration and
      // SamplingFrequency are 8-byte floats, Channels a small integer.
      const ids: Array<[string, number[]]> = [['Segment', [0x18, 0x53, 0x80, 0x67]], ['Cluster', [0x1f, 0x43, 0xb6, 0x75]], ['Tracks', [0x16, 0x54, 0xae, 0x6b]], ['TrackEntry', [0xae]], ['CodecPrivate', [0x63, 0xa2]], ['Audio', [0xe1]]];
      for (const [what, id] of ids) each(Buffer.from(id), (i) => f.push({ offset: i + id.length, bytes: 1, le: false, what: `${what} size` }));
      each(Buffer.from([0x44, 0x89, 0x88]), (i) => f.push({ offset: i + 3, bytes: 8, le: false, what: 'Duration' }));
      each(Buffer.from([0xb5, 0x88]), (i) => f.push({ offset: i + 2, bytes: 8, le: false, what: 'SamplingFrequency' }));
      each(Buffer.from([0x9f, 0x81]), (i) => f.push({ offset: i + 2, bytes: 1, le: false, what: 'Channels' }));
      break;
    }
    case 'ogg':
      each('OggS', (i) => f.push({ offset: i + 6, bytes: 8, le: true, what: 'granule position' }, { offset: i + 26, bytes: 1, le: false, what: 'segment count' }, { offset: i + 27, bytes: 1, le: false, what: 'first segment size' }));
      each('\x01vorbis', (i) => f.push({ offset: i + 11, bytes: 1, le: false, what: 'vorbis channels' }, { offset: i + 12, bytes: 4, le: true, what: 'vorbis sample rate' }));
      break;
  }
  return f.filter((x) => x.offset >= 0 && x.offset + x.bytes <= b.length);
}

function setField(b: Buffer, field: Field, value: 'max' | 'signed-max' | 'zero' | 'one'): void {
  for (let k = 0; k < field.bytes; k++) {
    const pos = field.le ? field.offset + k : field.offset + field.bytes - 1 - k;
    const top = k === field.bytes - 1;
    b[pos] = value === 'max' ? 0xff : value === 'signed-max' ? (top ? 0x7f : 0xff) : value === 'one' ? (k === 0 ? 1 : 0) : 0;
  }
}

type Mutator = (r: Rand, b: Buffer, kind: Kind) => { buf: Buffer; desc: string };

const MUTATORS: Mutator[] = [
  function flipBytes(r, b) {
    const out = Buffer.from(b);
    const n = 1 + int(r, 16);
    const where: number[] = [];
    for (let k = 0; k < n; k++) {
      // Mostly in the headers, where a flip changes how everything after is read.
      const pos = r() < 0.7 ? int(r, Math.min(4096, out.length)) : int(r, out.length);
      out[pos] = out[pos]! ^ (1 + int(r, 255));
      where.push(pos);
    }
    return { buf: out, desc: `flip ${n} byte(s) at ${where.slice(0, 4).join(',')}${n > 4 ? ',…' : ''}` };
  },
  function truncate(r, b) {
    const len = r() < 0.5 ? int(r, Math.min(512, b.length)) : int(r, b.length);
    return { buf: Buffer.from(b.subarray(0, len)), desc: `truncate to ${len} bytes` };
  },
  function corruptHeader(r, b) {
    const out = Buffer.from(b);
    const start = int(r, Math.min(512, out.length));
    const n = Math.min(1 + int(r, 64), out.length - start);
    randomBytes(r, n).copy(out, start);
    return { buf: out, desc: `random bytes over [${start}, ${start + n})` };
  },
  function insertGarbage(r, b) {
    const pos = int(r, b.length + 1);
    const n = 1 + int(r, 4096);
    const garbage = r() < 0.5 ? randomBytes(r, n) : Buffer.alloc(n, int(r, 256));
    return { buf: Buffer.concat([b.subarray(0, pos), garbage, b.subarray(pos)]), desc: `insert ${n} bytes at ${pos}` };
  },
  function hugeSizeField(r, b, kind) {
    const fields = headerFields(kind, b);
    const out = Buffer.from(b);
    if (fields.length === 0) {
      const pos = int(r, Math.max(1, out.length - 4));
      out.writeUInt32BE(0xffffffff, pos);
      return { buf: out, desc: `0xffffffff at ${pos} (no known field)` };
    }
    const field = fields[int(r, fields.length)]!;
    const value = (['max', 'max', 'signed-max', 'zero', 'one'] as const)[int(r, 5)]!;
    setField(out, field, value);
    return { buf: out, desc: `${field.what} @${field.offset} set to ${value}` };
  },
];

function stacked(r: Rand, b: Buffer, kind: Kind): { buf: Buffer; desc: string } {
  let buf = b;
  const descs: string[] = [];
  const n = 2 + int(r, 2);
  for (let k = 0; k < n; k++) {
    const m = MUTATORS[int(r, MUTATORS.length)]!(r, buf, kind);
    buf = m.buf;
    descs.push(m.desc);
  }
  return { buf, desc: descs.join(' + ') };
}

type Outcome = { kind: 'result'; seconds: number } | { kind: 'input'; code: string } | { kind: 'decode' } | { kind: 'bad'; error: string } | { kind: 'hang' };

/** Probe, then the analysis's own prepareMedia (duration limit, plan, decode, features). */
async function runOne(file: string, pids: Set<number>): Promise<Outcome> {
  const ctrl = new AbortController();
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    ctrl.abort(new Error('per-file time limit'));
  }, PER_FILE_LIMIT_MS);
  try {
    const probe = await probeMedia(file, { tools: TOOLS, logger: nullLogger, signal: ctrl.signal, timeoutMs: PROBE_TIMEOUT_MS });
    const prepared = await prepareMedia(probe, undefined, {
      tools: TOOLS,
      logger: nullLogger,
      signal: ctrl.signal,
      maxDurationSeconds: MAX_SECONDS,
      onSpawn: (pid) => pids.add(pid),
    });
    assert.ok(prepared.decoded.pcm.length > 0 && prepared.features.energy.length === prepared.features.length, 'decoded audio and features');
    return { kind: 'result', seconds: prepared.decoded.decodedSeconds };
  } catch (e) {
    if (hung) return { kind: 'hang' };
    if (e instanceof MediaInputError) return { kind: 'input', code: e.code };
    if (e instanceof DecodeError) return { kind: 'decode' };
    const err = e as Error;
    return { kind: 'bad', error: `${err?.name}: ${String(err?.message).slice(0, 300)}\n${String(err?.stack).split('\n').slice(1, 4).join('\n')}` };
  } finally {
    clearTimeout(timer);
  }
}

/** ffmpeg/ffprobe processes whose parent is this process. */
async function toolChildren(): Promise<string[]> {
  const found: string[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis.
    const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
    if (m && Number(m[2]) === process.pid && /^ff(mpeg|probe)$/.test(m[1]!)) found.push(`${name} ${m[1]}`);
  }
  return found;
}

test(`${Object.keys(SEEDS).length * MUTATIONS_PER_SEED} mutated media files each end in a result or a named error, in time, with no process left`, { timeout: FUZZ_TIMEOUT_MS }, async (t) => {
  const { dir, cleanup } = await makeTempDir('media-fuzz-');
  t.after(cleanup);
  const t0 = performance.now();
  const kinds = Object.keys(SEEDS) as Kind[];
  const seeds = new Map<Kind, Buffer>();
  for (const kind of kinds) seeds.set(kind, await readFile(await makeSeed(dir, kind)));

  const pids = new Set<number>();
  // The unmutated seeds decode: a harness that failed everything would prove nothing.
  for (const kind of kinds) {
    const o = await runOne(path.join(dir, `seed.${kind}`), pids);
    assert.equal(o.kind, 'result', `seed ${kind}: ${JSON.stringify(o)}`);
  }

  const cases: Array<{ name: string; desc: string }> = [];
  for (const [s, kind] of kinds.entries()) {
    const seed = seeds.get(kind)!;
    for (let i = 0; i < MUTATIONS_PER_SEED; i++) {
      const r = mulberry32(0x5eed0000 + s * 1000 + i);
      // Every mutator in turn, then the stacked ones.
      const m = i % (MUTATORS.length + 1) === MUTATORS.length ? stacked(r, seed, kind) : MUTATORS[i % (MUTATORS.length + 1)]!(r, seed, kind);
      const name = `m${String(i).padStart(3, '0')}.${kind}`;
      await writeFile(path.join(dir, name), m.buf);
      cases.push({ name, desc: `${kind} #${i}: ${m.desc}` });
    }
  }

  const outcomes: Array<{ name: string; desc: string; outcome: Outcome; ms: number }> = [];
  const queue = [...cases];
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        const s0 = performance.now();
        const outcome = await runOne(path.join(dir, c.name), pids);
        outcomes.push({ ...c, outcome, ms: performance.now() - s0 });
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;

  const tally = new Map<string, number>();
  for (const o of outcomes) {
    const key = o.outcome.kind === 'input' ? `input:${o.outcome.code}` : o.outcome.kind;
    tally.set(key, (tally.get(key) ?? 0) + 1);
  }
  const slowest = outcomes.reduce((a, b) => (b.ms > a.ms ? b : a));
  t.diagnostic(`${outcomes.length} files in ${seconds.toFixed(1)} s (${(seconds / outcomes.length * 1000).toFixed(0)} ms each at concurrency ${CONCURRENCY}); slowest ${slowest.ms.toFixed(0)} ms (${slowest.desc})`);
  t.diagnostic(`outcomes: ${[...tally].sort().map(([k, n]) => `${k} ${n}`).join(', ')}`);

  assert.equal(outcomes.length, cases.length);
  const bad = outcomes.filter((o) => o.outcome.kind === 'bad' || o.outcome.kind === 'hang').map((o) => `${o.desc} -> ${JSON.stringify(o.outcome)}`);
  assert.deepEqual(bad, [], 'every file ends in a result or a named media error within the time limit');
  // The mutations reach both ends: some files still decode, many are refused as bad input.
  assert.ok((tally.get('result') ?? 0) >= 50, 'some mutated files still decode');
  assert.ok(outcomes.filter((o) => o.outcome.kind === 'input').length >= 50, 'many mutated files are refused as bad input');

  // No ffmpeg or ffprobe left behind (stopChild escalates to SIGKILL after a 1 s grace period).
  const deadline = Date.now() + 5_000;
  let left = await toolChildren();
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    left = await toolChildren();
  }
  assert.deepEqual(left, [], 'ffmpeg/ffprobe processes left running');
  const alive = [...pids].filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
  assert.deepEqual(alive, [], 'decoder PIDs still alive');
  assert.ok(pids.size >= 50, `decoders were started (${pids.size})`);
});
