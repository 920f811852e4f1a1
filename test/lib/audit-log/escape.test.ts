import { describe, expect, it } from 'vitest';
import { escapeUntrusted, isEscaped } from '../../../src/lib/audit-log/escape.js';

describe('escapeUntrusted', () => {
  it.each([
    ['plain text', 'borg serve --append-only', 'borg serve --append-only'],
    ['ANSI escape', '\x1b[31mred', '\\x1b[31mred'],
    ['NUL and DEL', 'a\x00b\x7f', 'a\\x00b\\x7f'],
    ['newline, tab, CR', 'a\nb\tc\rd', 'a\\nb\\tc\\rd'],
    ['C1 control', 'a\u009bb', 'a\\x9bb'],
    ['right-to-left override', 'txt.\u202eexe', 'txt.\\u202eexe'],
    ['bidi isolate', '\u2066x\u2069', '\\u2066x\\u2069'],
    ['zero-width space', 'a\u200bb', 'a\\u200bb'],
    ['byte order mark', '\ufeffa', '\\ufeffa'],
    ['line separator', 'a\u2028b', 'a\\u2028b'],
    ['no-break space', 'a\u00a0b', 'a\\xa0b'],
    ['lone surrogate', 'a\ud800b', 'a\\ud800b'],
    ['private use plane', 'a\u{f0000}', 'a\\u{f0000}'],
    ['backslash', 'C:\\x1b', 'C:\\\\x1b'],
    ['non-ASCII letters', 'Grüße 日本', 'Grüße 日本'],
    ['emoji', 'ok 👍', 'ok 👍'],
  ])('%s', (_name, input, expected) => {
    expect(escapeUntrusted(input)).toBe(expected);
    expect(isEscaped(escapeUntrusted(input))).toBe(true);
  });

  it('truncates with a marker', () => {
    expect(escapeUntrusted('abcdefghij', 4)).toBe('abcd...[+6 chars]');
  });

  it('keeps escapes whole when truncating', () => {
    expect(escapeUntrusted('ab\x1bcd', 4)).toBe('ab...[+3 chars]');
  });

  it('keeps surrogate pairs whole when truncating', () => {
    expect(escapeUntrusted('a👍b', 2)).toBe('a...[+2 chars]');
  });

  it('leaves short text alone', () => {
    expect(escapeUntrusted('abcd', 4)).toBe('abcd');
  });
});

describe('isEscaped', () => {
  it.each([
    ['\x1b', false],
    ['\u202e', false],
    ['a b', true],
  ])('%j is %s', (input, expected) => {
    expect(isEscaped(input)).toBe(expected);
  });
});
