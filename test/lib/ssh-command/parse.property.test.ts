import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildServeArgv } from '../../../src/lib/borg-args/build.js';
import { toCanonicalWords } from '../../../src/lib/ssh-command/canonical.js';
import { parseSshCommand } from '../../../src/lib/ssh-command/parse.js';
import type { ServeRequest } from '../../../src/lib/ssh-command/types.js';

/** Characters an accepted request may carry into a word: no shell or log syntax. */
const SAFE_WORD = /^[A-Za-z0-9._/=+-]+$/;

const REASONS = new Set([
  'empty',
  'too-long',
  'bad-characters',
  'shell-syntax',
  'not-borg-serve',
  'forbidden-flag',
  'unknown-flag',
  'bad-flag-value',
  'extra-arguments',
]);

const ACCEPTED = [
  'borg serve',
  'borg serve --umask=077 --info',
  'BORG_HOSTNAME_IS_UNIQUE=no borg serve --umask=077 --debug --debug-topic=borg.debug.repository',
  '/usr/bin/borg serve --storage-quota=5G --lock-wait 10 --log-json',
  'borg2 serve -v --debug-topic repository',
];

const SHELL_PIECES = [
  ';',
  '|',
  '&',
  '>',
  '<',
  '$(id)',
  '`id`',
  '"',
  "'",
  '\\',
  '\n',
  '\0',
  '\r',
  '\t',
];
const FLAG_PIECES = [
  '--',
  '--append-only',
  '--restrict-to-path=/',
  '--debug-profile',
  '-x',
  'extra',
];
const UNICODE_PIECES = ['\u0435', '\uff0d', '\u200f', '\u202e', '\u00a0', '\ud800', '\u{1f600}'];

/** An accepted command with one random edit: insert, delete or replace a piece. */
const mutatedCommand = fc
  .tuple(
    fc.constantFrom(...ACCEPTED),
    fc.nat(),
    fc.nat({ max: 8 }),
    fc.oneof(
      fc.constantFrom(...SHELL_PIECES, ...FLAG_PIECES, ...UNICODE_PIECES),
      fc.string({ unit: 'binary', maxLength: 4 }),
    ),
  )
  .map(([command, position, deleteCount, piece]) => {
    const at = position % (command.length + 1);
    return command.slice(0, at) + piece + command.slice(at + deleteCount);
  });

function checkResult(input: string | undefined): void {
  const result = parseSshCommand(input);
  if (result.kind === 'rejected') {
    expect(REASONS).toContain(result.reason);
    return;
  }
  checkAccepted(result);
}

function checkAccepted(request: ServeRequest): void {
  const words = toCanonicalWords(request);
  for (const word of words) {
    expect(word).toMatch(SAFE_WORD);
  }
  expect(parseSshCommand(words.join(' '))).toEqual(request);
  const argv = buildServeArgv({
    binary: '/usr/bin/borg',
    borgMajor: 1,
    request,
    mode: 'append-only',
    restrictToRepositories: ['/srv/borg/a'],
    restrictToPaths: [],
  });
  for (const arg of argv.args) {
    expect(arg).toMatch(SAFE_WORD);
  }
}

describe('parseSshCommand properties', () => {
  it('never throws on ASCII strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), checkResult), { numRuns: 2000 });
  });

  it('never throws on any code points', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), checkResult), {
      numRuns: 2000,
    });
  });

  it('never throws on mutated commands', () => {
    fc.assert(fc.property(mutatedCommand, checkResult), { numRuns: 5000 });
  });

  it('never throws on word soup', () => {
    const word = fc.constantFrom(
      'borg',
      'serve',
      '--info',
      '--debug-topic',
      'x.y',
      '--lock-wait',
      '5',
      '--umask=077',
      '--storage-quota',
      '10G',
      'A=b',
      '--',
      '-v',
      '--log-json',
      '/usr/bin/borg',
    );
    const command = fc.array(word, { maxLength: 12 }).map((words) => words.join(' '));
    fc.assert(fc.property(command, checkResult), { numRuns: 3000 });
  });

  it('accepts every canonical request', () => {
    const request = fc.record({
      kind: fc.constant('borg-serve' as const),
      program: fc.constantFrom('borg', 'borg1', '/usr/bin/borg', '/opt/borg-1.4/bin/borg'),
      logLevel: fc.constantFrom('debug', 'info', 'warning', 'error', 'critical'),
      debugTopics: fc.array(fc.stringMatching(/^[A-Za-z0-9_.]{1,20}$/), { maxLength: 3 }),
      logJson: fc.boolean(),
      lockWait: fc.integer({ min: 0, max: 86_400 }),
      umask: fc.stringMatching(/^[0-7]{1,4}$/),
      storageQuota: fc.constantFrom('10M', '1.5T', '500G', '10000000'),
    });
    fc.assert(
      fc.property(request, (expected) => {
        const parsed = parseSshCommand(toCanonicalWords(expected).join(' '));
        expect(parsed).toEqual(expected);
      }),
      { numRuns: 1000 },
    );
  });
});
