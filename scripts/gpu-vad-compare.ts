// Part of scripts/gpu-check.sh: runs the worker's speech model (Silero VAD) on the same signal
// with the CPU provider and with the provider under test, checks that the speech
// probabilities agree within a tolerance, and prints the throughput of both.
//
//   node --import tsx scripts/gpu-vad-compare.ts [--provider cuda|cpu] [--rate 8000|16000] [--seconds N] [--tolerance T]
// --rate: the model's input rate, default as the worker picks it (SPEECH_SAMPLE_RATE, else 16000 on
// cuda and 8000 on cpu).
// Exit 0 when they agree (and the provider under test is really active), 1 otherwise.
import { parseArgs } from 'node:util';
import { SileroVad, nullLogger } from '@sync-analyzer/inference';

const { values } = parseArgs({ options: { provider: { type: 'string', default: 'cuda' }, rate: { type: 'string' }, seconds: { type: 'string', default: process.env.GPU_CHECK_SECONDS ?? '300' }, tolerance: { type: 'string', default: '0.02' } } });
const provider = values.provider === 'cpu' ? 'cpu' : 'cuda';
const rateSet = values.rate ?? process.env.SPEECH_SAMPLE_RATE;
const VAD_SAMPLE_RATE: 8000 | 16000 = rateSet === '16000' ? 16000 : rateSet === '8000' ? 8000 : provider === 'cuda' ? 16000 : 8000;
const seconds = Number(values.seconds);
const tolerance = Number(values.tolerance);

/** A deterministic test signal: noise, tone bursts and voiced-like pulse trains (what VAD scores). */
function signal(n: number): Float32Array {
  const out = new Float32Array(n);
  let s = 12345;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296) * 2 - 1;
  for (let i = 0; i < n; i++) {
    const t = i / VAD_SAMPLE_RATE;
    const seg = Math.floor(t / 2.5) % 4;
    const f0 = 110 + 40 * Math.sin(t * 1.7);
    const voiced = seg === 1 ? 0.3 * Math.sign(Math.sin(2 * Math.PI * f0 * t)) * Math.exp(-((t * f0) % 1) * 6) : 0;
    const tone = seg === 2 ? 0.2 * Math.sin(2 * Math.PI * 440 * t) : 0;
    out[i] = voiced + tone + 0.02 * rnd();
  }
  return out;
}

const pcm = signal(Math.round(seconds * VAD_SAMPLE_RATE));
const run = async (p: 'cpu' | 'cuda') => {
  const vad = await SileroVad.open({ provider: p, logger: nullLogger, sampleRate: VAD_SAMPLE_RATE });
  try {
    const info = vad.info();
    const t0 = performance.now();
    const r = await vad.detect(pcm.slice());
    const wall = (performance.now() - t0) / 1000;
    return { info, probs: r.probs, wall };
  } finally {
    await vad.close();
  }
};

const cpu = await run('cpu');
const other = provider === 'cpu' ? cpu : await run(provider);
let maxDiff = 0;
let sumDiff = 0;
for (let i = 0; i < cpu.probs.length; i++) {
  const d = Math.abs(cpu.probs[i]! - other.probs[i]!);
  maxDiff = Math.max(maxDiff, d);
  sumDiff += d;
}
const mean = sumDiff / Math.max(1, cpu.probs.length);
const speed = (w: number) => `${(seconds / w).toFixed(0)}x realtime (${w.toFixed(2)} s for ${seconds} s of ${VAD_SAMPLE_RATE / 1000} kHz audio)`;
console.log(`vad model: ${other.info.model}`);
console.log(`vad throughput cpu: ${speed(cpu.wall)}`);
console.log(`vad throughput ${other.info.provider}: ${speed(other.wall)}`);
console.log(`vad agreement ${other.info.provider} vs cpu: max |dp| ${maxDiff.toFixed(4)}, mean ${mean.toFixed(5)} over ${cpu.probs.length} frames (tolerance ${tolerance})`);
if (other.info.provider !== provider) {
  console.error(`vad ran on ${other.info.provider}, not ${provider}`);
  process.exit(1);
}
if (cpu.probs.length !== other.probs.length || maxDiff > tolerance) {
  console.error('vad probabilities differ beyond the tolerance');
  process.exit(1);
}
