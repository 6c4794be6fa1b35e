// Browser-safe listening proxies: the selected audio of one input as mono Ogg Opus at 16 kHz
// (small, seekable, played by every browser), plus an energy overview (dBFS per 50 ms) for the
// waveform view. Written once per input content and selection under DATA_DIR/proxies; a
// temp name and a rename make a half-written proxy impossible to serve.
import { spawn } from 'node:child_process';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_MAX_DURATION_SECONDS } from '@sync-analyzer/analysis';
import { decodePcm, probeMedia, AbortedError, type AudioSelection, type MediaLogger, type MediaTools } from '@sync-analyzer/media';

export const PROXY_RATE = 16_000;
export const OVERVIEW_HOP_SECONDS = 0.05;

export interface ProxyOutcome {
  audio: string;
  overview: string;
  durationSeconds: number;
  sampleRate: number;
}

export async function makeProxy(
  input: string,
  selection: AudioSelection | undefined,
  outDir: string,
  key: string,
  ctx: { tools: MediaTools; logger: MediaLogger; onSpawn?: (pid: number) => void; onProgress?: (fraction: number) => void },
): Promise<ProxyOutcome> {
  await mkdir(outDir, { recursive: true });
  const probe = await probeMedia(input, { tools: ctx.tools, logger: ctx.logger });
  const decoded = await decodePcm(input, {
    tools: ctx.tools,
    logger: ctx.logger,
    probe,
    selection: selection ?? { kind: 'auto' },
    sampleRate: PROXY_RATE,
    // The same bound as the analysis: a header that under-states the duration cannot make the
    // proxy decode unbounded.
    maxSeconds: DEFAULT_MAX_DURATION_SECONDS,
    ...(ctx.onSpawn ? { onSpawn: ctx.onSpawn } : {}),
    onProgress: (s) => ctx.onProgress?.(Math.min(0.7, (0.7 * s) / (probe.duration || Math.max(s, 1)))),
  });
  const pcm = decoded.pcm;
  // Energy overview.
  const hop = Math.round(PROXY_RATE * OVERVIEW_HOP_SECONDS);
  const db: number[] = [];
  for (let i = 0; i < pcm.length; i += hop) {
    let sum = 0;
    const end = Math.min(pcm.length, i + hop);
    for (let j = i; j < end; j++) sum += (pcm[j]! / 32768) ** 2;
    db.push(Math.round(Math.max(-90, 10 * Math.log10(sum / Math.max(1, end - i) + 1e-12)) * 10) / 10);
  }
  const tmpAudio = path.join(outDir, `.${key}.${process.pid}.ogg`);
  const tmpOverview = path.join(outDir, `.${key}.${process.pid}.json`);
  try {
    await encodeOpus(pcm, tmpAudio, ctx);
    await writeFile(tmpOverview, JSON.stringify({ hop_seconds: OVERVIEW_HOP_SECONDS, duration_seconds: pcm.length / PROXY_RATE, db }));
    const audio = path.join(outDir, `${key}.ogg`);
    const overview = path.join(outDir, `${key}.json`);
    await rename(tmpOverview, overview);
    await rename(tmpAudio, audio);
    ctx.onProgress?.(1);
    return { audio, overview, durationSeconds: pcm.length / PROXY_RATE, sampleRate: PROXY_RATE };
  } finally {
    await rm(tmpAudio, { force: true });
    await rm(tmpOverview, { force: true });
  }
}

/** Pipes the PCM into ffmpeg (argument array, no shell) for Opus encoding. */
function encodeOpus(pcm: Int16Array, out: string, ctx: { tools: MediaTools; onSpawn?: (pid: number) => void }): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 's16le', '-ar', String(PROXY_RATE), '-ac', '1', '-i', 'pipe:0', '-c:a', 'libopus', '-b:a', '32k', '-application', 'audio', '-f', 'ogg', '-y', out];
    const child = spawn(ctx.tools.ffmpeg, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    if (child.pid) ctx.onSpawn?.(child.pid);
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else if (signal) reject(new AbortedError(`ffmpeg stopped by ${signal}`));
      else reject(new Error(`ffmpeg could not encode the proxy (exit ${code}): ${err.trim().split('\n').slice(-3).join(' | ')}`));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
  });
}
