// One analysis: live progress while it runs; then the verdict in operator words, the offset in
// ms, frames and timecode with its sign spelled out, confidence, the offset plot, the aligned
// energy overview, the A/B player, reports and the way to a repair.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { API, get, post, useJobEvents } from '../api.tsx';
import { ErrorBanner, Loading, ProgressBar, SectionBoundary, StatusBadge, VerdictBadge } from '../components/common.tsx';
import { DialogueSection } from '../components/Dialogue.tsx';
import { EnergyOverview } from '../components/EnergyOverview.tsx';
import { OffsetPlot } from '../components/OffsetPlot.tsx';
import { describeConfidence, describeDrift, describeHeadline, describeOffset, describeRemedy, formatDate, formatTime, HEAD_LABEL, signedMs, VERDICTS } from '../lib/format.ts';
import { isFinal, type AnalysisResult, type AnalysisView } from '../lib/types.ts';
import { AbPlayer } from '../player/AbPlayer.tsx';
import { PlayheadBus } from '../player/playhead.tsx';
import { Link } from '../router.tsx';

export function ResultPage({ id }: { id: string }) {
  const [a, setA] = useState<AnalysisView | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const bus = useMemo(() => new PlayheadBus(), [id]);

  const load = () =>
    get<{ analysis: AnalysisView }>(`${API}/analyses/${encodeURIComponent(id)}`)
      .then((r) => {
        setA(r.analysis);
        setError(null);
      })
      .catch(setError);

  useEffect(() => {
    setA(null);
    void load();
  }, [id]);

  useJobEvents(
    (e) => {
      if (e.type === 'hello') return void load();
      if (e.id !== id) return;
      if (e.type === 'progress') setA((p) => (p && !isFinal(p.status) ? { ...p, status: 'running', progress: { percent: e.percent, stage: e.stage } } : p));
      else if (e.kind === 'analysis') void load();
    },
  );

  const act = (what: 'cancel' | 'retry') =>
    post<{ analysis: AnalysisView }>(`${API}/analyses/${encodeURIComponent(id)}/${what}`)
      .then((r) => {
        setA(r.analysis);
        setActionError(null);
      })
      .catch(setActionError);

  if (error && !a) return <ErrorBanner error={error} title="The analysis could not be loaded" />;
  if (!a) return <Loading what="the analysis" />;
  const r = a.result;
  return (
    <div class="page" data-analysis-id={a.id} data-status={a.status}>
      <header class="page-head">
        <h1>Result</h1>
        <StatusBadge status={a.status} />
      </header>
      <dl class="pair">
        <div>
          <dt>Master</dt>
          <dd class="path">{a.master}</dd>
        </div>
        <div>
          <dt>Dub</dt>
          <dd class="path">{a.dub}</dd>
        </div>
        <div>
          <dt>Submitted</dt>
          <dd>
            {formatDate(a.created_at)}
            {a.finished_at ? ` · finished ${formatDate(a.finished_at)}` : ''}
            {a.batch_id ? (
              <>
                {' · '}
                <Link href={`/batches/${a.batch_id}`}>batch</Link>
              </>
            ) : null}
            {a.repair_id ? (
              <>
                {' · verifies '}
                <Link href={`/repairs/${a.repair_id}`}>a repair</Link>
              </>
            ) : null}
          </dd>
        </div>
      </dl>
      <ErrorBanner error={actionError} />
      {!isFinal(a.status) ? (
        <section class="card">
          <h2>{a.status === 'queued' ? 'Waiting for a worker' : 'Analysing'}</h2>
          <ProgressBar percent={a.progress.percent} stage={a.progress.stage} label="analysis progress" />
          <p>
            <button type="button" class="btn" onClick={() => void act('cancel')}>
              Cancel
            </button>
          </p>
        </section>
      ) : null}
      {a.status !== 'completed' && isFinal(a.status) ? (
        <section class="card">
          <div class="banner banner-error" role="alert">
            {a.error ? `${a.error.message} (${a.error.code})` : `The analysis ended: ${a.status}`}
          </div>
          <button type="button" class="btn" onClick={() => void act('retry')}>
            Retry
          </button>
        </section>
      ) : null}
      {r ? <Completed a={a} r={r} bus={bus} /> : null}
    </div>
  );
}

