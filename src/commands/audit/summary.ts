import { createRecordProjector } from '../../lib/audit-log/projection.js';
import { hasTimeAndEvent, readAllLogTextChunks } from '../../lib/audit-log/reader.js';
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
  'restrictions',
];

/** Builds the record the filter and the totals read from the projected values. */
function summaryRecord(values: unknown[]): Record<string, unknown> {
  return {
    time: values[0],
    event: values[1],
    client_id: values[2],
    decision: values[3],
    reason: values[4],
    repository: values[5],
    bytes_in: values[6],
    bytes_out: values[7],
    'rpc.commit': values[8],
    restrictions: values[9],
  };
}

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
    filter.repository === undefined ? SUMMARY_FIELDS.slice(0, -1) : SUMMARY_FIELDS,
  );
  let corrupt = 0;
  for await (const chunk of readAllLogTextChunks(logPath)) {
    candidates.scan(chunk.text, (line) => {
      const values = project(line);
      if (values === undefined || !hasTimeAndEvent(values[0], values[1])) {
        corrupt++;
        return;
      }
      const record = summaryRecord(values);
      if (matchesFilter(record, filter)) {
        clients.add(record);
      }
    });
  }
  if (corrupt > 0) {
    warn(
      `skipped ${corrupt} lines that are not JSON audit records with a time and an event; run borg-gate audit verify`,
    );
  }
  return clients.summaries().sort((a, b) => a.client.localeCompare(b.client));
}
