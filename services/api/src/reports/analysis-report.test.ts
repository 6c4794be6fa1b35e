import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import { analysisReportCsv, analysisReportHtml, analysisReportJson, EDIT_MAP_COLUMNS } from './analysis-report.ts';
import { GAPS, SEGMENTS, TRACK, makeFailedRecord, makeNoMatchResult, makeRecord, makeResult, media } from './test-fixtures.ts';

const EVIL = '<script>alert(1)</script>.wav';

/** Splits the CSV back into the summary map and the edit-map rows (objects keyed by column). */
function readCsv(csv: string): { summary: Map<string, string>; rows: Record<string, string>[] } {
  const records = parse(csv, { relax_column_count: true, skip_empty_lines: false }) as string[][];
  assert.deepEqual(records[0], ['field', 'value']);
  const blank = records.findIndex((r) => r.length === 1 && r[0] === '');
  assert.ok(blank > 0, 'a blank line separates the summary from the edit map');
  const summary = new Map(records.slice(1, blank).map((r) => [r[0]!, r[1]!]));
  const header = records[blank + 1]!;
  assert.deepEqual(header, [...EDIT_MAP_COLUMNS]);
  const rows = records.slice(blank + 2).map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]!])));
  return { summary, rows };
}

describe('analysisReportJson', () => {
  test('carries the record context and the result exactly as stored', () => {
    const rec = makeRecord({ batchId: 'ba_1', batchIndex: 4, episode: '104', notes: 'check reel 2' });
    const doc = analysisReportJson(rec);
    assert.equal(doc.result, rec.result, 'the stored object itself, not a copy that could be rescaled');
    assert.deepEqual(JSON.parse(JSON.stringify(doc)).result, JSON.parse(JSON.stringify(rec.result)));
    assert.deepEqual(doc.files, { master: 'show/ep01/master.mov', dub: 'show/ep01/dub_de.wav' });
    assert.deepEqual(doc.fingerprints.master, { size: 5_760_044, mtime_ms: rec.masterFingerprint.mtimeMs, head_tail_sha256: 'ab'.repeat(32) });
    assert.deepEqual(doc.options, { frameRate: '25' });
    assert.deepEqual(doc.batch, { id: 'ba_1', index: 4, episode: '104', notes: 'check reel 2' });
    assert.equal(doc.timings.queued_seconds, 2);
    assert.equal(doc.timings.run_seconds, 3.5);
    assert.equal(doc.engine_version, rec.result!.engine.version);
    assert.equal(doc.schema_version, rec.result!.schema_version);
    assert.equal(doc.error, null);
  });

  test('failed record: result null, error kept', () => {
    const doc = analysisReportJson(makeFailedRecord());
    assert.equal(doc.result, null);
    assert.equal(doc.error?.code, 'DECODE_ERROR');
    assert.equal(doc.timings.run_seconds, 1);
  });
});

