// Repair: from a result, write a synced copy of the dub (the source is never touched), then
// follow it to its output checks and the verification analysis of the output.
import { useEffect, useState } from 'preact/hooks';
import { API, get, post, useJobEvents } from '../api.tsx';
import { ErrorBanner, Loading, ProgressBar, StatusBadge, VerdictBadge } from '../components/common.tsx';
import { describeDrift, describeFix, describeOffset, formatDate, signedMs } from '../lib/format.ts';
import { isFinal, type AnalysisView, type RepairView } from '../lib/types.ts';
import { Link, navigate } from '../router.tsx';

const today = () => new Date().toISOString().slice(0, 10);

export function RepairFormPage({ analysisId }: { analysisId: string }) {
  const [a, setA] = useState<AnalysisView | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [mode, setMode] = useState<'offset' | 'conform'>('offset');
  const [drift, setDrift] = useState(false);
  const [edits, setEdits] = useState(false);
  const [keepDuration, setKeepDuration] = useState(false);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    get<{ analysis: AnalysisView }>(`${API}/analyses/${encodeURIComponent(analysisId)}`)
      .then(({ analysis }) => {
        setA(analysis);
        const r = analysis.result;
        // Suggest what the measurement calls for.
        const hasDrift = !!r?.drift && r.drift.direction !== 'none';
        const hasEdits = !!r && (r.segments.length > 1 || r.gaps.length > 0);
        setDrift(hasDrift);
        setEdits(hasEdits);
        setMode(hasDrift || hasEdits ? 'conform' : 'offset');
      })
      .catch(setError);
  }, [analysisId]);

  if (error && !a) return <ErrorBanner error={error} title="The analysis could not be loaded" />;
  if (!a) return <Loading what="the analysis" />;
  const r = a.result;
  if (!r || !r.match || r.offset_seconds === null)
    return (
      <div class="page">
        <h1>Repair</h1>
        <p>This analysis has no usable measurement to repair with.</p>
        <Link href={`/analyses/${a.id}`}>Back to the result</Link>
      </div>
    );

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      const body = { analysis_id: a.id, keep_duration: keepDuration, conform_drift: mode === 'conform' && drift, conform_edits: mode === 'conform' && edits };
      const res = await post<{ repair: RepairView }>(`${API}/repairs`, body);
      navigate(`/repairs/${res.repair.id}`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  const driftWords = describeDrift(r.drift);
  return (
    <div class="page">
      <header class="page-head">
        <h1>Repair</h1>
        <VerdictBadge verdict={r.verdict} />
      </header>
      <p>
        <span class="path">{a.dub}</span>: {describeOffset(r).sentence}
        {driftWords ? `; ${driftWords}` : ''}
        {r.gaps.length ? `; ${r.gaps.length} edit(s)` : ''}.
      </p>
      <ErrorBanner error={error} />
      <form class="card form-card" onSubmit={submit} id="repair-form">
        <fieldset>
          <legend>What to fix</legend>
          <label class="choice">
            <input type="radio" name="repair-mode" value="offset" checked={mode === 'offset'} onChange={() => setMode('offset')} />
            <span>
              <strong>Offset only</strong> — {describeFix(r.offset_seconds)}. Speed and edits stay as they are.
            </span>
          </label>
          <label class="choice">
            <input type="radio" name="repair-mode" value="conform" checked={mode === 'conform'} onChange={() => setMode('conform')} />
            <span>
              <strong>Full conform</strong> — the offset, plus:
            </span>
          </label>
          <div class="sub-choices">
            <label>
              <input type="checkbox" checked={drift} disabled={mode !== 'conform'} onChange={(e) => setDrift((e.target as HTMLInputElement).checked)} /> conform the drift (resample the dub to the master’s speed)
            </label>
            <label>
              <input type="checkbox" checked={edits} disabled={mode !== 'conform'} onChange={(e) => setEdits((e.target as HTMLInputElement).checked)} /> conform the edits (rebuild the dub on the master’s edit map: removed material becomes silence, inserted material is dropped)
            </label>
          </div>
        </fieldset>
        <fieldset>
          <legend>Output</legend>
          <label class="choice">
            <input type="checkbox" checked={keepDuration} onChange={(e) => setKeepDuration((e.target as HTMLInputElement).checked)} />
            <span>Keep the dub’s duration (pad or trim the tail to the original length)</span>
          </label>
          <p class="small">
            Location: <code>OUTPUT_ROOT/repairs/{today()}/</code> on the server (a new file; the source is never changed). Every other stream, the codecs, layout, language and timecode are kept.
            The output is then analysed against the master to verify it.
          </p>
        </fieldset>
        <button type="submit" class="btn btn-primary" disabled={busy} id="submit-repair">
          {busy ? 'Submitting…' : 'Repair'}
        </button>{' '}
        <Link href={`/analyses/${a.id}`}>Cancel</Link>
      </form>
    </div>
  );
}

