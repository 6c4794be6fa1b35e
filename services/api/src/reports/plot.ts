// The offset-over-time plot as inline SVG (no script, no external resources): one point per
// offset_track entry shaded by confidence, the segment model as lines, gaps marked.
import type { AnalysisResult } from '@sync-analyzer/engine';
import { escapeHtml } from './common.ts';

const W = 860;
const H = 320;
const M = { left: 72, right: 20, top: 16, bottom: 48 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;

/** m:ss, or h:mm:ss when the axis reaches an hour (the label style stays the same per axis). */
export function clockLabel(seconds: number, withHours: boolean): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return withHours ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${String(Math.floor(s / 60)).padStart(2, '0')}:${ss}`;
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 14400, 28800];

function timeStep(span: number): number {
  return TIME_STEPS.find((s) => span / s <= 8) ?? Math.ceil(span / 8 / 3600) * 3600;
}

/** 1, 2 or 5 times a power of ten, giving about `count` intervals over span. */
function niceStep(span: number, count: number): number {
  const raw = span / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

function decimalsFor(step: number): number {
  return Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
}

const n2 = (v: number): string => (Math.round(v * 100) / 100).toString();

/** The plot, or null when there is nothing to draw (no offset track). */
export function offsetPlotSvg(result: AnalysisResult, frameSeconds: number): string | null {
  const track = result.offset_track.filter((p) => Number.isFinite(p.master_time) && Number.isFinite(p.offset_seconds));
  if (track.length === 0) return null;

  const times = [result.master.duration, ...track.map((p) => p.master_time), ...result.segments.map((s) => s.master_end), ...result.gaps.map((g) => g.master_end)];
  const xMax = Math.max(1, ...times.filter(Number.isFinite));
  const offsetsMs = [...track.map((p) => p.offset_seconds * 1000), ...result.segments.flatMap((s) => [s.offset_seconds * 1000, s.offset_end_seconds * 1000])].filter(Number.isFinite);
  let yMin = Math.min(...offsetsMs);
  let yMax = Math.max(...offsetsMs);
  // At least two frames of range, so one-frame differences stay readable and a flat line is centred.
  const minSpan = Math.max(2 * frameSeconds * 1000, 1);
  if (yMax - yMin < minSpan) {
    const mid = (yMin + yMax) / 2;
    yMin = mid - minSpan / 2;
    yMax = mid + minSpan / 2;
  }
  const pad = (yMax - yMin) * 0.08;
  yMin -= pad;
  yMax += pad;

  const x = (t: number): number => M.left + (t / xMax) * PW;
  const y = (ms: number): number => M.top + (1 - (ms - yMin) / (yMax - yMin)) * PH;
  const withHours = xMax >= 3600;
  const parts: string[] = [];

  parts.push(`<svg class="offset-plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="Offset over master time">`);
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${PW}" height="${PH}" fill="#fbfbfd" stroke="#c8c8d0"/>`);

  // Gaps under everything else.
  for (const g of result.gaps) {
    const tip = `<title>${escapeHtml(`${g.kind} ${g.duration_seconds.toFixed(3)} s at master ${clockLabel(g.master_start, withHours)}`)}</title>`;
    if (g.kind === 'removed' && g.master_end > g.master_start) {
      parts.push(`<rect class="gap gap-removed" x="${n2(x(g.master_start))}" y="${M.top}" width="${n2(Math.max(1, x(g.master_end) - x(g.master_start)))}" height="${PH}" fill="#f3c1bd" fill-opacity="0.6">${tip}</rect>`);
    } else {
      parts.push(`<line class="gap gap-${g.kind}" x1="${n2(x(g.master_start))}" x2="${n2(x(g.master_start))}" y1="${M.top}" y2="${M.top + PH}" stroke="#c0392b" stroke-width="2" stroke-dasharray="5 3">${tip}</line>`);
    }
  }

  // Axes: ticks and grid.
  const tStep = timeStep(xMax);
  for (let i = 0; i * tStep <= xMax + 1e-9; i++) {
    const t = i * tStep;
    const px = n2(x(t));
    parts.push(`<line class="grid" x1="${px}" x2="${px}" y1="${M.top}" y2="${M.top + PH}" stroke="#e6e6ee"/>`);
    parts.push(`<text class="tick tick-x" x="${px}" y="${M.top + PH + 16}" text-anchor="middle">${clockLabel(t, withHours)}</text>`);
  }
  const yStep = niceStep(yMax - yMin, 8);
  const dec = decimalsFor(yStep);
  for (let i = Math.ceil(yMin / yStep); i * yStep <= yMax + 1e-9; i++) {
    // Multiples of the step (not a running sum) keep labels free of float drift.
    const v = i * yStep;
    const py = n2(y(v));
    const label = (Math.abs(v) < yStep / 1e6 ? 0 : v).toFixed(dec);
    parts.push(`<line class="grid" x1="${M.left}" x2="${M.left + PW}" y1="${py}" y2="${py}" stroke="#e6e6ee"/>`);
    parts.push(`<text class="tick tick-y" x="${M.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${label}</text>`);
  }
  if (yMin < 0 && yMax > 0) parts.push(`<line class="zero" x1="${M.left}" x2="${M.left + PW}" y1="${n2(y(0))}" y2="${n2(y(0))}" stroke="#888" stroke-dasharray="3 3"/>`);
  parts.push(`<text class="axis-label" x="${M.left + PW / 2}" y="${H - 8}" text-anchor="middle">master time (${withHours ? 'h:mm:ss' : 'mm:ss'})</text>`);
  parts.push(`<text class="axis-label" x="14" y="${M.top + PH / 2}" text-anchor="middle" transform="rotate(-90 14 ${M.top + PH / 2})">offset (ms, + = dub late)</text>`);

  // The model per segment.
  for (const s of result.segments) {
    parts.push(`<line class="seg" x1="${n2(x(s.master_start))}" y1="${n2(y(s.offset_seconds * 1000))}" x2="${n2(x(s.master_end))}" y2="${n2(y(s.offset_end_seconds * 1000))}" stroke="#d35400" stroke-width="2.5" stroke-linecap="round"/>`);
  }

  // Measurements: opacity follows confidence (outliers, confidence 0, stay faintly visible).
  for (const p of track) {
    const c = Math.min(1, Math.max(0, p.confidence));
    const tip = `${clockLabel(p.master_time, withHours)} (${p.master_time.toFixed(2)} s): ${(p.offset_seconds * 1000).toFixed(2)} ms, confidence ${Math.round(c * 100)}%`;
    parts.push(`<circle class="pt" cx="${n2(x(p.master_time))}" cy="${n2(y(p.offset_seconds * 1000))}" r="3.2" fill="#1f5fbf" fill-opacity="${n2(0.12 + 0.88 * c)}" stroke="#1f5fbf" stroke-opacity="0.5" stroke-width="0.6"><title>${escapeHtml(tip)}</title></circle>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
}
