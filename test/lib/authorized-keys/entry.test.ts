import { rmSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkGateCommand,
  formatEntry,
  formatExpiryTime,
  formatSource,
  type GateCommand,
  gateEntryPattern,
} from '../../../src/lib/authorized-keys/entry.js';
import { collectKeyRecords } from '../../../src/lib/authorized-keys/key-records.js';
import { PublicKeyError } from '../../../src/lib/authorized-keys/public-key.js';
import type { PolicyInput } from '../../../src/lib/policy/schema.js';
import { makeKeys, makePolicy } from './fixtures.js';

type ClientInput = PolicyInput['clients'][number];

const { dir, keys } = makeKeys(1);
const now = new Date('2026-06-01T00:00:00Z');
const command = { gatePath: '/usr/local/bin/borg-gate', policyFile: '/etc/borg-gate/policy.yaml' };
const [keyType, keyBase64] = keys[0]!.split(' ');

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function entryFor(client: Omit<ClientInput, 'id'>, gate: GateCommand = command): string {
  const policy = makePolicy([{ id: 'web1', ...client }]);
  return formatEntry(collectKeyRecords(policy, now)[0]!, gate);
}

describe('formatEntry', () => {
  it('minimal entry', () => {
    expect(entryFor({ keys: [keys[0]!] })).toBe(
      `command="/usr/local/bin/borg-gate serve --client web1",restrict ${keyType} ${keyBase64} key0@test`,
    );
  });

  it('policy path when not default', () => {
    const entry = entryFor(
      { keys: [keys[0]!] },
      { ...command, policyFile: '/srv/gate/policy.yaml' },
    );
    expect(entry).toMatch(
      /^command="\/usr\/local\/bin\/borg-gate serve --client web1 --policy \/srv\/gate\/policy\.yaml",restrict /,
    );
  });

  it('audit log when not default', () => {
    const entry = entryFor({ keys: [keys[0]!] }, { ...command, auditLog: '/srv/log/audit.log' });
    expect(entry).toMatch(/ serve --client web1 --audit-log \/srv\/log\/audit\.log",restrict /);
  });

  it('default audit log omitted', () => {
    const gate = { ...command, auditLog: '/var/log/borg-gate/audit.log' };
    expect(entryFor({ keys: [keys[0]!] }, gate)).toMatch(/ serve --client web1",restrict /);
  });

  it('from and expiry', () => {
    const entry = entryFor({
      keys: [{ key: keys[0]!, expires: '2026-09-01T12:30:05Z' }],
      from: ['192.0.2.10', '198.51.100.7/24', '2001:db8::1/64'],
    });
    expect(entry).toContain(
      ',restrict,from="192.0.2.10,198.51.100.0/24,2001:db8::/64",expiry-time="20260901123005Z" ',
    );
  });

  it('client id used when comment empty', () => {
    expect(entryFor({ keys: [`${keyType} ${keyBase64}`] })).toMatch(/ web1$/);
  });

  it('entry is one line', () => {
    expect(entryFor({ keys: [keys[0]!], from: ['192.0.2.1'] })).not.toMatch(/[\r\n]/);
  });

  it('quotes in comment stay after key', () => {
    const entry = entryFor({ keys: [`${keyType} ${keyBase64} x",command="/bin/sh" no-pty`] });
    expect(entry).toBe(
      `command="/usr/local/bin/borg-gate serve --client web1",restrict ${keyType} ${keyBase64} x",command="/bin/sh" no-pty`,
    );
  });

  it('any comment gives one safe line', () => {
    const prefix = 'command="/usr/local/bin/borg-gate serve --client web1",restrict ';
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (comment) => {
        let entry: string;
        try {
          entry = entryFor({ keys: [`${keyType} ${keyBase64} ${comment}`] });
        } catch (error) {
          // Rejecting the comment is fine; anything but a PublicKeyError is a bug.
          expect(error).toBeInstanceOf(PublicKeyError);
          return;
        }
        expect(entry.startsWith(`${prefix}${keyType} ${keyBase64} `)).toBe(true);
        // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for line breaks.
        expect(entry).not.toMatch(/[\r\n\u0000\u0085\u2028\u2029]/);
      }),
      { numRuns: 300 },
    );
  });

  it('id with quote rejected', () => {
    const policy = makePolicy([{ id: 'web1', keys: [keys[0]!] }]);
    const record = collectKeyRecords(policy, now)[0]!;
    record.client = { ...record.client, id: 'web1" ,no-restrict' };
    expect(() => formatEntry(record, command)).toThrow(/is not a valid id/);
  });
});

