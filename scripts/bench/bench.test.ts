import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FAMILIES, computeTruth, dubPieces, standardRatio, truthMap } from './case.ts';
import type { CaseSpec, TruthGap, TruthSegment } from './case.ts';
import { oracleResult } from './fake-cli.ts';
import { caseDir, generateCase, isGenerated, readTruth } from './generate.ts';
import type { TruthFile } from './generate.ts';
import { decodeMono } from './proc.ts';
import { Rng } from './prng.ts';
import { fullReport } from './report.ts';
import { parseCliOutput, runCase } from './run.ts';
import { evaluateTargets, mappingScore, reliability, sameStandard, scoreCase } from './score.ts';
import type { CaseScore, ScorableResult } from './score.ts';
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
    const fp = fingerprint(MAIN);
    assert.equal(fp, MAIN_FINGERPRINT, `the main spec changed (fingerprint now ${fp}): see the comment on MAIN_FINGERPRINT`);
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
    assert.ok(seconds <= 2.75 * 3600, `main corpus is ${(seconds / 3600).toFixed(2)} h of programme`);
    assert.ok(MAIN.filter((c) => c.durationSeconds >= 600).length >= 3, 'several programmes of 10 minutes or more');
    for (const c of MAIN) if (c.durationSeconds < 600) assert.ok(c.durationSeconds >= 120 && c.durationSeconds <= 240, `${c.id}: 2-4 min`);
    const quick = selectCases({ quick: true });
    assert.equal(quick.length, QUICK_IDS.length);
    for (const f of FAMILIES) assert.equal(quick.filter((c) => c.family === f).length, 2, `quick has 2 ${f} cases`);
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
