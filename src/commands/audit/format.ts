import { escapeUntrusted, INVISIBLE_GLOBAL, isEscaped } from '../../lib/audit-log/escape.js';

/** Shows a string from the log as it is, unless a hand-edited line left raw control text in it. */
export function safeText(value: unknown): string {
  if (value === undefined || value === null) {
    return '';
  }
  const text = typeof value === 'string' ? value : String(value);
  return isEscaped(text) ? text : escapeUntrusted(text);
}

/**
 * Returns a record line for `--json` output. A line with raw invisible characters (bidi
 * overrides, C1 controls) is re-encoded with JSON `\u` escapes, which keeps the data.
 */
export function safeJsonLine(text: string, record: Record<string, unknown>): string {
  if (isEscaped(text)) {
    return text;
  }
  return JSON.stringify(record).replace(INVISIBLE_GLOBAL, (char) =>
    Array.from(
      { length: char.length },
      (_, index) => `\\u${char.charCodeAt(index).toString(16).padStart(4, '0')}`,
    ).join(''),
  );
}

const COLUMNS = [
  { title: 'TIME', width: 20 },
  { title: 'EVENT', width: 15 },
  { title: 'CLIENT', width: 16 },
  { title: 'DECISION', width: 8 },
  { title: 'REPOSITORY', width: 32 },
  { title: 'DETAIL', width: 0 },
] as const;

/** Longest DETAIL shown in the table; --json prints the whole record. */
const DETAIL_MAX_CHARS = 160;

/** Returns the header line of the people-readable query output. */
export function tableHeader(): string {
  return formatRow(COLUMNS.map((column) => column.title));
}

/** Formats one record as a row of padded columns, so output streams without buffering. */
export function tableRow(record: Record<string, unknown>): string {
  const time = typeof record.time === 'string' ? record.time.replace(/\.\d+Z$/, 'Z') : '';
  const repository = record.repository ?? firstRestriction(record.restrictions);
  return formatRow([
    safeText(time),
    safeText(record.event),
    record.client_id === null ? '(unknown)' : safeText(record.client_id),
    safeText(record.decision),
    safeText(repository),
    shortenDetail(describeRecord(record)),
  ]);
}

function shortenDetail(detail: string): string {
  if (detail.length <= DETAIL_MAX_CHARS) {
    return detail;
  }
  return `${detail.slice(0, DETAIL_MAX_CHARS - 1)}… (--json shows all)`;
}

function formatRow(cells: string[]): string {
  return cells
    .map((cell, index) => fitColumn(cell, COLUMNS[index]!.width))
    .join('  ')
    .trimEnd();
}

function fitColumn(text: string, width: number): string {
  if (width === 0) {
    return text;
  }
  if (text.length > width) {
    return `${text.slice(0, width - 1)}…`;
  }
  return text.padEnd(width);
}

function firstRestriction(restrictions: unknown): unknown {
  if (!Array.isArray(restrictions) || restrictions.length === 0) {
    return undefined;
  }
  const more = restrictions.length > 1 ? ` (+${restrictions.length - 1})` : '';
  return `${restrictions[0]}${more}`;
}

/** Summarizes the outcome: the reason, else exit status, bytes and duration. */
function describeRecord(record: Record<string, unknown>): string {
  const parts: string[] = [];
  if (record.reason !== undefined) {
    parts.push(safeText(record.reason));
  }
  if (record.exit_code !== undefined && record.exit_code !== null) {
    parts.push(`exit=${safeText(record.exit_code)}`);
  }
  if (typeof record.signal === 'string') {
    parts.push(`signal=${safeText(record.signal)}`);
  }
  if (record.bytes_in !== undefined || record.bytes_out !== undefined) {
    parts.push(`in=${formatBytes(record.bytes_in)} out=${formatBytes(record.bytes_out)}`);
  }
  if (typeof record.duration_ms === 'number') {
    parts.push(`${(record.duration_ms / 1000).toFixed(1)}s`);
  }
  if (parts.length === 0 && record.command !== undefined) {
    parts.push(safeText(record.command));
  }
  return parts.join(' ');
}

/** Formats a byte count with binary prefixes (KiB, MiB, ...). */
export function formatBytes(value: unknown): string {
  if (typeof value !== 'number') {
    return '-';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let size = value;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit++;
  }
  return unit === 0 ? `${size} B` : `${size.toFixed(1)} ${units[unit]}`;
}
