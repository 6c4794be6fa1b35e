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
