import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DIALOGUE_FAMILY, FAMILIES, computeTruth, dubPieces, standardRatio, truthMap } from './case.ts';
import type { CaseSpec, LineErrorClass, TruthGap, TruthLine, TruthSegment } from './case.ts';
import { oracleResult } from './fake-cli.ts';
import { caseDir, generateCase, isGenerated, readTruth, stretchTo } from './generate.ts';
import type { TruthFile } from './generate.ts';
import { atempoChain, fitLength, planLineErrors, resolveLineIndex, speechSpan } from './lines.ts';
import { decodeMono } from './proc.ts';
import { Rng } from './prng.ts';
import { dialogueSection, fullReport, vadTable } from './report.ts';
import { parseCliOutput, runCase } from './run.ts';
import {
  aggregateDialogue, compareVad, dialogueTargets, evaluateTargets, lineHasClass, mappingScore, reliability, sameStandard, scoreCase, scoreDialogue,
  vadCost, vadImprovement, vadLongTarget, vadTarget,
} from './score.ts';
import type { CaseScore, ResultDialogue, ScorableResult } from './score.ts';
import { LONG, MAIN, QUICK_IDS, allCases, calibrationCases, makeCase, selectCases } from './spec.ts';
import { StreamMixer, buildProgramme, eventSound } from './synth.ts';
import { judge, verifyCase } from './verify.ts';
import { gccPhat } from './xcorr.ts';

/**
 * Fingerprint of the committed main spec (ids, seeds, parameters). The spec is fixed before any
 * tuning: if this fails you changed a case. Add new cases rather than editing old ones, then
 * update the fingerprint in the same commit and say why.
 */
const MAIN_FINGERPRINT = '9687f046ac198d36';
/**
 * The same for the dialogue family (added after the original 64, which MAIN_FINGERPRINT still
 * covers). Changed once: six held-out cases (seeds 1909-1914) appended after the line-edge
 * measurement was tuned on the first eight.
 */
const DIALOGUE_FINGERPRINT = '3a552b5f09c060b1';
const ORIGINAL = MAIN.filter((c) => c.family !== DIALOGUE_FAMILY);
const DIALOGUE = MAIN.filter((c) => c.family === DIALOGUE_FAMILY);

function near(got: number | null, want: number, msg?: string): void {
  assert.ok(got !== null && Math.abs(got - want) < 1e-9, msg ?? `${got} != ${want}`);
}

function fingerprint(cases: readonly CaseSpec[]): string {
  return createHash('sha256').update(JSON.stringify(cases.map(({ truth: _t, ...c }) => c))).digest('hex').slice(0, 16);
}

