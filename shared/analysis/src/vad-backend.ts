// The speech backend the analysis uses: Silero VAD in worker threads (@sync-analyzer/inference).
// One per process run (CLI) or per job (worker child); closed when the work is done.
import { availableParallelism } from 'node:os';
import { VadWorker, type InferenceLogger } from '@sync-analyzer/inference';
import { SPEECH_RATE, type SpeechBackend } from './speech.ts';

export interface SpeechBackendOptions {
  provider: 'cpu' | 'cuda';
  allowCpuFallback: boolean;
  modelDir: string | null;
  /** ONNX Runtime intra-op threads per session; default: the cores shared out between the sessions. */
  threads: number | null;
  /** Model sessions (threads) side by side; default 2: master and dub are decoded together. */
  sessions?: number | null;
  /** The model's input rate: 8000 (default, the analysis rate) or 16000 (Silero's other rate). */
  sampleRate?: 8000 | 16000 | null;
  logger: InferenceLogger;
}

/** Master and dub are decoded at the same time, each feeding its own blocks. */
export const DEFAULT_SPEECH_SESSIONS = 2;

export async function openSpeechBackend(o: SpeechBackendOptions): Promise<SpeechBackend & { close(): Promise<void>; fallbackReason: string | null }> {
  const sessions = Math.max(1, o.sessions ?? DEFAULT_SPEECH_SESSIONS);
  // One session per file runs both files' blocks at once: on two cores one shared session left a
  // core idle while the other file's decoder waited for it (measured: the model was busy 21 s of a
  // 25 s analysis of a 60-minute pair). Intra-op threads are shared out so the sessions do not
  // oversubscribe the cores (2 threads per session on 2 cores was slower than 1).
  const threads = o.threads ?? Math.max(1, Math.min(4, Math.floor(availableParallelism() / sessions)));
  const started = await Promise.allSettled(
    Array.from({ length: sessions }, () =>
      VadWorker.start({
        provider: o.provider,
        allowCpuFallback: o.allowCpuFallback,
        ...(o.modelDir ? { modelDir: o.modelDir } : {}),
        threads,
        sampleRate: o.sampleRate ?? SPEECH_RATE,
        logger: o.logger,
      }),
    ),
  );
  const pool = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(pool.map((w) => w.close()));
    throw failed.reason;
  }
  const i = pool[0]!.info();
  const queued = pool.map(() => 0);
  // Wall time with at least one block in a model (blocks of both files overlap).
  let active = 0;
  let since = 0;
  let busy = 0;
  const detect = async (pcm: Float32Array) => {
    // The least loaded session (a block takes about the same time everywhere).
    let k = 0;
    for (let j = 1; j < pool.length; j++) if (queued[j]! < queued[k]!) k = j;
    queued[k]!++;
    if (active++ === 0) since = performance.now();
    try {
      // The model's default batching (many streams per run()): run() calls cost more than the
      // state warm-up each stream repeats (measured: 16 streams took 2.5x the time of the default).
      return await pool[k]!.detect(pcm);
    } finally {
      queued[k]!--;
      if (--active === 0) busy += (performance.now() - since) / 1000;
    }
  };
  return {
    busySeconds: () => busy + (active > 0 ? (performance.now() - since) / 1000 : 0),
    detect,
    info: () => ({ provider: i.provider, model: i.model, sha256: i.sha256, warmupMs: i.warmupMs, sampleRate: i.sampleRate }),
    close: async () => {
      await Promise.all(pool.map((w) => w.close()));
    },
    fallbackReason: i.fallbackReason ?? null,
  };
}
