// Operator wording: verdicts, offsets with the sign spelled out, confidence, times and sizes.
// Pure (no DOM), so the node test runner checks it.
import type { AnalysisResult, AudioSelection, ProbeStream, Verdict } from './types.ts';

export type Tone = 'good' | 'warn' | 'drift' | 'edit' | 'bad' | 'neutral';

export const VERDICTS: Record<Verdict, { label: string; tone: Tone; explain: string }> = {
  in_sync: { label: 'In sync', tone: 'good', explain: 'The dub lines up with the master within the tolerance: nothing to fix.' },
  offset: { label: 'Offset', tone: 'warn', explain: 'The whole dub is shifted by a constant amount. An offset repair fixes it.' },
  drift: { label: 'Drift', tone: 'drift', explain: 'The dub runs at a different speed, so the offset changes over the programme. Conform the drift to fix it.' },
  edited: { label: 'Edited', tone: 'edit', explain: 'Material was cut from or inserted into the dub: the offset jumps between parts. Conform the edits to fix it.' },
  no_match: { label: 'No match', tone: 'bad', explain: 'The dub does not carry the master\u2019s programme, or too little of it to measure.' },
};

export const STATUS_LABEL: Record<string, string> = {
  queued: 'Queued',
  running: 'Running',
  completed: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
  timed_out: 'Timed out',
};

/** Below this the result page warns: the calibrated probability of a one-frame-correct offset. */
export const LOW_CONFIDENCE = 0.8;

/** "480 ms", "4.2 ms", "1.234 s" (magnitude only). */
export function formatMs(seconds: number): string {
  const ms = Math.abs(seconds) * 1000;
  if (ms >= 1000) return `${(ms / 1000).toFixed(3)} s`;
  if (ms >= 10) return `${Math.round(ms)} ms`;
  return `${ms.toFixed(1)} ms`;
}

/** Signed milliseconds for tables: "+480.0 ms", "−12.5 ms". */
export function signedMs(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '\u2014';
  const ms = seconds * 1000;
  const mag = Math.abs(ms).toFixed(1);
  return `${ms > 0 ? '+' : ms < 0 ? '\u2212' : '\u00b1'}${mag} ms`;
}

/** "12 frames", "1 frame", "12.3 frames" (magnitude only). */
export function formatFrames(frames: number): string {
  const f = Math.abs(frames);
  const whole = Math.round(f);
  const text = Math.abs(f - whole) < 0.05 ? String(whole) : f.toFixed(1);
  return `${text} frame${text === '1' ? '' : 's'}`;
}

export interface OffsetWords {
  /** e.g. "dub is late by 480 ms (12 frames @ 25)" */
  sentence: string;
  direction: 'late' | 'early' | 'none';
  /** ±HH:MM:SS:FF at the reference rate, when known. */
  timecode: string | null;
}

/** The measured offset in words, sign spelled out (positive offset_seconds: the dub is LATE). */
export function describeOffset(result: Pick<AnalysisResult, 'offset_seconds' | 'frames' | 'reference_frame_rate'>): OffsetWords {
  const off = result.offset_seconds;
  if (off === null) return { sentence: 'no offset could be measured', direction: 'none', timecode: null };
  const ref = result.reference_frame_rate as keyof NonNullable<AnalysisResult['frames']>;
  const fr = result.frames?.[ref] ?? null;
  const frames = fr ? ` (${formatFrames(fr.frames)} @ ${ref})` : '';
  if (Math.abs(off) < 0.0005) return { sentence: `dub is in step with the master (0 ms${fr ? `, 0 frames @ ${ref}` : ''})`, direction: 'none', timecode: fr?.timecode ?? null };
  const direction = off > 0 ? 'late' : 'early';
  return { sentence: `dub is ${direction} by ${formatMs(off)}${frames}`, direction, timecode: fr?.timecode ?? null };
}

/** What the repair does about it, in words. */
export function describeFix(offsetSeconds: number): string {
  if (Math.abs(offsetSeconds) < 0.0005) return 'no shift needed';
  return offsetSeconds > 0 ? `advance the dub by ${formatMs(offsetSeconds)} (trim its head)` : `delay the dub by ${formatMs(offsetSeconds)} (pad its head)`;
}

