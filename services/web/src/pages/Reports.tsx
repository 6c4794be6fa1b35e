// Reports: the searchable history of analyses (file name, date range, verdict, status); open
// any past result or download its report.
import { useEffect, useState } from 'preact/hooks';
import { API, get, qs } from '../api.tsx';
import { ErrorBanner, Loading, Pager, StatusBadge, VerdictBadge } from '../components/common.tsx';
import { baseName, formatDate, signedMs, VERDICTS } from '../lib/format.ts';
import { ANALYSIS_STATUSES, VERDICT_KEYS, type AnalysisView, type Page } from '../lib/types.ts';
import { Link, setQuery, useLocation } from '../router.tsx';

const LIMIT = 50;

/** A local calendar date (yyyy-mm-dd) as the ISO instant of its start; `nextDay` for an inclusive end. */
function dayStart(date: string, nextDay = false): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return undefined;
  const d = new Date(`${date}T00:00:00`);
  if (nextDay) d.setDate(d.getDate() + 1);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

export function ReportsPage() {
  const loc = useLocation();
  const q = Object.fromEntries(['file', 'verdict', 'status', 'from', 'to'].map((k) => [k, loc.query.get(k) ?? ''])) as Record<'file' | 'verdict' | 'status' | 'from' | 'to', string>;
  const offset = Number(loc.query.get('offset') ?? 0) || 0;
  const [form, setForm] = useState(q);
  const [page, setPage] = useState<Page<AnalysisView> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const key = JSON.stringify({ ...q, offset });

  useEffect(() => {
    setForm(q);
    setPage(null);
    get<Page<AnalysisView>>(`${API}/analyses${qs({ file: q.file, verdict: q.verdict, status: q.status, from: dayStart(q.from), to: dayStart(q.to, true), limit: LIMIT, offset })}`)
      .then((p) => {
        setPage(p);
        setError(null);
      })
      .catch(setError);
  }, [key]);

  const field = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  return (
    <div class="page">
      <header class="page-head">
        <h1>Reports</h1>
      </header>
      <form
        class="card filters"
        id="report-search"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ ...form, offset: 0 });
        }}
      >
        <label>
          File name
          <input type="search" name="file" value={form.file} onInput={field('file')} placeholder="part of the master or dub path" id="search-file" />
        </label>
        <label>
          Verdict
          <select value={form.verdict} onChange={field('verdict')} id="search-verdict">
            <option value="">Any</option>
            {VERDICT_KEYS.map((v) => (
              <option key={v} value={v}>
                {VERDICTS[v].label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select value={form.status} onChange={field('status')}>
            <option value="">Any</option>
            {ANALYSIS_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s.replace('_', ' ')}
              </option>
            ))}
          </select>
        </label>
        <label>
          From
          <input type="date" value={form.from} onInput={field('from')} />
        </label>
        <label>
          To
          <input type="date" value={form.to} onInput={field('to')} />
        </label>
        <button type="submit" class="btn btn-primary" id="search-submit">
          Search
        </button>
      </form>
      <ErrorBanner error={error} />
      {!page ? (
        <Loading what="reports" />
      ) : (
        <>
          <table class="table" id="reports-table">
            <thead>
              <tr>
                <th scope="col">Date</th>
                <th scope="col">Master</th>
                <th scope="col">Dub</th>
                <th scope="col">Verdict</th>
                <th scope="col" class="num">
                  Offset
                </th>
                <th scope="col" class="num">
                  Confidence
                </th>
                <th scope="col">Reports</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((a) => (
                <tr key={a.id} data-id={a.id}>
                  <td>{formatDate(a.created_at)}</td>
                  <td class="path" title={a.master}>
                    {baseName(a.master)}
                  </td>
                  <td class="path" title={a.dub}>
                    <Link href={`/analyses/${a.id}`}>{baseName(a.dub)}</Link>
                  </td>
                  <td>{a.verdict ? <VerdictBadge verdict={a.verdict} /> : <StatusBadge status={a.status} />}</td>
                  <td class="num">{signedMs(a.offset_seconds)}</td>
                  <td class="num">{a.confidence === null ? '—' : `${Math.round(a.confidence * 100)}%`}</td>
                  <td class="row-actions">
                    {a.status === 'completed' ? (
                      <>
                        <a href={a.links.report_html} target="_blank" rel="noopener">
                          HTML
                        </a>{' '}
                        <a href={`${a.links.report_csv}?download=1`}>CSV</a> <a href={`${a.links.report_json}?download=1`}>JSON</a>
                      </>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager total={page.total} limit={LIMIT} offset={offset} onPage={(o) => setQuery({ ...q, offset: o })} />
        </>
      )}
    </div>
  );
}