describe('spec', () => {
  it('has at least 8 cases per family, 5+ unrelated, unique ids and fixed integer seeds', () => {
    for (const f of FAMILIES) assert.ok(MAIN.filter((c) => c.family === f).length >= 8, `family ${f} has fewer than 8 cases`);
    assert.ok(MAIN.filter((c) => c.family === 'unrelated').length >= 5);
    const ids = allCases().map((c) => c.id);
    assert.equal(new Set(ids).size, ids.length, 'case ids must be unique across all sets');
    for (const c of allCases()) {
      assert.ok(Number.isInteger(c.seed) && c.seed > 0, `${c.id}: seed must be a fixed positive integer`);
      assert.match(c.id, /^[a-z0-9-]+$/);
    }
    const mainSeeds = MAIN.map((c) => c.seed);
    assert.equal(new Set(mainSeeds).size, mainSeeds.length, 'main cases have distinct seeds');
    const calSeeds = new Set(calibrationCases().map((c) => c.seed));
    for (const s of mainSeeds) assert.ok(!calSeeds.has(s), 'calibration seeds differ from the main set');
  });

  it('is the committed spec (fingerprint)', () => {
    const fp = fingerprint(ORIGINAL);
    assert.equal(fp, MAIN_FINGERPRINT, `the main spec changed (fingerprint now ${fp}): see the comment on MAIN_FINGERPRINT`);
    const fd = fingerprint(DIALOGUE);
    assert.equal(fd, DIALOGUE_FINGERPRINT, `the dialogue cases changed (fingerprint now ${fd}): see the comment on MAIN_FINGERPRINT`);
  });

  it('has a dialogue family: 60-120 s programmes, fitted lines, every error kind several times, clean controls', () => {
    assert.ok(DIALOGUE.length >= 8);
    const cal = new Set(calibrationCases().map((c) => c.seed));
    for (const c of DIALOGUE) {
      assert.ok(c.durationSeconds >= 60 && c.durationSeconds <= 120, `${c.id}: 60-120 s`);
      assert.equal(c.dub.fitLines, true, `${c.id}: dub lines fitted onto the master's`);
      assert.ok(c.seed >= 1900 && c.seed < 2000 && !cal.has(c.seed), `${c.id}: a new seed`);
      assert.equal(c.truth.match, true);
      // the errors resolve to distinct lines of the programme's plan
      planLineErrors(buildProgramme(c.seed, c.durationSeconds).lines.length, c.dub.lineErrors ?? []);
    }
    const kinds: Record<LineErrorClass, number> = { late: 0, early: 0, missing: 0, untranslated: 0 };
    for (const e of DIALOGUE.flatMap((c) => c.dub.lineErrors ?? [])) {
      kinds[e.kind === 'shift' ? (e.seconds > 0 ? 'late' : 'early') : e.kind]++;
      if (e.kind === 'shift') assert.equal(Math.abs(e.seconds), 3 / 25, '3 frames at 25 fps');
    }
    for (const [k, n] of Object.entries(kinds)) assert.ok(n >= 3, `${k}: ${n} planned`);
    assert.ok(DIALOGUE.filter((c) => !c.dub.lineErrors?.length).length >= 2, 'clean controls');
    for (const c of ORIGINAL) assert.equal(c.dub.fitLines, undefined, 'the original cases are not fitted');
  });

  it('is deterministic: building it twice gives the same cases', () => {
    assert.equal(fingerprint(calibrationCases()), fingerprint(calibrationCases()));
    for (const c of MAIN) {
      const { truth, ...input } = c;
      assert.deepEqual(computeTruth(input, truth.codec_delay_seconds), truth);
    }
  });

  it('keeps the default run within budget and has long programmes and a quick subset', () => {
    const seconds = MAIN.reduce((a, c) => a + c.truth.programme.master_end, 0);
    // 2.95 h before the dialogue family's held-out cases (+0.19 h)
    assert.ok(seconds <= 3.15 * 3600, `main corpus is ${(seconds / 3600).toFixed(2)} h of programme`);
    assert.ok(MAIN.filter((c) => c.durationSeconds >= 600).length >= 3, 'several programmes of 10 minutes or more');
    for (const c of ORIGINAL) if (c.durationSeconds < 600) assert.ok(c.durationSeconds >= 120 && c.durationSeconds <= 240, `${c.id}: 2-4 min`);
    const quick = selectCases({ quick: true });
    assert.equal(quick.length, QUICK_IDS.length);
    for (const f of [...FAMILIES, DIALOGUE_FAMILY]) assert.equal(quick.filter((c) => c.family === f).length, 2, `quick has 2 ${f} cases`);
    assert.deepEqual(LONG.map((c) => c.durationSeconds), [3600, 10800]);
  });

  it('has truth in the product sign convention', () => {
    const byId = new Map(MAIN.map((c) => [c.id, c.truth]));
    const t = (id: string) => byId.get(id) as CaseSpec['truth'];
    assert.equal(t('const-pos-2p5').offset_seconds, 2.5);
    assert.equal(t('const-minutes-neg').offset_seconds, -95.25);
    assert.equal(t('const-minutes-neg').segments[0]?.master_start, 95.25, 'the trimmed head is not in the dub');
    assert.equal(t('head-master-only').offset_seconds, -68);
    assert.equal(t('head-dub-only').offset_seconds, 68);
    assert.equal(t('head-both-diff').offset_seconds, 3.5);
    near(t('head-dub-only-ac3').offset_seconds, 72 + 256 / 48000, 'AC-3 decoder delay is part of the truth');
    assert.equal(t('drift-24-25').speed_ratio, 0.96);
    assert.equal(t('drift-24-25').standard, '24/25');
    assert.ok(Math.abs(standardRatio('25/23.976') - 25 / (24000 / 1001)) < 1e-12);
    assert.ok(Math.abs(standardRatio('1000/1001') - 1000 / 1001) < 1e-12);
    const cut = t('edit-cut-10');
    assert.equal(cut.gaps.length, 1);
    assert.deepEqual({ ...cut.gaps[0] }, { kind: 'removed', master_start: 50, master_end: 60, dub_start: 50.5, dub_end: 50.5, duration_seconds: 10 });
    const ins = t('edit-ins-other-20');
    assert.equal(ins.gaps[0]?.kind, 'inserted');
    near(truthMap(ins, 47), 46.8);
    near(truthMap(ins, 49), 68.8);
    for (const c of MAIN.filter((x) => x.family === 'unrelated')) assert.equal(c.truth.match, false);
  });

  it('derives edit pieces and drift truth consistently', () => {
    const pieces = dubPieces(100, [{ type: 'cut', at: 10, duration: 5 }, { type: 'insert', at: 50, duration: 2, material: 'silence' }]);
    assert.deepEqual(pieces.map((p) => p.kind), ['programme', 'programme', 'insert', 'programme']);
    const c = makeCase('x-drift-cut', 'edit', 7, 100, { dub: { speed: '1001/1000', offsetSeconds: 1, edits: [{ type: 'cut', at: 40, duration: 10 }] } });
    const [s1, s2] = c.truth.segments as [TruthSegment, TruthSegment];
    assert.ok(Math.abs(s1.dub_end - (1 + 40 * 1.001)) < 1e-9);
    assert.ok(Math.abs(s2.dub_start - s1.dub_end) < 1e-9, 'a cut leaves no dub time');
    assert.equal(s2.master_start, 50);
    assert.equal((c.truth.gaps[0] as TruthGap).duration_seconds, 10);
  });
});

