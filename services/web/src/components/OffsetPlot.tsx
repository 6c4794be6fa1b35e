// The offset over the whole programme (SVG): measured points (shaded by confidence), the
// fitted line of each segment (drift shows as a slope), edit segments shaded, gaps and head
// findings (bars/tone, 2-pop) marked, and the player's position. A click seeks the player.
import { useMemo } from 'preact/hooks';
import { formatTime, HEAD_LABEL, signedMs } from '../lib/format.ts';
import { linearScale, niceTicks, offsetRange, timeTicks } from '../lib/plot.ts';
import type { AnalysisResult } from '../lib/types.ts';
import { usePlayhead, type PlayheadBus } from '../player/playhead.tsx';

const W = 1120;
const H = 340;
const M = { left: 70, right: 18, top: 34, bottom: 44 };

export function OffsetPlot({ result, bus }: { result: AnalysisResult; bus: PlayheadBus }) {
  const duration = Math.max(result.master.duration, 0.001);
  const x = linearScale(0, duration, M.left, W - M.right);
  const ms = (s: number) => s * 1000;
  const values = [...result.offset_track.map((p) => ms(p.offset_seconds)), ...result.segments.flatMap((s) => [ms(s.offset_seconds), ms(s.offset_end_seconds)])];
  const [y0, y1] = offsetRange(values);
  const y = linearScale(y0, y1, H - M.bottom, M.top);
  const edited = result.segments.length > 1;
  // Dub head findings sit near the programme start, where the first segment's offset holds.
  const headShift = result.segments[0]?.offset_seconds ?? result.offset_seconds ?? 0;

  const body = useMemo(
    () => (
      <g>
        {/* Head findings of the master, and of the dub mapped onto master time by the offset. */}
        {[
          ...result.master.head.findings.filter((f) => f.kind !== 'silence').map((f) => ({ ...f, side: 'master' })),
          ...result.dub.head.findings.filter((f) => f.kind !== 'silence').map((f) => ({ ...f, side: 'dub', start: f.start - headShift, end: f.end - headShift })),
        ].map((f, i) => {
          const a = x(Math.max(0, f.start));
          const b = Math.max(a + 2, x(Math.min(duration, f.end)));
          return (
            <g key={`h${i}`} class={`plot-head head-${f.kind}`}>
              <rect x={a} y={M.top} width={b - a} height={H - M.top - M.bottom}>
                <title>{`${f.side} ${HEAD_LABEL[f.kind]} ${formatTime(f.start, 2)}–${formatTime(f.end, 2)}${f.frequency_hz ? ` (${Math.round(f.frequency_hz)} Hz)` : ''}`}</title>
              </rect>
              <text x={a + 3} y={M.top - (f.side === 'dub' ? 20 : 6)} class="plot-label">
                {`${f.side} ${HEAD_LABEL[f.kind]}`}
              </text>
            </g>
          );
        })}
        {edited
          ? result.segments.map((s, i) => (
              <rect key={`s${i}`} class={`plot-seg plot-seg-${i % 2}`} x={x(s.master_start)} y={M.top} width={Math.max(1, x(s.master_end) - x(s.master_start))} height={H - M.top - M.bottom}>
                <title>{`part ${i + 1}: master ${formatTime(s.master_start)}–${formatTime(s.master_end)}, offset ${signedMs(s.offset_seconds)} → ${signedMs(s.offset_end_seconds)}`}</title>
              </rect>
            ))
          : null}
        {result.gaps.map((g, i) =>
          g.kind === 'removed' ? (
            <g key={`g${i}`} class="plot-gap">
              <rect x={x(g.master_start)} y={M.top} width={Math.max(2, x(g.master_end) - x(g.master_start))} height={H - M.top - M.bottom}>
                <title>{`removed from the dub: master ${formatTime(g.master_start, 2)}–${formatTime(g.master_end, 2)} (${g.duration_seconds.toFixed(2)} s)`}</title>
              </rect>
              <text x={x(g.master_start) + 3} y={H - M.bottom - 6} class="plot-label plot-label-gap">
                {`removed ${g.duration_seconds.toFixed(1)} s`}
              </text>
            </g>
          ) : (
            <g key={`g${i}`} class="plot-insert">
              <line x1={x(g.master_start)} x2={x(g.master_start)} y1={M.top} y2={H - M.bottom}>
                <title>{`inserted in the dub at master ${formatTime(g.master_start, 2)}: ${g.duration_seconds.toFixed(2)} s (dub ${formatTime(g.dub_start, 2)}–${formatTime(g.dub_end, 2)})`}</title>
              </line>
              <text x={x(g.master_start) + 3} y={H - M.bottom - 6} class="plot-label plot-label-gap">
                {`inserted ${g.duration_seconds.toFixed(1)} s`}
              </text>
            </g>
          ),
        )}
        {/* Axes and grid. */}
        {niceTicks(y0, y1, 6).map((v) => (
          <g key={`y${v}`} class="plot-grid">
            <line x1={M.left} x2={W - M.right} y1={y(v)} y2={y(v)} class={v === 0 ? 'plot-zero' : ''} />
            <text x={M.left - 8} y={y(v) + 4} text-anchor="end" class="plot-tick">
              {v > 0 ? `+${v}` : v < 0 ? `−${-v}` : '0'}
            </text>
          </g>
        ))}
        {timeTicks(duration, 10).map((t) => (
          <g key={`x${t}`} class="plot-grid">
            <line x1={x(t)} x2={x(t)} y1={H - M.bottom} y2={H - M.bottom + 5} />
            <text x={x(t)} y={H - M.bottom + 20} text-anchor="middle" class="plot-tick">
              {formatTime(t, 0)}
            </text>
          </g>
        ))}
        <text x={16} y={(M.top + H - M.bottom) / 2} transform={`rotate(-90 16 ${(M.top + H - M.bottom) / 2})`} text-anchor="middle" class="plot-axis-label">
          offset, ms (+ = dub late)
        </text>
        <text x={(M.left + W - M.right) / 2} y={H - 6} text-anchor="middle" class="plot-axis-label">
          master time
        </text>
        <g class="plot-fit">
          {result.segments.map((s, i) => (
            <line key={i} x1={x(s.master_start)} x2={x(s.master_end)} y1={y(ms(s.offset_seconds))} y2={y(ms(s.offset_end_seconds))} />
          ))}
        </g>
        {/* Measurements, over the fitted line. */}
        <g class="plot-points">
          {result.offset_track.map((p, i) => (
            <circle key={i} cx={x(p.master_time)} cy={y(ms(p.offset_seconds))} r={3.5} fill-opacity={0.2 + 0.8 * p.confidence}>
              <title>{`${formatTime(p.master_time, 2)}: ${signedMs(p.offset_seconds)} (confidence ${Math.round(p.confidence * 100)}%)`}</title>
            </circle>
          ))}
        </g>
        <rect x={M.left} y={M.top} width={W - M.left - M.right} height={H - M.top - M.bottom} class="plot-frame" />
      </g>
    ),
    [result],
  );

  const onClick = (e: MouseEvent) => {
    const svg = e.currentTarget as SVGSVGElement;
    const ctm = svg.getScreenCTM();
    if (!ctm) return;
    const pt = new DOMPoint(e.clientX, e.clientY).matrixTransform(ctm.inverse());
    if (pt.x < M.left || pt.x > W - M.right) return;
    bus.requestSeek(x.invert(pt.x));
  };

  const label = `Offset over time: ${result.offset_track.length} measurements, ${result.segments.length} segment(s), ${result.gaps.length} edit(s). ${result.summary}`;
  return (
    <figure class="plot" id="offset-plot">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label} onClick={onClick} class="clickable">
        {body}
        <Playhead bus={bus} x={x} top={M.top} bottom={H - M.bottom} />
      </svg>
      <figcaption class="legend">
        <span class="key key-point" /> measured offset (darker = more confident) <span class="key key-fit" /> fitted line{result.drift && result.drift.direction !== 'none' ? ' (slope = drift)' : ''}
        {edited ? (
          <>
            <span class="key key-seg" /> edit segments
          </>
        ) : null}
        {result.gaps.length ? (
          <>
            <span class="key key-gap" /> removed / inserted material
          </>
        ) : null}
        <span class="key key-head" /> bars/tone, 2-pop <span class="key key-playhead" /> player position · click to listen there
      </figcaption>
    </figure>
  );
}

function Playhead({ bus, x, top, bottom }: { bus: PlayheadBus; x: (t: number) => number; top: number; bottom: number }) {
  const t = usePlayhead(bus);
  return <line class="plot-playhead" x1={x(t)} x2={x(t)} y1={top} y2={bottom} />;
}
