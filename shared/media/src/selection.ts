/**
 * Which audio to analyse, and how to fold it to mono: turns a ProbeResult plus an
 * AudioSelection into the `-filter_complex` / `-map` arguments for ffmpeg.
 *
 * The layout-aware mix favours music & effects over dialogue: the centre channel
 * (dialogue in a film mix) is down-weighted to 0.1, LFE is dropped, the front L/R pair
 * weighs twice as much as each surround channel. Dubbed versions share M&E with the
 * master, so this keeps the common signal strong.
 */
import { MediaInputError } from './errors.ts';
import type { AudioStreamInfo, ProbeResult } from './probe.ts';

export type AudioSelection =
  | { kind: 'auto' }
  | { kind: 'stream'; audioIndex: number }
  | { kind: 'channel'; audioIndex?: number; channel: number }
  | { kind: 'mix'; audioIndex?: number };

export interface AudioPlan {
  /** `-filter_complex GRAPH -map [aout]`: goes after `-i PATH`. The output is always mono. */
  ffmpegArgs: string[];
  /** In words, e.g. "stream #1 (a:0, eac3 5.1(side)), layout-aware mix (centre down-weighted, LFE dropped)". */
  description: string;
  /** Number of source channels feeding the mono output. */
  channels: number;
  /** Audio indices (`0:a:N`) read. */
  audioIndices: number[];
  /** Expected decoded duration in seconds (longest selected stream, else the container), or null. */
  expectedDuration: number | null;
}

export interface PlanOptions {
  /** Append an explicit resampler to this rate inside the graph. */
  sampleRate?: number;
  /** 'soxr' needs an ffmpeg built with libsoxr (see checkTools().soxr). Default 'swr'. */
  resampler?: 'soxr' | 'swr';
  /**
   * A second mono output of the same selection at this rate, labelled [aout2] (one decode feeds
   * both: e.g. 8 kHz for the engine and 16 kHz for speech detection). Needs sampleRate.
   */
  extraRate?: number;
}

/** Channel order of ffmpeg's native layouts (as ffprobe names them). */
const LAYOUTS: Record<string, readonly string[]> = {
  mono: ['FC'],
  stereo: ['FL', 'FR'],
  downmix: ['DL', 'DR'],
  '2.1': ['FL', 'FR', 'LFE'],
  '3.0': ['FL', 'FR', 'FC'],
  '3.0(back)': ['FL', 'FR', 'BC'],
  '4.0': ['FL', 'FR', 'FC', 'BC'],
  quad: ['FL', 'FR', 'BL', 'BR'],
  'quad(side)': ['FL', 'FR', 'SL', 'SR'],
  '3.1': ['FL', 'FR', 'FC', 'LFE'],
  '5.0': ['FL', 'FR', 'FC', 'BL', 'BR'],
  '5.0(side)': ['FL', 'FR', 'FC', 'SL', 'SR'],
  '4.1': ['FL', 'FR', 'FC', 'LFE', 'BC'],
  '5.1': ['FL', 'FR', 'FC', 'LFE', 'BL', 'BR'],
  '5.1(side)': ['FL', 'FR', 'FC', 'LFE', 'SL', 'SR'],
  '6.0': ['FL', 'FR', 'FC', 'BC', 'SL', 'SR'],
  '6.0(front)': ['FL', 'FR', 'FLC', 'FRC', 'SL', 'SR'],
  hexagonal: ['FL', 'FR', 'FC', 'BL', 'BR', 'BC'],
  '6.1': ['FL', 'FR', 'FC', 'LFE', 'BC', 'SL', 'SR'],
  '6.1(back)': ['FL', 'FR', 'FC', 'LFE', 'BL', 'BR', 'BC'],
  '6.1(front)': ['FL', 'FR', 'LFE', 'FLC', 'FRC', 'SL', 'SR'],
  '7.0': ['FL', 'FR', 'FC', 'BL', 'BR', 'SL', 'SR'],
  '7.0(front)': ['FL', 'FR', 'FC', 'FLC', 'FRC', 'SL', 'SR'],
  '7.1': ['FL', 'FR', 'FC', 'LFE', 'BL', 'BR', 'SL', 'SR'],
  '7.1(wide)': ['FL', 'FR', 'FC', 'LFE', 'BL', 'BR', 'FLC', 'FRC'],
  '7.1(wide-side)': ['FL', 'FR', 'FC', 'LFE', 'FLC', 'FRC', 'SL', 'SR'],
};

const FRONT = new Set(['FL', 'FR', 'DL', 'DR', 'FLC', 'FRC']);
const CENTRE_WEIGHT = 0.1;

/** Channel names of a layout, or null when the layout is unknown or does not match the count. */
export function layoutChannels(layout: string | null, channels: number): readonly string[] | null {
  if (!layout) return null;
  const names = LAYOUTS[layout];
  return names && (channels === 0 || names.length === channels) ? names : null;
}

