// New analysis: browse the media root, look at what each file holds (probe), pick a master
// and one or more dubs, choose the audio to compare and the frame rate, submit (one job per dub).
import { useEffect, useState } from 'preact/hooks';
import { API, errorText, get, post, qs } from '../api.tsx';
import { ErrorBanner, Loading } from '../components/common.tsx';
import { baseName, describeStream, formatBytes, formatDate, formatTime, selectionChoices, selectionFromValue } from '../lib/format.ts';
import { FRAME_RATES, type AnalysisView, type FileListing, type ProbeInfo } from '../lib/types.ts';
import { Link, navigate, useLocation } from '../router.tsx';

interface Picked {
  path: string;
  probe: ProbeInfo | null;
  probeError: string | null;
  selection: string;
}

type Submitted = { dub: string; ok: true; analysis: AnalysisView; deduplicated: boolean } | { dub: string; ok: false; error: string };

/** Folder changes are history entries: Back goes up again. */
const openDir = (d: string) => navigate(`${location.pathname}${qs({ dir: d })}`, { keepScroll: true });

const probeCache = new Map<string, Promise<ProbeInfo>>();
function probe(path: string): Promise<ProbeInfo> {
  let p = probeCache.get(path);
  if (!p) {
    p = get<{ probe: ProbeInfo }>(`${API}/files/probe${qs({ path })}`).then((r) => r.probe);
    probeCache.set(path, p);
    p.catch(() => probeCache.delete(path));
  }
  return p;
}