describe('gateEntryPattern', () => {
  const pattern = gateEntryPattern(command.gatePath);
  const key = `${keyType} ${keyBase64}`;

  it.each<[string, Omit<ClientInput, 'id'>, GateCommand]>([
    ['minimal', { keys: [keys[0]!] }, command],
    [
      'all options',
      {
        keys: [{ key: keys[0]!, expires: '2030-01-01' }],
        from: ['192.0.2.7/24', '2001:db8::/32'],
      },
      { ...command, policyFile: '/srv/p.yaml', auditLog: '/srv/log/a.log' },
    ],
  ])('matches a %s entry', (_name, client, gate) => {
    expect(pattern.test(entryFor(client, gate))).toBe(true);
  });

  it.each([
    ['shell after serve', `command="${command.gatePath} serve ; id",restrict ${key}`],
    ['shell after id', `command="${command.gatePath} serve --client a;id",restrict ${key}`],
    ['extra argument', `command="${command.gatePath} serve --client a --debug",restrict ${key}`],
    ['pty after restrict', `command="${command.gatePath} serve --client a",restrict,pty ${key}`],
    ['no restrict', `command="${command.gatePath} serve --client a" ${key}`],
    ['other gate path', `command="/tmp/borg-gate serve --client a",restrict ${key}`],
    [
      'dot as any character',
      `command="/usr/local/bin/borg-gateX serve --client a",restrict ${key}`,
    ],
    ['no key', `command="${command.gatePath} serve --client a",restrict`],
  ])('rejects %s', (_name, line) => {
    expect(pattern.test(line)).toBe(false);
  });
});

describe('checkGateCommand', () => {
  it.each([
    [
      'relative gate path',
      { ...command, gatePath: 'dist/borg-gate.js' },
      /--gate-path "dist\/borg-gate\.js"/,
    ],
    ['space in gate path', { ...command, gatePath: '/opt/borg gate/borg-gate' }, /--gate-path/],
    ['quote in gate path', { ...command, gatePath: '/opt/x"/borg-gate' }, /--gate-path/],
    ['shell chars in policy', { ...command, policyFile: '/etc/$(id)/p.yaml' }, /--policy/],
    ['newline in policy', { ...command, policyFile: '/etc/p.yaml\nx' }, /--policy/],
    ['space in audit_log', { ...command, auditLog: '/var/log/my logs/a.log' }, /audit_log/],
  ])('%s', (_name, gate, message) => {
    expect(() => checkGateCommand(gate)).toThrow(message);
  });

  it('plain paths accepted', () => {
    expect(() => checkGateCommand(command)).not.toThrow();
  });
});

describe('formatSource', () => {
  it.each([
    ['192.0.2.10', '192.0.2.10'],
    ['192.0.2.10/32', '192.0.2.10'],
    ['198.51.100.7/24', '198.51.100.0/24'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['2001:db8::1', '2001:db8::1'],
    ['2001:db8:0:0:1::/64', '2001:db8::/64'],
  ])('%s', (source, expected) => {
    expect(formatSource(source)).toBe(expected);
  });
});

describe('formatExpiryTime', () => {
  it.each([
    ['2026-09-01T00:00:00Z', '20260901000000Z'],
    ['2026-12-31T23:59:59.900Z', '20261231235959Z'],
    ['2030-01-02T03:04:05+02:00', '20300102010405Z'],
  ])('%s', (time, expected) => {
    expect(formatExpiryTime(new Date(time))).toBe(expected);
  });
});
