// Batch sheets: CSV with a header row naming the master and dub columns (several spellings),
// comma or semicolon separated (spreadsheets in many locales export ';'), as uploaded.
import { parse } from 'csv-parse/sync';

export const MAX_SHEET_ROWS = 10_000;
/** Problems listed before the rest are summarised (a wrong sheet can fail on every line). */
const MAX_PROBLEMS = 50;

export interface BatchSheetRow {
  /** 1-based line of the sheet where the row starts. */
  line: number;
  master: string;
  dub: string;
  episode: string | null;
  notes: string | null;
}

export interface BatchSheet {
  rows: BatchSheetRow[];
}

export class BatchSheetError extends Error {
  override readonly name = 'BatchSheetError';
  constructor(readonly problems: string[]) {
    super(`bad batch sheet: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? `; and ${problems.length - 3} more` : ''}`);
  }
}

type Field = 'master' | 'dub' | 'episode' | 'notes';

const ALIASES: Record<Field, readonly string[]> = {
  master: ['master', 'master_file', 'aref', 'reference'],
  dub: ['dub', 'dub_file', 'wild', 'dub_path'],
  episode: ['episode', 'ep'],
  notes: ['notes', 'note', 'comment'],
};

/** "Master File", "master-file" and "master_file" name the same column. */
function normaliseHeader(h: string): string {
  return h.trim().toLowerCase().replace(/[\s-]+/g, '_');
}

/** Counts a character outside double quotes (a quoted "a,b" header does not vote). */
function countOutsideQuotes(line: string, ch: string): number {
  let n = 0;
  let quoted = false;
  for (const c of line) {
    if (c === '"') quoted = !quoted;
    else if (c === ch && !quoted) n++;
  }
  return n;
}

function detectDelimiter(text: string): ',' | ';' {
  const header = text.split('\n').find((l) => l.trim() !== '') ?? '';
  return countOutsideQuotes(header, ';') > countOutsideQuotes(header, ',') ? ';' : ',';
}

interface ParsedRecord {
  record: string[];
  info: { lines: number };
}

export function parseBatchSheet(text: string): BatchSheet {
  // One line ending: csv-parse counts a CRLF inside a quoted cell as two lines, which would
  // shift every later row's line number.
  const body = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  if (body.trim() === '') throw new BatchSheetError(['line 1: the sheet is empty (a header row naming the master and dub columns is required)']);
  const delimiter = detectDelimiter(body);

  let records: ParsedRecord[];
  try {
    // Blank lines are kept as records so every record's first line is the previous one's last + 1.
    records = parse(body, { delimiter, info: true, relax_column_count: true, skip_empty_lines: false }) as unknown as ParsedRecord[];
  } catch (err) {
    const e = err as Error & { lines?: number };
    throw new BatchSheetError([`line ${e.lines ?? '?'}: ${e.message}`]);
  }

  const problems: string[] = [];
  const rows: BatchSheetRow[] = [];
  let headerCols: Partial<Record<Field, number>> | null = null;
  let headerLine = 1;
  let prevEnd = 0;
  let dataRows = 0;
  // Rows with problems past MAX_PROBLEMS: counted, and summarised with their line range.
  let unlisted = 0;
  let unlistedFrom = 0;
  let unlistedTo = 0;

  for (const { record, info } of records) {
    const line = prevEnd + 1;
    prevEnd = info.lines;
    const fields = record.map((f) => f.trim());
    if (fields.every((f) => f === '')) continue; // blank line, or an empty spreadsheet row (",,,")

    if (headerCols === null) {
      headerLine = line;
      headerCols = {};
      const names = fields.map(normaliseHeader);
      for (const field of Object.keys(ALIASES) as Field[]) {
        const hits = names.map((n, i) => (ALIASES[field].includes(n) ? i : -1)).filter((i) => i >= 0);
        if (hits.length > 1) {
          problems.push(`line ${line}: columns ${hits.map((i) => `"${fields[i]}"`).join(' and ')} ${hits.length === 2 ? 'both' : 'all'} name the ${field} column; keep one`);
        } else if (hits.length === 1) {
          headerCols[field] = hits[0];
        }
      }
      for (const field of ['master', 'dub'] as const) {
        if (headerCols[field] === undefined && !problems.some((p) => p.includes(`the ${field} column`))) {
          problems.push(`line ${line}: no ${field} column in the header (expected one of: ${ALIASES[field].join(', ')})`);
        }
      }
      if (problems.length > 0) throw new BatchSheetError(problems);
      continue;
    }

    dataRows++;
    if (dataRows > MAX_SHEET_ROWS) {
      throw new BatchSheetError([`line ${line}: the sheet has more than ${MAX_SHEET_ROWS} rows (the limit); split it into several batches`]);
    }
    const cell = (f: Field): string => {
      const i = headerCols![f];
      return i === undefined ? '' : (fields[i] ?? '');
    };
    const master = cell('master');
    const dub = cell('dub');
    const missing = [master === '' ? 'master' : null, dub === '' ? 'dub' : null].filter((x): x is string => x !== null);
    if (missing.length > 0) {
      if (problems.length < MAX_PROBLEMS) {
        problems.push(`line ${line}: missing ${missing.join(' and ')} file`);
      } else {
        if (unlisted === 0) unlistedFrom = line;
        unlistedTo = line;
        unlisted++;
      }
      continue;
    }
    rows.push({ line, master, dub, episode: cell('episode') || null, notes: cell('notes') || null });
  }

  if (unlisted > 0) problems.push(`lines ${unlistedFrom}-${unlistedTo}: ${unlisted} more row(s) with a missing master or dub file`);
  if (problems.length > 0) throw new BatchSheetError(problems);
  if (headerCols === null) throw new BatchSheetError(['line 1: the sheet has only empty rows (a header row naming the master and dub columns is required)']);
  if (rows.length === 0) {
    throw new BatchSheetError([`line ${headerLine}: the sheet has a header but no rows`]);
  }
  return { rows };
}
