import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_STATE_DIR,
  StateDirScanner,
  stateDirHint,
} from '../../../src/lib/policy/state-dir.js';

/** Feeds `text` to a scanner in pieces cut at `cuts`, reusing one buffer as readers do. */
function scanInPieces(text: Buffer, cuts: number[]): string {
  const scanner = new StateDirScanner();
  const shared = Buffer.alloc(text.length);
  let start = 0;
  for (const end of [...cuts.sort((a, b) => a - b), text.length]) {
    const length = end - start;
    text.copy(shared, 0, start, end);
    scanner.push(shared.subarray(0, length));
    // Overwrites what the scanner was passed, so a scanner that kept a view reads garbage.
    shared.fill(0x78, 0, length);
    start = end;
  }
  return scanner.result();
}

const LINES = [
  'state_dir: /srv/state',
  'state_dir: /srv/other  # comment',
  'state_dir: "/srv/quoted"',
  '  state_dir: /srv/nested',
  'version: 1',
  'clients: []',
  '# state_dir: /srv/commented',
  'state_dir:/srv/tight',
  'xstate_dir: /srv/prefixed',
  '',
];

describe('StateDirScanner', () => {
  it('chunks match the whole text', () => {
    const text = fc
      .array(fc.oneof(fc.constantFrom(...LINES), fc.string({ maxLength: 12 })), { maxLength: 8 })
      .map((lines) => Buffer.from(lines.join('\n')));
    const withCuts = text.chain((bytes) =>
      fc.tuple(
        fc.constant(bytes),
        fc.uniqueArray(fc.nat({ max: bytes.length }), { maxLength: 12 }),
      ),
    );
    fc.assert(
      fc.property(withCuts, ([bytes, cuts]) => {
        expect(scanInPieces(bytes, cuts)).toBe(stateDirHint(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['key cut in two', 'version: 1\nstate_', 'dir: /srv/state\n', '/srv/state'],
    ['value cut in two', 'state_dir: /srv/st', 'ate\nversion: 1\n', '/srv/state'],
    ['newline at a cut', 'version: 1\n', 'state_dir: /srv/state', '/srv/state'],
    ['second key ignored', 'state_dir: /srv/a\n', 'state_dir: /srv/b\n', '/srv/a'],
    ['no key', 'version: 1\n', 'clients: []\n', DEFAULT_STATE_DIR],
  ])('%s', (_name, first, second, expected) => {
    const scanner = new StateDirScanner();
    scanner.push(Buffer.from(first));
    scanner.push(Buffer.from(second));
    expect(scanner.result()).toBe(expected);
  });
});