describe('synthesis', () => {
  it('is a pure function of the seed and renders the same in any chunking', () => {
    const p = buildProgramme(99, 6);
    const render = (chunk: number): Float32Array => {
      const m = new StreamMixer(p.events.map(eventSound));
      const out = new Float32Array(6 * 48000);
      for (let s = 0; s < out.length; s += chunk) {
        const n = Math.min(chunk, out.length - s);
        const l = new Float32Array(n);
        m.render(s, n, l, new Float32Array(n), new Float32Array(n));
        out.set(l, s);
      }
      return out;
    };
    const a = render(48000);
    const b = render(7919);
    assert.deepEqual(a, b);
    const rms = Math.sqrt(a.reduce((x, v) => x + v * v, 0) / a.length);
    assert.ok(rms > 0.01 && rms < 0.3, `bed level ${rms}`);
    assert.equal(new Rng('k').next(), new Rng('k').next());
    assert.notEqual(new Rng('k').fork('a').next(), new Rng('k').fork('b').next());
  });
});

describe('generator', { timeout: 120_000 }, () => {
  const roots: string[] = [];
  const tmp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'bench-test-'));
    roots.push(d);
    return d;
  };
  after(() => {
    for (const d of roots) rmSync(d, { recursive: true, force: true });
  });
  const hashFile = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

  const detCase = makeCase('t-det', 'edit', 4242, 24, {
    dub: { edits: [{ type: 'insert', at: 9, duration: 2, material: 'other' }], speed: '1001/1000', offsetSeconds: 0.3, noiseSnrDb: 12, encode: { codec: 'aac', sampleRate: 44100, channels: 2 } },
  });

  it('is deterministic: the same case twice gives identical files, and the cache skips it', async () => {
    const a = tmp();
    const b = tmp();
    await generateCase(detCase, { outRoot: a });
    await generateCase(detCase, { outRoot: b });
    const ta = readTruth(a, detCase.id) as TruthFile;
    const tb = readTruth(b, detCase.id) as TruthFile;
    for (const f of [ta.files.master, ta.files.dub]) {
      assert.equal(hashFile(join(caseDir(a, detCase.id), f)), hashFile(join(caseDir(b, detCase.id), f)), `${f} differs between runs`);
    }
    assert.equal(ta.spec_hash, tb.spec_hash);
    assert.ok(isGenerated(a, detCase));
    assert.equal((await generateCase(detCase, { outRoot: a })).skipped, true);
    // the edit + drift truth holds in the files
    const pts = await verifyCase(a, ta, 2);
    assert.ok(pts.length >= 4);
    const v = judge(ta, pts);
    assert.ok(v.ok, `truth mapping off: ${v.summary}: ${JSON.stringify(pts.map((p) => p.error_ms))}`);
  });

  it('puts a constant offset (with the AC-3 decoder delay) where the truth says', async () => {
    const root = tmp();
    const c = makeCase('t-xcorr', 'constant', 4243, 20, { dub: { offsetSeconds: 0.7377, encode: { codec: 'ac3', sampleRate: 48000, channels: 2 } } });
    await generateCase(c, { outRoot: root });
    const t = readTruth(root, c.id) as TruthFile;
    assert.equal(t.codec_delay_seconds, 256 / 48000);
    const m = await decodeMono(join(caseDir(root, c.id), t.files.master), 48000);
    const d = await decodeMono(join(caseDir(root, c.id), t.files.dub), 48000);
    const est = gccPhat(m, d, 48000 * 2);
    const measured = est.lag / 48000;
    assert.ok(Math.abs(measured - (t.offset_seconds as number)) < 0.0001, `measured ${measured} vs truth ${t.offset_seconds}`);
    assert.ok(est.peakRatio > 20);

    // the runner end to end with the oracle CLI
    const run = await runCase(t, { outRoot: root, cli: join(import.meta.dirname, 'fake-cli.ts') });
    assert.deepEqual(run.schemaIssues, []);
    assert.equal(run.score.error, null);
    assert.equal(run.score.correct, true);
    assert.equal(run.score.within1ms, true);
    assert.ok((run.score.decodeFloorSeconds ?? 0) > 0);
  });

  it('renders a dialogue case whose files carry the planned line errors where truth.json says', async () => {
    const root = tmp();
    // Same voice in the dub and no remix: the dub minus the master is then the dub's dialogue minus
    // the master's, so each line's error shows in the residual.
    const c = makeCase('t-dlg', DIALOGUE_FAMILY, 4245, 30, {
      dub: {
        remix: false, missingEffect: false, fitLines: true, voice: { ...MAIN[0]!.master.voice },
        lineErrors: [{ kind: 'shift', at: 0.2, seconds: 0.12 }, { kind: 'missing', at: 0.5 }, { kind: 'untranslated', at: 0.8 }],
      },
    });
    await generateCase(c, { outRoot: root });
    const t = readTruth(root, c.id) as TruthFile;
    const plan = buildProgramme(c.seed, c.durationSeconds).lines;
    const lines = t.dialogue?.lines as TruthLine[];
    assert.equal(lines.length, plan.length);
    assert.deepEqual(lines.map((l) => l.error), [null, 'late', null, 'missing', 'untranslated', null]);
    assert.equal(lines[1]?.shift_seconds, 0.12);
    for (const [i, l] of lines.entries()) {
      const p = plan[i]!;
      assert.ok(l.master_start >= p.start - 1 / 48000 && l.master_start < p.start + 0.3 && l.master_end > l.master_start + 0.5, `line ${i} span ${l.master_start}-${l.master_end} vs plan ${p.start}`);
      if (i > 0) assert.ok(l.master_start > (lines[i - 1] as TruthLine).master_end, 'lines do not overlap');
    }
    const sr = 16000;
    const m = await decodeMono(join(caseDir(root, c.id), t.files.master), sr);
    const d = await decodeMono(join(caseDir(root, c.id), t.files.dub), sr);
    const res = new Float32Array(m.length);
    for (let i = 0; i < m.length; i++) res[i] = (d[i] ?? 0) - (m[i] as number);
    const rms = (x: Float32Array, a: number, b: number): number => {
      let s = 0;
      const i0 = Math.round(a * sr);
      const i1 = Math.round(b * sr);
      for (let i = i0; i < i1; i++) s += (x[i] as number) ** 2;
      return Math.sqrt(s / Math.max(1, i1 - i0));
    };
    const ratio = (l: TruthLine): number => rms(res, l.master_start, l.master_end) / rms(m, l.master_start, l.master_end);
    for (const l of lines) {
      if (l.error === null) assert.ok(ratio(l) < 0.1, `clean line ${l.index} is the master's line (residual ${ratio(l).toFixed(3)})`);
      if (l.error === 'untranslated') assert.ok(ratio(l) < 0.01, `untranslated line ${l.index} is the master's own audio (residual ${ratio(l).toFixed(4)})`);
      if (l.error === 'missing') assert.ok(ratio(l) > 0.4, `missing line ${l.index} is absent from the dub (residual ${ratio(l).toFixed(3)})`);
    }
    // the late line: the residual holds the dub's copy 120 ms after the master's
    const late = lines[1] as TruthLine;
    const w0 = Math.round((late.master_start - 0.4) * sr);
    const w1 = Math.round((late.master_end + 0.4) * sr);
    const est = gccPhat(m.subarray(w0, w1), res.subarray(w0, w1), Math.round(0.3 * sr));
    assert.ok(Math.abs(est.lag / sr - 0.12) < 0.001, `shift measured ${(est.lag / sr).toFixed(4)} s`);

    // the runner with the oracle CLI: dialogue scored only with VAD
    const on = await runCase(t, { outRoot: root, cli: join(import.meta.dirname, 'fake-cli.ts'), floor: false });
    assert.deepEqual(on.schemaIssues, []);
    assert.equal(on.vad, true);
    assert.deepEqual(on.dialogue?.detected, { late: 1, early: 0, missing: 1, untranslated: 1 });
    assert.equal(on.dialogue?.falseFlags, 0);
    const off = await runCase(t, { outRoot: root, cli: join(import.meta.dirname, 'fake-cli.ts'), floor: false, vad: false });
    assert.equal(off.dialogue, null);
    assert.equal(off.score.correct, true);
  });

  it('stretches a line to an exact length keeping its shape', async () => {
    const sr = 48000;
    const x = new Float32Array(sr);
    for (let i = Math.round(0.4 * sr); i < 0.5 * sr; i++) x[i] = 0.5 * Math.sin((2 * Math.PI * 440 * i) / sr);
    const y = await stretchTo(x, Math.round(0.8 * sr));
    assert.equal(y.length, 0.8 * sr);
    const span = speechSpan(y) as { from: number; to: number };
    // the burst (0.4-0.5 s of 1 s) lands at 0.32-0.40 s of 0.8 s (atempo's overlap-add smears an onset by about half its ~40 ms window)
    assert.ok(Math.abs(span.from / sr - 0.32) < 0.025 && Math.abs(span.to / sr - 0.4) < 0.025, `burst at ${span.from / sr}-${span.to / sr} s`);
    // a stretched line keeps speech up to both ends (no fade-in/out of its own)
    const full = new Float32Array(sr).map((_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / sr));
    const z = await stretchTo(full, Math.round(sr / 1.3));
    assert.deepEqual(speechSpan(z), { from: 0, to: z.length });
  });
});

