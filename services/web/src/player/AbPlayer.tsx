// The A/B player: loads both listening proxies (waiting while a worker prepares them), decodes
// them and drives the AbEngine. Exposes window.__player for the browser tests.
import { useEffect, useRef, useState } from 'preact/hooks';
import { API, ApiRequestError, authedFetch, errorText } from '../api.tsx';
import { formatTime, parseTime } from '../lib/format.ts';
import type { ListenMode, SegmentLine } from '../lib/mapping.ts';
import { AbEngine, createContext, PROXY_RATE, type PlayerState } from './engine.tsx';
import type { PlayheadBus } from './playhead.tsx';

declare global {
  interface Window {
    __player?: {
      state(): PlayerState;
      capture(): { left: number[]; right: number[]; sampleRate: number; contextTime: number };
      seek(t: number): void;
      play(): Promise<void>;
      pause(): void;
      setMode(m: ListenMode): void;
    };
  }
}

/** Above this much decoded audio (both sides) the player waits for a click before loading. */
const AUTO_LOAD_BYTES = 350 * 1024 * 1024;

type Phase = { kind: 'idle' } | { kind: 'pending'; what: string } | { kind: 'loading'; what: string } | { kind: 'ready' } | { kind: 'error'; message: string };

/** GET a proxy; 202 means a worker is still making it: ask again after the suggested pause. */
async function fetchProxy(id: string, side: 'master' | 'dub', signal: AbortSignal, onPending: () => void): Promise<ArrayBuffer> {
  for (;;) {
    const res = await authedFetch(`${API}/analyses/${encodeURIComponent(id)}/proxy/${side}`, { signal });
    if (res.status === 200) return res.arrayBuffer();
    if (res.status === 202) {
      onPending();
      const body = (await res.json().catch(() => ({}))) as { retry_after_seconds?: number };
      await new Promise((r) => setTimeout(r, Math.max(1, body.retry_after_seconds ?? 2) * 1000));
      if (signal.aborted) throw new DOMException('aborted', 'AbortError');
      continue;
    }
    const body = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
    throw new ApiRequestError(res.status, body?.error?.code ?? 'http_error', body?.error?.message ?? `the ${side} proxy could not be loaded (${res.status})`);
  }
}

