import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSshCommand } from '../../../src/lib/ssh-command/parse.js';
import type { RejectReason } from '../../../src/lib/ssh-command/types.js';

interface CorpusCase {
  command: string;
  expect: 'accept' | 'reject';
  reason?: RejectReason;
}

const corpus = JSON.parse(
  readFileSync(new URL('../../fixtures/hostile-commands.json', import.meta.url), 'utf8'),
) as { cases: CorpusCase[] };

/** Shows control and non-ASCII characters in test names. */
function label(command: string): string {
  return JSON.stringify(command.length > 60 ? `${command.slice(0, 60)}...` : command);
}

describe('hostile command corpus', () => {
  it('has at least 200 commands', () => {
    expect(corpus.cases.length).toBeGreaterThanOrEqual(200);
  });

  it.each(corpus.cases.map((entry) => [label(entry.command), entry] as const))(
    '%s',
    (_label, entry) => {
      const result = parseSshCommand(entry.command);
      if (entry.expect === 'accept') {
        expect(result.kind).toBe('borg-serve');
      } else {
        expect(result).toMatchObject({ kind: 'rejected', reason: entry.reason });
      }
    },
  );
});
