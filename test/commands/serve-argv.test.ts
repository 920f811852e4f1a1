import { describe, expect, it } from 'vitest';
import { parseServeArgv } from '../../src/commands/serve-argv.js';

const FALLBACK = '/var/log/borg-gate/audit.log';

describe('parseServeArgv', () => {
  it('reads client and policy', () => {
    expect(parseServeArgv(['--client', 'web01', '--policy', '/etc/p.yaml'], FALLBACK)).toEqual({
      clientId: 'web01',
      policyFile: '/etc/p.yaml',
      fallbackAuditLog: FALLBACK,
    });
  });

  it('accepts the equals form', () => {
    const parsed = parseServeArgv(['--client=web01', '--audit-log=/tmp/a.log'], FALLBACK);
    expect(parsed).toMatchObject({ clientId: 'web01', fallbackAuditLog: '/tmp/a.log' });
  });

  it('uses the default policy', () => {
    expect(parseServeArgv(['--client', 'web01'], FALLBACK)).toMatchObject({
      policyFile: '/etc/borg-gate/policy.yaml',
    });
  });

  it.each([
    [[], 'serve needs --client'],
    [['--client'], '--client needs a value'],
    [['--client', 'a b'], 'serve needs --client'],
    [['--client', 'web01', '--shell'], 'unknown serve argument "--shell"'],
    [['--client', 'web01', 'extra'], 'unknown serve argument "extra"'],
    [['--client', 'a', '--client', 'b'], '--client is given twice'],
    [['--client=a', '--policy', '/p', '--policy=/q'], '--policy is given twice'],
  ])('%j is an error', (args, message) => {
    expect(parseServeArgv(args, FALLBACK)).toContain(message);
  });
});
