// Dialogue timing QC (when the worker ran speech detection): a lane of the master's lines
// along the programme coloured by what happened to them in the dub, the counts, and the
// flagged lines with a button to listen to each in the A/B player.
import { DIALOGUE_ISSUE, describeDialogueSummary, describeLineDiff, formatTime } from '../lib/format.ts';
import { linearScale } from '../lib/plot.ts';
import type { AnalysisResult } from '../lib/types.ts';
import type { PlayheadBus } from '../player/playhead.tsx';

type DialogueReport = NonNullable<AnalysisResult['dialogue']>;
const W = 1120;
const H = 40;
const M = { left: 70, right: 18 };

type DialogueLine = DialogueReport['lines'][number];
const tone = (l: DialogueLine) => (l.issue === null ? (l.review ? 'line-review' : 'line-ok') : l.issue === 'missing' ? 'line-missing' : l.issue === 'untranslated' ? 'line-untranslated' : 'line-timing');
const what = (l: DialogueLine) => (l.issue ? DIALOGUE_ISSUE[l.issue] ?? l.issue : l.review ? 'review: near the threshold' : 'in time');

export function DialogueSection({ result, bus }: { result: AnalysisResult; bus: PlayheadBus }) {
  const d = result.dialogue;
  // Documents from before dialogue QC (schema 1.0.0) have no field at all: nothing to say.
  if (d === undefined) return null;
  return (
    <section class="card" aria-labelledby="dialogue-h" id="dialogue">
      <h2 id="dialogue-h">Dialogue timing</h2>
      {d === null ? (
        <p class="muted">{result.match ? 'Speech detection was off for this analysis, so dialogue timing was not checked.' : 'No match, so there is no dialogue to compare.'}</p>
      ) : (
        <Report d={d} duration={result.master.duration} bus={bus} />
      )}
      {result.inference ? (
        <p class="small muted">
          Speech model {result.inference.model} on {result.inference.provider} ({result.inference.seconds.toFixed(1)} s).
        </p>
      ) : null}
    </section>
  );
}

function Report({ d, duration, bus }: { d: DialogueReport; duration: number; bus: PlayheadBus }) {
  const x = linearScale(0, Math.max(duration, 0.001), M.left, W - M.right);
  const flagged = d.lines.filter((l) => l.flagged || l.issue !== null || l.review);
  const listen = (t: number) => bus.listenAt(Math.max(0, t - 1));
  if (d.lines.length === 0 && d.extra.length === 0) return <p>No speech was found in the master, so there are no dialogue lines to compare.</p>;
  return (
    <>
      <figure class="plot">
        <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`dialogue lines along the master: ${describeDialogueSummary(d)}`} class="clickable" onClick={(e) => seekFromClick(e, x, bus)}>
          <rect x={M.left} y={19} width={W - M.left - M.right} height={2} class="lane-axis" />
          {d.lines.map((l) => (
            <rect key={l.index} x={x(l.master_start)} y={8} width={Math.max(1.5, x(l.master_end) - x(l.master_start))} height={24} class={tone(l)}>
              <title>{`line ${l.index + 1}, ${formatTime(l.master_start, 2)}–${formatTime(l.master_end, 2)}: ${what(l)}`}</title>
            </rect>
          ))}
          <text x={M.left - 8} y={25} text-anchor="end" class="plot-tick">
            lines
          </text>
        </svg>
        <figcaption class="legend">
          <span class="key line-ok" /> in time <span class="key line-timing" /> timing off <span class="key line-review" /> review <span class="key line-missing" /> missing <span class="key line-untranslated" /> untranslated
        </figcaption>
      </figure>
      <p>{describeDialogueSummary(d)}</p>
      {flagged.length === 0 ? (
        <p>Every paired line starts and ends within the threshold.</p>
      ) : (
        <table class="table compact" id="dialogue-flagged">
          <caption>Lines to check</caption>
          <thead>
            <tr>
              <th scope="col" class="num">
                Line
              </th>
              <th scope="col">Master in–out</th>
              <th scope="col">Issue</th>
              <th scope="col" class="num">
                Start (dub − master)
              </th>
              <th scope="col" class="num">
                End
              </th>
              <th scope="col">
                <span class="sr-only">Listen</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {flagged.map((l) => (
              <tr key={l.index}>
                <td class="num">{l.index + 1}</td>
                <td>
                  {formatTime(l.master_start, 2)}–{formatTime(l.master_end, 2)}
                </td>
                <td>{what(l)}</td>
                <td class="num">{describeLineDiff(l.start_diff_frames, l.start_diff_ms, l.start_uncertainty_ms)}</td>
                <td class="num">{describeLineDiff(l.end_diff_frames, l.end_diff_ms, l.end_uncertainty_ms)}</td>
                <td class="row-actions">
                  <button type="button" class="btn btn-small" onClick={() => listen(l.master_start)} aria-label={`listen to line ${l.index + 1}`}>
                    Listen
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function seekFromClick(e: MouseEvent, x: { invert(px: number): number }, bus: PlayheadBus) {
  const ctm = (e.currentTarget as SVGSVGElement).getScreenCTM();
  if (!ctm) return;
  const pt = new DOMPoint(e.clientX, e.clientY).matrixTransform(ctm.inverse());
  if (pt.x >= M.left && pt.x <= W - M.right) bus.requestSeek(x.invert(pt.x));
}
