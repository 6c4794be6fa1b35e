// Aligned energy overview: master and dub loudness (dBFS per 50 ms) before correction (each on
// its own clock) and after (the dub read at the master time mapped through the segments).
// When the dub is in step, the two lanes' shapes line up vertically.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { API, errorText, get } from '../api.tsx';
import { formatTime } from '../lib/format.ts';
import { energyColumns, masterToDub } from '../lib/mapping.ts';
import { linearScale, timeTicks } from '../lib/plot.ts';
import type { AnalysisResult, OverviewSide, OverviewView } from '../lib/types.ts';
import { usePlayhead, type PlayheadBus } from '../player/playhead.tsx';

const W = 1120;
const LANE = 56;
const M = { left: 70, right: 18, top: 8, bottom: 26 };
const COLUMNS = 560;
const FLOOR = -60;

export function EnergyOverview({ analysisId, result, bus }: { analysisId: string; result: AnalysisResult; bus: PlayheadBus }) {
  const [data, setData] = useState<OverviewView | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const load = async () => {
      try {
        const ov = await get<OverviewView>(`${API}/analyses/${encodeURIComponent(analysisId)}/overview`);
        if (stop) return;
        setData(ov);
        setError(null);
        // A worker is still making it: look again shortly.
        if (ov.pending) timer = setTimeout(load, 2000);
      } catch (e) {
        if (!stop) setError(errorText(e));
      }
    };
    void load();
    return () => {
      stop = true;
      if (timer) clearTimeout(timer);
    };
  }, [analysisId]);

  return (
    <section class="card" aria-labelledby="overview-h" id="overview">
      <h2 id="overview-h">Aligned energy overview</h2>
      {error ? (
        <div class="banner banner-error" role="alert">
          The overview could not load: {error}
        </div>
      ) : !data || data.pending || !data.master || !data.dub ? (
        <p class="muted" role="status">
          A worker is preparing the energy overview; checking again every 2 s…
        </p>
      ) : (
        <Lanes result={result} master={data.master} dub={data.dub} bus={bus} />
      )}
    </section>
  );
}

function Lanes({ result, master, dub, bus }: { result: AnalysisResult; master: OverviewSide; dub: OverviewSide; bus: PlayheadBus }) {
  const canCorrect = result.segments.length > 0;
  const before = useMemo(() => {
    const end = Math.max(master.duration_seconds, dub.duration_seconds);
    return { end, m: energyColumns(master.db, master.hop_seconds, COLUMNS, 0, end), d: energyColumns(dub.db, dub.hop_seconds, COLUMNS, 0, end) };
  }, [master, dub]);
  const after = useMemo(() => {
    const end = master.duration_seconds;
    const map = (t: number) => masterToDub(result.segments, t);
    // Edits (master time with no dub counterpart) are shaded; the dub simply ending is not.
    const gaps = Array.from({ length: COLUMNS }, (_, c) => map(((c + 0.5) * end) / COLUMNS) === null);
    return { end, gaps, m: energyColumns(master.db, master.hop_seconds, COLUMNS, 0, end), d: energyColumns(dub.db, dub.hop_seconds, COLUMNS, 0, end, map) };
  }, [master, dub, result]);
  return (
    <>
      <Panel title="Before correction: each file on its own clock" end={before.end} master={before.m} dub={before.d} gaps={null} bus={null} id="overview-before" />
      {canCorrect ? (
        <Panel title="After correction: the dub mapped onto master time (gaps: no dub counterpart)" end={after.end} master={after.m} dub={after.d} gaps={after.gaps} bus={bus} id="overview-after" />
      ) : (
        <p class="muted">No match, so there is no correction to show.</p>
      )}
    </>
  );
}

function envelopePath(values: (number | null)[], x0: number, colW: number, base: number, height: number): string {
  let d = '';
  values.forEach((v, i) => {
    if (v === null) return;
    const h = (Math.max(0, v - FLOOR) / -FLOOR) * height;
    if (h < 0.5) return;
    const x = (x0 + (i + 0.5) * colW).toFixed(1);
    d += `M${x} ${(base - h).toFixed(1)}V${base.toFixed(1)}`;
  });
  return d;
}

function gapRects(gaps: boolean[], x0: number, colW: number) {
  const out: [number, number][] = [];
  let start = -1;
  gaps.forEach((g, i) => {
    if (g && start < 0) start = i;
    if (!g && start >= 0) {
      out.push([start, i]);
      start = -1;
    }
  });
  if (start >= 0) out.push([start, gaps.length]);
  return out.map(([a, b]) => [x0 + a * colW, (b - a) * colW] as const);
}

function Panel({ title, end, master, dub, gaps, bus, id }: { title: string; end: number; master: (number | null)[]; dub: (number | null)[]; gaps: boolean[] | null; bus: PlayheadBus | null; id: string }) {
  const H = M.top + LANE * 2 + 10 + M.bottom;
  const x = linearScale(0, Math.max(end, 0.001), M.left, W - M.right);
  const colW = (W - M.left - M.right) / COLUMNS;
  const mBase = M.top + LANE;
  const dBase = M.top + LANE * 2 + 10;
  const body = useMemo(
    () => (
      <g>
        <rect x={M.left} y={M.top} width={W - M.left - M.right} height={LANE} class="lane-bg" />
        <rect x={M.left} y={M.top + LANE + 10} width={W - M.left - M.right} height={LANE} class="lane-bg" />
        {gapRects(gaps ?? [], M.left, colW).map(([gx, gw], i) => (
          <rect key={i} x={gx} y={M.top + LANE + 10} width={gw} height={LANE} class="lane-gap" />
        ))}
        <path d={envelopePath(master, M.left, colW, mBase, LANE - 2)} class="lane-master" stroke-width={colW + 0.2} />
        <path d={envelopePath(dub, M.left, colW, dBase, LANE - 2)} class="lane-dub" stroke-width={colW + 0.2} />
        <text x={M.left - 8} y={M.top + LANE / 2 + 4} text-anchor="end" class="plot-tick">
          master
        </text>
        <text x={M.left - 8} y={M.top + LANE + 10 + LANE / 2 + 4} text-anchor="end" class="plot-tick">
          dub
        </text>
        {timeTicks(end, 10).map((t) => (
          <text key={t} x={x(t)} y={H - 8} text-anchor="middle" class="plot-tick">
            {formatTime(t, 0)}
          </text>
        ))}
      </g>
    ),
    [master, dub, end, gaps],
  );
  const onClick = (e: MouseEvent) => {
    if (!bus) return;
    const ctm = (e.currentTarget as SVGSVGElement).getScreenCTM();
    if (!ctm) return;
    const pt = new DOMPoint(e.clientX, e.clientY).matrixTransform(ctm.inverse());
    if (pt.x >= M.left && pt.x <= W - M.right) bus.requestSeek(x.invert(pt.x));
  };
  return (
    <figure class="plot plot-energy" id={id}>
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title}: loudness of master (top) and dub (bottom) over time`} onClick={onClick} class={bus ? 'clickable' : ''}>
        {body}
        {bus ? <EnergyPlayhead bus={bus} x={x} top={M.top} bottom={dBase} /> : null}
      </svg>
    </figure>
  );
}

function EnergyPlayhead({ bus, x, top, bottom }: { bus: PlayheadBus; x: (t: number) => number; top: number; bottom: number }) {
  const t = usePlayhead(bus);
  return <line class="plot-playhead" x1={x(t)} x2={x(t)} y1={top} y2={bottom} />;
}
