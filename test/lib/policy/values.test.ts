import { posix } from 'node:path';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import {
  describeCidrProblem,
  describePathProblem,
  parseCidr,
} from '../../../src/lib/policy/values.js';

/** Applies the path rule without the fast path: absolute, no "..", normalized. */
function isAcceptedPath(value: string): boolean {
  if (!value.startsWith('/') || value.split('/').includes('..')) {
    return false;
  }
  const normalized = value.length > 1 ? posix.normalize(value).replace(/\/$/, '') : value;
  return normalized === value;
}

describe('describePathProblem', () => {
  it.each([
    ['/', undefined],
    ['/srv/borg/a', undefined],
    ['/srv/.hidden/a..b', undefined],
    ['srv/a', 'relative'],
    ['/srv/../etc', '".."'],
    ['/srv/..', '".."'],
    ['/srv/./a', 'write "/srv/a"'],
    ['/srv/.', 'write "/srv"'],
    ['/srv//a', 'write "/srv/a"'],
    ['/srv/a/', 'write "/srv/a"'],
    ['//', 'not normalized'],
  ])('%s', (path, fragment) => {
    const problem = describePathProblem(path);
    if (fragment === undefined) {
      expect(problem).toBeUndefined();
    } else {
      expect(problem).toContain(fragment);
    }
  });

  it('agrees with the normalize rule', () => {
    const segment = fc.constantFrom('', '.', '..', 'a', '.a', 'a.', '...', 'b c', '\\');
    const path = fc
      .tuple(fc.boolean(), fc.array(segment, { maxLength: 6 }))
      .map(([absolute, parts]) => `${absolute ? '/' : ''}${parts.join('/')}`);
    fc.assert(
      fc.property(path, (value) => {
        expect(describePathProblem(value) === undefined).toBe(isAcceptedPath(value));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseCidr', () => {
  it.each([
    '192.0.2.10',
    '198.51.100.0/24',
    '198.51.100.7/24',
    '2001:db8::/32',
    '::1',
    '10.0.0.0/33',
    '2001:db8::/129',
    '',
    'example.org',
    '192.0.2.1/',
    'fe80::1%eth0',
  ])('%s matches ipaddr', (value) => {
    let expected: string | undefined;
    try {
      expected = value.includes('/')
        ? ipaddr.parseCIDR(value).toString()
        : `${ipaddr.parse(value).toString()}`;
    } catch {
      expected = undefined;
    }
    const parsed = parseCidr(value);
    const actual = parsed === undefined ? undefined : parsed.join('/');
    if (expected === undefined) {
      expect(actual).toBeUndefined();
    } else {
      expect(actual?.startsWith(expected)).toBe(true);
    }
  });

  it.each([
    ['192.168.001.010', /octal \(192\.168\.1\.8\), others as decimal \(192\.168\.1\.10\)/],
    ['010.0.0.0/8', /octal \(8\.0\.0\.0\/8\), others as decimal \(10\.0\.0\.0\/8\)/],
    ['0x0a.1.2.3', /some programs read it as 10\.1\.2\.3;/],
    ['1', /read it as 0\.0\.0\.1;/],
    ['0x7f.1', /not four plain decimal numbers/],
    ['::ffff:192.0.2.1', /written as IPv6, .* write 192\.0\.2\.1 instead/],
    ['::ffff:1.2.3.4/128', /write 1\.2\.3\.4\/32 instead/],
    ['::ffff:192.0.2.0/120', /write 192\.0\.2\.0\/24 instead/],
    ['192.168.001.000/24', /it means 192\.168\.1\.0\/24, but leading zeros/],
    ['10.0.0.0/010', /prefix length "010"; .* such as \/10/],
  ])('%s that ipaddr reads differently is refused', (value, problem) => {
    expect(parseCidr(value)).toBeUndefined();
    expect(describeCidrProblem(value)).toMatch(problem);
  });

  it('plain ranges have no problem', () => {
    expect(describeCidrProblem('198.51.100.0/24')).toBeUndefined();
    expect(describeCidrProblem('0.0.0.0/0')).toBeUndefined();
    expect(describeCidrProblem('2001:db8::/32')).toBeUndefined();
  });
});
