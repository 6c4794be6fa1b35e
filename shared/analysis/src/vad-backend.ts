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
  return {
    // 16 streams per run(): each stream of an 8-minute block then owns 30 s, so the ~5 s state
    // warm-up of each stream adds under a fifth to the work (64 streams would add two thirds).
    detect: (pcm) => vad.detect(pcm, { batch: 16 }),
    info: () => ({ provider: i.provider, model: i.model, sha256: i.sha256, warmupMs: i.warmupMs }),
    close: () => vad.close(),
    fallbackReason: i.fallbackReason ?? null,
  };
}