function Completed({ a, r, bus }: { a: AnalysisView; r: AnalysisResult; bus: PlayheadBus }) {
  const words = describeOffset(r);
  const conf = describeConfidence(r.confidence);
  const drift = describeDrift(r.drift);
  const remedy = describeRemedy(r);
  const v = VERDICTS[r.verdict];
  const reports = [
    ['HTML report', a.links.report_html, false],
    ['JSON', a.links.report_json, true],
    ['CSV', a.links.report_csv, true],
    ['EDL', a.links.report_edl, true],
  ] as const;
  return (
    <>
      <section class={`card verdict-card tone-border-${v.tone}`} aria-labelledby="verdict-h">
        <div class="verdict-main">
          <h2 id="verdict-h" class="sr-only">
            Verdict
          </h2>
          <VerdictBadge verdict={r.verdict} large />
          <p class="offset-sentence" id="offset-sentence">
            {describeHeadline(r)}
          </p>
          {words.timecode ? (
            <p class="timecode">
              Timecode offset <code>{words.timecode}</code> @ {r.reference_frame_rate}
              {r.verdict === 'drift' || r.verdict === 'edited' ? ' at the start' : ''}
            </p>
          ) : null}
          <p>{v.explain}</p>
          {remedy ? <p>Fix: {remedy}</p> : null}
          {drift ? <p>Drift: {drift}.</p> : null}
          <p class="muted">Engine summary: {r.summary}</p>
        </div>
        <div class="verdict-side">
          <h3>Confidence {conf.percent}</h3>
          <div class="meter" role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(r.confidence * 100)} aria-label="confidence">
            <div class={`meter-fill ${conf.low ? 'meter-low' : ''}`} style={{ width: `${Math.round(r.confidence * 100)}%` }} />
          </div>
          <p class="small">This is {conf.meaning}.</p>
          {conf.low ? (
            <div class="banner banner-warn" role="alert" id="low-confidence">
              Low confidence: do not repair on this result alone. Listen with the A/B player first; the measurement may be confused by music, silence or a different mix.
            </div>
          ) : null}
          {r.reasons.length ? (
            <>
              <h3>Why</h3>
              <ul class="reasons">
                {r.reasons.map((x, i) => (
                  <li key={i}>{x}</li>
                ))}
              </ul>
            </>
          ) : null}
          <div class="actions">
            {r.match ? (
              <Link href={`/analyses/${a.id}/repair`} class="btn btn-primary" id="repair-button">
                Repair this dub…
              </Link>
            ) : (
              <span class="muted">No repair: the dub does not match.</span>
            )}
          </div>
        </div>
      </section>

      <SectionBoundary title="Offset over the programme">
        <section class="card" aria-labelledby="plot-h">
          <h2 id="plot-h">Offset over the programme</h2>
          <OffsetPlot result={r} bus={bus} />
        </section>
      </SectionBoundary>

      <SectionBoundary title="Dialogue timing">
        <DialogueSection result={r} bus={bus} />
      </SectionBoundary>

      <SectionBoundary title="Aligned energy overview">
        <EnergyOverview analysisId={a.id} result={r} bus={bus} />
      </SectionBoundary>

      <SectionBoundary title="A/B listening">
        <AbPlayer analysisId={a.id} segments={r.segments} masterDuration={r.master.duration} dubDuration={r.dub.duration} bus={bus} />
      </SectionBoundary>

      <section class="card" aria-labelledby="detail-h">
        <h2 id="detail-h">Details</h2>
        <div class="columns">
          <div>
            <h3>Reports</h3>
            <ul class="link-list">
              {reports.map(([label, href, download]) => (
                <li key={label}>
                  <a href={download ? `${href}?download=1` : href} target={download ? undefined : '_blank'} rel="noopener">
                    {label}
                  </a>
                </li>
              ))}
            </ul>
            {r.frames ? (
              <>
                <h3>Offset at each frame rate</h3>
                <table class="table compact">
                  <thead>
                    <tr>
                      <th scope="col">Rate</th>
                      <th scope="col">Frames</th>
                      <th scope="col">Timecode</th>
                    </tr>
                  </thead>
                  <tbody>
                    {Object.entries(r.frames).map(([rate, f]) => (
                      <tr key={rate} class={rate === r.reference_frame_rate ? 'row-strong' : ''}>
                        <td>{rate}</td>
                        <td class="num">{f.frames.toFixed(2)}</td>
                        <td>
                          <code>{f.timecode}</code>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </>
            ) : null}
          </div>
          <div>
            <h3>Segments</h3>
            <table class="table compact">
              <thead>
                <tr>
                  <th scope="col">Master</th>
                  <th scope="col">Dub</th>
                  <th scope="col">Offset</th>
                  <th scope="col">Conf.</th>
                </tr>
              </thead>
              <tbody>
                {r.segments.map((s, i) => (
                  <tr key={i}>
                    <td>
                      {formatTime(s.master_start)}–{formatTime(s.master_end)}
                    </td>
                    <td>
                      {formatTime(s.dub_start)}–{formatTime(s.dub_end)}
                    </td>
                    <td class="num">
                      {signedMs(s.offset_seconds)}
                      {Math.abs(s.offset_end_seconds - s.offset_seconds) > 0.0005 ? ` → ${signedMs(s.offset_end_seconds)}` : ''}
                    </td>
                    <td class="num">{Math.round(s.confidence * 100)}%</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {r.gaps.length ? (
              <>
                <h3>Edits</h3>
                <ul>
                  {r.gaps.map((g, i) => (
                    <li key={i}>
                      {g.kind === 'removed' ? 'Removed from the dub' : 'Inserted in the dub'}: {g.duration_seconds.toFixed(2)} s at master {formatTime(g.master_start, 2)}
                    </li>
                  ))}
                </ul>
              </>
            ) : null}
          </div>
          <div>
            <MediaFacts title="Master" m={r.master} />
            <MediaFacts title="Dub" m={r.dub} />
          </div>
        </div>
      </section>
    </>
  );
}

function MediaFacts({ title, m }: { title: string; m: AnalysisResult['master'] }) {
  const heads = m.head.findings.filter((f) => f.kind !== 'silence');
  return (
    <>
      <h3>{title}</h3>
      <dl class="facts">
        <dt>Duration</dt>
        <dd>{formatTime(m.duration, 2)}</dd>
        <dt>Audio analysed</dt>
        <dd>{m.selected}</dd>
        <dt>Frame rate</dt>
        <dd>{m.video_frame_rate_label ?? (m.video_frame_rate ? m.video_frame_rate.toFixed(3) : 'no video')}</dd>
        <dt>Start timecode</dt>
        <dd>{m.start_timecode ?? '—'}</dd>
        <dt>Head</dt>
        <dd>
          {heads.length ? heads.map((f) => `${HEAD_LABEL[f.kind]} ${formatTime(f.start, 2)}–${formatTime(f.end, 2)}`).join(', ') : 'no bars/tone or 2-pop'}
          {m.head.programme_start > 0 ? `; programme from ${formatTime(m.head.programme_start, 2)}` : ''}
        </dd>
      </dl>
    </>
  );
}