export function RepairStatusPage({ id }: { id: string }) {
  const [rep, setRep] = useState<RepairView | null>(null);
  const [verification, setVerification] = useState<AnalysisView | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = async () => {
    try {
      const r = (await get<{ repair: RepairView }>(`${API}/repairs/${encodeURIComponent(id)}`)).repair;
      setRep(r);
      if (r.verification_analysis_id) setVerification((await get<{ analysis: AnalysisView }>(`${API}/analyses/${encodeURIComponent(r.verification_analysis_id)}`)).analysis);
      setError(null);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    void load();
  }, [id]);

  // The verification analysis is created once the repair is stored: look until it is there.
  const waitingForVerification = rep?.status === 'completed' && !rep.verification_analysis_id;
  useEffect(() => {
    if (!waitingForVerification) return;
    const t = setInterval(() => void load(), 2000);
    return () => clearInterval(t);
  }, [waitingForVerification]);

  useJobEvents((e) => {
    if (e.type === 'hello') return void load();
    if (e.id === id) {
      if (e.type === 'progress') setRep((p) => (p && !isFinal(p.status) ? { ...p, status: 'running', progress: { percent: e.percent, stage: e.stage } } : p));
      else void load();
      return;
    }
    if (rep?.verification_analysis_id && e.id === rep.verification_analysis_id) {
      if (e.type === 'progress') setVerification((v) => (v ? { ...v, status: 'running', progress: { percent: e.percent, stage: e.stage } } : v));
      else void load();
    }
  });

  if (error && !rep) return <ErrorBanner error={error} title="The repair could not be loaded" />;
  if (!rep) return <Loading what="the repair" />;
  return (
    <div class="page" id="repair-status" data-status={rep.status}>
      <header class="page-head">
        <h1>Repair</h1>
        <StatusBadge status={rep.status} />
      </header>
      <ErrorBanner error={error} />
      <dl class="pair">
        <div>
          <dt>Dub</dt>
          <dd class="path">{rep.dub}</dd>
        </div>
        <div>
          <dt>Measured offset</dt>
          <dd>
            {signedMs(rep.offset_seconds)} — applied shift {signedMs(rep.applied_shift_seconds)}
            {rep.speed_ratio && rep.options.conform_drift ? `, speed × ${(1 / rep.speed_ratio).toFixed(6)}` : ''}
          </dd>
        </div>
        <div>
          <dt>Options</dt>
          <dd>
            {[rep.options.conform_drift ? 'conform drift' : null, rep.options.conform_edits ? 'conform edits' : null, rep.options.keep_duration ? 'keep duration' : null].filter(Boolean).join(', ') || 'offset only'}
          </dd>
        </div>
        <div>
          <dt>From</dt>
          <dd>{rep.analysis_id ? <Link href={`/analyses/${rep.analysis_id}`}>the analysis</Link> : 'an explicit offset'} · submitted {formatDate(rep.created_at)}</dd>
        </div>
      </dl>
      {!isFinal(rep.status) ? (
        <section class="card">
          <h2>{rep.status === 'queued' ? 'Waiting for a worker' : 'Writing the repaired copy'}</h2>
          <ProgressBar percent={rep.progress.percent} stage={rep.progress.stage} label="repair progress" />
        </section>
      ) : null}
      {rep.error ? (
        <div class="banner banner-error" role="alert">
          {rep.error.message} ({rep.error.code})
        </div>
      ) : null}
      {rep.output ? (
        <section class="card" aria-labelledby="out-h">
          <h2 id="out-h">Output</h2>
          <p>
            <code id="repair-output">OUTPUT_ROOT/{rep.output}</code>
          </p>
          {rep.checks ? (
            <table class="table compact" id="repair-checks">
              <caption>Checks of the output against the source</caption>
              <thead>
                <tr>
                  <th scope="col">Check</th>
                  <th scope="col">Result</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {rep.checks.map((c) => (
                  <tr key={c.name}>
                    <td>{c.name}</td>
                    <td>{c.ok ? <span class="ok">passed</span> : <span class="error-text">failed</span>}</td>
                    <td class="small">{c.detail}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          {rep.ffmpeg_args ? (
            <details>
              <summary>ffmpeg command</summary>
              <pre class="cmd">{rep.ffmpeg_args.join(' ')}</pre>
            </details>
          ) : null}
        </section>
      ) : null}
      {rep.status === 'completed' ? (
        <section class="card" aria-labelledby="verify-h" id="verification">
          <h2 id="verify-h">Verification</h2>
          {!verification ? (
            <p class="muted" role="status">
              Waiting for the verification analysis…
            </p>
          ) : !isFinal(verification.status) ? (
            <>
              <p>The output is being analysed against the master.</p>
              <ProgressBar percent={verification.progress.percent} stage={verification.progress.stage} label="verification progress" />
            </>
          ) : (
            <p data-verdict={verification.verdict ?? ''}>
              <VerdictBadge verdict={verification.verdict} />{' '}
              {verification.result ? describeOffset(verification.result).sentence : verification.error?.message ?? verification.status}.{' '}
              <Link href={`/analyses/${verification.id}`}>Open the verification result</Link>
            </p>
          )}
        </section>
      ) : null}
    </div>
  );
}
