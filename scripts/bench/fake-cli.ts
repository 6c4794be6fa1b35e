// A stand-in for the product CLI, for testing the benchmark runner before the real one exists:
// `node --import tsx scripts/bench/fake-cli.ts analyze --json MASTER DUB` prints an AnalysisResult
// built from the truth.json next to MASTER (an oracle). FAKE_CLI_ERROR_MS adds that many ms to the
// offset and FAKE_CLI_CONFIDENCE sets the confidence, to exercise the scoring. Without --no-vad it
// also answers the dialogue timing QC from the truth (every planned line error found, no false flags).
//
//   npm run bench -- --quick --cli scripts/bench/fake-cli.ts
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SCHEMA_VERSION } from '../../shared/engine/src/result.ts';
import type { AnalysisResult, MediaInfo } from '../../shared/engine/src/result.ts';
import type { TruthFile } from './generate.ts';

function media(path: string, duration: number, programmeStart: number): MediaInfo {
  return {
    path, format: 'fake', duration, audio_streams: [], selected: 'stream 0', video_frame_rate: null, video_frame_rate_label: null,
    start_timecode: null, head: { findings: [], programme_start: programmeStart, tail_start: null },
  };
}

type DialogueReport = NonNullable<AnalysisResult['dialogue']>;

/** The dialogue report a perfect product would give for the truth's lines (at 24 fps, as for audio-only files). */
export function oracleDialogue(t: Pick<TruthFile, 'dialogue'>): DialogueReport | null {
  if (!t.dialogue) return null;
  const fps = 24;
  const lines: DialogueReport['lines'] = t.dialogue.lines.map((l) => {
    const shift = l.shift_seconds ?? 0;
    const missing = l.error === 'missing';
    const ms = l.master_start + shift;
    const me = l.master_end + shift;
    const issue = l.error === 'late' || l.error === 'early' ? 'start_and_end' : l.error === 'missing' ? 'missing' : l.error === 'untranslated' ? 'untranslated' : null;
    return {
      index: l.index, master_start: l.master_start, master_end: l.master_end,
      dub_start: missing ? null : ms, dub_end: missing ? null : me, mapped_start: missing ? null : ms, mapped_end: missing ? null : me,
      start_diff_ms: missing ? null : shift * 1000, end_diff_ms: missing ? null : shift * 1000,
      start_diff_frames: missing ? null : shift * fps, end_diff_frames: missing ? null : shift * fps,
      start_uncertainty_ms: missing ? null : 0, end_uncertainty_ms: missing ? null : 0, timing: missing ? null : 'waveform',
      flagged: issue !== null, review: false, issue, same_audio: l.error === 'untranslated' ? 1 : 0,
    };
  });
  const missing = lines.filter((l) => l.issue === 'missing').map((l) => ({ master_start: l.master_start, master_end: l.master_end }));
  const untranslated = lines.filter((l) => l.issue === 'untranslated').map((l) => ({ master_start: l.master_start, master_end: l.master_end, similarity: 1 }));
  return {
    frame_rate: fps, threshold_frames: 2, lines, missing, untranslated, extra: [],
    summary: { lines: lines.length, paired: lines.length - missing.length, flagged: lines.filter((l) => l.flagged).length, review: 0, missing: missing.length, untranslated: untranslated.length, extra: 0 },
  };
}

export function oracleResult(t: TruthFile, masterPath: string, dubPath: string, errorSeconds = 0, confidence = 0.99, seconds = 0.01, vad = false): AnalysisResult {
  const r = t.speed_ratio ?? 1;
  const off = t.offset_seconds === null ? null : t.offset_seconds + errorSeconds;
  const standard = t.standard;
  return {
    schema_version: SCHEMA_VERSION,
    match: t.match,
    verdict: !t.match ? 'no_match' : t.gaps.length ? 'edited' : standard ? 'drift' : Math.abs(off ?? 0) < 1 / 48 ? 'in_sync' : 'offset',
    reasons: ['oracle'],
    summary: off === null ? 'no match' : `dub is ${off.toFixed(3)} s late`,
    offset_seconds: off,
    confidence,
    drift: t.match ? { speed_ratio: r, ppm: (r - 1) * 1e6, standard, direction: r > 1 ? 'late' : r < 1 ? 'early' : 'none' } : null,
    segments: t.segments.map((s) => ({
      ...s, dub_start: s.dub_start + errorSeconds, dub_end: s.dub_end + errorSeconds,
      offset_seconds: s.dub_start + errorSeconds - s.master_start, offset_end_seconds: s.dub_end + errorSeconds - s.master_end, confidence,
    })),
    gaps: t.gaps.map((g) => ({ ...g })),
    offset_track: [],
    frames: null,
    reference_frame_rate: '24',
    polarity_inverted: null,
    master: media(masterPath, t.master_duration_seconds, t.head.master_programme_start),
    dub: media(dubPath, t.dub_duration_seconds, t.head.dub_programme_start),
    timing: { total: seconds },
    resources: { peak_rss_mb: Math.round(process.memoryUsage().rss / 1048576) },
    diagnostics: { oracle: 1 },
    engine: { name: 'fake-cli', version: '0', parameters: {} },
    speech: null,
    dialogue: vad && t.match ? oracleDialogue(t) : null,
    inference: vad ? { provider: 'cpu', model: 'oracle', model_sha256: '', warmup_ms: 0, seconds: 0 } : null,
  };
}

function main(argv: string[]): number {
  const started = process.hrtime.bigint();
  const files = argv.filter((a) => !a.startsWith('--') && a !== 'analyze');
  const [master, dub] = files;
  if (argv[0] !== 'analyze' || !master || !dub) {
    process.stderr.write('usage: fake-cli analyze --json MASTER DUB\n');
    return 2;
  }
  const truth = JSON.parse(readFileSync(join(dirname(master), 'truth.json'), 'utf8')) as TruthFile;
  const err = Number(process.env.FAKE_CLI_ERROR_MS ?? 0) / 1000;
  const conf = Number(process.env.FAKE_CLI_CONFIDENCE ?? 0.99);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(`${JSON.stringify(oracleResult(truth, master, dub, err, conf, seconds, !argv.includes('--no-vad')))}\n`);
  return 0;
}

if (process.argv[1]?.endsWith('fake-cli.ts')) process.exit(main(process.argv.slice(2)));
