// Small shared pieces: error banner, verdict and status badges, progress bar, pager.
import { Component, type ComponentChildren } from 'preact';
import { STATUS_LABEL, VERDICTS } from '../lib/format.ts';
import type { Verdict } from '../lib/types.ts';
import { errorText } from '../api.tsx';

export function ErrorBanner({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  return (
    <div class="banner banner-error" role="alert">
      {title ? <strong>{title}: </strong> : null}
      {errorText(error)}
    </div>
  );
}

export function Notice({ children, kind = 'info' }: { children: ComponentChildren; kind?: 'info' | 'warn' | 'ok' }) {
  return (
    <div class={`banner banner-${kind}`} role={kind === 'warn' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

export function VerdictBadge({ verdict, large }: { verdict: Verdict | null | undefined; large?: boolean }) {
  if (!verdict) return <span class="muted">{'\u2014'}</span>;
  const v = VERDICTS[verdict];
  return (
    <span class={`badge tone-${v.tone}${large ? ' badge-large' : ''}`} data-verdict={verdict} title={v.explain}>
      {v.label}
    </span>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return (
    <span class={`status status-${status}`} data-status={status}>
      {STATUS_LABEL[status] ?? status}
    </span>
  );
}

export function ProgressBar({ percent, stage, label }: { percent: number; stage?: string | null; label?: string }) {
  const p = Math.max(0, Math.min(100, Math.round(percent)));
  return (
    <div class="progress-cell">
      <div class="progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={p} aria-label={label ?? 'progress'}>
        <div class="progress-fill" style={{ width: `${p}%` }} />
      </div>
      <span class="progress-text">
        {p}%{stage ? ` \u00b7 ${stage}` : ''}
      </span>
    </div>
  );
}

export function Pager({ total, limit, offset, onPage }: { total: number; limit: number; offset: number; onPage: (offset: number) => void }) {
  if (total === 0) return <p class="muted">Nothing to show.</p>;
  return (
    <nav class="pager" aria-label="pages">
      <span>
        {offset + 1}–{Math.min(total, offset + limit)} of {total}
      </span>
      <button type="button" class="btn btn-small" disabled={offset === 0} onClick={() => onPage(Math.max(0, offset - limit))}>
        Previous
      </button>
      <button type="button" class="btn btn-small" disabled={offset + limit >= total} onClick={() => onPage(offset + limit)}>
        Next
      </button>
    </nav>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

/** Keeps one section's rendering error from blanking the whole page. */
export class SectionBoundary extends Component<{ title: string; children?: ComponentChildren }, { error: unknown }> {
  override state = { error: null as unknown };
  override componentDidCatch(error: unknown) {
    this.setState({ error });
  }
  override render() {
    if (this.state.error)
      return (
        <section class="card">
          <h2>{this.props.title}</h2>
          <ErrorBanner error={this.state.error} title="This section could not be shown" />
        </section>
      );
    return this.props.children;
  }
}
