import { describe, expect, it } from 'vitest';
import {
  checkAliasExpansion,
  MAX_ALIAS_EXPANSION,
  parseYamlText,
  YamlTextError,
} from '../../../src/lib/policy/yaml-text.js';

function catchYamlError(text: string): YamlTextError {
  try {
    parseYamlText(text, 'p.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(YamlTextError);
    return error as YamlTextError;
  }
  throw new Error('expected a YamlTextError');
}

describe('parseYamlText', () => {
  it.each([
    ['empty text', '', undefined],
    ['comment only', '# nothing yet\n', undefined],
    ['date stays a string', 'expires: 2027-02-30\n', { expires: '2027-02-30' }],
    ['merge key stays a key', '<<: {a: 1}\n', { '<<': { a: 1 } }],
    ['alias of a small anchor', 'a: &x [1, 2]\nb: *x\n', { a: [1, 2], b: [1, 2] }],
    ['ampersand in a string', 'a: "x & y"\n', { a: 'x & y' }],
  ])('%s', (_name, text, expected) => {
    expect(parseYamlText(text, 'p.yaml')).toEqual(expected);
  });

  it.each([
    ['duplicate key', 'a: 1\nb: 2\na: 3\n', 'line 3, column 1: duplicated mapping key'],
    ['unknown tag', 'a: !!binary aGVsbG8=\n', 'line 1, column 4: unknown scalar tag'],
    ['timestamp tag', 'a: !!timestamp 2027-01-01\n', 'unknown scalar tag'],
    ['two documents', 'a: 1\n---\nb: 2\n', '2 YAML documents'],
    ['self-referencing anchor', 'a: &x [1, *x]\n', 'contains it'],
  ])('%s is rejected', (_name, text, fragment) => {
    expect(catchYamlError(text).message).toContain(fragment);
  });

  it('error shows the offending line', () => {
    const message = catchYamlError('a: 1\nb: [1, 2\n').message;
    expect(message).toMatch(/^line \d+, column \d+: /);
    expect(message).toContain('b: [1, 2');
  });

  it('alias bomb is rejected', () => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let level = 1; level < 10; level += 1) {
      lines.push(
        `a${level}: &a${level} [${Array(10)
          .fill(`*a${level - 1}`)
          .join(', ')}]`,
      );
    }
    expect(catchYamlError(lines.join('\n')).message).toContain('aliases expand the document');
  });
});

describe('checkAliasExpansion', () => {
  it('expansion at the limit passes', () => {
    const shared = Array.from({ length: 99 }, (_, index) => index);
    // Each further reference to the 100-node array adds 100 nodes.
    const root = Array.from({ length: MAX_ALIAS_EXPANSION / 100 + 1 }, () => shared);
    expect(() => checkAliasExpansion(root)).not.toThrow();
  });

  it('expansion over the limit fails', () => {
    const shared = Array.from({ length: 99 }, (_, index) => index);
    const root = Array.from({ length: MAX_ALIAS_EXPANSION / 100 + 2 }, () => shared);
    expect(() => checkAliasExpansion(root)).toThrow(YamlTextError);
  });

  it('deep chain of shared values fails', () => {
    let value: unknown = 'leaf';
    for (let level = 0; level < 200; level += 1) {
      value = { next: value };
    }
    expect(() => checkAliasExpansion(value)).toThrow(/deeper than/);
  });
});
