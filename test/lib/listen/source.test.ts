import { describe, expect, it } from 'vitest';
import { normalizeAddress, sourceKey } from '../../../src/lib/listen/source.js';

describe('normalizeAddress', () => {
  it.each([
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['192.0.2.7', '192.0.2.7'],
    ['2001:db8::1', '2001:db8::1'],
    ['not an address', 'not an address'],
  ])('%s becomes %s', (input, expected) => {
    expect(normalizeAddress(input)).toBe(expected);
  });
});

describe('sourceKey', () => {
  it.each([
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['2001:db8:1:2:aaaa::1', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:bbbb::9', '2001:db8:1:2::/64'],
  ])('%s counts as %s', (input, expected) => {
    expect(sourceKey(input)).toBe(expected);
  });
});
