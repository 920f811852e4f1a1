import { parseLine, readAllLogLineBatches } from '../../lib/audit-log/reader.js';
import { linePrefilter, matchesFilter, type RecordFilter } from './filter.js';
import { safeText } from './format.js';

/** Activity of one client over the records read. Times are ISO 8601 strings. */
export interface ClientSummary {
  client: string;
  last_access: string | null;
  connections: number;
  refusals: number;
  bytes_in: number;
  bytes_out: number;
  last_refusal_reason: string | null;
  last_refusal_time: string | null;
  /** Time of the newest session per repository that ended with a committed transaction. */
  last_write: Record<string, string>;
}

/** Key for a record without a client id (rejected before lookup) or without a repository. */
export const UNKNOWN = '(unknown)';

/** Reads the log and its rotated copies once and aggregates per client; memory grows per client. */
export async function summarizeClients(
  logPath: string,
  filter: RecordFilter,
  warn: (message: string) => void,
): Promise<ClientSummary[]> {
  const clients = new Map<string, ClientSummary>();
  const prefilter = linePrefilter(filter);
  let corrupt = 0;
  for await (const batch of readAllLogLineBatches(logPath)) {
    for (const line of batch) {
      if (!prefilter(line.text)) {
        continue;
      }
      const record = parseLine(line.text);
      if (record === undefined) {
        corrupt++;
        continue;
      }
      if (matchesFilter(record, filter)) {
        addRecord(clients, record);
      }
    }
  }
  if (corrupt > 0) {
    warn(`skipped ${corrupt} lines that are not JSON records; run borg-gate audit verify`);
  }
  return [...clients.values()].sort((a, b) => a.client.localeCompare(b.client));
}

function addRecord(clients: Map<string, ClientSummary>, record: Record<string, unknown>): void {
  const event = record.event;
  if (typeof event !== 'string' || !event.startsWith('session_')) {
    return;
  }
  const key = typeof record.client_id === 'string' ? safeText(record.client_id) : UNKNOWN;
  let summary = clients.get(key);
  if (summary === undefined) {
    summary = emptySummary(key);
    clients.set(key, summary);
  }
  const time = typeof record.time === 'string' ? record.time : '';
  if (summary.last_access === null || time > summary.last_access) {
    summary.last_access = time;
  }
  if (event === 'session_start' || event === 'session_refused') {
    summary.connections++;
  }
  if (event === 'session_refused' || record.decision === 'refuse') {
    countRefusal(summary, record, time);
  }
  if (event === 'session_end') {
    countSessionEnd(summary, record, time);
  }
}

function emptySummary(client: string): ClientSummary {
  return {
    client,
    last_access: null,
    connections: 0,
    refusals: 0,
    bytes_in: 0,
    bytes_out: 0,
    last_refusal_reason: null,
    last_refusal_time: null,
    // No prototype: a repository named `__proto__` must stay an ordinary key.
    last_write: Object.create(null) as Record<string, string>,
  };
}

function countRefusal(summary: ClientSummary, record: Record<string, unknown>, time: string): void {
  summary.refusals++;
  if (summary.last_refusal_time === null || time >= summary.last_refusal_time) {
    summary.last_refusal_time = time;
    summary.last_refusal_reason = safeText(record.reason) || null;
  }
}

function countSessionEnd(
  summary: ClientSummary,
  record: Record<string, unknown>,
  time: string,
): void {
  if (typeof record.bytes_in === 'number') {
    summary.bytes_in += record.bytes_in;
  }
  if (typeof record.bytes_out === 'number') {
    summary.bytes_out += record.bytes_out;
  }
  const rpc = record.rpc as Record<string, unknown> | undefined;
  if (rpc?.commit !== true) {
    return;
  }
  const repository = safeText(record.repository) || UNKNOWN;
  const previous = summary.last_write[repository];
  if (previous === undefined || time > previous) {
    summary.last_write[repository] = time;
  }
}
