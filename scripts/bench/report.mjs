// Prints the rows of all figures as one table and lists every missed target.
import Table from 'cli-table3';

function formatNumber(value, digits = 1) {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

/** Formats a target as a ratio, or in the row's unit when the row has no baseline. */
function describeTarget(row) {
  const target = row.target;
  if (target === undefined) {
    return '-';
  }
  const suffix =
    row.summary !== undefined && row.summary.ratioMedian === undefined ? ` ${row.unit}` : 'x';
  return target.max !== undefined ? `<= ${target.max}${suffix}` : `>= ${target.min}${suffix}`;
}

/** Returns the number a target applies to: the median ratio, or the median without a baseline. */
function measuredValue(row) {
  return row.summary.ratioMedian ?? row.summary.subjectMedian;
}

/** Returns 'met', 'MISSED' or 'n/a'. */
export function verdict(row) {
  if (row.unavailable !== undefined || row.target === undefined) {
    return 'n/a';
  }
  const value = measuredValue(row);
  const met = row.target.max !== undefined ? value <= row.target.max : value >= row.target.min;
  return met ? 'met' : 'MISSED';
}

function cells(row) {
  if (row.unavailable !== undefined) {
    return [row.figure, '-', '-', '-', '-', '-', describeTarget(row), 'n/a'];
  }
  const summary = row.summary;
  const ratio = summary.ratioMedian;
  const spread =
    ratio === undefined
      ? `${formatNumber(summary.subjectLow)}-${formatNumber(summary.subjectHigh)}`
      : `${formatNumber(summary.ratioLow, 2)}-${formatNumber(summary.ratioHigh, 2)}`;
  return [
    row.figure,
    String(summary.runs),
    summary.baselineMedian === undefined
      ? '-'
      : `${formatNumber(summary.baselineMedian)} ${row.unit}`,
    `${formatNumber(summary.subjectMedian)} ${row.unit}`,
    ratio === undefined ? '-' : `${formatNumber(ratio, 2)}x`,
    spread,
    describeTarget(row),
    verdict(row),
  ];
}

/** Renders the table and returns it with one line per missed or unavailable target. */
export function renderReport(rows) {
  const table = new Table({
    head: ['figure', 'runs', 'baseline', 'borg-gate', 'ratio', 'IQR', 'target', 'result'],
    // Plain text, so the table can be pasted into BENCHMARKS.md.
    style: { head: [], border: [] },
  });
  for (const row of rows) {
    table.push(cells(row));
  }
  const notes = [];
  for (const row of rows) {
    if (row.unavailable !== undefined) {
      notes.push(`NOT MEASURED: ${row.figure}: ${row.unavailable}`);
    } else if (verdict(row) === 'MISSED') {
      const value = formatNumber(measuredValue(row), 2);
      const unit = row.summary.ratioMedian === undefined ? ` ${row.unit}` : 'x';
      notes.push(`MISSED: ${row.figure}: ${value}${unit}, target ${describeTarget(row)}`);
    }
  }
  return [table.toString(), '', ...notes, '', ...describeBaselines(rows)].join('\n');
}

/** Lists each baseline once, with the figures it applies to. */
function describeBaselines(rows) {
  const figures = new Map();
  for (const row of rows.filter((entry) => entry.baseline !== undefined)) {
    figures.set(row.baseline, [...(figures.get(row.baseline) ?? []), row.figure]);
  }
  return [...figures].map(([baseline, names]) => `baseline "${baseline}": ${names.join('; ')}`);
}
