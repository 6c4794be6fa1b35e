// Batches: upload a CSV sheet, follow each row live, export the results.
import { useEffect, useRef, useState } from 'preact/hooks';
import { API, get, post, useJobEvents } from '../api.tsx';
import { ErrorBanner, Loading, Pager, ProgressBar, StatusBadge, VerdictBadge } from '../components/common.tsx';
import { baseName, formatDate, signedMs } from '../lib/format.ts';
import { isFinal, type BatchEnvelope, type BatchView, type Page } from '../lib/types.ts';
import { Link, navigate, setQuery, useLocation } from '../router.tsx';

const LIMIT = 25;

function doneCount(b: BatchView): number {
  return ['completed', 'failed', 'cancelled', 'timed_out'].reduce((n, k) => n + (b.counts[k] ?? 0), 0);
}

function CountsLine({ b, small = true }: { b: BatchView; small?: boolean }) {
  const parts = Object.entries(b.counts).filter(([, n]) => n > 0);
  return <span class={small ? 'small' : ''}>{parts.length ? parts.map(([k, n]) => `${n} ${k.replace('_', ' ')}`).join(' · ') : 'no items'}</span>;
}

export function BatchesPage() {
  const loc = useLocation();
  const offset = Number(loc.query.get('offset') ?? 0) || 0;
  const [page, setPage] = useState<Page<BatchView> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [uploadError, setUploadError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const fileRef = useRef<HTMLInputElement>(null);
  const [name, setName] = useState('');
  const [priority, setPriority] = useState<'batch' | 'normal'>('batch');

  const load = () =>
    get<Page<BatchView>>(`${API}/batches?limit=${LIMIT}&offset=${offset}`)
      .then((p) => {
        setPage(p);
        setError(null);
      })
      .catch(setError);
  useEffect(() => {
    void load();
  }, [offset]);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useJobEvents((e) => {
    if (e.type === 'hello' || (e.type === 'status' && (e.kind === 'batch' || e.batchId))) {
      // Coalesced: a batch finishing many rows at once causes one reload.
      timer.current ??= setTimeout(() => {
        timer.current = null;
        void load();
      }, 1000);
    }
  });
  useEffect(() => () => void (timer.current && clearTimeout(timer.current)), []);

  const upload = async (e: Event) => {
    e.preventDefault();
    const file = fileRef.current?.files?.[0];
    if (!file) return setUploadError(new Error('Choose a CSV sheet first.'));
    const form = new FormData();
    form.set('file', file);
    if (name.trim()) form.set('name', name.trim());
    form.set('priority', priority);
    setBusy(true);
    try {
      const res = await post<BatchEnvelope>(`${API}/batches/csv`, form);
      navigate(`/batches/${res.batch.id}`);
    } catch (err) {
      setUploadError(err);
      setBusy(false);
    }
  };

  return (
    <div class="page">
      <header class="page-head">
        <h1>Batches</h1>
      </header>
      <form class="card form-card" onSubmit={upload} id="batch-upload">
        <h2>Upload a sheet</h2>
        <p class="small">
          CSV with columns <code>master,dub</code> (optionally <code>episode,notes</code>; <code>master_file/dub_file</code> and <code>aref/wild</code> are understood too), one dub per row,
          paths relative to the media root.
        </p>
        <div class="form-grid">
          <label for="batch-file">CSV sheet</label>
          <input id="batch-file" type="file" accept=".csv,text/csv" ref={fileRef} required />
          <label for="batch-name">Name (optional)</label>
          <input id="batch-name" type="text" value={name} maxLength={200} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          <label for="batch-priority">Priority</label>
          <select id="batch-priority" value={priority} onChange={(e) => setPriority((e.target as HTMLSelectElement).value as 'batch' | 'normal')}>
            <option value="batch">Batch (after interactive jobs)</option>
            <option value="normal">Normal</option>
          </select>
        </div>
        <ErrorBanner error={uploadError} title="The sheet was not accepted" />
        <button type="submit" class="btn btn-primary" disabled={busy} id="batch-submit">
          {busy ? 'Uploading…' : 'Upload and start'}
        </button>
      </form>
      <ErrorBanner error={error} />
      {!page ? (
        <Loading what="batches" />
      ) : page.total === 0 ? (
        <p class="muted">No batches yet.</p>
      ) : (
        <>
          <table class="table" id="batches-table">
            <thead>
              <tr>
                <th scope="col">Batch</th>
                <th scope="col">Created</th>
                <th scope="col">Status</th>
                <th scope="col" class="col-progress">
                  Done
                </th>
                <th scope="col">Rows</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((b) => (
                <tr key={b.id} data-id={b.id}>
                  <td>
                    <Link href={`/batches/${b.id}`}>{b.name || b.id}</Link>
                  </td>
                  <td>{formatDate(b.created_at)}</td>
                  <td>
                    <StatusBadge status={b.status} />
                  </td>
                  <td>
                    <ProgressBar percent={b.total ? (100 * doneCount(b)) / b.total : 100} label={`rows done in ${b.name || b.id}`} />
                  </td>
                  <td>
                    <CountsLine b={b} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager total={page.total} limit={LIMIT} offset={offset} onPage={(o) => setQuery({ offset: o })} />
        </>
      )}
    </div>
  );
}

export function BatchDetailPage({ id }: { id: string }) {
  const [env, setEnv] = useState<BatchEnvelope | null>(null);
  const [error, setError] = useState<unknown>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const load = () =>
    get<BatchEnvelope>(`${API}/batches/${encodeURIComponent(id)}`)
      .then((b) => {
        setEnv(b);
        setError(null);
      })
      .catch(setError);
  useEffect(() => {
    void load();
  }, [id]);
  useEffect(() => () => void (timer.current && clearTimeout(timer.current)), []);

  const envRef = useRef(env);
  envRef.current = env;
  useJobEvents((e) => {
    const items = envRef.current?.items ?? [];
    if (e.type === 'progress') {
      if (items.some((x) => x.id === e.id))
        setEnv((p) => (p ? { ...p, items: p.items.map((x) => (x.id === e.id && !isFinal(x.status) ? { ...x, status: 'running', progress: { percent: e.percent, stage: e.stage } } : x)) } : p));
      return;
    }
    if (e.type === 'hello' || (e.type === 'status' && (e.id === id || e.batchId === id || items.some((x) => x.id === e.id)))) {
      timer.current ??= setTimeout(() => {
        timer.current = null;
        void load();
      }, 500);
    }
  });

  if (error && !env) return <ErrorBanner error={error} title="The batch could not be loaded" />;
  if (!env) return <Loading what="the batch" />;
  const b = env.batch;
  const exports = [
    ['CSV', b.links.export_csv],
    ['JSON', b.links.export_json],
    ['HTML', b.links.export_html],
  ] as const;
  return (
    <div class="page" id="batch-detail" data-status={b.status}>
      <header class="page-head">
        <h1>Batch {b.name ? `“${b.name}”` : b.id}</h1>
        <StatusBadge status={b.status} />
      </header>
      <ErrorBanner error={error} />
      <div class="card batch-summary">
        <ProgressBar percent={b.total ? (100 * doneCount(b)) / b.total : 100} label="rows done" />
        <p>
          {b.total} row{b.total === 1 ? '' : 's'}: <CountsLine b={b} small={false} /> · created {formatDate(b.created_at)}
          {b.finished_at ? ` · finished ${formatDate(b.finished_at)}` : ''}
        </p>
        {b.webhook ? (
          <p class="small">
            Webhook {b.webhook.url}: {b.webhook.status ?? 'pending'}
            {b.webhook.last_error ? ` (${b.webhook.last_error})` : ''}
          </p>
        ) : null}
        <p class="exports">
          Export:{' '}
          {exports.map(([label, href]) => (
            <a key={label} class="btn btn-small" href={`${href}?download=1`} download data-export={label.toLowerCase()}>
              {label}
            </a>
          ))}
        </p>
      </div>
      <table class="table" id="batch-items">
        <thead>
          <tr>
            <th scope="col" class="num">
              #
            </th>
            <th scope="col">Episode</th>
            <th scope="col">Master → dub</th>
            <th scope="col">Status</th>
            <th scope="col">Verdict</th>
            <th scope="col" class="num">
              Offset
            </th>
            <th scope="col" class="num">
              Confidence
            </th>
          </tr>
        </thead>
        <tbody>
          {env.items.map((a) => (
            <tr key={a.id} data-id={a.id} data-status={a.status}>
              <td class="num">{(a.batch_index ?? 0) + 1}</td>
              <td>{a.episode ?? ''}</td>
              <td>
                <Link href={`/analyses/${a.id}`}>
                  <span title={a.master}>{baseName(a.master)}</span> → <span title={a.dub}>{baseName(a.dub)}</span>
                </Link>
                {a.notes ? <div class="small muted">{a.notes}</div> : null}
              </td>
              <td>
                {isFinal(a.status) ? <StatusBadge status={a.status} /> : <ProgressBar percent={a.progress.percent} stage={a.progress.stage ?? a.status} label={`progress of row ${(a.batch_index ?? 0) + 1}`} />}
                {a.error ? <div class="error-text small">{a.error.message}</div> : null}
              </td>
              <td>
                <VerdictBadge verdict={a.verdict} />
              </td>
              <td class="num">{signedMs(a.offset_seconds)}</td>
              <td class="num">{a.confidence === null ? '—' : `${Math.round(a.confidence * 100)}%`}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
