import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidBorgSizeError } from '../../../src/lib/borg-args/errors.js';
import { effectiveStorageQuota } from '../../../src/lib/borg-args/quota.js';
import { isStorageQuota, parseBorgSize } from '../../../src/lib/borg-args/size.js';

describe('parseBorgSize', () => {
  it.each([
    ['0', 0],
    ['1234', 1234],
    ['1K', 1000],
    ['10M', 10_000_000],
    ['55G', 55_000_000_000],
    ['1.7T', 1_700_000_000_000],
    ['2P', 2_000_000_000_000_000],
    ['0.1K', 100],
    ['3.3333G', 3_333_300_000],
  ])('%s', (text, bytes) => {
    expect(parseBorgSize(text)).toBe(bytes);
  });

  it.each(['', 'G', '1e3', 'inf', '-1G', '1 G', '1g', '1Gi', '1KB', '.5G', '5.G', '1_000'])(
    'rejects %j',
    (text) => {
      expect(() => parseBorgSize(text)).toThrow(InvalidBorgSizeError);
    },
  );

  it('rejects a non-finite size', () => {
    expect(() => parseBorgSize(`${'9'.repeat(400)}P`)).toThrow(InvalidBorgSizeError);
  });

  it('matches borg parse_file_size', () => {
    const sizes = fc.sample(
      fc
        .tuple(
          fc.nat({ max: 99_999 }),
          fc.option(fc.stringMatching(/^[0-9]{1,6}$/), { nil: undefined }),
          fc.constantFrom('', 'K', 'M', 'G', 'T', 'P'),
        )
        .map(([whole, fraction, suffix]) => `${whole}${fraction ? `.${fraction}` : ''}${suffix}`),
      300,
    );
    const script = [
      'import json, sys',
      'from borg.helpers.parseformat import parse_file_size',
      'print(json.dumps([parse_file_size(s) for s in json.load(sys.stdin)]))',
    ].join('\n');
    const output = execFileSync('/usr/bin/python3', ['-c', script], {
      input: JSON.stringify(sizes),
    });
    const expected = JSON.parse(output.toString()) as number[];
    expect(sizes.map(parseBorgSize)).toEqual(expected);
  });
});

describe('isStorageQuota', () => {
  it.each([
    ['10M', true],
    ['10000000', true],
    ['9999999', false],
    ['0.01G', true],
    ['0.009G', false],
    ['1T', true],
    ['1e9', false],
    [`1${'0'.repeat(40)}`, false],
  ])('%s is %s', (text, expected) => {
    expect(isStorageQuota(text)).toBe(expected);
  });
});

describe('effectiveStorageQuota', () => {
  it.each([
    [undefined, undefined, undefined],
    ['1G', undefined, '1G'],
    [undefined, '1G', '1G'],
    ['1G', '999M', '999M'],
    ['1G', '1001M', '1G'],
    ['1G', '1000M', '1G'],
  ])('policy %s client %s', (policy, client, expected) => {
    expect(effectiveStorageQuota(policy, client)).toBe(expected);
  });
});
