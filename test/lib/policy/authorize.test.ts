import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addressInRanges, authorizeClient } from '../../../src/lib/policy/authorize.js';
import { parsePolicy } from '../../../src/lib/policy/load.js';
import { connectionFactsFromEnv } from '../../../src/lib/session/facts.js';
import { SessionRefused } from '../../../src/lib/session/refusals.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJZ3sQ1lk1FGy0vU7uJYkUtlN3kN5sMLb6JqvU8bZ3Xk';
const OLD_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0Q9mD3dC4KqOeUeZMuy7Zc5H6Vw5J1h8cuHq2vNfPb';
const NOW = new Date('2026-06-01T12:00:00Z');

function policy(extra = '') {
  return parsePolicy(
    'p.yaml',
    `version: 1\nclients:\n  - id: web01\n    keys: ["${KEY} web01", {key: "${OLD_KEY}", expires: 2026-05-01}]\n${extra}`,
  );
}

function refusalReason(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (error instanceof SessionRefused) {
      return error.reason;
    }
    throw error;
  }
  return 'allowed';
}

describe('authorizeClient', () => {
  it.each([
    ['known client', '', {}, 'allowed'],
    ['unknown client', '', { id: 'web02' }, 'unknown-client'],
    ['disabled client', '    disabled: true\n', {}, 'client-disabled'],
    ['expired client', '    expires: 2026-06-01\n', {}, 'client-expired'],
    ['future expiry', '    expires: 2026-06-02\n', {}, 'allowed'],
    ['source in range', '    from: [192.0.2.0/24]\n', { ip: '192.0.2.7' }, 'allowed'],
    [
      'source outside range',
      '    from: [192.0.2.0/24]\n',
      { ip: '198.51.100.1' },
      'source-not-permitted',
    ],
    ['unknown source', '    from: [192.0.2.0/24]\n', {}, 'source-not-permitted'],
    ['mapped IPv4 source', '    from: [192.0.2.0/24]\n', { ip: '::ffff:192.0.2.9' }, 'allowed'],
    ['IPv6 source', '    from: ["2001:db8::/32"]\n', { ip: '2001:db8::1' }, 'allowed'],
    ['listed key', '', { key: KEY }, 'allowed'],
    ['expired rotated key', '', { key: OLD_KEY }, 'key-expired'],
    ['foreign key', '', { key: 'ssh-ed25519 AAAAforeign' }, 'key-mismatch'],
    ['unreadable auth info', '', { key: null }, 'key-unverified'],
  ])('%s', (_name, extra, facts: { id?: string; ip?: string; key?: string | null }, expected) => {
    const result = refusalReason(() =>
      authorizeClient(
        policy(extra),
        facts.id ?? 'web01',
        { clientIp: facts.ip, authenticatedKey: facts.key },
        NOW,
      ),
    );
    expect(result).toBe(expected);
  });
});

describe('addressInRanges', () => {
  it.each([
    ['10.1.2.3', ['10.0.0.0/8'], true],
    ['10.1.2.3', ['10.1.2.4'], false],
    ['10.1.2.3', ['10.1.2.3'], true],
    ['not-an-ip', ['0.0.0.0/0'], false],
    ['::1', ['0.0.0.0/0'], false],
  ])('%s in %j is %s', (address, ranges, expected) => {
    expect(addressInRanges(address, ranges)).toBe(expected);
  });
});

describe('connectionFactsFromEnv', () => {
  it('reads sshd variables', () => {
    const dir = mkdtempSync('/tmp/borg-gate-facts-');
    const auth = join(dir, 'auth');
    writeFileSync(auth, `publickey ${KEY}\n`);
    const facts = connectionFactsFromEnv({
      SSH_CONNECTION: '192.0.2.7 50022 192.0.2.1 22',
      SSH_ORIGINAL_COMMAND: 'borg serve --info',
      SSH_USER_AUTH: auth,
    });
    expect(facts.clientIp).toBe('192.0.2.7');
    expect(facts.clientPort).toBe(50022);
    expect(facts.command).toBe('borg serve --info');
    expect(facts.authenticatedKey).toBe(KEY);
  });

  it('marks unreadable auth info as null', () => {
    expect(
      connectionFactsFromEnv({ SSH_USER_AUTH: '/nonexistent/auth' }).authenticatedKey,
    ).toBeNull();
  });

  it('leaves auth info undefined without ExposeAuthInfo', () => {
    expect(connectionFactsFromEnv({}).authenticatedKey).toBeUndefined();
  });
});
