// One analysis as a downloadable report: JSON (the stored result untouched, plus the record's
// context), CSV (summary block, then the edit map) and a self-contained HTML page.
import { stringify } from 'csv-stringify/sync';
import type { AnalysisRecord, FileFingerprint } from '@sync-analyzer/platform';
import type { AnalysisResult, Gap, MediaInfo, Segment } from '@sync-analyzer/engine';
import {
  VERDICT_COLOURS,
  VERDICT_LABELS,
  errorText,
  escapeHtml,
  neutralizeFormula,
  offsetInFrames,
  rateContext,
  roundTo,
  timecodeAt,
} from './common.ts';
import type { RateContext } from './common.ts';
import { clockLabel, offsetPlotSvg } from './plot.ts';

export interface FingerprintReport {
  size: number;
  mtime_ms: number;
  head_tail_sha256: string;
}

export interface AnalysisReportDocument {
  id: string;
  status: AnalysisRecord['status'];
  priority: AnalysisRecord['priority'];
  files: { master: string; dub: string };
  fingerprints: { master: FingerprintReport; dub: FingerprintReport };
  options: AnalysisRecord['options'];
  batch: { id: string; index: number | null; episode: string | null; notes: string | null } | null;
  repair_id: string | null;
  timings: {
    created_at: string;
    started_at: string | null;
    finished_at: string | null;
    updated_at: string;
    /** Seconds from submission to start, and from start to finish (null until known). */
    queued_seconds: number | null;
    run_seconds: number | null;
    attempts: number;
  };
  engine_version: string | null;
  schema_version: string | null;
  error: { code: string | null; message: string | null } | null;
  /** Exactly as stored (never rescaled); null for failed or cancelled analyses. */
  result: AnalysisResult | null;
}

function fingerprint(f: FileFingerprint): FingerprintReport {
  return { size: f.size, mtime_ms: f.mtimeMs, head_tail_sha256: f.headTailSha256 };
}

function secondsBetween(from: string | null, to: string | null): number | null {
  if (!from || !to) return null;
  const d = (Date.parse(to) - Date.parse(from)) / 1000;
  return Number.isFinite(d) ? d : null;
}

export function analysisReportJson(rec: AnalysisRecord): AnalysisReportDocument {
  return {
    id: rec.id,
    status: rec.status,
    priority: rec.priority,
    files: { master: rec.masterPath, dub: rec.dubPath },
    fingerprints: { master: fingerprint(rec.masterFingerprint), dub: fingerprint(rec.dubFingerprint) },
    options: rec.options,
    batch: rec.batchId ? { id: rec.batchId, index: rec.batchIndex, episode: rec.episode, notes: rec.notes } : null,
    repair_id: rec.repairId,
    timings: {
      created_at: rec.createdAt,
      started_at: rec.startedAt,
      finished_at: rec.finishedAt,
      updated_at: rec.updatedAt,
      queued_seconds: secondsBetween(rec.createdAt, rec.startedAt),
      run_seconds: secondsBetween(rec.startedAt, rec.finishedAt),
      attempts: rec.attempts,
    },
    engine_version: rec.engineVersion ?? rec.result?.engine.version ?? null,
    schema_version: rec.schemaVersion ?? rec.result?.schema_version ?? null,
    error: rec.errorCode || rec.errorMessage ? { code: rec.errorCode, message: rec.errorMessage } : null,
    result: rec.result,
  };
}

/** Segments and gaps in master-time order. */
type EditEntry = { kind: 'segment'; n: number; s: Segment } | { kind: 'gap'; n: number; g: Gap };

function editEntries(r: AnalysisResult): EditEntry[] {
  const entries: EditEntry[] = [
    ...r.segments.map((s, i): EditEntry => ({ kind: 'segment', n: i + 1, s })),
    ...r.gaps.map((g, i): EditEntry => ({ kind: 'gap', n: i + 1, g })),
  ];
  const at = (e: EditEntry): number => (e.kind === 'segment' ? e.s.master_start : e.g.master_start);
  // At equal master times a gap comes first: an insert sits before the segment that starts there.
  return entries.sort((a, b) => at(a) - at(b) || (a.kind === b.kind ? a.n - b.n : a.kind === 'gap' ? -1 : 1));
}

export const EDIT_MAP_COLUMNS = [
  'kind',
  'index',
  'master_in_s',
  'master_out_s',
  'master_in_tc',
  'master_out_tc',
  'dub_in_s',
  'dub_out_s',
  'offset_s',
  'offset_ms',
  'offset_frames',
  'offset_tc',
  'offset_end_s',
  'duration_s',
  'confidence',
] as const;

