import { createRecordProjector } from '../../lib/audit-log/projection.js';
import { readAllLogTextChunks } from '../../lib/audit-log/reader.js';
import { CandidateLines } from './candidates.js';
import { matchesFilter, type RecordFilter } from './filter.js';
import { type ClientSummary, ClientTotals } from './summary-totals.js';

export { type ClientSummary, UNKNOWN } from './summary-totals.js';

/** Record fields the summary and the filters read; `rpc.commit` is the member of `rpc`. */
const SUMMARY_FIELDS = [
  'time',
  'event',
  'client_id',
  'decision',
  'reason',
  'repository',
  'bytes_in',
  'bytes_out',
  'rpc.commit',
] as const;

/** Reads the log and its rotated copies once and aggregates per client; memory grows per client. */
export async function summarizeClients(
  logPath: string,
  filter: RecordFilter,
  warn: (message: string) => void,
): Promise<ClientSummary[]> {
  const clients = new ClientTotals();
  const candidates = new CandidateLines(filter);
  // `restrictions` is only read by the repository filter, and decoding it costs time.
  const project = createRecordProjector(
    filter.repository === undefined ? SUMMARY_FIELDS : [...SUMMARY_FIELDS, 'restrictions'],
  );
  let corrupt = 0;
  for await (const chunk of readAllLogTextChunks(logPath)) {
    candidates.scan(chunk.text, (line) => {
      const record = project(line);
      if (record === undefined) {
        corrupt++;
      } else if (matchesFilter(record, filter)) {
        clients.add(record);
      }
    });
  }
  if (corrupt > 0) {
    warn(`skipped ${corrupt} lines that are not JSON records; run borg-gate audit verify`);
  }
  return clients.summaries().sort((a, b) => a.client.localeCompare(b.client));
}