describe('dialogue lines', () => {
  it('resolves error positions to distinct planned lines', () => {
    assert.equal(resolveLineIndex(6, 0), 0);
    assert.equal(resolveLineIndex(6, 1), 5);
    assert.equal(resolveLineIndex(6, 0.5), 3);
    assert.throws(() => resolveLineIndex(0, 0.5));
    assert.throws(() => resolveLineIndex(5, 1.2));
    const plan = planLineErrors(10, [{ kind: 'missing', at: 0.1 }, { kind: 'shift', at: 0.9, seconds: -0.12 }]);
    assert.deepEqual([...plan.keys()], [1, 8]);
    assert.throws(() => planLineErrors(4, [{ kind: 'missing', at: 0.5 }, { kind: 'untranslated', at: 0.6 }]), /two line errors/);
    assert.throws(() => planLineErrors(4, [{ kind: 'shift', at: 0.5, seconds: 0 }]));
  });

  it('finds the speech span in a rendered line and resamples to exact lengths', () => {
    const x = new Float32Array(48000);
    for (let i = 4800; i < 24000; i++) x[i] = 0.3 * Math.sin(i / 7);
    x[30000] = 0.001; // below -35 dB of the burst: silence
    const span = speechSpan(x) as { from: number; to: number };
    assert.ok(Math.abs(span.from - 4800) <= 240 && Math.abs(span.to - 24000) <= 240, JSON.stringify(span));
    assert.equal(speechSpan(new Float32Array(100)), null);
    const y = fitLength(Float32Array.from([0, 1, 2, 3]), 7);
    assert.equal(y.length, 7);
    assert.ok(Math.abs((y[0] as number) - 0) < 1e-6 && Math.abs((y[6] as number) - 3) < 1e-6 && Math.abs((y[3] as number) - 1.5) < 1e-6);
    assert.equal(atempoChain(1.25), 'atempo=1.250000');
    assert.equal(atempoChain(0.3), 'atempo=0.5,atempo=0.600000');
    assert.equal(atempoChain(5), 'atempo=2,atempo=2,atempo=1.250000');
  });
});

