import { describe, expect, it } from 'vitest';
import {
  CHECK_DEFAULTS,
  canVerifyData,
  overdueAfterMs,
  resolveCheckTargets,
} from '../../../src/lib/check/targets.js';
import { checksSchema, parseDuration } from '../../../src/lib/policy/checks-schema.js';
import { policySchema } from '../../../src/lib/policy/schema.js';

const DAY = 86_400_000;

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['6h', 21_600_000],
    ['7d', 7 * DAY],
    ['2w', 14 * DAY],
  ])('%s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['0d', '7', 'd', '7 d', '1.5d', '-1d', '7D', '1y', ''])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('checksSchema', () => {
  it.each([
    ['empty section', {}],
    [
      'full defaults',
      {
        defaults: {
          repository_only_every: '7d',
          verify_data_every: '30d',
          timeout: '6h',
          lock_wait: 600,
          overdue_after: 1.5,
          alert_command: ['/usr/local/bin/alert', '--to', 'ops'],
        },
      },
    ],
    ['overdue as duration', { defaults: { overdue_after: '10d' } }],
    [
      'passphrase file',
      { repositories: { '/srv/borg/a': { passphrase_file: '/etc/borg-gate/a.pass' } } },
    ],
    [
      'passcommand',
      { repositories: { '/srv/borg/a': { passcommand: ['/usr/bin/pass', 'show', 'a'] } } },
    ],
    ['unencrypted', { repositories: { '/srv/borg/a': { unencrypted: true } } }],
    ['state file', { state_file: '/var/lib/borg-gate/checks.json' }],
  ])('accepts %s', (_name, input) => {
    expect(checksSchema.safeParse(input).success).toBe(true);
  });

  it.each([
    ['unknown key', { every: '7d' }, 'every'],
    ['bad duration', { defaults: { timeout: '6 hours' } }, 'not a duration'],
    ['factor below 1', { defaults: { overdue_after: 0.5 } }, 'factor below 1'],
    ['lock wait fraction', { defaults: { lock_wait: 1.5 } }, ''],
    ['relative alert program', { defaults: { alert_command: ['mail'] } }, 'absolute path'],
    ['empty alert command', { defaults: { alert_command: [] } }, 'program path'],
    ['relative repository', { repositories: { 'srv/a': {} } }, 'absolute'],
    ['trailing slash', { repositories: { '/srv/a/': {} } }, 'absolute'],
    ['dot-dot repository', { repositories: { '/srv/../etc': {} } }, 'absolute'],
    [
      'both sources',
      {
        repositories: { '/srv/a': { passphrase_file: '/p', passcommand: ['/bin/cat', '/p'] } },
      },
      'not both',
    ],
    [
      'unencrypted with file',
      {
        repositories: { '/srv/a': { passphrase_file: '/p', unencrypted: true } },
      },
      'unencrypted',
    ],
    [
      'passphrase in policy',
      { repositories: { '/srv/a': { passphrase: 'secret' } } },
      'passphrase',
    ],
  ])('rejects %s', (_name, input, text) => {
    const result = checksSchema.safeParse(input);
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain(text);
  });
});

function policyWith(checks: unknown) {
  return policySchema.parse({
    version: 1,
    checks,
    clients: [
      { id: 'alice', keys: ['ssh-ed25519 AAAA alice'], repositories: ['/srv/borg/alice'] },
      {
        id: 'bob',
        keys: ['ssh-ed25519 BBBB bob'],
        repositories: [{ path: '/srv/borg/bob' }, '/srv/borg/shared'],
      },
      { id: 'carol', keys: ['ssh-ed25519 CCCC carol'], repositories: ['/srv/borg/shared'] },
    ],
  });
}

describe('resolveCheckTargets', () => {
  it('union of clients and checks', () => {
    const targets = resolveCheckTargets(policyWith({ repositories: { '/srv/borg/extra': {} } }));
    expect(targets.map((target) => target.repository)).toEqual([
      '/srv/borg/alice',
      '/srv/borg/bob',
      '/srv/borg/extra',
      '/srv/borg/shared',
    ]);
  });

  it('no checks section uses defaults', () => {
    const [target] = resolveCheckTargets(policyWith(undefined));
    expect(target!.everyMs).toEqual({ repository_only: 7 * DAY, verify_data: 30 * DAY });
    expect(target!.timeoutMs).toBe(CHECK_DEFAULTS.timeoutMs);
    expect(target!.lockWaitSeconds).toBe(600);
    expect(target!.alertCommand).toBeUndefined();
    expect(target!.passphrase).toEqual({ type: 'none' });
    expect(canVerifyData(target!)).toBe(false);
  });

  it('override beats defaults', () => {
    const targets = resolveCheckTargets(
      policyWith({
        defaults: { repository_only_every: '1d', lock_wait: 60, alert_command: ['/bin/true'] },
        repositories: {
          '/srv/borg/bob': { repository_only_every: '2d', passphrase_file: '/etc/bob.pass' },
        },
      }),
    );
    const alice = targets.find((target) => target.repository === '/srv/borg/alice')!;
    const bob = targets.find((target) => target.repository === '/srv/borg/bob')!;
    expect(alice.everyMs.repository_only).toBe(DAY);
    expect(bob.everyMs.repository_only).toBe(2 * DAY);
    expect(bob.lockWaitSeconds).toBe(60);
    expect(bob.alertCommand).toEqual(['/bin/true']);
    expect(bob.passphrase).toEqual({ type: 'file', file: '/etc/bob.pass' });
  });

  it('disabled repository left out', () => {
    const targets = resolveCheckTargets(
      policyWith({ repositories: { '/srv/borg/alice': { disabled: true } } }),
    );
    expect(targets.map((target) => target.repository)).not.toContain('/srv/borg/alice');
  });

  it.each([
    [{ overdue_after: 2 }, 'repository_only', 14 * DAY],
    [{ overdue_after: 2 }, 'verify_data', 60 * DAY],
    [{ overdue_after: '10d' }, 'verify_data', 10 * DAY],
    [{}, 'repository_only', Math.round(7 * DAY * 1.5)],
  ] as const)('overdue after %j %s', (defaults, kind, ms) => {
    const [target] = resolveCheckTargets(policyWith({ defaults }));
    expect(overdueAfterMs(target!, kind)).toBe(ms);
  });
});
