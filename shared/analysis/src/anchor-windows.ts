// Short full-rate windows around an anchor (a master time and the dub time the analysis maps
// it to), read with input seeking and measured with the engine's refineAt. Shared by the
// full-rate polish and the channel-order check.
import { refineAt, type Anchor, type FineMeasurement, type FineParams } from '@sync-analyzer/engine';
import { readWindow, type AudioSelection, type MediaLogger, type MediaTools } from '@sync-analyzer/media';
import type { PreparedMedia } from './analyze-files.ts';

export interface WindowReadOptions {
  tools: MediaTools;
  logger: MediaLogger;
  signal?: AbortSignal;
  onSpawn?: (pid: number) => void;
}

/** Reads [start, start + duration) of a prepared input's audio (selection as given) at `rate`. */
export type WindowReader = (m: PreparedMedia, selection: AudioSelection, start: number, duration: number) => Promise<Float32Array>;

export function windowReader(opts: WindowReadOptions, rate: number): WindowReader {
  return (m, selection, start, duration) =>
    readWindow(m.probe.path, {
      tools: opts.tools,
      logger: opts.logger,
      probe: m.probe,
      selection,
      start,
      duration,
      sampleRate: rate,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onSpawn ? { onSpawn: opts.onSpawn } : {}),
    });
}

/** Where to read: the master +-half around the anchor, the dub the same span through the ratio plus a pad. */
export interface AnchorSpan {
  masterStart: number;
  masterDuration: number;
  dubStart: number;
  dubDuration: number;
}

export function anchorSpan(a: Anchor, ratio: number, half: number, pad = 0.01): AnchorSpan | null {
  const masterStart = a.masterTime - half;
  const dubStart = a.dubTime - ratio * half - pad;
  if (masterStart < 0 || dubStart < 0) return null;
  return { masterStart, masterDuration: 2 * half, dubStart, dubDuration: 2 * half * ratio + 2 * pad };
}

/** Measures two windows read at `span`; the returned dubTime is absolute (seconds in the dub). */
export function measureAnchor(
  masterWindow: Float32Array,
  dubWindow: Float32Array,
  rate: number,
  a: Anchor,
  span: AnchorSpan,
  ratio: number,
  fine: FineParams,
): FineMeasurement | null {
  const m = refineAt({ samples: masterWindow, sampleRate: rate }, { samples: dubWindow, sampleRate: rate }, a.masterTime - span.masterStart, a.dubTime - span.dubStart, ratio, fine);
  return m ? { ...m, dubTime: m.dubTime + span.dubStart } : null;
}
