import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bucketOf,
  type CacheOrigin,
  encodeCache,
  findClient,
  indexEntry,
  parseHeader,
  sha256Hex,
} from '../../../src/lib/policy/cache-layout.js';
import type { Policy } from '../../../src/lib/policy/schema.js';

const ORIGIN: CacheOrigin = {
  build: 'test-build',
  policy_file: '/etc/borg-gate/policy.yaml',
  source_sha256: 'a'.repeat(64),
  source_size: 123,
};

const DATE_TAG = '$borg_gate_date';

/** A policy with the settings and client fields a cache must carry, Dates included. */
function samplePolicy(extra: Record<string, unknown> = {}): Policy {
  return {
    version: 1,
    borg: { binaries: { borg: '/usr/bin/borg' }, umask: '0077' },
    audit_log: '/var/log/borg-gate/audit.log',
    state_dir: '/var/lib/borg-gate',
    clients: [
      {
        id: 'web01',
        keys: [{ key: 'ssh-ed25519 AAAA web', expires: new Date('2030-01-01T00:00:00Z') }],
        repositories: [{ path: '/srv/borg/web01', name: 'main' }],
        paths: [],
        mode: 'append-only',
        expires: new Date('2031-06-01T12:00:00.123Z'),
        disabled: false,
        allow_check: true,
        ...extra,
      },
      {
        id: 'db01',
        keys: ['ssh-ed25519 AAAA db'],
        repositories: ['/srv/borg/db01'],
        paths: [],
        mode: 'read-only',
        disabled: false,
        allow_check: true,
      },
    ],
  } as unknown as Policy;
}

/** Reads every part of an encoded cache back the way a reader does, checking each hash. */
function decode(parts: Buffer[], clientIds: string[]) {
  const [headerBytes, index, body] = parts;
  const header = parseHeader(headerBytes!.toString('utf8').trimEnd());
  expect(header).toBeDefined();
  expect(sha256Hex(index!)).toBe(header!.index_sha256);
  expect(body!.length).toBe(header!.body_bytes);
  const clients = clientIds.map((id) => {
    const entry = indexEntry(index!, bucketOf(id, header!.bucket_count))!;
    const bucket = body!.subarray(entry.offset, entry.offset + entry.length);
    expect(sha256Hex(bucket)).toBe(entry.sha256);
    return findClient(bucket, id);
  });
  return { ...header!.settings, clients };
}

/** Replaces each Date by its tag object, so JSON.stringify gives the reference encoding. */
function tagDates(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  return raw instanceof Date ? { [DATE_TAG]: raw.toISOString() } : value;
}

class Grant {
  path = '/srv/borg/web01';
}

function sparseArray(): unknown[] {
  const values: unknown[] = ['/srv/a'];
  values[2] = '/srv/c';
  return values;
}

function arrayWithKey(): unknown[] {
  return Object.assign(['/srv/a'], { extra: true });
}

function dateWithKey(): Date {
  return Object.assign(new Date('2030-01-01T00:00:00Z'), { note: 'x' });
}

function ownProtoKey(): unknown {
  return JSON.parse('{"__proto__": {"path": "/srv/x"}}');
}

