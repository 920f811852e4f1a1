import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CandidateLines } from '../../src/commands/audit/candidates.js';
import { linePrefilter, type RecordFilter } from '../../src/commands/audit/filter.js';

/** Runs CandidateLines over `text` and returns the visited lines and the line count. */
function scan(filter: RecordFilter, text: string) {
  const visited: Array<[number, string]> = [];
  const count = new CandidateLines(filter).scan(text, (line, index) => {
    visited.push([index, line]);
  });
  return { visited, count };
}

/** Returns every line that passes linePrefilter, with its index, and the line count. */
function reference(filter: RecordFilter, text: string) {
  const prefilter = linePrefilter(filter);
  const lines = text.split('\n');
  const visited = lines
    .map((line, index): [number, string] => [index, line])
    .filter(([, line]) => prefilter(line));
  return { visited, count: lines.length };
}

const LINE = '{"schema_version":1,"time":"2026-12-01T10:00:00.000Z","event":"check"}';

describe('CandidateLines', () => {
  it.each([
    ['no filter', {}, `${LINE}\n\n${LINE}`],
    ['needle in second line', { event: 'check' }, `{}\n${LINE}\n{}`],
    ['needle nowhere', { client: 'laptop' }, `${LINE}\n${LINE}`],
    ['needle across a newline', { grep: 'a\nb' }, 'xa\nby\na\nb'],
    ['needle at the end', { grep: 'k"}' }, `{}\n${LINE}`],
    ['needle is the last character', { grep: '"' }, 'ab"\nc'],
    ['two needles', { grep: 'check', decision: 'allow' as const }, `${LINE}\n"allow"`],
    ['time range', { since: Date.parse('2026-12-02T00:00:00Z') }, LINE],
  ])('%s', (_name, filter, text) => {
    expect(scan(filter, text)).toEqual(reference(filter, text));
  });

  it('visits what linePrefilter passes', () => {
    const piece = fc.constantFrom('"laptop"', '"check"', 'laptop', '"allow"', 'x', '"', '\n', 'é');
    const filter = fc.record(
      {
        client: fc.constantFrom('laptop', 'server'),
        event: fc.constantFrom('check', 'session_end'),
        decision: fc.constantFrom('allow' as const, 'refuse' as const),
        grep: fc.constantFrom('lap', 'x\nx', '"'),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(filter, fc.array(piece, { maxLength: 40 }), (recordFilter, pieces) => {
        const text = pieces.join('');
        expect(scan(recordFilter, text)).toEqual(reference(recordFilter, text));
      }),
      { numRuns: 2000 },
    );
  });
});
