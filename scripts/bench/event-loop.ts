// Event-loop isolation of speech detection: perf_hooks.monitorEventLoopDelay while idle (the
// baseline), while VadWorker (Silero in a worker thread, as the CLI and the worker service run it)
// processes a 5-minute signal at the model's rate, and, for contrast, while SileroVad runs the same signal on
// the main thread. All in one process, one after the other. Reported, not asserted: the figures
// depend on the machine and its load.
//
//   node --import tsx scripts/bench/event-loop.ts [--seconds 300] [--no-same-thread] [--json FILE]
//   npm run bench -- --event-loop      (this measurement only; the default bench runs it at the end)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { SileroVad, VAD_SAMPLE_RATE, VadWorker, nullLogger } from '@sync-analyzer/inference';
import { ESPEAK, decodeMono, runProcess } from './proc.ts';
import { NoiseSource, Rng } from './prng.ts';
import { sentence } from './words.ts';

/** The histogram's timer period (ms); reported delays are what exceeds it. */
export const LOOP_RESOLUTION_MS = 2;

export interface LoopDelay {
  label: string;
  /** wall seconds the phase lasted */
  seconds: number;
  samples: number;
  /** event-loop delay beyond the sampling period, ms */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** detect() wall time, when the phase ran one */
  detectSeconds: number | null;
  /** speech seconds found (a sanity check that the model ran) */
  speechSeconds: number | null;
}

export interface EventLoopReport {
  signalSeconds: number;
  provider: string;
  model: string;
  phases: LoopDelay[];
}

/**
 * A deterministic test signal at the model's rate: a few espeak-ng sentences repeated with pauses over
 * low-level noise (the model's cost does not depend on the content, but the speech it finds shows
 * that it ran on something speech-like).
 */
export async function testSignal(seconds: number, seed = 'event-loop'): Promise<Float32Array> {
  const sr = VAD_SAMPLE_RATE;
  const out = new Float32Array(Math.round(seconds * sr));
  const rng = new Rng(seed);
  const noise = new NoiseSource(`${seed}:noise`);
  for (let i = 0; i < out.length; i++) out[i] = 0.003 * noise.next();
  const dir = mkdtempSync(join(tmpdir(), 'bench-eventloop-'));
  const lines: Float32Array[] = [];
  try {
    for (let k = 0; k < 6; k++) {
      const wav = join(dir, `${k}.wav`);
      const r = await runProcess(ESPEAK, ['-v', k % 2 ? 'en+f2' : 'en+m3', '-s', '165', '-w', wav, sentence(rng, 'en', rng.int(4, 11))]);
      if (r.code !== 0) throw new Error(`espeak-ng failed: ${r.stderr}`);
      lines.push(await decodeMono(wav, sr));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  let t = Math.round(0.5 * sr);
  for (let k = 0; t < out.length; k++) {
    const line = lines[k % lines.length] as Float32Array;
    for (let i = 0; i < line.length && t + i < out.length; i++) out[t + i] = (out[t + i] as number) + 0.5 * (line[i] as number);
    t += line.length + Math.round(rng.range(0.4, 3) * sr);
  }
  return out;
}

function stats(label: string, h: ReturnType<typeof monitorEventLoopDelay>, seconds: number, extra: Partial<LoopDelay> = {}): LoopDelay {
  const beyond = (ns: number): number => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
  return {
    label,
    seconds,
    samples: h.count,
    p50Ms: beyond(h.percentile(50)),
    p99Ms: beyond(h.percentile(99)),
    maxMs: beyond(h.max),
    detectSeconds: null,
    speechSeconds: null,
    ...extra,
  };
}

async function monitored<T>(fn: () => Promise<T>): Promise<{ h: ReturnType<typeof monitorEventLoopDelay>; seconds: number; value: T }> {
  const h = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  const t0 = performance.now();
  h.enable();
  try {
    const value = await fn();
    return { h, seconds: (performance.now() - t0) / 1000, value };
  } finally {
    h.disable();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const speechOf = (segs: readonly { start: number; end: number }[]): number => segs.reduce((a, s) => a + s.end - s.start, 0);

export interface MeasureOptions {
  signalSeconds?: number;
  idleSeconds?: number;
  sameThread?: boolean;
  log?: (m: string) => void;
}

/** Idle baseline, then VadWorker.detect, then (optionally) SileroVad.detect on the main thread. */
export async function measureEventLoop(opts: MeasureOptions = {}): Promise<EventLoopReport> {
  const seconds = opts.signalSeconds ?? 300;
  const log = opts.log ?? (() => undefined);
  const pcm = await testSignal(seconds);
  const worker = await VadWorker.start({ provider: 'cpu', logger: nullLogger });
  const phases: LoopDelay[] = [];
  let info;
  try {
    info = worker.info();
    // warm the thread's path once (first postMessage, first run) outside the measurement
    await worker.detect(pcm.slice(0, VAD_SAMPLE_RATE * 2));
    const idle = await monitored(() => sleep((opts.idleSeconds ?? 3) * 1000));
    phases.push(stats('idle (baseline)', idle.h, idle.seconds));
    log(`  event loop: idle ${phases[0]?.p99Ms.toFixed(2)} ms p99`);
    const w = await monitored(() => worker.detect(pcm.slice()));
    phases.push(stats('VadWorker.detect (worker thread)', w.h, w.seconds, { detectSeconds: w.seconds, speechSeconds: speechOf(w.value.segments) }));
    log(`  event loop: worker ${phases[1]?.p99Ms.toFixed(2)} ms p99 over ${w.seconds.toFixed(1)} s`);
  } finally {
    await worker.close();
  }
  if (opts.sameThread !== false) {
    const vad = await SileroVad.open({ provider: 'cpu', logger: nullLogger });
    try {
      await vad.detect(pcm.slice(0, VAD_SAMPLE_RATE * 2));
      const m = await monitored(() => vad.detect(pcm));
      phases.push(stats('SileroVad.detect on the main thread (contrast)', m.h, m.seconds, { detectSeconds: m.seconds, speechSeconds: speechOf(m.value.segments) }));
    } finally {
      await vad.close();
    }
  }
  return { signalSeconds: seconds, provider: info.provider, model: info.model, phases };
}

export function formatEventLoop(r: EventLoopReport): string {
  const rows = r.phases.map((p) => `  ${p.label.padEnd(48)} p50 ${p.p50Ms.toFixed(2).padStart(7)}  p99 ${p.p99Ms.toFixed(2).padStart(7)}  max ${p.maxMs.toFixed(2).padStart(8)} ms` +
    `  (${p.samples} samples over ${p.seconds.toFixed(1)} s${p.speechSeconds !== null ? `, ${p.speechSeconds.toFixed(0)} s speech found` : ''})`);
  return [
    `event-loop delay beyond the ${LOOP_RESOLUTION_MS} ms sampling period, ${r.signalSeconds} s of ${VAD_SAMPLE_RATE / 1000} kHz audio, ${r.model} on ${r.provider}:`,
    ...rows,
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { seconds: { type: 'string' }, 'no-same-thread': { type: 'boolean', default: false }, json: { type: 'string' } },
    strict: true,
  });
  const r = await measureEventLoop({ signalSeconds: values.seconds ? Number(values.seconds) : 300, sameThread: !values['no-same-thread'], log: (m) => process.stderr.write(`${m}\n`) });
  process.stdout.write(`${formatEventLoop(r)}\n`);
  if (values.json) writeFileSync(resolve(values.json), `${JSON.stringify(r, null, 2)}\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`event-loop measurement failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