describe('scoring', () => {
  const truthOf = (c: CaseSpec): TruthFile => ({
    ...c.truth, id: c.id, family: c.family, seed: c.seed, spec_hash: '', files: { master: 'm', dub: 'd' },
    master_duration_seconds: c.truth.programme.master_end, dub_duration_seconds: 0, expected_codec_delay_seconds: 0, generation_seconds: 0,
  });
  const meas = { wallSeconds: 2, decodeFloorSeconds: 1, measuredRssMb: 200 };
  const byId = (id: string): TruthFile => truthOf(MAIN.find((c) => c.id === id) as CaseSpec);

  it('scores a perfect answer as right on every metric', () => {
    const t = byId('edit-cut-ins');
    const s = scoreCase(t, oracleResult(t, 'm', 'd', 0, 0.97, 12), meas);
    assert.equal(s.correct, true);
    assert.equal(s.within1ms, true);
    assert.equal(s.mapShare, 1);
    assert.deepEqual(s.boundaryErrors, [0, 0, 0]);
    assert.equal(s.spuriousBoundaries, 0);
    assert.equal(s.headMasterErrorMs, 0);
    assert.equal(s.ppmError, 0);
    assert.equal(s.standardCorrect, true);
    assert.equal(s.realtimeFactor, 150 / 12);
    assert.equal(s.floorRatio, 12);
  });

  it('grades offset errors against 1 ms, 1 frame and 100 ms', () => {
    const t = byId('const-pos-2p5');
    const at = (ms: number): CaseScore => scoreCase(t, oracleResult(t, 'm', 'd', ms / 1000), meas);
    assert.deepEqual([at(0.5).within1ms, at(0.5).within1frame], [true, true]);
    assert.deepEqual([at(30).within1ms, at(30).within1frame, at(30).correct], [false, true, true]);
    assert.deepEqual([at(-50).within1frame, at(-50).within100ms, at(-50).correct], [false, true, false]);
    assert.equal(at(30).mapShare, 1);
    assert.equal(at(-50).mapShare, 0);
  });

  it('handles no-match answers, unrelated pairs and broken results', () => {
    const t = byId('const-pos-2p5');
    const noMatch: ScorableResult = { match: false, offset_seconds: null, confidence: 0.2, segments: [] };
    const s = scoreCase(t, noMatch, meas);
    assert.equal(s.correct, false);
    assert.equal(s.matchCorrect, false);
    assert.equal(s.mapShare, 0);
    const u = byId('unrel-a');
    assert.equal(scoreCase(u, noMatch, meas).correct, true);
    assert.equal(scoreCase(u, { match: true, offset_seconds: 1, confidence: 0.9 }, meas).correct, false);
    const e = scoreCase(t, null, meas, 'exit 1');
    assert.equal(e.correct, false);
    assert.equal(e.confidence, 0);
    assert.equal(e.analysisSeconds, 2, 'falls back to the wall time');
  });

  it('measures mapping and edit boundaries on a result that misses a cut', () => {
    const t = byId('edit-cut-10'); // cut master 50..60 s, offset +0.5, programme 0..120
    const oneSegment: ScorableResult = { match: true, offset_seconds: 0.5, confidence: 0.8, segments: [{ master_start: 0, master_end: 120, dub_start: 0.5, dub_end: 120.5 }], gaps: [] };
    const s = scoreCase(t, oneSegment, meas);
    // samples at 0.25, 0.75, ...: 0..50 right (100), 50..60 should be unmapped (20 wrong), 60..120 off by 10 s (120 wrong)
    assert.equal(s.mapSamples, 240);
    assert.equal(s.mapCorrect, 100);
    assert.deepEqual(s.boundaryErrors, [null, null]);
    const late: ScorableResult = {
      match: true, offset_seconds: 0.5, confidence: 0.8,
      segments: [{ master_start: 0, master_end: 50.3, dub_start: 0.5, dub_end: 50.8 }, { master_start: 60.3, master_end: 120, dub_start: 50.8, dub_end: 110.5 }],
    };
    const l = scoreCase(t, late, meas);
    assert.deepEqual(l.boundaryErrors.map((x) => Number((x as number).toFixed(3))), [0.3, 0.3]);
    assert.equal(l.mapCorrect, 240 - 2, 'only the samples at 50.25 s (mapped, but cut) and 60.25 s (unmapped) are wrong');
    assert.equal(mappingScore(t, { match: false }).correct, 20, 'a no-match result is right only where the truth is unmapped');
  });

  it('compares drift standards by value', () => {
    assert.ok(sameStandard('23.976/25', '24000/25025'));
    assert.ok(sameStandard(null, null));
    assert.ok(!sameStandard(null, '1001/1000'));
    assert.ok(!sameStandard('24/25', '1000/1001'));
    const t = byId('drift-25-23976');
    const wrongRatio = scoreCase(t, { ...oracleResult(t, 'm', 'd'), drift: { speed_ratio: 1.0427, standard: null } }, meas);
    assert.ok(wrongRatio.ppmError !== null && wrongRatio.ppmError > 5 && wrongRatio.ppmError < 20);
    assert.equal(wrongRatio.standardCorrect, false);
  });

  it('computes the reliability table and ECE', () => {
    const rows = [
      ...Array.from({ length: 8 }, (_, i) => ({ confidence: 0.95, correct: i < 7 })),
      ...Array.from({ length: 2 }, () => ({ confidence: 0.15, correct: false })),
    ];
    const r = reliability(rows);
    assert.equal(r.bins[9]?.count, 8);
    assert.equal(r.bins[9]?.accuracy, 7 / 8);
    assert.equal(r.bins[1]?.count, 2);
    // 0.8 * |0.875 - 0.95| + 0.2 * |0 - 0.15|
    assert.ok(Math.abs((r.ece as number) - (0.8 * 0.075 + 0.2 * 0.15)) < 1e-12);
    assert.equal(reliability([{ confidence: 1, correct: true }]).bins[9]?.count, 1, 'confidence 1.0 falls in the top bin');
  });

  it('evaluates targets and prints a report', () => {
    const scores = MAIN.map((c) => {
      const t = truthOf(c);
      return scoreCase(t, oracleResult(t, 'm', 'd', 0, 0.999, 1), meas);
    });
    const targets = evaluateTargets(scores);
    for (const tg of targets) if (tg.pass !== null) assert.equal(tg.pass, true, `${tg.name}: ${tg.figure}`);
    assert.equal(targets.filter((tg) => tg.pass === null).length, 2, 'the --long targets are n/a');
    // one confidently wrong answer fails two targets
    const t = byId('lang-en-de');
    const bad = scoreCase(t, oracleResult(t, 'm', 'd', 0.4, 0.95), meas);
    const withBad = [...scores.filter((s) => s.id !== t.id), bad];
    const failed = evaluateTargets(withBad).filter((x) => x.pass === false).map((x) => x.name);
    assert.ok(failed.includes('confidence >= 0.9 is right'));
    assert.ok(failed.includes('wrong answers have confidence < 0.5'));
    assert.ok(failed.includes('language: offset within 1 frame'));
    const rep = fullReport(withBad);
    assert.match(rep.text, /FAIL/);
    assert.match(rep.text, /lang-en-de\s+confidence 0\.950\s+offset error 400\.0 ms/);
  });

  it('parses the CLI output', () => {
    assert.deepEqual(parseCliOutput('{"a":1}\n'), { a: 1 });
    assert.deepEqual(parseCliOutput('log line\n{"a":2}\n'), { a: 2 });
    assert.throws(() => parseCliOutput('nothing'));
  });
});

