// Replays the dialogue timing QC on the dialogue family's stored results (bench-out/results) with
// the engine's current code, without re-running the analyses: decodes both files at the analysis
// rate, re-pairs the stored speech segments through the stored edit map and scores the lines
// against truth. For tuning the QC; `npm run bench -- --family dialogue` remains the measurement.
// EDGES='{"edgeAboveNoiseDb":3}' overrides line-edge parameters (line-edges.ts); EDGES=off times
// lines on the speech model's edges alone. Prints the tuned set, the held-out set and both.
//   node --import tsx scripts/bench/dialogue-replay.ts [--verbose]
import { spawn } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { dialogueQc } from '../../shared/engine/src/dialogue.ts';
import { aggregateDialogue, scoreDialogue } from './score.ts';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const RATE = 8000; // the analysis rate
const verbose = process.argv.includes('--verbose');

function decode(file: string): Promise<Int16Array> {
  return new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/ffmpeg', ['-nostdin', '-v', 'error', '-i', file, '-ac', '1', '-ar', String(RATE), '-f', 's16le', 'pipe:1']);
    const out: Buffer[] = [];
    p.stdout.on('data', (c: Buffer) => out.push(c));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`ffmpeg failed on ${file}`));
      const b = Buffer.concat(out);
      resolve(new Int16Array(b.buffer, b.byteOffset, b.length / 2));
    });
  });
}

const corpus = path.join(ROOT, 'bench-out/corpus');
const ids = (await readdir(corpus)).filter((d) => d.startsWith('dlg-')).sort();
const scores: ReturnType<typeof scoreDialogue>[] = [];
let qcMs = 0;
for (const id of ids) {
  const truth = JSON.parse(await readFile(path.join(corpus, id, 'truth.json'), 'utf8'));
  let result;
  try {
    result = JSON.parse(await readFile(path.join(ROOT, 'bench-out/results', `${id}.vad-on.json`), 'utf8'));
  } catch {
    continue;
  }
  if (!result.speech || !result.match) continue;
  const [m, d] = await Promise.all([decode(path.join(corpus, id, truth.files.master)), decode(path.join(corpus, id, truth.files.dub))]);
  const t0 = performance.now();
  const report = dialogueQc({
    masterSpeech: result.speech.master.segments,
    dubSpeech: result.speech.dub.segments,
    spans: result.segments,
    frameRate: result.dialogue.frame_rate,
    masterPcm: { samples: m, sampleRate: RATE },
    dubPcm: { samples: d, sampleRate: RATE },
    params: process.env.EDGES === undefined ? {} : { edges: process.env.EDGES === 'off' ? false : JSON.parse(process.env.EDGES) },
  });
  qcMs += performance.now() - t0;
  const s = scoreDialogue(id, truth.dialogue.lines, report);
  scores.push(s);
  if (verbose) {
    console.log(`${id}: ${s.plannedLines.map((l) => `${l.error}@${l.master_start.toFixed(2)} ${l.detected ? 'found' : 'MISSED'} (${l.got})`).join('; ')}`);
    for (const l of report.lines) {
      const t = truth.dialogue.lines.find((x: { master_start: number; master_end: number }) => Math.min(x.master_end, l.master_end) > Math.max(x.master_start, l.master_start));
      console.log(`  ${String(l.index).padStart(2)} m ${l.master_start.toFixed(3)}-${l.master_end.toFixed(3)} truth ${t ? `${t.master_start.toFixed(3)}-${t.master_end.toFixed(3)} ${t.error ?? ''}` : '-'} diff ${l.start_diff_ms}/${l.end_diff_ms} ${l.issue ?? (l.review ? 'review' : '')}`);
    }
  }
}
const line = (label: string, subset: typeof scores) => {
  const agg = aggregateDialogue(subset);
  console.log(`${label}: ${JSON.stringify({ cases: agg.cases, detected: agg.detected, planned: agg.planned, falseFlags: `${agg.controlFalseFlags}/${agg.controlLines}`, allClean: `${agg.falseFlags}/${agg.cleanResultLines}`, review: `${agg.controlReviews}/${agg.reviews}`, medianMs: agg.cleanDiffMedianMs, p95Ms: agg.cleanDiffP95Ms })}`);
};
console.error(`dialogue QC ${qcMs.toFixed(0)} ms over ${scores.length} cases`);
// The held-out cases (dlg-held-*) were added after the line-edge measurement was tuned on the rest.
line('tuned', scores.filter((x) => !x.id.startsWith('dlg-held-')));
line('held-out', scores.filter((x) => x.id.startsWith('dlg-held-')));
line('all', scores);
