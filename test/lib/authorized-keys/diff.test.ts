import { describe, expect, it } from 'vitest';
import { unifiedDiff } from '../../../src/lib/authorized-keys/diff.js';

describe('unifiedDiff', () => {
  it('equal texts give empty', () => {
    expect(unifiedDiff('a\nb\n', 'a\nb\n', 'old', 'new')).toBe('');
  });

  it('one changed line', () => {
    expect(unifiedDiff('a\nb\nc\n', 'a\nB\nc\n', 'old', 'new')).toBe(
      '--- old\n+++ new\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n',
    );
  });

  it('added line at end', () => {
    expect(unifiedDiff('a\n', 'a\nb\n', 'old', 'new')).toBe(
      '--- old\n+++ new\n@@ -1,1 +1,2 @@\n a\n+b\n',
    );
  });

  it('separate hunks', () => {
    const before = Array.from({ length: 20 }, (_, index) => `line ${index}`);
    const after = [...before];
    after[1] = 'changed 1';
    after[18] = 'changed 18';
    const diff = unifiedDiff(`${before.join('\n')}\n`, `${after.join('\n')}\n`, 'old', 'new');
    expect(diff.match(/^@@ /gm)).toHaveLength(2);
    expect(diff).toContain('@@ -1,5 +1,5 @@\n line 0\n-line 1\n+changed 1\n');
    expect(diff).toContain(
      '@@ -16,5 +16,5 @@\n line 15\n line 16\n line 17\n-line 18\n+changed 18\n line 19\n',
    );
  });

  it('numbers lines from where the texts start in their file', () => {
    expect(unifiedDiff('a\nb\n', 'a\nB\n', 'old', 'new', 41)).toBe(
      '--- old\n+++ new\n@@ -41,2 +41,2 @@\n a\n-b\n+B\n',
    );
  });

  it('texts with the same lines give empty', () => {
    expect(unifiedDiff('a\nb', 'a\nb\n', 'old', 'new')).toBe('');
  });

  it('missing block shows all added', () => {
    expect(unifiedDiff('', 'x\ny\n', 'old', 'new')).toBe(
      '--- old\n+++ new\n@@ -1,0 +1,2 @@\n+x\n+y\n',
    );
  });
});