describe('analysisReportCsv', () => {
  test('parses back: summary values and one row per segment and gap in master order', () => {
    const { summary, rows } = readCsv(analysisReportCsv(makeRecord()));
    assert.equal(summary.get('verdict'), 'edited');
    assert.equal(summary.get('offset_seconds'), '0.52');
    assert.equal(summary.get('offset_ms'), '520');
    assert.equal(summary.get('offset_frames'), '13');
    assert.equal(summary.get('offset_timecode'), '+00:00:00:13');
    assert.equal(summary.get('frame_rate'), '25');
    assert.equal(summary.get('master_start_timecode'), '10:00:00:00');
    assert.equal(summary.get('drift_speed_ratio'), '1');
    assert.equal(summary.get('match'), 'true');
    assert.equal(summary.get('confidence'), '0.93');
    assert.equal(rows.length, SEGMENTS.length + GAPS.length);
    assert.deepEqual(rows.map((r) => r.kind), ['segment', 'removed', 'segment', 'inserted', 'segment']);
    assert.deepEqual(rows[0], {
      kind: 'segment', index: '1',
      master_in_s: '0', master_out_s: '20', master_in_tc: '10:00:00:00', master_out_tc: '10:00:20:00',
      dub_in_s: '0.52', dub_out_s: '20.52',
      offset_s: '0.52', offset_ms: '520', offset_frames: '13', offset_tc: '+00:00:00:13',
      offset_end_s: '0.52', duration_s: '20', confidence: '0.97',
    });
    // A negative offset is a plain number (not neutralised as if it were a formula).
    assert.equal(rows[2]!.offset_s, '-1.48');
    assert.equal(rows[2]!.offset_ms, '-1480');
    assert.equal(rows[2]!.offset_frames, '-37');
    assert.equal(rows[2]!.offset_tc, '-00:00:01:12');
    assert.equal(rows[2]!.master_in_tc, '10:00:22:00');
    assert.deepEqual([rows[1]!.master_in_tc, rows[1]!.master_out_tc, rows[1]!.duration_s, rows[1]!.offset_s], ['10:00:20:00', '10:00:22:00', '2', '']);
    assert.deepEqual([rows[3]!.master_in_s, rows[3]!.dub_in_s, rows[3]!.dub_out_s, rows[3]!.duration_s], ['40', '38.52', '41.52', '3']);
  });

  test('RFC 4180 quoting and formula neutralisation of user text', () => {
    const rec = makeRecord({ masterPath: 'a, "quoted"\nname.mov', notes: '=HYPERLINK("http://evil.example","x")', episode: '-1' });
    const csv = analysisReportCsv(rec);
    assert.ok(csv.includes('"a, ""quoted""\nname.mov"'), 'comma, quote and newline quoted per RFC 4180');
    assert.ok(csv.includes('\r\n'), 'CRLF record separators');
    const { summary } = readCsv(csv);
    assert.equal(summary.get('master'), 'a, "quoted"\nname.mov');
    assert.equal(summary.get('notes'), `'=HYPERLINK("http://evil.example","x")`);
    assert.equal(summary.get('episode'), "'-1");
  });

  test('failed record: summary with the error, empty edit map', () => {
    const { summary, rows } = readCsv(analysisReportCsv(makeFailedRecord({ errorMessage: '@SUM(1)' })));
    assert.equal(summary.get('status'), 'failed');
    assert.equal(summary.get('verdict'), '');
    assert.equal(summary.get('error'), 'DECODE_ERROR: @SUM(1)');
    assert.equal(rows.length, 0);
  });
});