/**
 * Weights of the layout-aware mono mix, one per channel: centre 0.1 (when other channels
 * exist), LFE 0, fronts twice the weight of the other channels, summing to 1. Unknown
 * layouts: equal weights.
 */
export function mixWeights(layout: string | null, channels: number): number[] {
  const names = layoutChannels(layout, channels);
  if (!names) return Array.from({ length: Math.max(channels, 1) }, () => 1 / Math.max(channels, 1));
  const others = names.filter((n) => n !== 'FC' && n !== 'LFE');
  const hasCentre = names.includes('FC');
  if (others.length === 0) {
    // Mono, or centre + LFE only: take the centre (or everything if there is no centre).
    if (hasCentre) return names.map((n) => (n === 'FC' ? 1 : 0));
    return names.map(() => 1 / names.length);
  }
  const centre = hasCentre ? CENTRE_WEIGHT : 0;
  const rawTotal = others.reduce((s, n) => s + (FRONT.has(n) ? 2 : 1), 0);
  return names.map((n) => {
    if (n === 'LFE') return 0;
    if (n === 'FC') return centre;
    return ((FRONT.has(n) ? 2 : 1) / rawTotal) * (1 - centre);
  });
}

export function planAudioInput(probe: ProbeResult, selection: AudioSelection, opts: PlanOptions = {}): AudioPlan {
  const streams = probe.audioStreams;
  if (streams.length === 0) throw new MediaInputError('no_audio', probe.path);
  const joinable = streams.length >= 2 && streams.every((s) => s.channels === 1);

  switch (selection.kind) {
    case 'auto':
      return joinable ? joinedMix(probe, opts) : streamMix(probe, mainStream(streams), opts);
    case 'mix':
      if (selection.audioIndex === undefined) return joinable ? joinedMix(probe, opts) : streamMix(probe, mainStream(streams), opts);
      return streamMix(probe, pickStream(probe, selection.audioIndex), opts);
    case 'stream':
      return streamMix(probe, pickStream(probe, selection.audioIndex), opts);
    case 'channel': {
      if (selection.audioIndex === undefined && joinable) {
        // One mono stream per channel (MXF style): channel N is audio stream N.
        const ch = checkIndex(probe, selection.channel, streams.length, 'channel', `${streams.length} mono audio streams (one per channel)`);
        const s = streams[ch] as AudioStreamInfo;
        const names = joinLayout(streams.length)?.names;
        const name = names?.[ch] ? ` (${names[ch]})` : '';
        return channelPlan(probe, s, 0, `channel ${ch}${name} = mono ${streamLabel(s)}`, opts);
      }
      const s = selection.audioIndex === undefined ? mainStream(streams) : pickStream(probe, selection.audioIndex);
      const ch =
        s.channels > 0
          ? checkIndex(probe, selection.channel, s.channels, 'channel', `${streamLabel(s)} has ${s.channels} channel(s)`)
          : checkIndex(probe, selection.channel, Number.MAX_SAFE_INTEGER, 'channel', '');
      const name = layoutChannels(s.channelLayout, s.channels)?.[ch];
      return channelPlan(probe, s, ch, `${streamLabel(s)}, channel ${ch}${name ? ` (${name})` : ''}`, opts);
    }
    default: {
      const never: never = selection;
      throw new MediaInputError('bad_selection', probe.path, `unknown selection ${JSON.stringify(never)}`);
    }
  }
}

/** The default-disposition stream, else the one with most channels, else the first. */
export function mainStream(streams: readonly AudioStreamInfo[]): AudioStreamInfo {
  const first = streams[0];
  if (!first) throw new Error('mainStream: no audio streams');
  const def = streams.find((s) => s.isDefault);
  if (def) return def;
  return streams.reduce((best, s) => (s.channels > best.channels ? s : best), first);
}

function pickStream(probe: ProbeResult, audioIndex: number): AudioStreamInfo {
  const n = probe.audioStreams.length;
  const i = checkIndex(probe, audioIndex, n, 'audio stream', `the file has ${n} audio stream(s), a:0..a:${n - 1}`);
  return probe.audioStreams[i] as AudioStreamInfo;
}

function checkIndex(probe: ProbeResult, value: number, count: number, what: string, context: string): number {
  if (!Number.isInteger(value) || value < 0 || value >= count) {
    throw new MediaInputError('bad_selection', probe.path, `${what} ${value} is out of range${context ? `: ${context}` : ''}`);
  }
  return value;
}

function streamLabel(s: AudioStreamInfo): string {
  const layout = s.channelLayout ?? `${s.channels} ch`;
  return `stream #${s.index} (a:${s.audioIndex}, ${s.codec} ${layout})`;
}

function fmt(w: number): string {
  return String(Math.round(w * 1e6) / 1e6);
}

