// System: health of the API and what it depends on (Redis, database, disk, ffmpeg), the
// workers' heartbeats (with the inference execution provider when they report one), queue
// counts, and links to the queue dashboard and the API docs.
import { useEffect, useState } from 'preact/hooks';
import { errorText } from '../api.tsx';
import { ErrorBanner, Loading } from '../components/common.tsx';
import { formatDate } from '../lib/format.ts';
import type { HealthView, WorkerBeat } from '../lib/types.ts';

const REFRESH_MS = 10_000;

export function SystemPage() {
  const [health, setHealth] = useState<HealthView | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [at, setAt] = useState<Date | null>(null);

  useEffect(() => {
    let stop = false;
    const load = async () => {
      try {
        // 503 (degraded) still carries the detail.
        const res = await fetch('/health', { credentials: 'same-origin' });
        const body = (await res.json()) as HealthView;
        if (stop) return;
        setHealth(body);
        setError(null);
      } catch (e) {
        if (!stop) setError(new Error(`the API does not answer: ${errorText(e)}`));
      }
      if (!stop) setAt(new Date());
    };
    void load();
    const t = setInterval(() => void load(), REFRESH_MS);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, []);

  const workers = health?.workers ?? [];
  const providers = [...new Set(workers.flatMap((w) => (w.inference?.provider ? [inferenceText(w.inference)] : [])))];
  const inferenceErrors = workers.filter((w) => w.inference?.error);
  const speechOff = workers.length > 0 && workers.every((w) => w.inference?.enabled === false);
  return (
    <div class="page" id="system">
      <header class="page-head">
        <h1>System</h1>
        {health ? (
          <span class={`badge ${health.status === 'ok' ? 'tone-good' : 'tone-bad'}`} id="health-status">
            {health.status === 'ok' ? 'Healthy' : health.shutting_down ? 'Shutting down' : 'Degraded'}
          </span>
        ) : null}
      </header>
      <p class="small muted">
        Refreshed every {REFRESH_MS / 1000} s{at ? ` · last ${formatDate(at.toISOString()).slice(11)}` : ''}. <a href="/admin/queues">Queue dashboard</a> ·{' '}
        <a href="/api/docs">API documentation</a> · <a href="/metrics">Prometheus metrics</a>
      </p>
      <ErrorBanner error={error} />
      {!health && !error ? <Loading what="health" /> : null}
      {health ? (
        <div class="columns two">
          <section class="card" aria-labelledby="checks-h">
            <h2 id="checks-h">Checks</h2>
            <table class="table compact" id="health-checks">
              <thead>
                <tr>
                  <th scope="col">Component</th>
                  <th scope="col">State</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                <tr>
                  <td>api</td>
                  <td>
                    <span class="ok">ok</span>
                  </td>
                  <td class="small">answering{health.started_at ? `, up since ${formatDate(health.started_at)}` : ''}</td>
                </tr>
                {(health.checks ?? []).map((c) => (
                  <tr key={c.name} data-check={c.name}>
                    <td>{c.name}</td>
                    <td>{c.ok ? <span class="ok">ok</span> : <span class="error-text">failing</span>}</td>
                    <td class="small">{c.detail}</td>
                  </tr>
                ))}
                <tr>
                  <td>execution provider</td>
                  <td>{inferenceErrors.length ? <span class="error-text">failing</span> : providers.length ? <span class="ok">ok</span> : <span class="muted">—</span>}</td>
                  <td class="small" id="execution-provider">
                    {inferenceErrors.length
                      ? inferenceErrors.map((w) => `${w.host ?? w.id}: ${w.inference!.requested ?? ''} ${w.inference!.error}`).join('; ')
                      : providers.length
                        ? providers.join(', ')
                        : speechOff
                          ? 'speech detection is off on every worker'
                          : 'not reported by the workers'}
                  </td>
                </tr>
              </tbody>
            </table>
          </section>
          <section class="card" aria-labelledby="queues-h">
            <h2 id="queues-h">Queues</h2>
            <QueueTable queues={health.queues ?? {}} />
          </section>
        </div>
      ) : null}
      {health ? (
        <section class="card" aria-labelledby="workers-h">
          <h2 id="workers-h">Workers ({workers.length})</h2>
          {workers.length === 0 ? (
            <p class="banner banner-warn" role="alert">
              No worker has reported in the last 20 s: jobs will wait in the queue.
            </p>
          ) : (
            <table class="table compact" id="workers-table">
              <thead>
                <tr>
                  <th scope="col">Worker</th>
                  <th scope="col">State</th>
                  <th scope="col">Running jobs</th>
                  <th scope="col" class="num">
                    Done / failed
                  </th>
                  <th scope="col">Inference</th>
                  <th scope="col">Heartbeat</th>
                </tr>
              </thead>
              <tbody>
                {workers.map((w) => (
                  <WorkerRow key={w.id} w={w} />
                ))}
              </tbody>
            </table>
          )}
        </section>
      ) : null}
    </div>
  );
}

function inferenceText(i: NonNullable<WorkerBeat['inference']>): string {
  return `${i.provider}${i.model ? ` · ${i.model}` : ''}${i.fallbackReason ? ` (CPU fallback: ${i.fallbackReason})` : ''}`;
}

function WorkerRow({ w }: { w: WorkerBeat }) {
  const state = w.stopping ? 'stopping' : w.running === false ? 'not running' : w.busy ? 'busy' : 'idle';
  return (
    <tr data-worker={w.id}>
      <td>
        <span class="path">{w.host ?? w.id}</span>
        {w.pid ? <span class="small muted"> pid {w.pid}</span> : null}
        <div class="small muted">concurrency {w.concurrency ?? '?'}</div>
      </td>
      <td>{state}</td>
      <td class="small">{w.active?.length ? w.active.map((a) => `${a.kind} ${a.percent}%${a.stage ? ` ${a.stage}` : ''} (${a.runningSeconds} s)`).join('; ') : '—'}</td>
      <td class="num">
        {w.completed ?? 0} / {w.failed ?? 0}
      </td>
      <td class="small">{w.inference ? (w.inference.error ? <span class="error-text">{w.inference.error}</span> : w.inference.provider ? inferenceText(w.inference) : w.inference.enabled === false ? 'off' : '—') : '—'}</td>
      <td class="small">{w.heartbeatAt ? formatDate(w.heartbeatAt).slice(11) : '—'}</td>
    </tr>
  );
}

function QueueTable({ queues }: { queues: Record<string, Record<string, number> | null> }) {
  const kinds = Object.keys(queues);
  // The usual states always; the rarer ones only when some queue has jobs in them.
  const states = ['waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed', 'paused', 'waiting-children'].filter((s) =>
    ['waiting', 'active', 'completed', 'failed'].includes(s) ? true : kinds.some((k) => (queues[k]?.[s] ?? 0) > 0),
  );
  if (kinds.length === 0) return <p class="muted">No queue information.</p>;
  return (
    <table class="table compact" id="queues-table">
      <thead>
        <tr>
          <th scope="col">Queue</th>
          {states.map((s) => (
            <th key={s} scope="col" class="num">
              {s.replace('-', ' ')}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {kinds.map((k) => (
          <tr key={k}>
            <td>{k}</td>
            {queues[k] ? (
              states.map((s) => (
                <td key={s} class="num">
                  {queues[k]![s] ?? 0}
                </td>
              ))
            ) : (
              <td colSpan={states.length} class="error-text">
                unavailable
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