type Cell = string | number | boolean | null;

function editMapRows(r: AnalysisResult, ctx: RateContext): Cell[][] {
  return editEntries(r).map((e) => {
    if (e.kind === 'segment') {
      const s = e.s;
      const off = offsetInFrames(s.offset_seconds, ctx);
      return [
        'segment', e.n,
        roundTo(s.master_start, 6), roundTo(s.master_end, 6), timecodeAt(s.master_start, ctx), timecodeAt(s.master_end, ctx),
        roundTo(s.dub_start, 6), roundTo(s.dub_end, 6),
        roundTo(s.offset_seconds, 6), roundTo(s.offset_seconds * 1000, 3), roundTo(off.frames, 3), off.timecode,
        roundTo(s.offset_end_seconds, 6), roundTo(s.master_end - s.master_start, 6), roundTo(s.confidence, 4),
      ];
    }
    const g = e.g;
    return [
      g.kind, e.n,
      roundTo(g.master_start, 6), roundTo(g.master_end, 6), timecodeAt(g.master_start, ctx), timecodeAt(g.master_end, ctx),
      roundTo(g.dub_start, 6), roundTo(g.dub_end, 6),
      null, null, null, null, null, roundTo(g.duration_seconds, 6), null,
    ];
  });
}

/** User-provided text in a spreadsheet cell (file names, notes, error messages). */
const userCell = (v: string | null): string | null => (v === null ? null : neutralizeFormula(v));

export const DIALOGUE_COLUMNS = ['line', 'master_in', 'master_out', 'master_in_timecode', 'dub_in', 'dub_out', 'start_diff_ms', 'end_diff_ms', 'start_diff_frames', 'end_diff_frames', 'start_uncertainty_ms', 'end_uncertainty_ms', 'timing', 'flagged', 'review', 'issue', 'same_audio'] as const;

export function analysisReportCsv(rec: AnalysisRecord): string {
  const r = rec.result;
  const ctx = rateContext(r);
  const off = r?.offset_seconds ?? null;
  const offFrames = off === null ? null : offsetInFrames(off, ctx);
  const summary: [string, Cell][] = [
    ['analysis_id', rec.id],
    ['status', rec.status],
    ['master', userCell(rec.masterPath)],
    ['dub', userCell(rec.dubPath)],
    ['episode', userCell(rec.episode)],
    ['notes', userCell(rec.notes)],
    ['verdict', r?.verdict ?? null],
    ['match', r?.match ?? null],
    ['summary', r?.summary ?? null],
    ['offset_seconds', roundTo(off, 6)],
    ['offset_ms', roundTo(off === null ? null : off * 1000, 3)],
    ['offset_frames', roundTo(offFrames?.frames, 3)],
    ['offset_timecode', offFrames?.timecode ?? null],
    ['frame_rate', ctx.label],
    ['master_start_timecode', ctx.startTimecode],
    ['drift_speed_ratio', roundTo(r?.drift?.speed_ratio, 9)],
    ['drift_ppm', roundTo(r?.drift?.ppm, 3)],
    ['drift_standard', r?.drift?.standard ?? null],
    ['drift_direction', r?.drift?.direction ?? null],
    ['confidence', roundTo(r?.confidence ?? rec.confidence, 4)],
    ['polarity_inverted', r?.polarity_inverted ?? null],
    ['reasons', r ? r.reasons.join(' | ') : null],
    ['segments', r?.segments.length ?? null],
    ['gaps', r?.gaps.length ?? null],
    ['engine', r ? `${r.engine.name} ${r.engine.version}` : null],
    ['schema_version', rec.schemaVersion ?? r?.schema_version ?? null],
    ['created_at', rec.createdAt],
    ['finished_at', rec.finishedAt],
    ['error', userCell(errorText(rec.errorCode, rec.errorMessage))],
  ];
  const rows: Cell[][] = [['field', 'value'], ...summary, [], [...EDIT_MAP_COLUMNS], ...(r ? editMapRows(r, ctx) : [])];
  if (r?.dialogue) {
    rows.push([], [...DIALOGUE_COLUMNS]);
    for (const l of r.dialogue.lines) {
      rows.push([l.index + 1, roundTo(l.master_start, 3), roundTo(l.master_end, 3), timecodeAt(l.master_start, ctx), roundTo(l.dub_start, 3), roundTo(l.dub_end, 3), roundTo(l.start_diff_ms, 1), roundTo(l.end_diff_ms, 1), roundTo(l.start_diff_frames, 2), roundTo(l.end_diff_frames, 2), roundTo(l.start_uncertainty_ms ?? null, 1), roundTo(l.end_uncertainty_ms ?? null, 1), l.timing ?? '', l.flagged, l.review ?? false, l.issue ?? '', roundTo(l.same_audio, 3)]);
    }
  }
  // csv-stringify quotes per RFC 4180 (fields with the delimiter, quotes or line breaks).
  return stringify(rows, { record_delimiter: 'windows', cast: { boolean: (b) => (b ? 'true' : 'false') } });
}