/** `c0=0.3*FL+0.3*FR+...` for the mix weights (zero weights left out). */
function panExpr(names: readonly string[] | null, weights: readonly number[]): string {
  const terms = weights
    .map((w, i) => (w > 0 ? `${fmt(w)}*${names ? names[i] : `c${i}`}` : ''))
    .filter((t) => t.length > 0);
  return `pan=mono|c0=${terms.join('+')}`;
}

function mixWords(names: readonly string[] | null, channels: number): string {
  if (channels === 1) return 'mono as is';
  if (!names) return `equal-weight mix of ${channels} channels (layout unknown)`;
  if (names.length === 2 && names.includes('FL') && names.includes('FR')) return 'stereo mix (0.5 L + 0.5 R)';
  if (names.includes('FC') && names.length > 1) {
    return `layout-aware mix (centre down-weighted${names.includes('LFE') ? ', LFE dropped' : ''})`;
  }
  return `layout-aware mix${names.includes('LFE') ? ' (LFE dropped)' : ''}`;
}

function finish(probe: ProbeResult, graph: string, opts: PlanOptions, rest: Omit<AudioPlan, 'ffmpegArgs' | 'expectedDuration'>, durations: Array<number | null>): AudioPlan {
  let chain = graph;
  const rs = opts.resampler === 'soxr' ? ':resampler=soxr' : '';
  if (opts.extraRate !== undefined && opts.sampleRate !== undefined) {
    chain += `,asplit=2[main][extra];[main]aresample=${Math.round(opts.sampleRate)}${rs}[aout];[extra]aresample=${Math.round(opts.extraRate)}${rs}[aout2]`;
    const known = durations.filter((d): d is number => d !== null);
    return {
      ffmpegArgs: ['-filter_complex', chain, '-map', '[aout]'],
      expectedDuration: known.length > 0 ? Math.max(...known) : probe.duration,
      ...rest,
    };
  }
  if (opts.sampleRate !== undefined) {
    chain += `,aresample=${Math.round(opts.sampleRate)}${rs}`;
  }
  const known = durations.filter((d): d is number => d !== null);
  return {
    ffmpegArgs: ['-filter_complex', `${chain}[aout]`, '-map', '[aout]'],
    expectedDuration: known.length > 0 ? Math.max(...known) : probe.duration,
    ...rest,
  };
}

function streamMix(probe: ProbeResult, s: AudioStreamInfo, opts: PlanOptions): AudioPlan {
  const channels = Math.max(s.channels, 1);
  const names = channels === 1 ? null : layoutChannels(s.channelLayout, s.channels);
  const pan = channels === 1 ? 'pan=mono|c0=c0' : panExpr(names, mixWeights(names ? s.channelLayout : null, channels));
  return finish(probe, `[0:a:${s.audioIndex}]${pan}`, opts, {
    description: `${streamLabel(s)}, ${mixWords(names, channels)}`,
    channels,
    audioIndices: [s.audioIndex],
  }, [s.duration]);
}

function channelPlan(probe: ProbeResult, s: AudioStreamInfo, ch: number, description: string, opts: PlanOptions): AudioPlan {
  return finish(probe, `[0:a:${s.audioIndex}]pan=mono|c0=c${ch}`, opts, {
    description,
    channels: 1,
    audioIndices: [s.audioIndex],
  }, [s.duration]);
}

function joinLayout(n: number): { layout: string; names: readonly string[] } | null {
  if (n === 2) return { layout: 'stereo', names: LAYOUTS.stereo as readonly string[] };
  if (n === 6) return { layout: '5.1', names: LAYOUTS['5.1'] as readonly string[] };
  return null;
}

/** Several mono streams: join them (2 -> stereo, 6 -> 5.1, else amerge) and mix. */
function joinedMix(probe: ProbeResult, opts: PlanOptions): AudioPlan {
  const streams = probe.audioStreams;
  const n = streams.length;
  const inputs = streams.map((s) => `[0:a:${s.audioIndex}]`).join('');
  const ids = streams.map((s) => `#${s.index}`).join(', ');
  const jl = joinLayout(n);
  let graph: string;
  let description: string;
  if (jl) {
    const map = jl.names.map((name, i) => `${i}.0-${name}`).join('|');
    graph = `${inputs}join=inputs=${n}:channel_layout=${jl.layout}:map=${map},${panExpr(jl.names, mixWeights(jl.layout, n))}`;
    description = `${n} mono streams (${ids}) joined as ${jl.layout}, ${mixWords(jl.names, n)}`;
  } else {
    graph = `${inputs}amerge=inputs=${n},${panExpr(null, mixWeights(null, n))}`;
    description = `${n} mono streams (${ids}) merged, ${mixWords(null, n)}`;
  }
  return finish(probe, graph, opts, { description, channels: n, audioIndices: streams.map((s) => s.audioIndex) }, streams.map((s) => s.duration));
}