export function AbPlayer({ analysisId, segments, masterDuration, dubDuration, bus }: { analysisId: string; segments: readonly SegmentLine[]; masterDuration: number; dubDuration: number; bus: PlayheadBus }) {
  const bytes = (masterDuration + dubDuration) * PROXY_RATE * 4;
  const [phase, setPhase] = useState<Phase>(bytes <= AUTO_LOAD_BYTES ? { kind: 'loading', what: 'listening proxies' } : { kind: 'idle' });
  const [engine, setEngine] = useState<AbEngine | null>(null);
  const [state, setState] = useState<PlayerState | null>(null);
  const [goto, setGoto] = useState('');
  const [gotoError, setGotoError] = useState<string | null>(null);
  const rootRef = useRef<HTMLElement>(null);
  const load = phase.kind === 'loading' || phase.kind === 'pending';

  useEffect(() => {
    if (!load || engine) return;
    const ac = new AbortController();
    let ctx: AudioContext | null = null;
    (async () => {
      const pending = () => setPhase({ kind: 'pending', what: 'A worker is preparing the listening proxies' });
      const [m, d] = await Promise.all([fetchProxy(analysisId, 'master', ac.signal, pending), fetchProxy(analysisId, 'dub', ac.signal, pending)]);
      setPhase({ kind: 'loading', what: 'decoding audio' });
      ctx = createContext();
      const [mb, db] = await Promise.all([ctx.decodeAudioData(m), ctx.decodeAudioData(d)]);
      if (ac.signal.aborted) return;
      const e = new AbEngine(ctx, mb, db, segments);
      ctx = null;
      setEngine(e);
      setPhase({ kind: 'ready' });
    })().catch((e: unknown) => {
      if (ac.signal.aborted) return;
      setPhase({ kind: 'error', message: errorText(e) });
    });
    return () => {
      ac.abort();
      void ctx?.close();
    };
  }, [analysisId, load, engine]);

  useEffect(() => {
    if (!engine) return;
    const update = () => {
      const s = engine.state();
      setState(s);
      bus.publish(s.masterTime);
      const el = rootRef.current;
      if (el) {
        el.dataset.masterTime = s.masterTime.toFixed(4);
        el.dataset.dubTime = s.dubTime === null ? '' : s.dubTime.toFixed(4);
        el.dataset.mode = s.mode;
        el.dataset.playing = String(s.playing);
      }
    };
    update();
    const off = engine.onChange(update);
    const timer = setInterval(() => engine.playing && update(), 100);
    bus.seekHandler = (t) => engine.seek(t);
    bus.playHandler = () => void engine.play();
    window.__player = {
      state: () => engine.state(),
      capture: () => {
        const c = engine.capture();
        return { left: Array.from(c.left), right: Array.from(c.right), sampleRate: c.sampleRate, contextTime: c.contextTime };
      },
      seek: (t) => engine.seek(t),
      play: () => engine.play(),
      pause: () => engine.pause(),
      setMode: (m) => engine.setMode(m),
    };
    return () => {
      off();
      clearInterval(timer);
      bus.seekHandler = null;
      bus.playHandler = null;
      delete window.__player;
      void engine.close();
    };
  }, [engine]);

  const submitGoto = (e: Event) => {
    e.preventDefault();
    const t = parseTime(goto);
    if (t === null) return setGotoError('Enter seconds (75.5) or minutes:seconds (1:15.5).');
    setGotoError(null);
    engine?.seek(t);
  };

  const s = state;
  return (
    <section class="card player" aria-labelledby="player-h" ref={rootRef} data-phase={phase.kind} id="player">
      <h2 id="player-h">A/B listening</h2>
      <p class="muted">
        Master in the <strong>left</strong> ear, dub in the <strong>right</strong> ear. <em>Corrected</em> plays the dub where it should be for the master time (offset, drift and edits
        taken out); <em>uncorrected</em> plays both at the same clock time, as delivered. Use headphones.
      </p>
      {phase.kind === 'idle' ? (
        <button type="button" class="btn" onClick={() => setPhase({ kind: 'loading', what: 'listening proxies' })}>
          Load the player (about {Math.round(bytes / 1048576)} MB of memory)
        </button>
      ) : null}
      {phase.kind === 'pending' || phase.kind === 'loading' ? (
        <p role="status" aria-live="polite" class="muted">
          {phase.kind === 'pending' ? `${phase.what}; checking again every 2 s…` : `Loading ${phase.what}…`}
        </p>
      ) : null}
      {phase.kind === 'error' ? (
        <div class="banner banner-error" role="alert">
          The player could not load: {phase.message}{' '}
          <button type="button" class="btn btn-small" onClick={() => setPhase({ kind: 'loading', what: 'listening proxies' })}>
            Try again
          </button>
        </div>
      ) : null}
      {engine && s ? (
        <div class="player-controls">
          <div class="player-row">
            <button type="button" class="btn btn-primary" id="player-play" onClick={() => (s.playing ? engine.pause() : void engine.play())} aria-pressed={s.playing}>
              {s.playing ? 'Pause' : 'Play'}
            </button>
            <fieldset class="segmented">
              <legend class="sr-only">Dub timing</legend>
              {(['corrected', 'uncorrected'] as const).map((m) => (
                <label key={m} class={s.mode === m ? 'on' : ''}>
                  <input type="radio" name="listen-mode" value={m} checked={s.mode === m} disabled={m === 'corrected' && !engine.canCorrect} onChange={() => engine.setMode(m)} />
                  {m === 'corrected' ? 'Corrected' : 'Uncorrected'}
                </label>
              ))}
            </fieldset>
            <button type="button" class="btn" id="player-toggle" disabled={!engine.canCorrect} onClick={() => engine.setMode(s.mode === 'corrected' ? 'uncorrected' : 'corrected')}>
              Toggle corrected / uncorrected
            </button>
          </div>
          <label class="player-seek">
            <span>Position (master time)</span>
            <input
              type="range"
              min={0}
              max={s.masterDuration}
              step={0.1}
              value={s.masterTime}
              onInput={(e) => engine.seek(Number((e.target as HTMLInputElement).value))}
              aria-valuetext={formatTime(s.masterTime)}
            />
          </label>
          <div class="player-row">
            <form class="inline-form" onSubmit={submitGoto}>
              <label>
                Go to <input id="player-goto" type="text" inputMode="decimal" size={9} value={goto} onInput={(e) => setGoto((e.target as HTMLInputElement).value)} placeholder="1:15.5" aria-describedby="goto-help" />
              </label>
              <button type="submit" class="btn btn-small">
                Go
              </button>
              <span id="goto-help" class="sr-only">
                master time in seconds or minutes:seconds
              </span>
            </form>
            <dl class="times" aria-live="off">
              <div>
                <dt>Master (left)</dt>
                <dd data-testid="master-time">{formatTime(s.masterTime, 2)}</dd>
              </div>
              <div>
                <dt>Dub (right)</dt>
                <dd data-testid="dub-time">{s.dubTime === null ? 'silent (no counterpart)' : formatTime(s.dubTime, 2)}</dd>
              </div>
              <div>
                <dt>Dub − master</dt>
                <dd>{s.dubTime === null ? '—' : `${((s.dubTime - s.masterTime) * 1000).toFixed(0)} ms`}</dd>
              </div>
            </dl>
          </div>
          {gotoError ? (
            <p class="field-error" role="alert">
              {gotoError}
            </p>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}
