// Speech detection while decoding: the decoder's side output (8 kHz, the rate the model runs at) is cut into blocks that a
// voice-activity model (in a worker thread: ONNX Runtime's run() blocks) processes while the
// decode goes on, so memory stays at a few blocks and little time is added at the end.
import type { SpeechSegment } from '@sync-analyzer/engine';

/** The speech model's default input rate: the analysis rate, where the model costs half of 16 kHz. */
export const SPEECH_RATE = 8_000;

/** What the analysis needs from a speech model (see @sync-analyzer/inference's VadWorker). */
export interface SpeechBackend {
  detect(pcm: Float32Array): Promise<{ segments: SpeechSegment[] }>;
  /** Wall seconds so far during which the model had work (blocks of both files share it). */
  busySeconds(): number;
  info(): { provider: string; model: string; sha256: string; warmupMs: number; sampleRate: number };
}

export interface SpeechStream {
  /** A promise when the model is behind: the caller should wait (the decoder pauses). */
  push(chunk: Int16Array): void | Promise<void>;
  /** All segments, in file time, merged across block edges. */
  finish(): Promise<{ segments: SpeechSegment[]; seconds: number }>;
}

/**
 * Four minutes per block (7.7 MB at 8 kHz, 15 MB at 16 kHz): each block starts the model afresh
 * with about 5 s of warm-up per stream, so long blocks keep the run() calls few (batching inside the
 * model), while the blocks in flight for both files are most of what speech detection holds: with
 * eight-minute blocks the 3-hour pair peaked at 994-1024 MB (limit 1 GB), with four 951 MB, for
 * 6% more model time on the 60-minute pair.
 */
const BLOCK_SECONDS = 240;
/** Blocks waiting for or in the model per file; beyond this the decoder is held back. */
const MAX_IN_FLIGHT = 2;
/** Segments closer than this across a block edge are one line cut in two by the edge. */
const JOIN_GAP = 0.12;

export function speechStream(backend: SpeechBackend): SpeechStream {
  const rate = backend.info().sampleRate;
  const blockSamples = BLOCK_SECONDS * rate;
  let block = new Float32Array(blockSamples);
  let fill = 0;
  let blockStart = 0;

  const pending: Promise<SpeechSegment[]>[] = [];
  let done = 0;
  const dispatch = () => {
    const pcm = fill === block.length ? block : block.slice(0, fill);
    const offset = blockStart / rate;
    pending.push(
      backend.detect(pcm).then((r) => {
        done++;
        return r.segments.map((s) => ({ start: s.start + offset, end: s.end + offset, prob: s.prob }));
      }),
    );
    blockStart += fill;
    block = new Float32Array(blockSamples);
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
      // Backpressure: while more than MAX_IN_FLIGHT blocks are unprocessed, the caller waits for
      // the oldest of them (memory stays at a few blocks whatever the programme's length).
      if (pending.length - done > MAX_IN_FLIGHT) return pending[pending.length - 1 - MAX_IN_FLIGHT]!.then(() => undefined);
      return undefined;
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
      return { segments: merged, seconds: backend.busySeconds() };
    },
  };
}