describe('encodeCache', () => {
  it('round-trips settings and clients', () => {
    const policy = samplePolicy();
    const parts = encodeCache(ORIGIN, policy);
    expect(parts).toBeDefined();
    const decoded = decode(parts!, ['web01', 'db01']);
    expect(isDeepStrictEqual(decoded, policy)).toBe(true);
  });

  it('lines match the reference encoding', () => {
    const policy = samplePolicy();
    const body = encodeCache(ORIGIN, policy)![2]!.toString('utf8');
    for (const client of policy.clients) {
      expect(body.split('\n')).toContain(JSON.stringify(client, tagDates));
    }
  });

  it('edited settings fail the header', () => {
    const [header] = encodeCache(ORIGIN, samplePolicy())!;
    const line = header!.toString('utf8').trimEnd();
    expect(parseHeader(line)).toBeDefined();
    const edited = line.replace('"/usr/bin/borg"', '"/tmp/x/borg"');
    expect(edited).not.toBe(line);
    expect(parseHeader(edited)).toBeUndefined();
  });

  it('header fields in order', () => {
    const policy = samplePolicy();
    const [header] = encodeCache(ORIGIN, policy)!;
    const { clients: _clients, ...settings } = policy;
    const parsed = JSON.parse(header!.toString('utf8')) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual([
      'format',
      'version',
      'build',
      'policy_file',
      'source_sha256',
      'source_size',
      'bucket_count',
      'index_sha256',
      'body_bytes',
      'client_count',
      'order_sha256',
      'gate_dirs',
      'settings_sha256',
      'settings',
    ]);
    expect(parsed.settings).toEqual(JSON.parse(JSON.stringify(settings)));
  });

  it.each([
    ['undefined value', { storage_quota: undefined }],
    ['negative zero', { weight: -0 }],
    ['NaN', { weight: Number.NaN }],
    ['Infinity', { weight: Number.POSITIVE_INFINITY }],
    ['bigint', { weight: 1n }],
    ['function', { weight: () => 1 }],
    ['Map', { grants: new Map([['a', 1]]) }],
    ['Set', { grants: new Set(['a']) }],
    ['class instance', { grants: new Grant() }],
    ['null prototype', { grants: Object.create(null) as object }],
    ['symbol key', { grants: { [Symbol('s')]: 1 } }],
    ['sparse array', { paths: sparseArray() }],
    ['array with a key', { paths: arrayWithKey() }],
    ['invalid Date', { expires: new Date(Number.NaN) }],
    ['Date with a key', { expires: dateWithKey() }],
    ['tag-shaped object', { grants: { [DATE_TAG]: '2030-01-01T00:00:00.000Z' } }],
    ['tag key beside others', { grants: { [DATE_TAG]: 'x', other: 1 } }],
    ['own __proto__ key', { grants: ownProtoKey() }],
  ])('rejects %s', (_name, extra) => {
    expect(encodeCache(ORIGIN, samplePolicy(extra))).toBeUndefined();
  });

  it('rejects id not first', () => {
    const policy = samplePolicy();
    const { id, ...rest } = policy.clients[1]!;
    policy.clients[1] = { ...rest, id } as Policy['clients'][number];
    expect(encodeCache(ORIGIN, policy)).toBeUndefined();
  });

  it('rejects a symbol key in the settings', () => {
    const policy = { ...samplePolicy(), [Symbol('s')]: 1 } as Policy;
    expect(encodeCache(ORIGIN, policy)).toBeUndefined();
  });

  it('rejects a sparse client list', () => {
    const policy = samplePolicy();
    policy.clients.length = 3;
    expect(encodeCache(ORIGIN, policy)).toBeUndefined();
  });

  it('any value exact or rejected', () => {
    const value = fc.anything({
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withSparseArray: true,
      withBigInt: true,
      withBoxedValues: true,
      withTypedArray: true,
    });
    fc.assert(
      fc.property(value, (extra) => {
        const policy = samplePolicy({ extra });
        const parts = encodeCache(ORIGIN, policy);
        const reference = referenceEncoding(policy.clients[0]);
        const referenceExact =
          reference !== undefined &&
          isDeepStrictEqual(JSON.parse(reference, reviveDates), policy.clients[0]);
        if (parts === undefined) {
          // Rejected: a value the reference encoding loses, or a tag or `__proto__` key.
          if (referenceExact) {
            expect(hasSpecialKey(extra)).toBe(true);
          }
          return;
        }
        expect(isDeepStrictEqual(decode(parts, ['web01', 'db01']), policy)).toBe(true);
        expect(parts[2]!.toString('utf8').split('\n')).toContain(reference);
      }),
      { numRuns: 500 },
    );
  });
});

describe('bucketOf', () => {
  // FNV-1a 32-bit reference values; a change here needs a new cache format version.
  it.each([
    ['', 0x811c9dc5],
    ['a', 0xe40c292c],
    ['foobar', 0xbf9cf968],
  ])('hash of "%s"', (id, hash) => {
    expect(bucketOf(id, 2 ** 32)).toBe(hash);
  });

  it('spreads 10,000 ids over 100 buckets', () => {
    const counts = new Array<number>(100).fill(0);
    for (let index = 0; index < 10_000; index += 1) {
      counts[bucketOf(`client-${index}`, 100)]! += 1;
    }
    expect(Math.min(...counts)).toBeGreaterThan(50);
    expect(Math.max(...counts)).toBeLessThan(150);
  });
});

/** Returns the reference encoding, or undefined where JSON.stringify throws (a bigint). */
function referenceEncoding(value: unknown): string | undefined {
  try {
    return JSON.stringify(value, tagDates);
  } catch {
    return undefined;
  }
}

function reviveDates(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const tagged = (value as Record<string, unknown>)[DATE_TAG];
    if (Object.keys(value).length === 1 && typeof tagged === 'string') {
      return new Date(tagged);
    }
  }
  return value;
}

/** Returns true when `value` contains an object key that the encoder rejects outright. */
function hasSpecialKey(value: unknown): boolean {
  if (value === null || typeof value !== 'object') {
    return false;
  }
  return Object.keys(value).some(
    (key) =>
      key === DATE_TAG ||
      key === '__proto__' ||
      hasSpecialKey((value as Record<string, unknown>)[key]),
  );
}