// ---------------------------------------------------------------------------------------------
// HTML

const CSS = `
*{box-sizing:border-box}
body{font:14px/1.45 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d1d24;margin:0;background:#f2f3f7}
main{max-width:960px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:16px;margin:0 0 10px;border-bottom:1px solid #e1e2ea;padding-bottom:6px}
section{background:#fff;border:1px solid #e1e2ea;border-radius:8px;padding:16px 18px;margin:14px 0}
.files{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
.muted{color:#6b6b78}
.badge{display:inline-block;padding:4px 12px;border-radius:999px;color:#fff;font-weight:700;letter-spacing:.04em}
.status{display:inline-block;padding:2px 8px;border-radius:4px;background:#e1e2ea;font-size:12px;margin-left:8px}
.verdict{display:flex;gap:16px;align-items:center;flex-wrap:wrap}
.summary{font-size:17px}
.error{background:#fdecea;border-color:#f5c2bc;color:#8a1c12}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eeeff4;vertical-align:top}
th{font-weight:600;color:#4a4a57;white-space:nowrap}
td.num{font-variant-numeric:tabular-nums;text-align:right}
.kv th{width:220px}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:14px}
@media (max-width:760px){.grid2{grid-template-columns:1fr}}
pre{background:#f6f7fa;border:1px solid #e1e2ea;border-radius:6px;padding:10px;overflow:auto;font-size:12px}
svg.offset-plot{width:100%;height:auto;font-size:11px;font-family:inherit}
svg.offset-plot .tick{fill:#4a4a57}
svg.offset-plot .axis-label{fill:#1d1d24;font-size:12px}
.legend span{margin-right:14px}
.sw{display:inline-block;width:12px;height:12px;vertical-align:middle;margin-right:4px;border-radius:2px}
tr.gap td{background:#fdf1ef}
`;

const num = (v: number | null | undefined, d: number): string => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d));
const signed = (v: number, d: number): string => `${v > 0 ? '+' : ''}${v.toFixed(d)}`;
const td = (v: string, cls = ''): string => `<td${cls ? ` class="${cls}"` : ''}>${v}</td>`;

function kvTable(rows: [string, string][]): string {
  return `<table class="kv">${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${v}</td></tr>`).join('')}</table>`;
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]} (${n} bytes)`;
}

function clock(seconds: number): string {
  return `${clockLabel(seconds, seconds >= 3600)} (${seconds.toFixed(3)} s)`;
}

function mediaSection(title: string, file: string, m: MediaInfo): string {
  const streams = m.audio_streams.length
    ? `<table><tr><th>#</th><th>codec</th><th>rate</th><th>ch</th><th>layout</th><th>lang</th><th>title</th><th>duration</th></tr>${m.audio_streams
        .map(
          (s) =>
            `<tr>${td(String(s.index))}${td(escapeHtml(s.codec))}${td(`${s.sample_rate} Hz`)}${td(String(s.channels))}${td(escapeHtml(s.channel_layout ?? '–'))}${td(escapeHtml(s.language ?? '–'))}${td(escapeHtml(s.title ?? '–'))}${td(num(s.duration, 3), 'num')}</tr>`,
        )
        .join('')}</table>`
    : '<p class="muted">no audio streams listed</p>';
  const head = m.head.findings.length
    ? `<ul>${m.head.findings
        .map((f) => `<li>${escapeHtml(f.kind.replace('_', '/'))}: ${f.start.toFixed(3)} – ${f.end.toFixed(3)} s${f.frequency_hz ? `, ${Math.round(f.frequency_hz)} Hz` : ''}</li>`)
        .join('')}</ul>`
    : '<p class="muted">no bars/tone, 2-pop or leading silence found</p>';
  return `<div><h2>${escapeHtml(title)}</h2>${kvTable([
    ['file', `<span class="files">${escapeHtml(file)}</span>`],
    ['format', escapeHtml(m.format)],
    ['duration', clock(m.duration)],
    ['analysed audio', escapeHtml(m.selected)],
    ['video frame rate', escapeHtml(m.video_frame_rate_label ?? (m.video_frame_rate === null ? '–' : String(m.video_frame_rate)))],
    ['start timecode', escapeHtml(m.start_timecode ?? '–')],
    ['programme starts', clock(m.head.programme_start)],
    ['trailing silence from', m.head.tail_start === null ? '–' : clock(m.head.tail_start)],
  ])}<h3>Head findings</h3>${head}<h3>Audio streams</h3>${streams}</div>`;
}

