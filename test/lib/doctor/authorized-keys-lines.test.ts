import { describe, expect, it } from 'vitest';
import {
  gateClientOf,
  parseAuthorizedKeys,
} from '../../../src/lib/doctor/authorized-keys-lines.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHmP0qKkMwZbXtkqJxWpJ9b1qf4Wm0b8RrVx2V5b1yHf host';

describe('parseAuthorizedKeys', () => {
  it.each([
    ['bare key', KEY, []],
    ['restrict', `restrict ${KEY}`, ['restrict']],
    [
      'command with comma and quote',
      `command="/x/borg-gate serve --client a,b \\"q\\"",restrict ${KEY}`,
      ['command', 'restrict'],
    ],
    ['uppercase option', `RESTRICT,no-pty ${KEY}`, ['restrict', 'no-pty']],
  ])('%s', (_name, line, options) => {
    const { keys, invalid } = parseAuthorizedKeys(`# comment\n\n${line}\n`);
    expect(invalid).toEqual([]);
    expect(keys).toHaveLength(1);
    expect([...keys[0]!.options.keys()]).toEqual(options);
    expect(keys[0]!.keyType).toBe('ssh-ed25519');
    expect(keys[0]!.line).toBe(3);
  });

  it('unescapes quoted command values', () => {
    const { keys } = parseAuthorizedKeys(`command="a \\"b\\" c" ${KEY}`);
    expect(keys[0]!.options.get('command')).toBe('a "b" c');
  });

  it.each([
    ['unterminated quote', `command="abc ${KEY}`],
    ['no key', 'restrict'],
    ['garbage', 'hello world'],
  ])('invalid: %s', (_name, line) => {
    const { keys, invalid } = parseAuthorizedKeys(line);
    expect(keys).toEqual([]);
    expect(invalid).toEqual([1]);
  });
});

describe('gateClientOf', () => {
  it.each([
    ['/usr/local/bin/borg-gate serve --client web1', 'web1'],
    ['/usr/local/bin/borg-gate serve --client web1 --policy /etc/p.yaml', 'web1'],
    ['/usr/bin/node /opt/borg-gate.js serve --client=db1', 'db1'],
    ['/usr/bin/borg serve --restrict-to-path /srv', undefined],
    ['/usr/local/bin/borg-gate keys lookup', undefined],
    ['/usr/local/bin/not-borg-gate serve --client x', undefined],
  ])('%s', (command, expected) => {
    expect(gateClientOf(command)).toBe(expected);
  });
});