export function NewAnalysisPage() {
  const loc = useLocation();
  const dir = loc.query.get('dir') ?? '';
  const [listing, setListing] = useState<FileListing | null>(null);
  const [listError, setListError] = useState<unknown>(null);
  const [info, setInfo] = useState<{ path: string; probe: ProbeInfo | null; error: string | null } | null>(null);
  const [master, setMaster] = useState<Picked | null>(null);
  const [dubs, setDubs] = useState<Picked[]>([]);
  const [frameRate, setFrameRate] = useState('');
  const [priority, setPriority] = useState<'normal' | 'urgent'>('normal');
  const [busy, setBusy] = useState(false);
  const [submitted, setSubmitted] = useState<Submitted[] | null>(null);

  useEffect(() => {
    setListing(null);
    get<FileListing>(`${API}/files${qs({ path: dir })}`)
      .then((l) => {
        setListing(l);
        setListError(null);
      })
      .catch(setListError);
  }, [dir]);

  const pick = async (path: string): Promise<Picked> => {
    try {
      return { path, probe: await probe(path), probeError: null, selection: 'auto' };
    } catch (e) {
      return { path, probe: null, probeError: errorText(e), selection: 'auto' };
    }
  };
  const showInfo = (path: string) => {
    setInfo({ path, probe: null, error: null });
    probe(path)
      .then((p) => setInfo({ path, probe: p, error: null }))
      .catch((e: unknown) => setInfo({ path, probe: null, error: errorText(e) }));
  };
  const setAsMaster = async (path: string) => {
    setSubmitted(null);
    setMaster(await pick(path));
    setDubs((d) => d.filter((x) => x.path !== path));
  };
  const addDub = async (path: string) => {
    setSubmitted(null);
    if (master?.path === path || dubs.some((d) => d.path === path)) return;
    const p = await pick(path);
    setDubs((d) => (d.some((x) => x.path === path) ? d : [...d, p]));
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!master || dubs.length === 0) return;
    setBusy(true);
    const out: Submitted[] = [];
    for (const d of dubs) {
      const masterSelection = selectionFromValue(master.selection);
      const dubSelection = selectionFromValue(d.selection);
      const options = { ...(masterSelection ? { masterSelection } : {}), ...(dubSelection ? { dubSelection } : {}), ...(frameRate ? { frameRate } : {}) };
      try {
        const r = await post<{ analysis: AnalysisView; deduplicated?: boolean }>(`${API}/analyses`, { master: master.path, dub: d.path, options, priority });
        out.push({ dub: d.path, ok: true, analysis: r.analysis, deduplicated: !!r.deduplicated });
      } catch (err) {
        out.push({ dub: d.path, ok: false, error: errorText(err) });
      }
    }
    setSubmitted(out);
    setBusy(false);
    if (out.every((x) => x.ok)) setDubs([]);
  };

  const crumbs = dir ? dir.split('/').filter(Boolean) : [];
  return (
    <div class="page">
      <header class="page-head">
        <h1>New analysis</h1>
      </header>
      <div class="split">
        <section class="card" aria-labelledby="browser-h">
          <h2 id="browser-h">Media files</h2>
          <nav aria-label="folder" class="crumbs">
            <button type="button" class="linklike" onClick={() => openDir('')}>
              media root
            </button>
            {crumbs.map((c, i) => (
              <span key={i}>
                {' / '}
                <button type="button" class="linklike" onClick={() => openDir(crumbs.slice(0, i + 1).join('/'))}>
                  {c}
                </button>
              </span>
            ))}
          </nav>
          <ErrorBanner error={listError} />
          {!listing && !listError ? <Loading what="the folder" /> : null}
          {listing ? (
            <table class="table files" id="file-browser">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col" class="num">
                    Size
                  </th>
                  <th scope="col">Modified</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {dir ? (
                  <tr>
                    <td colSpan={4}>
                      <button type="button" class="linklike" onClick={() => openDir(crumbs.slice(0, -1).join('/'))}>
                        ↑ up one folder
                      </button>
                    </td>
                  </tr>
                ) : null}
                {listing.entries.length === 0 ? (
                  <tr>
                    <td colSpan={4} class="muted">
                      This folder is empty.
                    </td>
                  </tr>
                ) : null}
                {listing.entries.map((f) => (
                  <tr key={f.path} data-path={f.path} class={info?.path === f.path ? 'row-selected' : ''}>
                    <td>
                      {f.type === 'dir' ? (
                        <button type="button" class="linklike dir" onClick={() => openDir(f.path)}>
                          {f.name}/
                        </button>
                      ) : f.media ? (
                        <button type="button" class="linklike" onClick={() => showInfo(f.path)} aria-label={`${f.name}: show media info`}>
                          {f.name}
                        </button>
                      ) : (
                        <span class="muted" title="not a media file">
                          {f.name}
                        </span>
                      )}
                    </td>
                    <td class="num">{f.type === 'file' ? formatBytes(f.size) : ''}</td>
                    <td class="nowrap">{formatDate(f.mtime).slice(0, 16)}</td>
                    <td class="row-actions">
                      {f.type === 'file' && f.media ? (
                        <>
                          <button type="button" class="btn btn-small" onClick={() => void setAsMaster(f.path)} aria-label={`use ${f.name} as master`} aria-pressed={master?.path === f.path}>
                            Master
                          </button>
                          <button type="button" class="btn btn-small" onClick={() => void addDub(f.path)} aria-label={`add ${f.name} as dub`} aria-pressed={dubs.some((d) => d.path === f.path)}>
                            + Dub
                          </button>
                        </>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          {listing?.truncated ? <p class="muted">This folder holds more entries than are listed.</p> : null}
          {info ? <ProbePanel path={info.path} probe={info.probe} error={info.error} /> : null}
        </section>

        <section class="card" aria-labelledby="pick-h">
          <h2 id="pick-h">Pair to analyse</h2>
          <form onSubmit={submit} id="new-analysis-form">
            <h3>Master</h3>
            {master ? (
              <PickedRow p={master} role="master" onSelection={(s) => setMaster({ ...master, selection: s })} onRemove={() => setMaster(null)} />
            ) : (
              <p class="muted">Choose a file with “Master”.</p>
            )}
            <h3>Dubs ({dubs.length})</h3>
            {dubs.length === 0 ? <p class="muted">Add one or more files with “+ Dub”: each dub is its own job.</p> : null}
            {dubs.map((d, i) => (
              <PickedRow key={d.path} p={d} role="dub" onSelection={(s) => setDubs(dubs.map((x, j) => (j === i ? { ...x, selection: s } : x)))} onRemove={() => setDubs(dubs.filter((_, j) => j !== i))} />
            ))}
            <div class="form-grid stacked">
              <label for="frame-rate">Frame rate for frames and timecode when the master has no video</label>
              <select id="frame-rate" value={frameRate} onChange={(e) => setFrameRate((e.target as HTMLSelectElement).value)}>
                <option value="">Default (24)</option>
                {FRAME_RATES.map((f) => (
                  <option key={f} value={f}>
                    {f}
                  </option>
                ))}
              </select>
              <span id="priority-label">Priority</span>
              <div role="radiogroup" aria-labelledby="priority-label" class="radios">
                {(['normal', 'urgent'] as const).map((p) => (
                  <label key={p}>
                    <input type="radio" name="priority" value={p} checked={priority === p} onChange={() => setPriority(p)} /> {p === 'normal' ? 'Normal' : 'Urgent (ahead of batches)'}
                  </label>
                ))}
              </div>
            </div>
            <button type="submit" class="btn btn-primary" disabled={!master || dubs.length === 0 || busy} id="submit-analysis">
              {busy ? 'Submitting…' : `Analyse ${dubs.length || ''} dub${dubs.length === 1 ? '' : 's'}`}
            </button>
          </form>
          {submitted ? (
            <div class="submitted" role="status" aria-live="polite" id="submitted">
              <h3>Submitted</h3>
              <ul>
                {submitted.map((s) => (
                  <li key={s.dub}>
                    {s.ok ? (
                      <>
                        {baseName(s.dub)}: <Link href={`/analyses/${s.analysis.id}`}>{s.deduplicated ? 'already analysed — open the result' : 'queued — open'}</Link>
                      </>
                    ) : (
                      <span class="error-text">
                        {baseName(s.dub)}: {s.error}
                      </span>
                    )}
                  </li>
                ))}
              </ul>
              <p>
                <Link href="/jobs" class="btn">
                  Watch them in Jobs
                </Link>
              </p>
            </div>
          ) : null}
        </section>
      </div>
    </div>
  );
}

function PickedRow({ p, role, onSelection, onRemove }: { p: Picked; role: 'master' | 'dub'; onSelection: (s: string) => void; onRemove: () => void }) {
  const id = `sel-${role}-${p.path.replace(/[^\w-]/g, '_')}`;
  return (
    <div class="picked" data-role={role} data-path={p.path}>
      <div class="picked-head">
        <span class="path">{p.path}</span>
        <button type="button" class="btn btn-small" onClick={onRemove} aria-label={`remove ${baseName(p.path)}`}>
          Remove
        </button>
      </div>
      {p.probeError ? <p class="error-text">{p.probeError}</p> : null}
      {p.probe ? (
        <>
          <p class="small muted">
            {formatTime(p.probe.duration)} · {p.probe.audioStreams.length} audio stream{p.probe.audioStreams.length === 1 ? '' : 's'}
            {p.probe.videoFrameRateLabel ? ` · ${p.probe.videoFrameRateLabel} fps` : ''}
            {p.probe.startTimecode ? ` · TC ${p.probe.startTimecode}` : ''}
          </p>
          <label for={id} class="small">
            Audio to compare
          </label>
          <select id={id} value={p.selection} onChange={(e) => onSelection((e.target as HTMLSelectElement).value)}>
            {selectionChoices(p.probe.audioStreams).map((c) => (
              <option key={c.value} value={c.value}>
                {c.label}
              </option>
            ))}
          </select>
        </>
      ) : null}
    </div>
  );
}

function ProbePanel({ path, probe, error }: { path: string; probe: ProbeInfo | null; error: string | null }) {
  return (
    <div class="probe" aria-live="polite" id="probe-panel">
      <h3>{baseName(path)}</h3>
      {error ? <p class="error-text">{error}</p> : null}
      {!probe && !error ? <Loading what="media info" /> : null}
      {probe ? (
        <dl class="facts">
          <dt>Duration</dt>
          <dd>{formatTime(probe.duration, 2)}</dd>
          <dt>Format</dt>
          <dd>{probe.format}</dd>
          <dt>Frame rate</dt>
          <dd>{probe.videoFrameRateLabel ?? (probe.videoFrameRate ? probe.videoFrameRate.toFixed(3) : 'no video')}</dd>
          <dt>Start timecode</dt>
          <dd>{probe.startTimecode ?? '—'}</dd>
          <dt>Audio</dt>
          <dd>
            {probe.audioStreams.length === 0 ? (
              'no audio streams'
            ) : (
              <ul class="plain">
                {probe.audioStreams.map((s) => (
                  <li key={s.index}>{describeStream(s)}</li>
                ))}
              </ul>
            )}
          </dd>
        </dl>
      ) : null}
    </div>
  );
}