function editMapTable(r: AnalysisResult, ctx: RateContext): string {
  const entries = editEntries(r);
  if (entries.length === 0) return '<p class="muted">no matched segments</p>';
  const rows = entries.map((e) => {
    if (e.kind === 'segment') {
      const s = e.s;
      const off = offsetInFrames(s.offset_seconds, ctx);
      return `<tr class="segment">${td(`segment ${e.n}`)}${td(`${timecodeAt(s.master_start, ctx)} – ${timecodeAt(s.master_end, ctx)}<br><span class="muted">${s.master_start.toFixed(3)} – ${s.master_end.toFixed(3)} s</span>`)}${td(`${s.dub_start.toFixed(3)} – ${s.dub_end.toFixed(3)} s`)}${td(`${signed(s.offset_seconds * 1000, 1)} ms → ${signed(s.offset_end_seconds * 1000, 1)} ms`, 'num')}${td(`${signed(off.frames, 2)} (${off.timecode})`, 'num')}${td(`${Math.round(s.confidence * 100)}%`, 'num')}</tr>`;
    }
    const g = e.g;
    const what = g.kind === 'removed' ? 'removed from dub' : 'inserted in dub';
    return `<tr class="gap">${td(escapeHtml(what))}${td(`${timecodeAt(g.master_start, ctx)} – ${timecodeAt(g.master_end, ctx)}<br><span class="muted">${g.master_start.toFixed(3)} – ${g.master_end.toFixed(3)} s</span>`)}${td(`${g.dub_start.toFixed(3)} – ${g.dub_end.toFixed(3)} s`)}${td(`${g.duration_seconds.toFixed(3)} s`, 'num')}${td('')}${td('')}</tr>`;
  });
  return `<table class="editmap"><tr><th>entry</th><th>master (TC from ${escapeHtml(ctx.startTimecode)} @ ${escapeHtml(ctx.label)})</th><th>dub</th><th>offset / duration</th><th>frames @ ${escapeHtml(ctx.label)}</th><th>confidence</th></tr>${rows.join('')}</table>`;
}

