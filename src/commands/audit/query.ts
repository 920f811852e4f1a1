import { hasTimeAndEvent, parseLine, readAllLogTextChunks } from '../../lib/audit-log/reader.js';
import { CandidateLines } from './candidates.js';
import { matchesFilter, type RecordFilter } from './filter.js';
import { safeJsonLine, tableHeader, tableRow } from './format.js';
import type { LineOutput } from './output.js';

/** Counts of one query run. */
export interface QueryStats {
  lines: number;
  matched: number;
  /** Lines that are not JSON audit records; they are skipped and named on stderr. */
  corrupt: number;
}

/** Maximum corrupt lines named on stderr; the rest are only counted. */
const MAX_CORRUPT_REPORTS = 10;

/**
 * Streams records of the log and its rotated copies that match `filter` to `output`,
 * as padded columns or, with `json`, one record per line.
 */
export async function runQuery(
  logPath: string,
  filter: RecordFilter,
  json: boolean,
  output: LineOutput,
  warn: (message: string) => void,
): Promise<QueryStats> {
  const stats: QueryStats = { lines: 0, matched: 0, corrupt: 0 };
  const candidates = new CandidateLines(filter);
  if (!json) {
    await output.write(tableHeader());
  }
  let file: string | undefined;
  let firstLine = 1;
  reading: for await (const chunk of readAllLogTextChunks(logPath)) {
    if (chunk.file !== file) {
      file = chunk.file;
      firstLine = 1;
    }
    const rows: string[] = [];
    const count = candidates.scan(chunk.text, (text, index) => {
      const record = parseLine(text);
      if (record === undefined || !hasTimeAndEvent(record.time, record.event)) {
        stats.corrupt++;
        if (stats.corrupt <= MAX_CORRUPT_REPORTS) {
          const kind =
            record === undefined
              ? 'a line that is not a JSON record'
              : 'a JSON line without the "time" and "event" of an audit record';
          warn(`${file}:${firstLine + index}: skipped ${kind}`);
        }
        return;
      }
      if (matchesFilter(record, filter)) {
        stats.matched++;
        rows.push(json ? safeJsonLine(text, record) : tableRow(record));
      }
    });
    stats.lines += count;
    firstLine += count;
    for (const row of rows) {
      if (!(await output.write(row))) {
        break reading;
      }
    }
  }
  await output.flush();
  if (stats.corrupt > MAX_CORRUPT_REPORTS) {
    warn(`${stats.corrupt} lines in total were not JSON records; run borg-gate audit verify`);
  }
  return stats;
}
