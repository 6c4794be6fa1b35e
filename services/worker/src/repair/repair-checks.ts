// Checks of a written repair against its input, from the two stream summaries: what should have
// been kept (streams, codecs, rates, layouts, languages, timecode, chapters, container tags, the
// copied video) and what should have changed (each audio stream's length). Failures are reported,
// never thrown: the caller decides what a failed check means.
import type { MediaSummary, StreamSummary } from './media-summary.ts';
import { isLossless } from './repair-plan.ts';
import type { RepairPlan } from './repair-plan.ts';

export interface RepairCheck {
  name: string;
  ok: boolean;
  detail: string;
}

/** Container tags a muxer rewrites on every write (identity, brand, writing application). */
const VOLATILE_TAG = /^(encoder|creation_time|major_brand|minor_version|compatible_brands|timecode|duration|.*uid.*|.*umid.*|product_.*|company_name|application_platform|toolkit_version.*|operational_pattern_ul|modification_date)$/i;
/** Stream tags that describe one encoding (statistics, encoder, length) rather than the content. */
const VOLATILE_STREAM_TAG = /^(encoder|creation_time|duration|bps|number_of_frames|number_of_bytes|_statistics_.*|.*umid.*)(-\w+)?$/i;
/** Lossy encoders run their own rate control: a re-encode lands near, not on, the input's rate. */
const BIT_RATE_TOLERANCE = 0.25;

export function checkOutput(input: MediaSummary, output: MediaSummary, plan: RepairPlan): RepairCheck[] {
  const checks: RepairCheck[] = [];
  const add = (name: string, ok: boolean, detail: string): void => {
    checks.push({ name, ok, detail });
  };
  const rebuilt = new Set(plan.rebuiltTimecodeTracks);
  const kept = input.streams.filter((s) => !rebuilt.has(s.index));
  // The muxer appends the timecode tracks it rebuilds; they are checked with the timecode.
  const outKept = rebuilt.size > 0 ? output.streams.filter((s) => !(s.type === 'data' && s.codecTag === 'tmcd')) : output.streams;
  const kinds = (ss: StreamSummary[]) => ss.map((s) => `${s.type}(${s.codec ?? s.codecTag ?? '?'})`).join(', ');
  const typesIn = kept.map((s) => s.type).join(',');
  const typesOut = outKept.map((s) => s.type).join(',');
  add('streams', typesIn === typesOut, `input: ${kinds(kept)}; output: ${kinds(outKept)}`);
  if (rebuilt.size > 0) {
    const tc = output.streams.filter((s) => s.type === 'data' && s.codecTag === 'tmcd').length;
    add('timecode track', tc === rebuilt.size, `input ${rebuilt.size} timecode track(s), output ${tc}`);
  }

  for (const a of plan.audio) {
    const i = input.streams.find((s) => s.index === a.inputIndex) as StreamSummary;
    const o = outKept[a.outputIndex];
    const name = `audio ${a.outputIndex}`;
    if (!o || o.type !== 'audio') {
      add(`${name} present`, false, `output stream ${a.outputIndex} is ${o ? o.type : 'missing'}`);
      continue;
    }
    const depth = (s: StreamSummary) => (isLossless(s.codec) ? `${s.codec} ${s.sampleFormat ?? '?'}/${s.bitsPerRawSample ?? '-'}` : `${s.codec}`);
    add(`${name} codec`, depth(i) === depth(o), `input ${depth(i)}, output ${depth(o)}`);
    add(`${name} sample rate`, i.sampleRate === o.sampleRate, `input ${i.sampleRate} Hz, output ${o.sampleRate} Hz`);
    const layout = (s: StreamSummary) => `${s.channels ?? '?'} ch (${s.channelLayout ?? 'no layout'})`;
    add(`${name} channels`, i.channels === o.channels && i.channelLayout === o.channelLayout, `input ${layout(i)}, output ${layout(o)}`);
    add(`${name} language`, i.language === o.language && i.title === o.title, `input ${i.language ?? 'none'}${i.title ? ` "${i.title}"` : ''}, output ${o.language ?? 'none'}${o.title ? ` "${o.title}"` : ''}`);
    const lost = Object.entries(i.tags).filter(([k, v]) => !VOLATILE_STREAM_TAG.test(k) && o.tags[k] !== v);
    add(`${name} tags`, lost.length === 0, lost.length ? `not carried: ${lost.map(([k, v]) => `${k}=${v}`).join(', ')}` : `${Object.keys(i.tags).filter((k) => !VOLATILE_STREAM_TAG.test(k)).length} stream tag(s) carried`);
    const got = o.durationSamples ?? (o.duration !== null && o.sampleRate ? Math.round(o.duration * o.sampleRate) : null);
    if (a.expectedSamples !== null && got !== null) {
      const diff = got - a.expectedSamples;
      const secs = (x: number) => `${(x / a.sampleRate).toFixed(6)} s`;
      add(
        `${name} duration`,
        Math.abs(diff) <= a.toleranceSamples,
        `expected ${secs(a.expectedSamples)} (${a.expectedSamples} samples), got ${secs(got)} (${got} samples; off by ${diff}, tolerance ${a.toleranceSamples})`,
      );
    }
    if (a.lossy && i.bitRate && o.bitRate) {
      const rel = Math.abs(o.bitRate - i.bitRate) / i.bitRate;
      add(`${name} bit rate`, rel <= BIT_RATE_TOLERANCE, `input ${Math.round(i.bitRate / 1000)} kb/s, output ${Math.round(o.bitRate / 1000)} kb/s`);
    }
  }

  const audioOut = new Set(plan.audio.map((a) => a.outputIndex));
  kept.forEach((i, k) => {
    if (audioOut.has(k)) return;
    const o = outKept[k];
    const name = `${i.type} ${k} copied`;
    if (!o || o.type !== i.type) {
      add(name, false, `output stream ${k} is ${o ? o.type : 'missing'}`);
      return;
    }
    if (o.codec !== i.codec) {
      add(name, false, `codec ${i.codec} became ${o.codec}`);
      return;
    }
    if (i.type !== 'video') {
      add(name, true, `${o.codec ?? o.codecTag ?? 'stream'} copied`);
      return;
    }
    if (i.frameCount !== null && o.frameCount !== null) {
      add(name, i.frameCount === o.frameCount, `${o.codec}: ${i.frameCount} frames in, ${o.frameCount} out`);
      return;
    }
    const frame = i.frameRate ? 1 / i.frameRate : 0.05;
    const ok = i.duration !== null && o.duration !== null && Math.abs(i.duration - o.duration) <= frame + 1e-6;
    add(name, ok, `${o.codec}: ${i.duration ?? '?'} s in, ${o.duration ?? '?'} s out (one frame: ${frame.toFixed(4)} s)`);
  });

  add('timecode', input.startTimecode === output.startTimecode, `input ${input.startTimecode ?? 'none'}, output ${output.startTimecode ?? 'none'}`);
  add('chapters', input.chapters === output.chapters, `input ${input.chapters}, output ${output.chapters}`);
  const missing = Object.entries(input.tags).filter(([k, v]) => !VOLATILE_TAG.test(k) && output.tags[k] !== v);
  add('metadata', missing.length === 0, missing.length ? `not carried: ${missing.map(([k]) => k).join(', ')}` : `${Object.keys(input.tags).filter((k) => !VOLATILE_TAG.test(k)).length} container tag(s) carried`);
  return checks;
}