describe('analysisReportHtml', () => {
  test('self-contained page: no scripts, no external resources', () => {
    const html = analysisReportHtml(makeRecord());
    assert.match(html, /^<!DOCTYPE html>/);
    assert.ok(!/<script/i.test(html), 'no script element');
    assert.ok(!/\s(src|href)=/i.test(html), 'no external resources');
    assert.ok(!/url\(/i.test(html), 'no CSS urls');
    assert.match(html, /<style>/);
  });

  test('escapes user-controlled text (file names, notes, error)', () => {
    const html = analysisReportHtml(makeRecord({ dubPath: `show/${EVIL}`, masterPath: `"><img onerror=x>.mov`, notes: '<b>n</b>', episode: '<i>' }));
    assert.ok(!html.includes('<script>alert(1)'), 'no live script');
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;.wav'));
    assert.ok(!html.includes('<img'), 'no injected element');
    assert.ok(html.includes('&quot;&gt;&lt;img onerror=x&gt;.mov'));
    assert.ok(html.includes('&lt;b&gt;n&lt;/b&gt;'));
    const failed = analysisReportHtml(makeFailedRecord({ dubPath: EVIL }));
    assert.ok(!failed.includes('<script>'));
    assert.ok(failed.includes('could not decode &lt;dub.wav&gt;'));
  });

  test('the key facts are on the page', () => {
    const html = analysisReportHtml(makeRecord());
    assert.match(html, /class="badge"[^>]*>EDITED</);
    assert.ok(html.includes('+0.520000 s'));
    assert.ok(html.includes('+520.000 ms'));
    assert.ok(html.includes('+13.000'), 'frames at 25');
    assert.ok(html.includes('+00:00:00:13'));
    assert.ok(html.includes('1.000000000'), 'speed ratio');
    assert.ok(html.includes('93%'), 'confidence');
    assert.ok(html.includes('removed 2.00 s at master 20.00 s'), 'reasons');
    assert.ok(html.includes('bars/tone: 0.000 – 1.500 s, 1000 Hz'), 'head findings');
    assert.ok(html.includes('10:00:20:00 – 10:00:22:00'), 'edit map in master timecode');
    assert.ok(html.includes('removed from dub') && html.includes('inserted in dub'));
    assert.ok(html.includes('ab'.repeat(32)), 'fingerprint');
    assert.ok(html.includes('&quot;matchThreshold&quot;') || html.includes('&quot;'), 'engine parameters');
    assert.equal((html.match(/<tr class="segment">/g) ?? []).length, SEGMENTS.length);
    assert.equal((html.match(/<tr class="gap">/g) ?? []).length, GAPS.length);
  });

  test('SVG plot: one point per offset_track entry, segment lines, gaps, labelled ticks', () => {
    const html = analysisReportHtml(makeRecord());
    const svg = /<svg class="offset-plot"[\s\S]*?<\/svg>/.exec(html)?.[0];
    assert.ok(svg, 'inline SVG present');
    assert.equal((svg.match(/<circle class="pt"/g) ?? []).length, TRACK.length);
    assert.equal((svg.match(/<line class="seg"/g) ?? []).length, SEGMENTS.length);
    assert.equal((svg.match(/class="gap gap-removed"/g) ?? []).length, 1);
    assert.equal((svg.match(/class="gap gap-inserted"/g) ?? []).length, 1);
    // 60 s of master: ticks every 10 s labelled mm:ss.
    const xTicks = [...svg.matchAll(/class="tick tick-x"[^>]*>([^<]+)</g)].map((m) => m[1]);
    assert.deepEqual(xTicks, ['00:00', '00:10', '00:20', '00:30', '00:40', '00:50', '01:00']);
    const yTicks = [...svg.matchAll(/class="tick tick-y" x="[\d.]+" y="([\d.]+)"[^>]*>([^<]+)</g)].map((m) => ({ y: Number(m[1]), v: Number(m[2]) }));
    assert.deepEqual(yTicks.map((t) => t.v), [-1500, -1000, -500, 0, 500, 1000, 1500], 'offset ticks (ms) span -1480..+1520');
    // The first point (+520 ms) is drawn between the 500 and 1000 ms ticks (SVG y grows downwards).
    const cy = Number(/<circle class="pt" cx="[\d.]+" cy="([\d.]+)"/.exec(svg)![1]);
    const yAt = (v: number): number => yTicks.find((t) => t.v === v)!.y;
    assert.ok(cy < yAt(500) && cy > yAt(1000), `cy ${cy}`);
    assert.ok(Math.abs(cy - (yAt(500) + (yAt(1000) - yAt(500)) * (20 / 500))) < 0.5, 'linear offset axis');
    // Shading: the outlier (confidence 0) is the faintest point, a confident one is darker.
    const opacities = [...svg.matchAll(/<circle class="pt"[^>]*fill-opacity="([\d.]+)"/g)].map((m) => Number(m[1]));
    assert.equal(opacities.length, TRACK.length);
    assert.equal(Math.min(...opacities), 0.12);
    assert.ok(Math.max(...opacities) > 0.9);
  });

  test('long masters label ticks h:mm:ss', () => {
    const result = makeResult({ master: media({ duration: 2 * 3600 }), offset_track: [{ master_time: 10, offset_seconds: 0.5, confidence: 1 }, { master_time: 7000, offset_seconds: 0.5, confidence: 1 }] });
    const html = analysisReportHtml(makeRecord({ result }));
    const xTicks = [...html.matchAll(/class="tick tick-x"[^>]*>([^<]+)</g)].map((m) => m[1]);
    assert.ok(xTicks.includes('1:00:00') && xTicks.includes('2:00:00'), xTicks.join(' '));
    assert.equal((html.match(/<circle class="pt"/g) ?? []).length, 2);
  });

  test('no match and failed records still render a page', () => {
    const noMatch = analysisReportHtml(makeRecord({ result: makeNoMatchResult() }));
    assert.match(noMatch, /class="badge"[^>]*>NO MATCH</);
    assert.ok(noMatch.includes('no offset measurements to plot'));
    assert.ok(!noMatch.includes('<svg'));
    const failed = analysisReportHtml(makeFailedRecord());
    assert.match(failed, /<\/html>\s*$/);
    assert.match(failed, /class="badge"[^>]*>FAILED</);
    assert.ok(failed.includes('DECODE_ERROR: ffmpeg could not decode'));
    const cancelled = analysisReportHtml(makeFailedRecord({ status: 'cancelled', errorCode: 'CANCELLED', errorMessage: 'cancelled by user' }));
    assert.ok(cancelled.includes('Analysis cancelled'));
  });
});

describe('dialogue timing in the reports', () => {
  const line = (over: Record<string, unknown>) => ({
    index: 0, master_start: 10, master_end: 12, dub_start: 10.52, dub_end: 12.52, mapped_start: 10, mapped_end: 12,
    start_diff_ms: 0, end_diff_ms: 0, start_diff_frames: 0, end_diff_frames: 0, start_uncertainty_ms: 0, end_uncertainty_ms: 0,
    timing: 'waveform', flagged: false, review: false, issue: null, same_audio: 0.1, ...over,
  });
  const dialogue = {
    frame_rate: 25, threshold_frames: 2, missing: [{ master_start: 30, master_end: 32 }], untranslated: [], extra: [],
    lines: [
      line({ index: 0, start_diff_ms: 120, end_diff_ms: 40, start_diff_frames: 3, end_diff_frames: 1, start_uncertainty_ms: 0, end_uncertainty_ms: 35, flagged: true, issue: 'late_start' }),
      line({ index: 1, master_start: 20, master_end: 22, start_diff_ms: 64, start_diff_frames: 1.6, start_uncertainty_ms: 30, review: true }),
      line({ index: 2, master_start: 30, master_end: 32, dub_start: null, dub_end: null, mapped_start: null, mapped_end: null, start_diff_ms: null, end_diff_ms: null, start_diff_frames: null, end_diff_frames: null, start_uncertainty_ms: null, end_uncertainty_ms: null, timing: null, flagged: true, issue: 'missing', same_audio: null }),
    ],
    summary: { lines: 3, paired: 2, flagged: 2, review: 1, missing: 1, untranslated: 0, extra: 0 },
  };
  const record = () => makeRecord({ result: makeResult({ dialogue: dialogue as never, speech: null, inference: null }) });

  test('CSV: one row per line with the uncertainty, the timing source and the review mark', () => {
    const csv = analysisReportCsv(record());
    const lines = csv.split(/\r?\n/);
    const header = lines.findIndex((l) => l.startsWith('line,master_in'));
    assert.ok(header > 0, 'dialogue section present');
    const rows = parse(lines.slice(header, header + 4).join('\n'), { columns: true }) as Record<string, string>[];
    assert.equal(rows.length, 3);
    assert.equal(rows[0]!.issue, 'late_start');
    assert.equal(rows[0]!.end_uncertainty_ms, '35');
    assert.equal(rows[0]!.timing, 'waveform');
    assert.equal(rows[1]!.review, 'true');
    assert.equal(rows[1]!.flagged, 'false');
    assert.equal(rows[2]!.issue, 'missing');
    assert.equal(rows[2]!.timing, '');
  });

  test('HTML: review lines in the lane and the table, with the uncertainty', () => {
    const html = analysisReportHtml(record());
    assert.ok(html.includes('#2e86c1'), 'a review line is coloured in the lane');
    assert.match(html, /1 to review/);
    assert.match(html, /<td>review<\/td>/);
    assert.ok(html.includes('\u00b135 ms'), 'uncertainty shown');
    assert.match(html, /<td>late start<\/td>/);
  });
});
