import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { findFlagRule, SERVE_FLAGS } from '../../../src/lib/borg-args/flags.js';

const NAMES = SERVE_FLAGS.flatMap((rule) => [rule.flag, ...rule.aliases]);

describe('SERVE_FLAGS', () => {
  it('has no duplicate names', () => {
    expect(new Set(NAMES).size).toBe(NAMES.length);
  });

  it('gives every row a reason', () => {
    for (const rule of SERVE_FLAGS) {
      expect(rule.reason.length, rule.flag).toBeGreaterThan(0);
    }
  });

  it.each([
    '--restrict-to-path',
    '--restrict-to-repository',
    '--append-only',
    '--permissions',
    '--debug-profile',
    '--bypass-lock',
    '--rsh',
    '--remote-path',
    '--socket',
    '--help',
    '-h',
  ])('forbids %s', (name) => {
    expect(findFlagRule(name)?.verdict).toBe('forbid');
  });

  it.each([
    '--debug',
    '--info',
    '-v',
    '--verbose',
    '--warning',
    '--error',
    '--critical',
    '--debug-topic',
    '--log-json',
    '--lock-wait',
    '--umask',
    '--storage-quota',
  ])('allows %s', (name) => {
    expect(findFlagRule(name)?.verdict).toBe('allow');
  });

  it('lists every option of real borg serve', () => {
    const help = execFileSync('/usr/bin/borg', ['serve', '--help'], {
      cwd: tmpdir(),
      env: { PATH: '/usr/bin:/bin', HOME: tmpdir() },
    }).toString();
    const options = new Set(help.match(/(?<=^|[ ,[])--?[a-z][a-z-]*/gm));
    expect(options.size).toBeGreaterThan(20);
    for (const option of options) {
      expect(findFlagRule(option), option).toBeDefined();
    }
  });
});
