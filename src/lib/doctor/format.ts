import Table from 'cli-table3';
import { escapeUntrusted } from '../audit-log/escape.js';
import type { Report, Status } from './report.js';

const LABEL: Record<Status, string> = {
  implemented: 'ok',
  partial: 'WARN',
  missing: 'MISSING',
};

/** Formats the report as a table for people: one line per finding, or one per protection without findings. */
export function formatReportTable(report: Report, width = 100): string {
  const detailWidth = Math.max(30, Math.floor((width - 30) * 0.55));
  const fixWidth = Math.max(20, width - 30 - detailWidth);
  const table = new Table({
    head: ['status', 'protection', 'detail', 'fix'],
    colWidths: [9, 21, detailWidth, fixWidth],
    wordWrap: true,
    style: { head: [], border: [] },
  });
  for (const protection of report.protections) {
    if (protection.findings.length === 0) {
      table.push([
        LABEL.implemented,
        protection.protection,
        escapeUntrusted(protection.detail),
        '',
      ]);
      continue;
    }
    for (const [index, item] of protection.findings.entries()) {
      table.push([
        LABEL[item.status],
        index === 0 ? protection.protection : '',
        item.detail,
        item.fix,
      ]);
    }
  }
  const counts = report.protections.reduce(
    (total, protection) => {
      total[protection.status]++;
      return total;
    },
    { implemented: 0, partial: 0, missing: 0 } as Record<Status, number>,
  );
  const summary = `${counts.implemented} implemented, ${counts.partial} partial, ${counts.missing} missing (${report.duration_ms} ms)`;
  return `${table.toString()}\n${summary}\n`;
}
