import { parseLine, readAllLogLineBatches } from '../../lib/audit-log/reader.js';
import { linePrefilter, matchesFilter, type RecordFilter } from './filter.js';
import { safeJsonLine, tableHeader, tableRow } from './format.js';
import type { LineOutput } from './output.js';

/** Counts of one query run. */
export interface QueryStats {
  lines: number;
  matched: number;
  /** Lines that are not JSON objects; they are skipped and named on stderr. */
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
  const prefilter = linePrefilter(filter);
  if (!json) {
    await output.write(tableHeader());
  }
  reading: for await (const batch of readAllLogLineBatches(logPath)) {
    stats.lines += batch.length;
    for (const line of batch) {
      if (!prefilter(line.text)) {
        continue;
      }
      const record = parseLine(line.text);
      if (record === undefined) {
        stats.corrupt++;
        if (stats.corrupt <= MAX_CORRUPT_REPORTS) {
          warn(`${line.file}:${line.line}: skipped a line that is not a JSON record`);
        }
        continue;
      }
      if (!matchesFilter(record, filter)) {
        continue;
      }
      stats.matched++;
      const text = json ? safeJsonLine(line.text, record) : tableRow(record);
      if (!(await output.write(text))) {
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
