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
  // No sign on a value that rounds to zero ("−0.0 ms" reads like a measurement).
  if (mag === '0.0') return '0.0 ms';
  return `${ms > 0 ? '+' : '\u2212'}${mag} ms`;
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

/** "late by 480 ms", "early by 1.234 s", "in step" (no frames). */
export function offsetPhrase(seconds: number): string {
  if (Math.abs(seconds) < 0.0005) return 'in step';
  return `${seconds > 0 ? 'late' : 'early'} by ${formatMs(seconds)}`;
}

/**
 * The result page's headline: the offset sentence, and for drift or edits how the offset
 * changes over the programme (an offset of 0 at the start is not "in sync" when it drifts).
 */
export function describeHeadline(r: Pick<AnalysisResult, 'match' | 'verdict' | 'offset_seconds' | 'frames' | 'reference_frame_rate' | 'segments' | 'gaps'>): string {
  if (!r.match || r.offset_seconds === null) return 'No match';
  const start = describeOffset(r).sentence;
  const cap = (x: string) => x.charAt(0).toUpperCase() + x.slice(1);
  const last = r.segments[r.segments.length - 1];
  if (r.verdict === 'drift' && last) return `Dub is ${offsetPhrase(r.offset_seconds)} at the start and ${offsetPhrase(last.offset_end_seconds)} at the end`;
  if (r.verdict === 'edited') return `${cap(start)} at the start, then ${r.gaps.length || r.segments.length - 1} edit${(r.gaps.length || r.segments.length - 1) === 1 ? '' : 's'} change${(r.gaps.length || r.segments.length - 1) === 1 ? 's' : ''} it`;
  return cap(start);
}

/** What to do about the result, in words (null when nothing). */
export function describeRemedy(r: Pick<AnalysisResult, 'verdict' | 'offset_seconds'>): string | null {
  const off = r.offset_seconds ?? 0;
  const shift = Math.abs(off) >= 0.0005 ? `${describeFix(off)}, ` : '';
  if (r.verdict === 'offset') return `${describeFix(off)}.`;
  if (r.verdict === 'drift') return `${shift}conform the drift (a full-conform repair).`;
  if (r.verdict === 'edited') return `${shift}conform the edits (a full-conform repair).`;
  return null;
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
  return `each master second lasts ${drift.speed_ratio.toFixed(6)} s in the dub${drift.standard ? ` (standard ${drift.standard})` : ''}, so the dub drifts ${drift.direction} by ${formatMs(perMinute)} per minute (${Math.abs(drift.ppm).toFixed(0)} ppm)`;
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

/** The folder part of a media-root path ("shows/ep1/"), or "" at the root. */
export function dirName(p: string): string {
  const i = p.lastIndexOf('/');
  return i >= 0 ? p.slice(0, i + 1) : '';
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

/** Dialogue line issues in operator words. */
export const DIALOGUE_ISSUE: Record<string, string> = {
  early_start: 'starts early',
  late_start: 'starts late',
  early_end: 'ends early',
  late_end: 'ends late',
  start_and_end: 'start and end off',
  missing: 'missing in the dub',
  untranslated: 'untranslated (same audio as the master)',
};

/** "+3.0 fr / +120 ms"; a dash when there is no paired line. */
/** A line edge's difference, with its uncertainty (± ms) when that is 1 ms or more. */
export function describeLineDiff(frames: number | null, ms: number | null, uncertaintyMs: number | null = null): string {
  if (frames === null || ms === null) return '\u2014';
  const sign = (x: number) => (x > 0 ? '+' : x < 0 ? '\u2212' : '');
  const base = `${sign(frames)}${Math.abs(frames).toFixed(1)} fr / ${sign(ms)}${Math.abs(ms).toFixed(0)} ms`;
  return uncertaintyMs !== null && uncertaintyMs >= 1 ? `${base} \u00b1${uncertaintyMs.toFixed(0)} ms` : base;
}

export function describeDialogueSummary(d: NonNullable<AnalysisResult['dialogue']>): string {
  const s = d.summary;
  const parts = [
    `${s.lines} master line${s.lines === 1 ? '' : 's'}, ${s.paired} paired with a dub line`,
    `${s.flagged} flagged at ${d.threshold_frames} frame${d.threshold_frames === 1 ? '' : 's'} or more (${d.frame_rate} fps)`,
    ...(s.review ? [`${s.review} to review (near the threshold, measure uncertain)`] : []),
    `${s.missing} missing`,
    `${s.untranslated} untranslated`,
  ];
  if (s.extra) parts.push(`${s.extra} dub line${s.extra === 1 ? '' : 's'} with no master line`);
  return `${parts.join('; ')}.`;
}
