// The human summary printed by `sync-analyzer analyze` (stdout).
import { FRAME_RATE_KEYS, type AnalysisResult, type ChannelCheck, type MediaInfo } from '@sync-analyzer/engine';

const VERDICT_WORDS: Record<AnalysisResult['verdict'], string> = {
  in_sync: 'IN SYNC',
  offset: 'OFFSET',
  drift: 'DRIFT',
  edited: 'EDITED',
  no_match: 'NO MATCH',
};

const s3 = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`;

export function formatSummary(r: AnalysisResult): string {
  const lines: string[] = [];
  lines.push(`Master: ${r.master.path}  (${describeMedia(r.master)})`);
  lines.push(`Dub:    ${r.dub.path}  (${describeMedia(r.dub)})`);
  lines.push('');
  lines.push(`Verdict:    ${VERDICT_WORDS[r.verdict]}: ${r.summary}`);
  for (const reason of r.reasons) lines.push(`            - ${reason}`);
  const pct = Math.round(r.confidence * 100);
  lines.push(
    `Confidence: ${pct}% ${r.match ? 'that the offset is within 1 frame at 24 fps' : 'that there is no match'}${r.match && r.confidence < 0.5 ? '  (LOW: check by ear)' : ''}`,
  );
  if (r.match && r.offset_seconds !== null && r.frames) {
    lines.push(`Offset:     ${s3(r.offset_seconds)} s at master 00:00 (positive: dub late; fix: ${r.offset_seconds > 0 ? 'trim' : 'pad'} the dub head by ${Math.abs(r.offset_seconds).toFixed(3)} s)`);
    const keys = FRAME_RATE_KEYS.filter((k) => ['23.976', '24', '25', '29.97', '29.97df', '30'].includes(k) || k === r.reference_frame_rate);
    lines.push(`            ${keys.map((k) => `${k}: ${r.frames![k].frames.toFixed(2)} fr ${r.frames![k].timecode}`).join(' | ')}`);
  }
  if (r.drift) {
    lines.push(
      r.drift.direction === 'none'
        ? 'Drift:      none (speed ratio 1)'
        : `Drift:      speed ratio ${r.drift.speed_ratio.toFixed(6)} (${r.drift.standard ?? 'non-standard'}), ${r.drift.ppm.toFixed(1)} ppm: dub drifts ${r.drift.direction}`,
    );
  }
  if (r.segments.length > 1 || r.gaps.length > 0) {
    lines.push('Edit map:   master in -> out        dub in -> out           offset');
    for (const s of r.segments) {
      lines.push(`            ${tc(s.master_start)} -> ${tc(s.master_end)}  ${tc(s.dub_start)} -> ${tc(s.dub_end)}  ${s3(s.offset_seconds)} s (${Math.round(s.confidence * 100)}%)`);
    }
    for (const g of r.gaps) {
      lines.push(
        g.kind === 'removed'
          ? `            removed from dub: master ${tc(g.master_start)} -> ${tc(g.master_end)} (${g.duration_seconds.toFixed(2)} s)`
          : `            inserted in dub:  dub ${tc(g.dub_start)} -> ${tc(g.dub_end)} (${g.duration_seconds.toFixed(2)} s) at master ${tc(g.master_start)}`,
      );
    }
  }
  if (r.polarity_inverted) lines.push('Polarity:   the dub is polarity-inverted');
  if (r.speech) lines.push(`Speech:     master ${r.speech.master.segments.length} lines (${r.speech.master.speech_seconds.toFixed(1)} s), dub ${r.speech.dub.segments.length} lines (${r.speech.dub.speech_seconds.toFixed(1)} s)${r.inference ? `; ${r.inference.model} on ${r.inference.provider}` : ''}`);
  if (r.dialogue) {
    const d = r.dialogue;
    const review = d.summary.review ?? 0;
    lines.push(`Dialogue:   ${d.summary.lines} master lines, ${d.summary.paired} paired; ${d.summary.flagged} flagged (>= ${d.threshold_frames} frames @ ${d.frame_rate}), ${review ? `${review} to review, ` : ''}${d.summary.missing} missing in the dub, ${d.summary.untranslated} untranslated`);
    const listed = d.lines.filter((x) => x.flagged || x.review);
    const unc = (u: number | null | undefined) => (u !== null && u !== undefined && u >= 1 ? ` \u00b1${u.toFixed(0)} ms` : '');
    for (const l of listed.slice(0, 20)) {
      const what =
        l.issue === 'missing' ? 'no dub line' : l.issue === 'untranslated' ? `same audio as the master (${Math.round((l.same_audio ?? 1) * 100)}%)` : `start ${sgn(l.start_diff_frames)} fr (${sgn(l.start_diff_ms, 0)} ms${unc(l.start_uncertainty_ms)}), end ${sgn(l.end_diff_frames)} fr (${sgn(l.end_diff_ms, 0)} ms${unc(l.end_uncertainty_ms)})`;
      lines.push(`            line ${l.index + 1} ${tc(l.master_start)} -> ${tc(l.master_end)}: ${l.issue?.replace(/_/g, ' ') ?? 'review (near the threshold, measure uncertain)'}: ${what}`);
    }
    if (listed.length > 20) lines.push(`            ... ${listed.length - 20} more in the JSON result`);
  }
  lines.push(`Head:       master ${describeHead(r.master)}; dub ${describeHead(r.dub)}`);
  const total = r.timing.total ?? 0;
  lines.push(`Timing:     ${Object.entries(r.timing).filter(([k, v]) => k !== 'total' && v >= 0.005).map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(', ')}; total ${total.toFixed(2)} s (${total > 0 ? (r.master.duration / total).toFixed(0) : '-'}x realtime)`);
  return lines.join('\n');
}

function sgn(x: number | null, digits = 1): string {
  return x === null ? '-' : `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`;
}

function describeMedia(m: MediaInfo): string {
  const parts = [`${m.duration.toFixed(2)} s`, m.selected];
  if (m.video_frame_rate_label) parts.push(`video ${m.video_frame_rate_label} fps`);
  if (m.start_timecode) parts.push(`TC ${m.start_timecode}`);
  return parts.join(', ');
}

function describeHead(m: MediaInfo): string {
  const f = m.head.findings.map((x) => `${x.kind.replace('_', '/')} ${x.start.toFixed(2)}-${x.end.toFixed(2)} s${x.frequency_hz ? ` ${Math.round(x.frequency_hz)} Hz` : ''}`);
  return `${f.length ? f.join(', ') + ', ' : ''}programme from ${m.head.programme_start.toFixed(2)} s`;
}

function tc(seconds: number): string {
  const sign = seconds < 0 ? '-' : ' ';
  const a = Math.abs(seconds);
  const h = Math.floor(a / 3600), m = Math.floor((a % 3600) / 60), s = a % 60;
  return `${sign}${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${s.toFixed(3).padStart(6, '0')}`;
}

export function formatChannels(c: ChannelCheck | null): string {
  if (!c) return 'Channels:   not checked (mono on either side, or no match)\n';
  const parts = [c.swapped ? 'first two channels SWAPPED' : 'channel order as in the master'];
  c.inverted.forEach((inv, j) => inv && parts.push(`channel ${j} polarity INVERTED`));
  return `Channels:   ${parts.join('; ')} (similarity L/R x L/R: ${c.similarity.map((r) => r.join(' ')).join(' | ')})\n`;
}
