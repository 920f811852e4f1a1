import Table from 'cli-table3';
import { formatBytes, safeText } from './format.js';
import type { ClientSummary } from './summary.js';

/** Renders client summaries as a table; each repository's last write gets its own line. */
export function summaryTable(summaries: ClientSummary[]): string {
  const table = new Table({
    head: ['client', 'last access', 'conn.', 'refused', 'in', 'out', 'last refusal', 'last write'],
    style: { head: [], border: [] },
    wordWrap: true,
    colWidths: [null, null, null, null, null, null, 36, null],
  });
  for (const summary of summaries) {
    const writes = Object.entries(summary.last_write)
      .map(([repository, time]) => `${safeText(repository)}  ${shortTime(time)}`)
      .join('\n');
    table.push([
      summary.client,
      shortTime(summary.last_access),
      summary.connections,
      summary.refusals,
      formatBytes(summary.bytes_in),
      formatBytes(summary.bytes_out),
      summary.last_refusal_reason ?? '',
      writes || '-',
    ]);
  }
  return table.toString();
}

function shortTime(time: string | null): string {
  return time === null ? '-' : time.replace(/\.\d+Z$/, 'Z');
}
