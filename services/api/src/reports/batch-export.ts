// A batch as one table (CSV, JSON, HTML): one row per item in sheet order. User text (file
// names, episode, notes, error messages) is neutralised against spreadsheet formula injection
// in CSV and HTML; numbers stay numbers.
import { stringify } from 'csv-stringify/sync';
import type { AnalysisRecord, BatchRecord } from '@sync-analyzer/platform';
import { VERDICT_COLOURS, VERDICT_LABELS, errorText, escapeHtml, neutralizeFormula, offsetInFrames, rateContext, roundTo } from './common.ts';

export interface BatchExportRow {
  /** 1-based position in the sheet. */
  index: number;
  analysis_id: string;
  episode: string | null;
  notes: string | null;
  master: string;
  dub: string;
  status: AnalysisRecord['status'];
  verdict: string | null;
  offset_seconds: number | null;
  offset_ms: number | null;
  /** Frames and timecode at the item's reference frame rate (frame_rate). */
  offset_frames: number | null;
  offset_timecode: string | null;
  frame_rate: string | null;
  drift_ppm: number | null;
  confidence: number | null;
  error: string | null;
}

export const BATCH_COLUMNS = [
  'index',
  'episode',
  'notes',
  'master',
  'dub',
  'status',
  'verdict',
  'offset_seconds',
  'offset_ms',
  'offset_frames',
  'offset_timecode',
  'frame_rate',
  'drift_ppm',
  'confidence',
  'error',
  'analysis_id',
] as const satisfies readonly (keyof BatchExportRow)[];

/** Columns holding user-provided text (neutralised in CSV and HTML). */
const USER_TEXT: ReadonlySet<keyof BatchExportRow> = new Set(['episode', 'notes', 'master', 'dub', 'error']);

function sheetOrder(items: readonly AnalysisRecord[]): AnalysisRecord[] {
  // Stable: items without an index keep their given order after the indexed ones.
  return items
    .map((it, i) => ({ it, i }))
    .sort((a, b) => (a.it.batchIndex ?? Number.MAX_SAFE_INTEGER) - (b.it.batchIndex ?? Number.MAX_SAFE_INTEGER) || a.i - b.i)
    .map((x) => x.it);
}

export function batchExportRows(_batch: BatchRecord, items: readonly AnalysisRecord[]): BatchExportRow[] {
  return sheetOrder(items).map((it, i) => {
    const r = it.result;
    const offset = r ? r.offset_seconds : it.offsetSeconds;
    const ctx = r ? rateContext(r) : null;
    const f = offset !== null && ctx ? offsetInFrames(offset, ctx) : null;
    return {
      index: i + 1,
      analysis_id: it.id,
      episode: it.episode,
      notes: it.notes,
      master: it.masterPath,
      dub: it.dubPath,
      status: it.status,
      verdict: r?.verdict ?? it.verdict,
      offset_seconds: roundTo(offset, 6),
      offset_ms: roundTo(offset === null ? null : offset * 1000, 3),
      offset_frames: roundTo(f?.frames, 3),
      offset_timecode: f?.timecode ?? null,
      frame_rate: ctx?.label ?? null,
      drift_ppm: roundTo(r?.drift?.ppm, 3),
      confidence: roundTo(r?.confidence ?? it.confidence, 4),
      error: errorText(it.errorCode, it.errorMessage),
    };
  });
}

function cells(row: BatchExportRow): (string | number | null)[] {
  return BATCH_COLUMNS.map((c) => {
    const v = row[c];
    return USER_TEXT.has(c) && typeof v === 'string' ? neutralizeFormula(v) : v;
  });
}

export function batchCsv(batch: BatchRecord, items: readonly AnalysisRecord[]): string {
  const rows = batchExportRows(batch, items).map(cells);
  return stringify([[...BATCH_COLUMNS], ...rows], { record_delimiter: 'windows' });
}

export interface BatchExportDocument {
  batch: {
    id: string;
    name: string | null;
    status: BatchRecord['status'];
    priority: BatchRecord['priority'];
    total: number;
    created_at: string;
    finished_at: string | null;
    counts: Record<string, number>;
  };
  items: BatchExportRow[];
}

function countByStatus(items: readonly AnalysisRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const it of items) counts[it.status] = (counts[it.status] ?? 0) + 1;
  return counts;
}

/** JSON needs no formula neutralisation: values are exactly what the records hold. */
export function batchJson(batch: BatchRecord, items: readonly AnalysisRecord[]): BatchExportDocument {
  return {
    batch: {
      id: batch.id,
      name: batch.name,
      status: batch.status,
      priority: batch.priority,
      total: batch.total,
      created_at: batch.createdAt,
      finished_at: batch.finishedAt,
      counts: countByStatus(items),
    },
    items: batchExportRows(batch, items),
  };
}

const CSS = `
body{font:13px/1.4 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d1d24;margin:24px;background:#fff}
h1{font-size:20px;margin:0 0 4px}
.muted{color:#6b6b78}
table{border-collapse:collapse;margin-top:14px;width:100%}
th,td{border:1px solid #dcdde5;padding:4px 7px;text-align:left;vertical-align:top}
th{background:#f2f3f7;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.path{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;color:#fff;font-weight:700;font-size:11px;white-space:nowrap}
td.error{color:#8a1c12}
`;

const NUMERIC: ReadonlySet<string> = new Set(['index', 'offset_seconds', 'offset_ms', 'offset_frames', 'drift_ppm', 'confidence']);

export function batchHtml(batch: BatchRecord, items: readonly AnalysisRecord[]): string {
  const rows = batchExportRows(batch, items);
  const counts = countByStatus(items);
  const body = rows
    .map((row) => {
      const cs = cells(row);
      const tds = BATCH_COLUMNS.map((c, i) => {
        const v = cs[i] ?? null;
        if (c === 'verdict' && typeof v === 'string' && v in VERDICT_LABELS) {
          const k = v as keyof typeof VERDICT_LABELS;
          return `<td><span class="badge" style="background:${VERDICT_COLOURS[k]}">${VERDICT_LABELS[k]}</span></td>`;
        }
        const cls = NUMERIC.has(c) ? 'num' : c === 'master' || c === 'dub' ? 'path' : c === 'error' ? 'error' : '';
        return `<td${cls ? ` class="${cls}"` : ''}>${v === null ? '' : escapeHtml(v)}</td>`;
      });
      return `<tr>${tds.join('')}</tr>`;
    })
    .join('\n');
  const title = `Batch ${batch.name ?? batch.id}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<div class="muted">batch ${escapeHtml(batch.id)} · ${escapeHtml(batch.status)} · ${rows.length} of ${batch.total} item(s) · ${escapeHtml(
    Object.entries(counts)
      .map(([k, n]) => `${n} ${k}`)
      .join(', '),
  )} · created ${escapeHtml(batch.createdAt)}${batch.finishedAt ? ` · finished ${escapeHtml(batch.finishedAt)}` : ''}</div>
<table>
<thead><tr>${BATCH_COLUMNS.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead>
<tbody>
${body}
</tbody>
</table>
</body>
</html>
`;
}
