// Speech detection while decoding: the decoder's 16 kHz side output is cut into blocks that a
// voice-activity model (in a worker thread: ONNX Runtime's run() blocks) processes while the
// decode goes on, so memory stays at a few blocks and little time is added at the end.
import type { SpeechSegment } from '@sync-analyzer/engine';

export const SPEECH_RATE = 16_000;

/** What the analysis needs from a speech model (see @sync-analyzer/inference's VadWorker). */
export interface SpeechBackend {
  detect(pcm: Float32Array): Promise<{ segments: SpeechSegment[] }>;
  info(): { provider: string; model: string; sha256: string; warmupMs: number };
}

export interface SpeechStream {
  push(chunk: Int16Array): void;
  /** All segments, in file time, merged across block edges; and the seconds spent in the model. */
  finish(): Promise<{ segments: SpeechSegment[]; seconds: number }>;
}

/** Two minutes per block: long enough for batching inside the model, small in memory (7.7 MB). */
const BLOCK_SAMPLES = 120 * SPEECH_RATE;
/** Segments closer than this across a block edge are one line cut in two by the edge. */
const JOIN_GAP = 0.12;

export function speechStream(backend: SpeechBackend): SpeechStream {
  let block = new Float32Array(BLOCK_SAMPLES);
  let fill = 0;
  let blockStart = 0;
  // Model time: the worker thread runs blocks one after another, so each block's time counts
  // from when it was sent or the previous one finished, whichever is later.
  let busy = 0;
  let lastDone = 0;
  const pending: Promise<SpeechSegment[]>[] = [];
  const dispatch = () => {
    const pcm = fill === block.length ? block : block.slice(0, fill);
    const offset = blockStart / SPEECH_RATE;
    const t0 = performance.now();
    pending.push(
      backend.detect(pcm).then((r) => {
        const now = performance.now();
        busy += (now - Math.max(t0, lastDone)) / 1000;
        lastDone = now;
        return r.segments.map((s) => ({ start: s.start + offset, end: s.end + offset, prob: s.prob }));
      }),
    );
    blockStart += fill;
    block = new Float32Array(BLOCK_SAMPLES);
    fill = 0;
  };
  return {
    push(chunk) {
      let i = 0;
      while (i < chunk.length) {
        const n = Math.min(chunk.length - i, block.length - fill);
        for (let k = 0; k < n; k++) block[fill + k] = chunk[i + k]! / 32768;
        fill += n;
        i += n;
        if (fill === block.length) dispatch();
      }
    },
    async finish() {
      if (fill > 0) dispatch();
      const parts = await Promise.all(pending);
      const merged: SpeechSegment[] = [];
      for (const s of parts.flat().sort((a, b) => a.start - b.start)) {
        const last = merged[merged.length - 1];
        if (last && s.start - last.end <= JOIN_GAP) {
          const la = last.end - last.start;
          const sa = s.end - s.start;
          last.prob = (last.prob * la + s.prob * sa) / Math.max(1e-9, la + sa);
          last.end = Math.max(last.end, s.end);
        } else merged.push({ ...s });
      }
      return { segments: merged, seconds: busy };
    },
  };
}
