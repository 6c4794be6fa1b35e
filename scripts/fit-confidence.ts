// Fits the confidence model (shared/engine/src/confidence.ts) on the labelled calibration set:
//   npm run bench -- --calibration          (writes bench-out/calibration.jsonl)
//   node --import tsx scripts/fit-confidence.ts [--write]
// Label: the pipeline's best answer is right (a real match and the offset it found within one
// frame at 24 fps). Logistic regression by Newton's method with a small ridge penalty.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { evidenceVector, matchProbability, MATCH_MODEL, type Evidence, type LogisticModel } from '@sync-analyzer/engine';

interface Row {
  id: string;
  truth_match: boolean;
  diagnostics?: Record<string, number> | null;
  error?: string | null;
}

const NONE: Evidence = { inlierShare: 0, firstSegmentPoints: 0, medianPeakToNoise: 1, coarseZ: 0, unexplainedLead: 0 };
const FRAME = 1 / 24;

function load(path: string): { x: number[]; y: number; id: string }[] {
  const rows = readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row);
  const out: { x: number[]; y: number; id: string }[] = [];
  for (const r of rows) {
    if (r.error) continue;
    const d = r.diagnostics ?? {};
    const ev: Evidence = d.inlierShare !== undefined
      ? { inlierShare: d.inlierShare, firstSegmentPoints: d.firstSegmentPoints ?? 0, medianPeakToNoise: d.medianPeakToNoise ?? 1, coarseZ: d.coarseZ ?? 0, unexplainedLead: d.unexplainedLead ?? 0 }
      : { ...NONE, coarseZ: d.coarseZ ?? 0 };
    let y = 0;
    if (r.truth_match && d.candidateOffset !== undefined) {
      const truthPath = join('bench-out', 'corpus', r.id, 'truth.json');
      const truth = existsSync(truthPath) ? (JSON.parse(readFileSync(truthPath, 'utf8')) as { offset_seconds: number }) : null;
      y = truth && Math.abs(d.candidateOffset - truth.offset_seconds) < FRAME ? 1 : 0;
    }
    out.push({ x: evidenceVector(ev), y, id: r.id });
  }
  return out;
}

function fit(data: { x: number[]; y: number }[], ridge = 0.05): number[] {
  const k = data[0]!.x.length;
  let w = new Array<number>(k).fill(0);
  for (let iter = 0; iter < 50; iter++) {
    const g = new Array<number>(k).fill(0);
    const h = Array.from({ length: k }, () => new Array<number>(k).fill(0));
    for (const { x, y } of data) {
      const p = 1 / (1 + Math.exp(-x.reduce((a, xi, i) => a + xi * w[i]!, 0)));
      const s = Math.max(p * (1 - p), 1e-9);
      for (let i = 0; i < k; i++) {
        g[i]! += (p - y) * x[i]!;
        for (let j = 0; j < k; j++) h[i]![j]! += s * x[i]! * x[j]!;
      }
    }
    for (let i = 1; i < k; i++) {
      g[i]! += ridge * w[i]!;
      h[i]![i]! += ridge;
    }
    const step = solve(h, g);
    w = w.map((wi, i) => wi - step[i]!);
    if (Math.max(...step.map(Math.abs)) < 1e-8) break;
  }
  return w;
}

function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    const d = m[c]![c]! || 1e-12;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r]![c]! / d;
      for (let cc = c; cc <= n; cc++) m[r]![cc]! -= f * m[c]![cc]!;
    }
  }
  return m.map((row, i) => row[n]! / (row[i]! || 1e-12));
}

const data = load(join('bench-out', 'calibration.jsonl'));
if (data.length < 10) throw new Error(`only ${data.length} calibration rows: run npm run bench -- --calibration first`);
const w = fit(data);
const model: LogisticModel = { bias: w[0]!, inlierShare: w[1]!, logFirstSegmentPoints: w[2]!, logPeakToNoise: w[3]!, logCoarseZ: w[4]!, logUnexplainedLead: w[5]! };
const ev = (x: number[]): Evidence => ({ inlierShare: x[1]!, firstSegmentPoints: Math.exp(x[2]!) - 1, medianPeakToNoise: Math.exp(x[3]!), coarseZ: Math.exp(x[4]!), unexplainedLead: Math.exp(x[5]!) - 1 });
const brier = (m: LogisticModel) => data.reduce((a, d) => a + (matchProbability(ev(d.x), m) - d.y) ** 2, 0) / data.length;
console.log(`rows ${data.length} (positives ${data.filter((d) => d.y === 1).length}); Brier score: current ${brier(MATCH_MODEL).toFixed(4)}, fitted ${brier(model).toFixed(4)}`);
console.log(JSON.stringify(model, null, 2));
if (process.argv.includes('--write')) {
  const p = 'shared/engine/src/confidence.ts';
  const src = readFileSync(p, 'utf8');
  const body = Object.entries(model).map(([k, v]) => `  ${k}: ${v.toFixed(4)},`).join('\n');
  writeFileSync(p, src.replace(/export const MATCH_MODEL: LogisticModel = \{[^}]*\};/, `export const MATCH_MODEL: LogisticModel = {\n${body}\n};`));
  console.log(`wrote ${p}`);
}
