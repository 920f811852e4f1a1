import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { AuthorizedKeysError } from '../../../src/lib/authorized-keys/errors.js';
import { collectKeyRecords } from '../../../src/lib/authorized-keys/key-records.js';
import { makeKeys, makePolicy } from './fixtures.js';

const { dir, keys } = makeKeys(3);
const now = new Date('2026-06-01T00:00:00Z');

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('collectKeyRecords', () => {
  it.each([
    ['no expiry', {}, {}, undefined, 'active'],
    ['client expiry', { expires: '2027-01-01' }, {}, '2027-01-01T00:00:00.000Z', 'active'],
    ['key expiry', {}, { expires: '2026-09-01' }, '2026-09-01T00:00:00.000Z', 'active'],
    [
      'key earlier',
      { expires: '2027-01-01' },
      { expires: '2026-09-01' },
      '2026-09-01T00:00:00.000Z',
      'active',
    ],
    [
      'client earlier',
      { expires: '2026-07-01' },
      { expires: '2026-09-01' },
      '2026-07-01T00:00:00.000Z',
      'active',
    ],
    ['client expired', { expires: '2026-05-01' }, {}, '2026-05-01T00:00:00.000Z', 'client-expired'],
    [
      'key expired',
      {},
      { expires: '2026-05-31T23:59:59Z' },
      '2026-05-31T23:59:59.000Z',
      'key-expired',
    ],
    [
      'expires exactly now',
      {},
      { expires: '2026-06-01T00:00:00Z' },
      '2026-06-01T00:00:00.000Z',
      'key-expired',
    ],
    ['disabled', { disabled: true }, {}, undefined, 'client-disabled'],
  ])('%s', (_name, client, key, expires, status) => {
    const policy = makePolicy([{ id: 'web1', ...client, keys: [{ key: keys[0]!, ...key }] }]);
    const [record] = collectKeyRecords(policy, now);
    expect(record!.expires?.toISOString()).toBe(expires);
    expect(record!.status).toBe(status);
  });

  it('same key twice in one client', () => {
    const policy = makePolicy([{ id: 'web1', keys: [keys[0]!, `${keys[0]} other comment`] }]);
    expect(() => collectKeyRecords(policy, now, '/etc/p.yaml')).toThrow(
      /clients\[0\]\.keys\[1\] \(client "web1"\): key SHA256:\S+ is already listed earlier in the same client/,
    );
  });

  it('same key in two clients', () => {
    const policy = makePolicy([
      { id: 'web1', keys: [keys[0]!] },
      { id: 'db1', keys: [keys[0]!] },
    ]);
    expect(() => collectKeyRecords(policy, now)).toThrow(/is already listed for client "web1"/);
  });

  it('invalid key names client and index', () => {
    const policy = makePolicy([
      { id: 'web1', keys: [keys[0]!] },
      { id: 'db1', keys: [keys[1]!, 'no-pty ssh-ed25519 AAAA'] },
    ]);
    expect(() => collectKeyRecords(policy, now, '/etc/p.yaml')).toThrow(
      /^\/etc\/p\.yaml: clients\[1\]\.keys\[1\] \(client "db1"\): authorized_keys options "no-pty"/,
    );
  });

  it('error class is AuthorizedKeysError', () => {
    const policy = makePolicy([{ id: 'web1', keys: [keys[2]!, keys[2]!] }]);
    expect(() => collectKeyRecords(policy, now)).toThrow(AuthorizedKeysError);
  });
});
