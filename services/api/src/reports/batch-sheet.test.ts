import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BatchSheetError, MAX_SHEET_ROWS, parseBatchSheet } from './batch-sheet.ts';

function sheetError(text: string): BatchSheetError {
  try {
    parseBatchSheet(text);
  } catch (err) {
    assert.ok(err instanceof BatchSheetError, `expected BatchSheetError, got ${String(err)}`);
    assert.equal(err.name, 'BatchSheetError');
    return err;
  }
  assert.fail('the sheet was accepted');
}

describe('parseBatchSheet', () => {
  test('basic comma sheet with line numbers', () => {
    const { rows } = parseBatchSheet('master,dub,episode,notes\nm1.mov,d1.wav,101,first\nm2.mov,d2.wav,,\n');
    assert.deepEqual(rows, [
      { line: 2, master: 'm1.mov', dub: 'd1.wav', episode: '101', notes: 'first' },
      { line: 3, master: 'm2.mov', dub: 'd2.wav', episode: null, notes: null },
    ]);
  });

  test('every alias set, case-insensitive and trimmed headers', () => {
    const sets = [
      ['master', 'dub', 'episode', 'notes'],
      ['MASTER_FILE', 'Dub_File', 'EP', 'Note'],
      [' aref ', ' wild', 'episode ', 'comment'],
      ['Reference', 'DUB_PATH', 'Ep', 'Comment'],
      ['Master File', 'dub-path', 'EPISODE', 'NOTES'],
    ];
    for (const [m, d, e, n] of sets) {
      // Columns in a different order each time: the header decides.
      const { rows } = parseBatchSheet(`${n},${d},${e},${m}\nsome note,dub.wav,7,master.mov\n`);
      assert.deepEqual(rows, [{ line: 2, master: 'master.mov', dub: 'dub.wav', episode: '7', notes: 'some note' }], `${m}/${d}/${e}/${n}`);
    }
  });

  test('semicolon delimiter detected from the header; commas then stay in the cell', () => {
    const { rows } = parseBatchSheet('Master;Dub;Notes\nm.mov;d.wav;late, check reel 2\n');
    assert.deepEqual(rows, [{ line: 2, master: 'm.mov', dub: 'd.wav', episode: null, notes: 'late, check reel 2' }]);
  });

  test('BOM, CRLF (normalised to LF), quoted commas, quotes and line breaks inside quotes', () => {
    const text = '\uFEFFmaster,dub,notes\r\n"Show, The/ep1.mov","dub ""final"".wav","two\r\nlines"\r\nm2.mov,d2.wav,x\r\n';
    const { rows } = parseBatchSheet(text);
    assert.deepEqual(rows, [
      { line: 2, master: 'Show, The/ep1.mov', dub: 'dub "final".wav', episode: null, notes: 'two\nlines' },
      { line: 4, master: 'm2.mov', dub: 'd2.wav', episode: null, notes: 'x' },
    ]);
  });

  test('blank lines and empty spreadsheet rows are skipped; line numbers stay physical', () => {
    const { rows } = parseBatchSheet('\n\nmaster;dub\n\nm1;d1\n;\n   \nm2;d2');
    assert.deepEqual(rows.map((r) => [r.line, r.master, r.dub]), [[5, 'm1', 'd1'], [8, 'm2', 'd2']]);
  });

  test('extra unknown columns are ignored; short rows are allowed when master and dub are there', () => {
    const { rows } = parseBatchSheet('id,master,language,dub,episode\n1,m.mov,de,d.wav\n');
    assert.deepEqual(rows, [{ line: 2, master: 'm.mov', dub: 'd.wav', episode: null, notes: null }]);
  });

  test('rows missing master or dub: one problem per line, naming it', () => {
    const err = sheetError('master,dub\nm1,d1\n,d2\nm3,\n   ,  \nm5\n');
    assert.deepEqual(err.problems, ['line 3: missing master file', 'line 4: missing dub file', 'line 6: missing dub file']);
    assert.match(err.message, /line 3/);
  });

  test('header problems name the header line', () => {
    assert.deepEqual(sheetError('\nmaster,episode\nm,1\n').problems, ['line 2: no dub column in the header (expected one of: dub, dub_file, wild, dub_path)']);
    assert.deepEqual(sheetError('m1.mov,d1.wav\n').problems.length, 2, 'a sheet without a header: no master and no dub column');
    assert.match(sheetError('master,aref,dub\nm,a,d\n').problems[0]!, /^line 1: columns "master" and "aref" both name the master column; keep one$/);
  });

  test('empty, header-only and malformed sheets', () => {
    assert.match(sheetError('').problems[0]!, /^line 1: the sheet is empty/);
    assert.match(sheetError('\uFEFF \n\n').problems[0]!, /empty/);
    assert.deepEqual(sheetError('master,dub\n\n').problems, ['line 1: the sheet has a header but no rows']);
    assert.match(sheetError(';;;\n;;\n').problems[0]!, /^line 1: the sheet has only empty rows/);
    assert.match(sheetError('master,dub\nm1,d1\n"unclosed,d2\n').problems[0]!, /^line \d+: .*[Qq]uote/);
  });

  test(`at most ${MAX_SHEET_ROWS} rows`, () => {
    const row = (i: number): string => `m${i}.mov,d${i}.wav`;
    const ok = ['master,dub', ...Array.from({ length: MAX_SHEET_ROWS }, (_, i) => row(i))].join('\n');
    assert.equal(parseBatchSheet(ok).rows.length, MAX_SHEET_ROWS);
    const err = sheetError(`${ok}\n${row(MAX_SHEET_ROWS)}`);
    assert.deepEqual(err.problems.length, 1);
    assert.match(err.problems[0]!, new RegExp(`^line ${MAX_SHEET_ROWS + 2}: .*more than ${MAX_SHEET_ROWS} rows`));
  });

  test('many bad rows: the first 50 listed, the rest summarised with their lines', () => {
    const text = ['master,dub', ...Array.from({ length: 80 }, (_, i) => `m${i},`)].join('\n');
    const err = sheetError(text);
    assert.equal(err.problems.length, 51);
    assert.equal(err.problems[0], 'line 2: missing dub file');
    assert.equal(err.problems[50], 'lines 52-81: 30 more row(s) with a missing master or dub file');
  });
});