function resultSections(rec: AnalysisRecord, r: AnalysisResult, ctx: RateContext): string {
  const out: string[] = [];
  if (r.offset_seconds !== null) {
    const off = r.offset_seconds;
    const f = offsetInFrames(off, ctx);
    out.push(`<section><h2>Offset</h2>${kvTable([
      ['seconds', `${signed(off, 6)} s`],
      ['milliseconds', `${signed(off * 1000, 3)} ms`],
      [`frames @ ${ctx.label}`, signed(f.frames, 3)],
      [`timecode @ ${ctx.label}`, escapeHtml(f.timecode)],
      ['meaning', escapeHtml(off > 0 ? `the dub is late: trim ${Math.abs(off).toFixed(3)} s from the dub head` : off < 0 ? `the dub is early: pad the dub head by ${Math.abs(off).toFixed(3)} s` : 'no offset')],
    ])}${
      r.frames
        ? `<h3>At every frame rate</h3><table><tr><th>rate</th><th>frames</th><th>timecode</th></tr>${Object.entries(r.frames)
            .map(([k, v]) => `<tr>${td(escapeHtml(k))}${td(signed(v.frames, 3), 'num')}${td(escapeHtml(v.timecode))}</tr>`)
            .join('')}</table>`
        : ''
    }</section>`);
  }
  if (r.drift) {
    const d = r.drift;
    out.push(`<section><h2>Drift</h2>${kvTable([
      ['speed ratio (dub/master)', d.speed_ratio.toFixed(9)],
      ['ppm', signed(d.ppm, 3)],
      ['standard', escapeHtml(d.standard ?? 'none (free ratio)')],
      ['direction', escapeHtml(d.direction === 'none' ? 'none' : `dub drifts ${d.direction}`)],
    ])}</section>`);
  }
  const plot = offsetPlotSvg(r, 1 / ctx.fps);
  out.push(
    `<section><h2>Offset over time</h2>${
      plot
        ? `<figure style="margin:0">${plot}<figcaption class="legend muted"><span><i class="sw" style="background:#1f5fbf"></i>measurement (darker = more confident)</span><span><i class="sw" style="background:#d35400"></i>segment model</span><span><i class="sw" style="background:#f3c1bd"></i>removed from dub</span><span><i class="sw" style="background:#c0392b"></i>inserted in dub</span></figcaption></figure>`
        : '<p class="muted">no offset measurements to plot</p>'
    }</section>`,
  );
  out.push(`<section><h2>Edit map</h2>${editMapTable(r, ctx)}</section>`);
  if (r.dialogue) out.push(`<section><h2>Dialogue timing</h2>${dialogueLane(r)}${dialogueTable(r, ctx)}</section>`);
  out.push(`<section class="grid2">${mediaSection('Master', rec.masterPath, r.master)}${mediaSection('Dub', rec.dubPath, r.dub)}</section>`);
  out.push(`<section><h2>Engine</h2>${kvTable([
    ['engine', escapeHtml(`${r.engine.name} ${r.engine.version}`)],
    ['result schema', escapeHtml(r.schema_version)],
    ['reference frame rate', escapeHtml(r.reference_frame_rate)],
    ['timing', escapeHtml(Object.entries(r.timing).map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(', ') || '–')],
    ...(r.resources ? ([['peak memory', `${r.resources.peak_rss_mb.toFixed(0)} MB`]] as [string, string][]) : []),
  ])}<h3>Parameters</h3><pre>${escapeHtml(JSON.stringify(r.engine.parameters, null, 2))}</pre><h3>Diagnostics</h3><pre>${escapeHtml(JSON.stringify(r.diagnostics, null, 2))}</pre></section>`);
  return out.join('\n');
}

export function analysisReportHtml(rec: AnalysisRecord): string {
  const r = rec.result;
  const ctx = rateContext(r);
  const verdict = r?.verdict ?? null;
  const badge = verdict
    ? `<span class="badge" style="background:${VERDICT_COLOURS[verdict]}">${VERDICT_LABELS[verdict]}</span>`
    : `<span class="badge" style="background:#8a1c12">${escapeHtml(rec.status.toUpperCase().replace('_', ' '))}</span>`;
  const err = errorText(rec.errorCode, rec.errorMessage);
  const parts: string[] = [];
  parts.push(`<header><h1>Sync analysis report</h1><div class="files">master: ${escapeHtml(rec.masterPath)}<br>dub: ${escapeHtml(rec.dubPath)}</div><div class="muted">analysis ${escapeHtml(rec.id)}<span class="status">${escapeHtml(rec.status)}</span>${rec.episode ? ` · episode ${escapeHtml(rec.episode)}` : ''} · created ${escapeHtml(rec.createdAt)}${rec.finishedAt ? ` · finished ${escapeHtml(rec.finishedAt)}` : ''}</div>${rec.notes ? `<p>${escapeHtml(rec.notes)}</p>` : ''}</header>`);
  parts.push(
    `<section><div class="verdict">${badge}<div class="summary">${escapeHtml(r ? r.summary : 'no result')}</div></div>${
      r
        ? `<p>Confidence: <strong>${Math.round(r.confidence * 100)}%</strong> <span class="muted">${r.match ? 'that the offset is within one frame at 24 fps' : 'that there is no match'}</span>${r.match && r.confidence < 0.5 ? ' <strong>(low: check by ear)</strong>' : ''}</p><ul class="reasons">${r.reasons.map((x) => `<li>${escapeHtml(x)}</li>`).join('')}${r.polarity_inverted ? '<li>the dub polarity is inverted</li>' : ''}</ul>`
        : ''
    }</section>`,
  );
  if (err || !r) {
    parts.push(`<section class="error"><h2>${escapeHtml(r ? 'Error' : `Analysis ${rec.status.replace('_', ' ')}`)}</h2><p>${escapeHtml(err ?? (rec.status === 'queued' || rec.status === 'running' ? 'the analysis has not finished yet' : 'no result was stored'))}</p></section>`);
  }
  if (ctx.startProblem) parts.push(`<section class="error"><p>${escapeHtml(ctx.startProblem)}</p></section>`);
  if (r) parts.push(resultSections(rec, r, ctx));
  const fp = (f: FileFingerprint): string => `${escapeHtml(bytes(f.size))}<br>modified ${escapeHtml(Number.isFinite(f.mtimeMs) ? new Date(f.mtimeMs).toISOString() : '–')}<br><span class="files">sha256 (head+tail) ${escapeHtml(f.headTailSha256)}</span>`;
  parts.push(`<section><h2>Inputs</h2>${kvTable([
    ['master fingerprint', fp(rec.masterFingerprint)],
    ['dub fingerprint', fp(rec.dubFingerprint)],
    ['options', `<pre>${escapeHtml(JSON.stringify(rec.options, null, 2))}</pre>`],
    ['priority', escapeHtml(rec.priority)],
    ['attempts', String(rec.attempts)],
    ['engine version', escapeHtml(rec.engineVersion ?? r?.engine.version ?? '–')],
    ['schema version', escapeHtml(rec.schemaVersion ?? r?.schema_version ?? '–')],
  ])}</section>`);

  const title = `Sync report: ${rec.dubPath}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${parts.join('\n')}
</main>
</body>
</html>
`;
}

