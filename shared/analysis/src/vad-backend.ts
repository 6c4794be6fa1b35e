// The speech backend the analysis uses: Silero VAD in a worker thread (@sync-analyzer/inference).
// One per process run (CLI) or per job (worker child); closed when the work is done.
import { VadWorker, type InferenceLogger } from '@sync-analyzer/inference';
import type { SpeechBackend } from './speech.ts';

export interface SpeechBackendOptions {
  provider: 'cpu' | 'cuda';
  allowCpuFallback: boolean;
  modelDir: string | null;
  threads: number | null;
  logger: InferenceLogger;
}

export async function openSpeechBackend(o: SpeechBackendOptions): Promise<SpeechBackend & { close(): Promise<void>; fallbackReason: string | null }> {
  const vad = await VadWorker.start({
    provider: o.provider,
    allowCpuFallback: o.allowCpuFallback,
    ...(o.modelDir ? { modelDir: o.modelDir } : {}),
    ...(o.threads ? { threads: o.threads } : {}),
    logger: o.logger,
  });
  const i = vad.info();
  // Wall time with at least one block in the model (the thread runs them one after another).
  let active = 0;
  let since = 0;
  let busy = 0;
  const detect = async (pcm: Float32Array) => {
    if (active++ === 0) since = performance.now();
    try {
      return await vad.detect(pcm);
    } finally {
      if (--active === 0) busy += (performance.now() - since) / 1000;
    }
  };
  return {
    busySeconds: () => busy + (active > 0 ? (performance.now() - since) / 1000 : 0),
    // The model's default batching (many streams per run()): run() calls cost more than the
    // state warm-up each stream repeats (measured: 16 streams took 2.5x the time of the default).
    detect,
    info: () => ({ provider: i.provider, model: i.model, sha256: i.sha256, warmupMs: i.warmupMs }),
    close: () => vad.close(),
    fallbackReason: i.fallbackReason ?? null,
  };
}