/** Drift in words from speed_ratio = d(dub time)/d(master time). */
export function describeDrift(drift: AnalysisResult['drift']): string | null {
  if (!drift || drift.direction === 'none') return null;
  const perMinute = (drift.speed_ratio - 1) * 60;
  return `the dub runs at ${drift.speed_ratio.toFixed(6)}\u00d7 the master\u2019s time${drift.standard ? ` (standard ${drift.standard})` : ''}: it drifts ${drift.direction} by ${formatMs(perMinute)} per minute (${Math.abs(drift.ppm).toFixed(0)} ppm)`;
}

export function describeConfidence(confidence: number): { percent: string; meaning: string; low: boolean } {
  return {
    percent: `${Math.round(confidence * 100)}%`,
    meaning: 'the calibrated probability that the measured offset is right to within one frame at 24 fps',
    low: confidence < LOW_CONFIDENCE,
  };
}

/** Media time: "1:02:03.4", "2:03.4", "0:05.0". */
export function formatTime(seconds: number | null | undefined, decimals = 1): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '\u2014';
  const neg = seconds < 0;
  const s = Math.abs(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = (s % 60).toFixed(decimals).padStart(decimals > 0 ? 3 + decimals : 2, '0');
  return `${neg ? '\u2212' : ''}${h > 0 ? `${h}:${String(m).padStart(2, '0')}` : m}:${sec}`;
}

/** Parses "75", "75.5", "1:15.5", "1:01:15" into seconds; null when not a time. */
export function parseTime(text: string): number | null {
  const t = text.trim();
  if (!/^\d+(:\d{1,2}){0,2}(\.\d+)?$/.test(t)) return null;
  return t.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** ISO date-time as a short local date and time (the operator's clock). */
export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '\u2014';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function baseName(p: string): string {
  const i = p.lastIndexOf('/');
  return i >= 0 ? p.slice(i + 1) : p;
}

/** A probed audio stream in one line: "a0 · pcm_s16le · 2 ch stereo · 48 kHz · eng". */
export function describeStream(s: ProbeStream): string {
  return [
    `a${s.audioIndex}`,
    s.codec,
    `${s.channels} ch${s.channelLayout ? ` ${s.channelLayout}` : ''}`,
    `${(s.sampleRate / 1000).toFixed(s.sampleRate % 1000 ? 1 : 0)} kHz`,
    s.language,
    s.title ? `\u201c${s.title}\u201d` : null,
  ]
    .filter(Boolean)
    .join(' \u00b7 ');
}

/** Audio choices for a probed file, as select values (see selectionFromValue). */
export function selectionChoices(streams: ProbeStream[]): { value: string; label: string }[] {
  const out = [{ value: 'auto', label: 'Automatic (first stream, main channels)' }];
  for (const s of streams) {
    out.push({ value: `stream:${s.audioIndex}`, label: `Stream a${s.audioIndex} (${s.channels} ch${s.channelLayout ? ` ${s.channelLayout}` : ''})` });
    if (s.channels > 1) {
      out.push({ value: `mix:${s.audioIndex}`, label: `Stream a${s.audioIndex}, all channels mixed to mono` });
      for (let c = 0; c < Math.min(s.channels, 16); c++) out.push({ value: `channel:${s.audioIndex}:${c}`, label: `Stream a${s.audioIndex}, channel ${c + 1} only` });
    }
  }
  return out;
}

export function selectionFromValue(value: string): AudioSelection | undefined {
  const [kind, a, c] = value.split(':');
  if (kind === 'stream' && a !== undefined) return { kind: 'stream', audioIndex: Number(a) };
  if (kind === 'mix' && a !== undefined) return { kind: 'mix', audioIndex: Number(a) };
  if (kind === 'channel' && a !== undefined && c !== undefined) return { kind: 'channel', audioIndex: Number(a), channel: Number(c) };
  return undefined;
}

export const HEAD_LABEL: Record<string, string> = { bars_tone: 'bars/tone', two_pop: '2-pop', silence: 'silence' };
