// Jobs: a live table of analyses (from this UI, scripts or batches). One shared event stream
// drives it: progress events update rows in place; status events refetch only the rows they
// name (batched, so a finishing batch does not become a request storm); a reconnect reloads.
import { useEffect, useRef, useState } from 'preact/hooks';
import { API, get, post, qs, useJobEvents, useLive } from '../api.tsx';
import { ErrorBanner, Loading, Pager, ProgressBar, StatusBadge, VerdictBadge } from '../components/common.tsx';
import { baseName, dirName, formatDate, signedMs, VERDICTS } from '../lib/format.ts';
import { ANALYSIS_STATUSES, isFinal, VERDICT_KEYS, type AnalysisView, type Page, type RepairView } from '../lib/types.ts';
import { Link, setQuery, useLocation } from '../router.tsx';

const LIMIT = 50;

export function JobsPage() {
  const loc = useLocation();
  const status = loc.query.get('status') ?? '';
  const verdict = loc.query.get('verdict') ?? '';
  const file = loc.query.get('file') ?? '';
  const offset = Number(loc.query.get('offset') ?? 0) || 0;
  const [page, setPage] = useState<Page<AnalysisView> | null>(null);
  const [repairs, setRepairs] = useState<RepairView[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [fileText, setFileText] = useState(file);
  const live = useLive();
  const pending = useRef(new Set<string>());
  const flushTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const filters = { status, verdict, file, offset };
  const pageRef = useRef(page);
  pageRef.current = page;

  const load = () =>
    Promise.all([
      get<Page<AnalysisView>>(`${API}/analyses${qs({ status, verdict, file, limit: LIMIT, offset })}`),
      get<Page<RepairView>>(`${API}/repairs${qs({ limit: 5 })}`).catch(() => null),
    ])
      .then(([p, r]) => {
        setPage(p);
        if (r) setRepairs(r.items);
        setError(null);
      })
      .catch(setError);

  useEffect(() => {
    void load();
  }, [status, verdict, file, offset]);

  // The file filter follows typing after a short pause.
  useEffect(() => {
    if (fileText === file) return;
    const t = setTimeout(() => setQuery({ ...filters, file: fileText, offset: 0 }), 300);
    return () => clearTimeout(t);
  }, [fileText]);

  const flush = async () => {
    flushTimer.current = null;
    const ids = [...pending.current];
    pending.current.clear();
    const known = new Set(pageRef.current?.items.map((x) => x.id));
    // New jobs, or many at once: one list reload instead of a request per job.
    if (ids.length > 8 || ids.some((id) => !known.has(id))) return void load();
    const fresh = await Promise.all(ids.map((id) => get<{ analysis: AnalysisView }>(`${API}/analyses/${encodeURIComponent(id)}`).then((r) => r.analysis, () => null)));
    setPage((p) => (p ? { ...p, items: p.items.map((x) => fresh.find((f) => f?.id === x.id) ?? x) } : p));
  };

  useJobEvents(
    (e) => {
      if (e.type === 'hello') return void load();
      if (e.type === 'progress' && e.kind === 'analysis') {
        setPage((p) => (p ? { ...p, items: p.items.map((x) => (x.id === e.id && !isFinal(x.status) ? { ...x, status: 'running', progress: { percent: e.percent, stage: e.stage } } : x)) } : p));
        return;
      }
      if (e.type === 'status' && (e.kind === 'analysis' || e.kind === 'repair')) {
        if (e.kind === 'repair') return void load();
        pending.current.add(e.id);
        flushTimer.current ??= setTimeout(() => void flush(), 400);
      }
    },
  );
  useEffect(() => () => void (flushTimer.current && clearTimeout(flushTimer.current)), []);

  const act = async (id: string, what: 'cancel' | 'retry') => {
    try {
      const r = await post<{ analysis: AnalysisView }>(`${API}/analyses/${encodeURIComponent(id)}/${what}`);
      setPage((p) => (p ? { ...p, items: p.items.map((x) => (x.id === id ? r.analysis : x)) } : p));
      setError(null);
    } catch (e) {
      setError(e);
    }
  };

  return (
    <div class="page">
      <header class="page-head">
        <h1>Jobs</h1>
        <span class={`live ${live ? 'live-on' : ''}`} role="status">
          {live ? 'Live' : 'Connecting…'}
        </span>
      </header>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="filters">
        <label>
          Status
          <select value={status} onChange={(e) => setQuery({ ...filters, status: (e.target as HTMLSelectElement).value, offset: 0 })} id="filter-status">
            <option value="">All</option>
            {ANALYSIS_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s.replace('_', ' ')}
              </option>
            ))}
          </select>
        </label>
        <label>
          Verdict
          <select value={verdict} onChange={(e) => setQuery({ ...filters, verdict: (e.target as HTMLSelectElement).value, offset: 0 })} id="filter-verdict">
            <option value="">All</option>
            {VERDICT_KEYS.map((v) => (
              <option key={v} value={v}>
                {VERDICTS[v].label}
              </option>
            ))}
          </select>
        </label>
        <label>
          File name contains
          <input type="search" value={fileText} onInput={(e) => setFileText((e.target as HTMLInputElement).value)} id="filter-file" />
        </label>
      </form>
      <ErrorBanner error={error} />
      {!page ? (
        <Loading what="jobs" />
      ) : (
        <>
          <table class="table jobs" id="jobs-table">
            <thead>
              <tr>
                <th scope="col">Submitted</th>
                <th scope="col">Master → dub</th>
                <th scope="col">Status</th>
                <th scope="col" class="col-progress">
                  Progress
                </th>
                <th scope="col">Verdict</th>
                <th scope="col" class="num">
                  Offset
                </th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((a) => (
                <tr key={a.id} data-id={a.id} data-status={a.status}>
                  <td>
                    {formatDate(a.created_at)}
                    {a.priority !== 'normal' ? <span class={`prio prio-${a.priority}`}>{a.priority}</span> : null}
                  </td>
                  <td>
                    <Link href={`/analyses/${a.id}`} class="pair-link">
                      <span title={a.master}>{baseName(a.master)}</span> → <span title={a.dub}>{baseName(a.dub)}</span>
                    </Link>
                    <div class="small muted">
                      {dirName(a.dub)}
                      {a.batch_id ? ' · batch' : ''}
                    </div>
                  </td>
                  <td>
                    <StatusBadge status={a.status} />
                  </td>
                  <td>
                    {a.status === 'running' || a.status === 'queued' ? (
                      <ProgressBar percent={a.progress.percent} stage={a.progress.stage} label={`progress of ${baseName(a.dub)}`} />
                    ) : a.error ? (
                      <span class="error-text small clamp" title={`${a.error.message} (${a.error.code})`}>
                        {a.error.message}
                      </span>
                    ) : (
                      <span class="muted small">{a.finished_at ? `finished ${formatDate(a.finished_at).slice(11)}` : ''}</span>
                    )}
                  </td>
                  <td>
                    <VerdictBadge verdict={a.verdict} />
                  </td>
                  <td class="num">{signedMs(a.offset_seconds)}</td>
                  <td class="row-actions">
                    {!isFinal(a.status) ? (
                      <button type="button" class="btn btn-small" onClick={() => void act(a.id, 'cancel')} aria-label={`cancel ${baseName(a.dub)}`}>
                        Cancel
                      </button>
                    ) : null}
                    {['failed', 'cancelled', 'timed_out'].includes(a.status) ? (
                      <button type="button" class="btn btn-small" onClick={() => void act(a.id, 'retry')} aria-label={`retry ${baseName(a.dub)}`}>
                        Retry
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager total={page.total} limit={LIMIT} offset={offset} onPage={(o) => setQuery({ ...filters, offset: o })} />
        </>
      )}
      {repairs.length ? (
        <section class="card" aria-labelledby="repairs-h">
          <h2 id="repairs-h">Recent repairs</h2>
          <table class="table compact">
            <thead>
              <tr>
                <th scope="col">Submitted</th>
                <th scope="col">Dub</th>
                <th scope="col">Status</th>
                <th scope="col">Output</th>
              </tr>
            </thead>
            <tbody>
              {repairs.map((r) => (
                <tr key={r.id}>
                  <td>{formatDate(r.created_at)}</td>
                  <td>
                    <Link href={`/repairs/${r.id}`}>{baseName(r.dub)}</Link>
                  </td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td class="path small">{r.output ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ) : null}
    </div>
  );
}
