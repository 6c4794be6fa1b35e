// The chaos suite's result rows and their formatting: a fixed-column plain-text table for the
// terminal and CI logs, a Markdown version for chaos-out/latest.md, and the closing line.

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** What one scenario reports (the runner adds durationSeconds and error). */
export interface ScenarioRow {
  scenario: string;
  /** The load, in words ("120 short-pair analyses, 2 workers"). */
  load: string;
  /** The faults injected, in words ("12 x worker SIGKILL mid-job"). */
  faults: string;
  submitted: number;
  completed: number;
  /** Final but not completed (failed, timed out, cancelled). */
  failed: number;
  /** error code -> count, for the failed ones. */
  failedReasons: Record<string, number>;
  lost: number;
  duplicated: number;
  changed: number;
  /** Seconds from the end of the fault to recovered (null: not applicable). */
  recoverySeconds: number | null;
  healthyAtEnd: boolean;
  /** Scenario figures (req/s, p99, RSS...). */
  extra: Record<string, string | number | boolean | null>;
  checks: Check[];
  durationSeconds?: number;
  /** Set by the runner when the scenario threw. */
  error?: string;
}

export function rowPassed(r: ScenarioRow): boolean {
  return !r.error && r.checks.length > 0 && r.checks.every((c) => c.ok);
}

const COLUMNS: { title: string; width: number; value: (r: ScenarioRow) => string; align?: 'right' }[] = [
  { title: 'scenario', width: 18, value: (r) => r.scenario },
  { title: 'load', width: 30, value: (r) => r.load },
  { title: 'faults', width: 30, value: (r) => r.faults },
  { title: 'submitted', width: 9, value: (r) => String(r.submitted), align: 'right' },
  { title: 'completed', width: 9, value: (r) => String(r.completed), align: 'right' },
  { title: 'failed (reason)', width: 18, value: (r) => failedText(r) },
  { title: 'lost', width: 4, value: (r) => String(r.lost), align: 'right' },
  { title: 'dup', width: 3, value: (r) => String(r.duplicated), align: 'right' },
  { title: 'changed', width: 7, value: (r) => String(r.changed), align: 'right' },
  { title: 'recovery', width: 8, value: (r) => (r.recoverySeconds === null ? 'n/a' : `${r.recoverySeconds.toFixed(1)} s`), align: 'right' },
  { title: 'healthy', width: 7, value: (r) => (r.healthyAtEnd ? 'yes' : 'NO') },
  { title: 'result', width: 6, value: (r) => (rowPassed(r) ? 'PASS' : 'FAIL') },
];

export function failedText(r: ScenarioRow): string {
  const reasons = Object.entries(r.failedReasons).map(([code, n]) => `${code} ${n}`);
  return reasons.length ? `${r.failed} (${reasons.join(', ')})` : String(r.failed);
}

/** Splits text into lines of at most width characters, at spaces where it can. */
export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    let w = word;
    while (w.length > width) {
      if (line) {
        out.push(line);
        line = '';
      }
      out.push(w.slice(0, width));
      w = w.slice(width);
    }
    if (!line) line = w;
    else if (line.length + 1 + w.length <= width) line += ` ${w}`;
    else {
      out.push(line);
      line = w;
    }
  }
  if (line || out.length === 0) out.push(line);
  return out;
}

const pad = (s: string, width: number, align?: 'right') => (align === 'right' ? s.padStart(width) : s.padEnd(width));

/** The plain-text table: fixed columns, long cells wrapped onto continuation lines. */
export function formatTable(rows: readonly ScenarioRow[]): string {
  const sep = COLUMNS.map((c) => '-'.repeat(c.width)).join('-+-');
  const lines = [COLUMNS.map((c) => pad(c.title, c.width)).join(' | '), sep];
  for (const r of rows) {
    const cells = COLUMNS.map((c) => wrap(c.value(r), c.width));
    const height = Math.max(...cells.map((c) => c.length));
    for (let i = 0; i < height; i++) lines.push(COLUMNS.map((c, j) => pad(cells[j]![i] ?? '', c.width, i === 0 ? c.align : undefined)).join(' | ').trimEnd());
  }
  return lines.join('\n');
}

function extraText(r: ScenarioRow): string {
  return Object.entries(r.extra)
    .map(([k, v]) => `${k}=${v === null ? 'n/a' : String(v)}`)
    .join(', ');
}

/** Figures and failing checks under the table, one block per scenario. */
export function formatDetails(rows: readonly ScenarioRow[]): string {
  const out: string[] = [];
  for (const r of rows) {
    out.push(`${r.scenario} (${r.durationSeconds !== undefined ? `${r.durationSeconds.toFixed(0)} s` : '?'}): ${rowPassed(r) ? 'PASS' : 'FAIL'}`);
    const extra = extraText(r);
    if (extra) for (const l of wrap(extra, 110)) out.push(`  ${l}`);
    if (r.error) out.push(`  error: ${r.error}`);
    for (const c of r.checks) if (!c.ok) out.push(`  FAILED ${c.name}: ${c.detail}`);
  }
  return out.join('\n');
}

export function closingLine(rows: readonly ScenarioRow[]): string {
  const passed = rows.filter(rowPassed).length;
  return `${passed} passed, ${rows.length - passed} failed`;
}

const mdCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** chaos-out/latest.md: the table, then each scenario's figures and every check. */
export function formatMarkdown(rows: readonly ScenarioRow[], meta: { command: string; startedAt: string; host: string }): string {
  const out = [
    '# Chaos suite',
    '',
    `Run ${meta.startedAt} on ${meta.host}: \`${meta.command}\``,
    '',
    `| ${COLUMNS.map((c) => c.title).join(' | ')} |`,
    `| ${COLUMNS.map((c) => (c.align === 'right' ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${COLUMNS.map((c) => mdCell(c.value(r))).join(' | ')} |`),
    '',
  ];
  for (const r of rows) {
    out.push(`## ${r.scenario}: ${rowPassed(r) ? 'PASS' : 'FAIL'}${r.durationSeconds !== undefined ? ` (${r.durationSeconds.toFixed(0)} s)` : ''}`, '');
    if (r.error) out.push(`Error: ${r.error}`, '');
    const extra = extraText(r);
    if (extra) out.push(`Figures: ${extra}`, '');
    for (const c of r.checks) out.push(`- ${c.ok ? 'ok' : '**FAILED**'} ${c.name}: ${mdCell(c.detail)}`);
    out.push('');
  }
  out.push(closingLine(rows), '');
  return out.join('\n');
}
