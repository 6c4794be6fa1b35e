// Channel order and polarity of a dub stream against the master: at a few well-matched points,
// each of the master's first two channels is correlated (GCC-PHAT at the known alignment) with
// each of the dub's; swapped channels and inverted polarity show in that 2x2 matrix.
import { fullRateAnchors, type AnalysisResult, type ChannelCheck, type FineParams } from '@sync-analyzer/engine';
import { mainStream, type AudioSelection } from '@sync-analyzer/media';
import type { PreparedMedia } from './analyze-files.ts';
import { anchorSpan, measureAnchor, windowReader, type WindowReadOptions } from './anchor-windows.ts';

const CHECK_RATE = 16000;
const FINE: FineParams = { windowSeconds: 3, searchSeconds: 0.002, phatBeta: 0.75, lowCutHz: 80 };

export type ChannelCheckOptions = WindowReadOptions;

function streamOf(m: PreparedMedia) {
  const sel = m.selection;
  const idx = sel.kind === 'stream' || sel.kind === 'channel' || sel.kind === 'mix' ? sel.audioIndex : undefined;
  const streams = m.probe.audioStreams;
  return idx !== undefined ? streams.find((s) => s.audioIndex === idx) : mainStream(streams);
}

export async function checkChannels(result: AnalysisResult, master: PreparedMedia, dub: PreparedMedia, opts: ChannelCheckOptions): Promise<ChannelCheck | null> {
  const ms = streamOf(master);
  const ds = streamOf(dub);
  if (!result.match || !result.drift || !ms || !ds || ms.channels < 2 || ds.channels < 2) return null;
  const r = result.drift.speed_ratio;
  const anchors = fullRateAnchors(result, 2);
  if (anchors.length === 0) return null;
  const half = FINE.windowSeconds / 2 + 0.5;
  const read = windowReader(opts, CHECK_RATE);
  const channel = (audioIndex: number, c: number): AudioSelection => ({ kind: 'channel', audioIndex, channel: c });
  const sum = [
    [0, 0],
    [0, 0],
  ];
  for (const a of anchors.slice(0, 3)) {
    const span = anchorSpan(a, r, half);
    if (!span) continue;
    const [m0, m1, d0, d1] = await Promise.all([
      ...[0, 1].map((c) => read(master, channel(ms.audioIndex, c), span.masterStart, span.masterDuration)),
      ...[0, 1].map((c) => read(dub, channel(ds.audioIndex, c), span.dubStart, span.dubDuration)),
    ]);
    [m0!, m1!].forEach((mw, i) =>
      [d0!, d1!].forEach((dw, j) => {
        const f = measureAnchor(mw, dw, CHECK_RATE, a, span, r, FINE);
        if (f) sum[i]![j]! += (f.inverted ? -1 : 1) * f.peakToNoise;
      }),
    );
  }
  const n = Math.min(anchors.length, 3);
  const similarity = sum.map((row) => row.map((v) => Math.round((v / n) * 10) / 10));
  const straight = Math.abs(similarity[0]![0]!) + Math.abs(similarity[1]![1]!);
  const crossed = Math.abs(similarity[0]![1]!) + Math.abs(similarity[1]![0]!);
  // Swapped only when the crossed pairs clearly win (identical L/R content makes both equal).
  const swapped = crossed > 1.5 * straight && Math.min(Math.abs(similarity[0]![1]!), Math.abs(similarity[1]![0]!)) >= 8;
  const pairOf = (j: number) => (swapped ? similarity[1 - j]![j]! : similarity[j]![j]!);
  return { swapped, inverted: [pairOf(0) < 0, pairOf(1) < 0], similarity };
}