describe('dialogue and VAD scoring', () => {
  const tl = (index: number, start: number, end: number, error: LineErrorClass | null = null): TruthLine =>
    ({ index, master_start: start, master_end: end, error, shift_seconds: error === 'late' ? 0.12 : error === 'early' ? -0.12 : null });
  const truthLines = [tl(0, 1, 3), tl(1, 4, 6, 'late'), tl(2, 7, 9, 'early'), tl(3, 10, 12, 'missing'), tl(4, 13, 15, 'untranslated'), tl(5, 16, 18)];
  type Line = NonNullable<ResultDialogue['lines']>[number];
  const rl = (start: number, end: number, issue: Line['issue'], sd: number | null = 0, ed: number | null = 0): Line =>
    ({ master_start: start, master_end: end, flagged: issue !== null, issue, start_diff_ms: sd, end_diff_ms: ed });

  it('detects each planned error by class and sign, and counts false flags', () => {
    const dialogue: ResultDialogue = {
      lines: [
        rl(0.97, 3.1, 'late_end', 0, 130), // clean line flagged: a false flag
        rl(3.95, 6.2, 'start_and_end', 124, 120),
        rl(6.9, 9.0, 'early_start', -125, -60),
        rl(9.97, 12.03, 'missing', null, null),
        rl(12.97, 15.03, null, 4, 4), // not flagged in lines[] but listed as untranslated
        rl(15.97, 18.03, null, 4, -28),
        rl(20, 20.6, 'missing', null, null), // speech found in the bed: a false flag off speech
      ],
      untranslated: [{ master_start: 12.97, master_end: 15.03 }],
    };
    const s = scoreDialogue('x', truthLines, dialogue);
    assert.deepEqual(s.planned, { late: 1, early: 1, missing: 1, untranslated: 1 });
    assert.deepEqual(s.detected, { late: 1, early: 1, missing: 1, untranslated: 1 });
    assert.equal(s.resultLines, 7);
    assert.equal(s.cleanResultLines, 3);
    assert.equal(s.falseFlags, 2);
    assert.equal(s.falseFlagsOffSpeech, 1);
    assert.deepEqual(s.falseFlagIssues, { late_end: 1, missing: 1 });
    assert.deepEqual(s.cleanDiffsMs, [0, 130, 4, 28]);
    assert.equal(s.control, false);

    // wrong sign, mixed signs, unflagged and absent lines are misses
    const wrong: ResultDialogue = { lines: [rl(4, 6, 'early_start', -90, 0), rl(7, 9, 'start_and_end', -130, 140), rl(10, 12, null, 0, 0)] };
    const w = scoreDialogue('w', truthLines, wrong);
    assert.deepEqual(w.detected, { late: 0, early: 0, missing: 0, untranslated: 0 });
    assert.match(w.plannedLines.find((p) => p.error === 'untranslated')?.got ?? '', /no line/);
    assert.match(w.plannedLines.find((p) => p.error === 'missing')?.got ?? '', /not flagged/);
    assert.ok(lineHasClass(rl(0, 1, 'late_start', 90, 0), 'late'));
    assert.ok(!lineHasClass(rl(0, 1, 'start_and_end', 90, -90), 'late'));
    assert.ok(lineHasClass(rl(0, 1, 'start_and_end', -90, -120), 'early'));

    const none = scoreDialogue('n', truthLines, null);
    assert.equal(none.available, false);
    assert.equal(none.plannedLines.length, 4);
  });

  it('aggregates dialogue scores and applies the targets (>= 80% per kind, <= 10% false flags on controls)', () => {
    const clean = truthLines.map((l) => ({ ...l, error: null, shift_seconds: null }));
    const ctl = (flags: number): ReturnType<typeof scoreDialogue> =>
      scoreDialogue('c', clean, { lines: clean.map((l, i) => rl(l.master_start, l.master_end, i < flags ? 'late_end' : null, 0, i < flags ? 100 : 0)) });
    const good = scoreDialogue('g', truthLines, { lines: [rl(4, 6, 'late_start', 120, 30), rl(7, 9, 'early_end', 0, -120), rl(10, 12, 'missing'), rl(13, 15, 'untranslated')] });
    const agg = aggregateDialogue([good, ctl(0)]);
    assert.equal(agg.controlCases, 1);
    assert.equal(agg.controlLines, 6);
    const t = dialogueTargets(agg);
    assert.equal(t.length, 5);
    assert.ok(t.every((x) => x.pass === true), JSON.stringify(t));
    // 1 false flag in 6 control lines (16.7%) fails; a missed kind fails that kind only
    const bad = aggregateDialogue([scoreDialogue('b', truthLines, { lines: [rl(4, 6, 'late_start', 120, 30)] }), ctl(1)]);
    const tb = dialogueTargets(bad);
    assert.deepEqual(tb.map((x) => x.pass), [true, false, false, false, false]);
    assert.deepEqual(dialogueTargets(null).map((x) => x.pass), [null, null, null, null, null]);
    const text = dialogueSection([good, ctl(1)], aggregateDialogue([good, ctl(1)]));
    assert.match(text, /false flags: clean controls 16\.7% \(1\/6\)/);
    assert.match(text, /late {10}detected 100\.0% \(1\/1\)/);
  });

  const truthOf = (c: CaseSpec): TruthFile => ({
    ...c.truth, id: c.id, family: c.family, seed: c.seed, spec_hash: '', files: { master: 'm', dub: 'd' },
    master_duration_seconds: c.truth.programme.master_end, dub_duration_seconds: 0, expected_codec_delay_seconds: 0, generation_seconds: 0,
  });
  const meas = { wallSeconds: 2, decodeFloorSeconds: 1, measuredRssMb: 200 };
  const run = (ids: string[], errMs: Record<string, number>, seconds: number, vad: boolean): CaseScore[] => ids.map((id) => {
    const t = truthOf(MAIN.find((c) => c.id === id) as CaseSpec);
    const r = oracleResult(t, 'm', 'd', (errMs[id] ?? 0) / 1000, 0.99, seconds, vad);
    if (vad && r.inference) r.inference.seconds = 0.5;
    return scoreCase(t, r, meas);
  });
  const ids = ['const-pos-2p5', 'const-neg-1p75', 'lang-en-de', 'lang-en-fr', 'edit-cut-10'];

  it('compares VAD off and on per family: regressions beyond noise fail the target', () => {
    const off = run(ids, { 'lang-en-de': 0.9, 'lang-en-fr': 0.9 }, 2, false);
    const same = compareVad(off, run(ids, { 'const-pos-2p5': 0.4, 'lang-en-de': 1.3, 'lang-en-fr': 1.3 }, 3, true));
    assert.deepEqual(same.map((r) => r.family), ['constant', 'language', 'edit', 'ALL']);
    assert.ok(same.every((r) => r.regressions.length === 0), 'within 0.5 ms of the median: noise');
    assert.equal(vadTarget(same).pass, true);
    assert.match(vadImprovement(same[0]!), /unchanged \(already perfect with VAD off\)/);

    const worse = compareVad(off, run(ids, { 'lang-en-de': 50, 'lang-en-fr': 1.6 }, 3, true));
    const lang = worse.find((r) => r.family === 'language')!;
    assert.ok(lang.regressions.some((x) => x.startsWith('correct 2 -> 1')), lang.regressions.join());
    assert.ok(lang.regressions.some((x) => x.startsWith('median |err|')));
    assert.equal(vadTarget(worse).pass, false);
    assert.match(vadTarget(worse).figure, /language: correct 2 -> 1/);

    const better = compareVad(off, run(ids, {}, 3, true)).find((r) => r.family === 'language')!;
    assert.deepEqual(better.regressions, []);
    assert.match(vadImprovement(better), /^improved/);
    assert.equal(vadTarget([]).pass, null);
    const text = vadTable(worse, run(ids, {}, 3, true));
    assert.match(text, /language +2 +2\/2 +1\/2 /);
    assert.match(text, /REGRESSES/);
  });

  it('reports the cost of VAD, and the 2.5 x floor target on the 60-minute pair', () => {
    const off = run(ids, {}, 2, false);
    const on = run(ids, {}, 3, true);
    const c = vadCost(off, on);
    assert.equal(c.cases, 5);
    assert.equal(c.ratio, 1.5);
    assert.equal(c.inferenceSeconds, 2.5);
    assert.equal(c.addedPerFloor, 1);
    const l60 = (analysis: number, floor: number): CaseScore => ({ ...on[0]!, id: 'long-60min', analysisSeconds: analysis, decodeFloorSeconds: floor, floorRatio: analysis / floor });
    const pass = vadLongTarget([l60(60, 50)], [l60(100, 50)]);
    assert.equal(pass.pass, true);
    assert.match(pass.figure, /^2\.00 \(VAD adds 0\.80 x floor\)/);
    assert.equal(vadLongTarget([l60(60, 50)], [l60(130, 50)]).pass, false);
    assert.equal(vadLongTarget(off, on).pass, null);
    // the older <= 1.5 target can read the VAD-off run
    const t = evaluateTargets([l60(100, 50)], { floorScores: [l60(60, 50)], floorLabel: 'VAD off' }).find((x) => x.name.startsWith('60-min'))!;
    assert.equal(t.name, '60-min pair: analysis time (VAD off) / decode floor');
    assert.equal(t.pass, true);
    const rep = fullReport(on, { note: 'NOTE', sections: ['SECTION'], extraTargets: [vadTarget(compareVad(off, on))] });
    assert.match(rep.text, /NOTE[\s\S]*SECTION[\s\S]*no family regresses with VAD.*PASS/);
  });
});
