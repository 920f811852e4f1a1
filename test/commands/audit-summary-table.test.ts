import Table from 'cli-table3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPlainTable, renderPlainTable } from '../../src/commands/audit/plain-table.js';
import { summaryTable } from '../../src/commands/audit/summary-table.js';

const WIDTHS = [null, null, 12, null];

/** Renders with cli-table3 and the options summaryTable uses. */
function cliTable(rows: string[][], widths: Array<number | null>): string {
  const table = new Table({
    head: rows[0],
    style: { head: [], border: [] },
    wordWrap: true,
    // cli-table3 writes the widths it computes into this array, so it gets a copy.
    colWidths: [...widths],
  });
  for (const row of rows.slice(1)) {
    table.push(row);
  }
  return table.toString();
}

const text = fc.string({
  unit: fc.constantFrom('a', 'b', ' ', '  ', '-', '\n', 'longword'.repeat(2)),
  maxLength: 12,
});
const row = fc.array(text, { minLength: 4, maxLength: 4 });

describe('renderPlainTable', () => {
  it('draws what cli-table3 draws', () => {
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 5 }), (rows) => {
        expect(renderPlainTable(rows, WIDTHS)).toBe(cliTable(rows, WIDTHS));
      }),
      { numRuns: 1000 },
    );
  });

  it.each([
    ['header only', [['a', 'b', 'c', 'd']]],
    [
      'empty cells',
      [
        ['', '', '', ''],
        ['', '', '', ''],
      ],
    ],
    [
      'word wider than the column',
      [
        ['h', 'h', 'h', 'h'],
        ['x', 'y', 'abcdefghijklmnop q', 'z'],
      ],
    ],
    [
      'leading spaces',
      [
        ['h', 'h', 'h', 'h'],
        ['x', 'y', '   a b', 'z'],
      ],
    ],
  ])('%s', (_name, rows) => {
    expect(renderPlainTable(rows, WIDTHS)).toBe(cliTable(rows, WIDTHS));
  });
});

describe('isPlainTable', () => {
  it.each([
    ['ascii', 'laptop', true],
    ['newline', 'a\nb', true],
    ['wide character', '笔记本', false],
    ['accent', 'café', false],
    ['tab', 'a\tb', false],
  ])('%s', (_name, cell, expected) => {
    expect(isPlainTable([['h'], [cell]])).toBe(expected);
  });
});

describe('summaryTable', () => {
  const summary = {
    client: 'laptop',
    last_access: '2026-12-01T10:00:00.000Z',
    connections: 3,
    refusals: 1,
    bytes_in: 123_456_789,
    bytes_out: 0,
    last_refusal_reason: 'forbidden-option: --restrict-to-path with a long tail of words',
    last_refusal_time: '2026-12-01T10:00:00.000Z',
    last_write: { '/srv/borg/laptop': '2026-12-01T09:00:00.000Z', '/srv/borg/etc': '2026-12-01' },
  };

  it.each([
    ['no clients', []],
    ['plain clients', [summary, { ...summary, client: 'server', last_write: {} }]],
    ['wide characters', [{ ...summary, client: '笔记本' }]],
  ])('%s', (_name, summaries) => {
    const rows = [
      ['client', 'last access', 'conn.', 'refused', 'in', 'out', 'last refusal', 'last write'],
      ...summaries.map((item) => [
        item.client,
        '2026-12-01T10:00:00Z',
        '3',
        '1',
        '117.7 MiB',
        '0 B',
        item.last_refusal_reason,
        Object.keys(item.last_write).length === 0
          ? '-'
          : '/srv/borg/laptop  2026-12-01T09:00:00Z\n/srv/borg/etc  2026-12-01',
      ]),
    ];

    expect(summaryTable(summaries)).toBe(
      cliTable(rows, [null, null, null, null, null, null, 36, null]),
    );
  });
});
