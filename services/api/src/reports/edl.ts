// CMX 3600 EDL of an analysis's edit map, on the MASTER's timecode: one event per matched
// segment, record = master range, source = the same content's range in the dub (both counted
// from the master's start timecode at the master's rate), gaps as comment lines.
import type { AnalysisRecord } from '@sync-analyzer/platform';
import type { Gap, Segment } from '@sync-analyzer/engine';
import { absoluteFrame, baseName, errorText, frameLabel, rateContext, timecodeAt } from './common.ts';
import type { RateContext } from './common.ts';

/** EDL lines are one line each: control characters in user text would forge lines. */
function edlText(s: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim().slice(0, max);
}

function eventLine(n: number, srcIn: string, srcOut: string, recIn: string, recOut: string): string {
  return `${String(n).padStart(3, '0')}  AX       A     C        ${srcIn} ${srcOut} ${recIn} ${recOut}`;
}

function gapComment(g: Gap, ctx: RateContext): string {
  const dur = `${g.duration_seconds.toFixed(3)} s`;
  return g.kind === 'removed'
    ? `* COMMENT: REMOVED FROM DUB: master ${timecodeAt(g.master_start, ctx)} - ${timecodeAt(g.master_end, ctx)} (${dur})`
    : `* COMMENT: INSERTED IN DUB: ${dur} at master ${timecodeAt(g.master_start, ctx)} (dub ${g.dub_start.toFixed(3)} - ${g.dub_end.toFixed(3)} s)`;
}

export function analysisEdl(rec: AnalysisRecord): string {
  const result = rec.result;
  const ctx = rateContext(result);
  const masterName = edlText(baseName(rec.masterPath), 80);
  const dubName = edlText(baseName(rec.dubPath), 120);
  // CMX 3600 titles are at most 70 characters.
  const lines: string[] = [`TITLE: ${edlText(`${masterName} vs ${dubName}`, 70)}`, `FCM: ${ctx.dropFrame ? 'DROP FRAME' : 'NON-DROP FRAME'}`, ''];
  if (ctx.startProblem) lines.push(`* COMMENT: ${edlText(ctx.startProblem)}`);

  if (!result) {
    const why = errorText(rec.errorCode, rec.errorMessage);
    lines.push(`* COMMENT: NO MATCH: no result (analysis ${rec.status}${why ? `: ${edlText(why)}` : ''})`);
    return lines.join('\n') + '\n';
  }
  if (!result.match || result.segments.length === 0) {
    lines.push(`* COMMENT: NO MATCH: ${edlText(result.summary)}`);
    return lines.join('\n') + '\n';
  }

  const segments: Segment[] = [...result.segments].sort((a, b) => a.master_start - b.master_start);
  // Each gap is noted after the event it follows (gaps before the first segment: after event 1).
  const gapsAfter = new Map<number, Gap[]>();
  for (const g of [...result.gaps].sort((a, b) => a.master_start - b.master_start)) {
    let idx = 0;
    segments.forEach((s, i) => {
      if (s.master_start < g.master_start) idx = i;
    });
    gapsAfter.set(idx, [...(gapsAfter.get(idx) ?? []), g]);
  }
  const drift = result.drift;
  segments.forEach((s, i) => {
    let recIn = absoluteFrame(s.master_start, ctx);
    let srcIn = absoluteFrame(s.dub_start, ctx);
    const recOut = Math.max(recIn, absoluteFrame(s.master_end, ctx));
    const srcOut = Math.max(srcIn, absoluteFrame(s.dub_end, ctx));
    // Content before the dub's frame 00:00:00:00 does not exist: the event starts where it does.
    if (srcIn < 0) {
      recIn = Math.min(recOut, recIn - srcIn);
      srcIn = 0;
    }
    lines.push(eventLine(i + 1, frameLabel(srcIn, ctx), frameLabel(srcOut, ctx), frameLabel(recIn, ctx), frameLabel(recOut, ctx)));
    lines.push(`* FROM CLIP NAME: ${dubName}`);
    lines.push(`* COMMENT: OFFSET ${(s.offset_seconds * 1000).toFixed(1)} ms (dub ${s.offset_seconds >= 0 ? 'late' : 'early'}), confidence ${Math.round(s.confidence * 100)}%`);
    if (drift && drift.direction !== 'none') {
      lines.push(`* COMMENT: DUB SPEED ${drift.speed_ratio.toFixed(6)}x (${drift.ppm.toFixed(1)} ppm${drift.standard ? `, ${drift.standard}` : ''})`);
    }
    for (const g of gapsAfter.get(i) ?? []) lines.push(gapComment(g, ctx));
    lines.push('');
  });
  return lines.join('\n');
}