// ---------------------------------------------------------------------------------------------
// Dialogue timing: a lane of master lines along the programme (green: in time, amber: timing
// off, blue: review, red: missing, purple: untranslated) and the flagged and review lines as a table.

function dialogueLane(r: NonNullable<AnalysisRecord['result']>): string {
  const d = r.dialogue!;
  const total = Math.max(r.master.duration, 1);
  const W = 900;
  const H = 34;
  type Line = (typeof d.lines)[number];
  const colour = (l: Line) => (l.issue === null ? (l.review ? '#2e86c1' : '#2e8b57') : l.issue === 'missing' ? '#c0392b' : l.issue === 'untranslated' ? '#7d3c98' : '#d68910');
  const label = (l: Line) => l.issue?.replace(/_/g, ' ') ?? (l.review ? 'review' : 'in time');
  const rects = d.lines
    .map((l) => `<rect x="${((l.master_start / total) * W).toFixed(1)}" y="8" width="${Math.max(1, ((l.master_end - l.master_start) / total) * W).toFixed(1)}" height="18" fill="${colour(l)}"><title>line ${l.index + 1}: ${escapeHtml(label(l))}</title></rect>`)
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="dialogue lines along the master"><rect x="0" y="16" width="${W}" height="2" fill="#ccc"/>${rects}</svg>
<p class="muted">${d.summary.lines} master lines, ${d.summary.paired} paired with a dub line; ${d.summary.flagged} flagged at ${d.threshold_frames} frames or more (${d.frame_rate} fps); ${d.summary.review ? `${d.summary.review} to review (near the threshold, measure uncertain); ` : ''}${d.summary.missing} missing; ${d.summary.untranslated} untranslated.</p>`;
}

function dialogueTable(r: NonNullable<AnalysisRecord['result']>, ctx: ReturnType<typeof rateContext>): string {
  const flagged = r.dialogue!.lines.filter((l) => l.flagged || l.review);
  if (flagged.length === 0) return '<p>Every paired line starts and ends within the threshold.</p>';
  const f = (x: number | null, digits = 1) => (x === null ? '–' : `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`);
  const unc = (u: number | null | undefined) => (u !== null && u !== undefined && u >= 1 ? ` \u00b1${u.toFixed(0)} ms` : '');
  const rows = flagged
    .map((l) => `<tr><td>${l.index + 1}</td><td>${escapeHtml(timecodeAt(l.master_start, ctx))}</td><td>${escapeHtml(timecodeAt(l.master_end, ctx))}</td><td>${escapeHtml(l.issue?.replace(/_/g, ' ') ?? 'review')}</td><td>${f(l.start_diff_frames)} fr / ${f(l.start_diff_ms, 0)} ms${unc(l.start_uncertainty_ms)}</td><td>${f(l.end_diff_frames)} fr / ${f(l.end_diff_ms, 0)} ms${unc(l.end_uncertainty_ms)}</td></tr>`)
    .join('');
  return `<table><thead><tr><th>Line</th><th>Master in</th><th>Master out</th><th>Issue</th><th>Start</th><th>End</th></tr></thead><tbody>${rows}</tbody></table>`;
}
