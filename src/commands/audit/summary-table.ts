import Table from 'cli-table3';
import { formatBytes, safeText } from './format.js';
import { isPlainTable, renderPlainTable } from './plain-table.js';
import type { ClientSummary } from './summary.js';

const HEAD = [
  'client',
  'last access',
  'conn.',
  'refused',
  'in',
  'out',
  'last refusal',
  'last write',
];
const COLUMN_WIDTHS = [null, null, null, null, null, null, 36, null];

/** Renders client summaries as a table; each repository's last write gets its own line. */
export function summaryTable(summaries: ClientSummary[]): string {
  const rows = summaries.map(summaryRow);
  if (isPlainTable([HEAD, ...rows])) {
    return renderPlainTable([HEAD, ...rows], COLUMN_WIDTHS);
  }
  // Wide characters (CJK, emoji) need cli-table3's measure of terminal columns.
  const table = new Table({
    head: HEAD,
    style: { head: [], border: [] },
    wordWrap: true,
    colWidths: COLUMN_WIDTHS,
  });
  for (const row of rows) {
    table.push(row);
  }
  return table.toString();
}

function summaryRow(summary: ClientSummary): string[] {
  const writes = Object.entries(summary.last_write)
    .map(([repository, time]) => `${safeText(repository)}  ${shortTime(time)}`)
    .join('\n');
  return [
    summary.client,
    shortTime(summary.last_access),
    String(summary.connections),
    String(summary.refusals),
    formatBytes(summary.bytes_in),
    formatBytes(summary.bytes_out),
    summary.last_refusal_reason ?? '',
    writes || '-',
  ];
}

function shortTime(time: string | null): string {
  return time === null ? '-' : time.replace(/\.\d+Z$/, 'Z');
}
