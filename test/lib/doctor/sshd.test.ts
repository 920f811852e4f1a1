import { userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findAcceptEnvProblem } from '../../../src/lib/doctor/rows/sshd-settings.js';
import {
  parseSshdSettings,
  readSshdSettings,
  SshdConfigError,
} from '../../../src/lib/doctor/sshd.js';
import { createFixture, type DoctorFixture } from './fixtures.js';

let fixture: DoctorFixture;

beforeAll(() => {
  fixture = createFixture('sshd');
});

afterAll(() => fixture.remove());

describe('parseSshdSettings', () => {
  it('lowercases keywords and joins repeats', () => {
    const settings = parseSshdSettings(
      'PermitTTY no\nlistenaddress 0.0.0.0:22\nlistenaddress [::]:22\n',
    );
    expect(settings.get('permittty')).toBe('no');
    expect(settings.get('listenaddress')).toBe('0.0.0.0:22 [::]:22');
  });
});

describe('readSshdSettings', () => {
  it('applies Match User blocks', async () => {
    const user = userInfo().username;
    fixture.writeSshdConfig(['PermitTTY yes', `Match User ${user}`, '    PermitTTY no']);
    const settings = await readSshdSettings('/usr/sbin/sshd', fixture.sshdConfig, user);
    expect(settings.get('permittty')).toBe('no');
    const other = await readSshdSettings('/usr/sbin/sshd', fixture.sshdConfig, 'someone-else');
    expect(other.get('permittty')).toBe('yes');
  });

  it('reports an invalid config', async () => {
    fixture.writeSshdConfig(['NoSuchOption yes']);
    await expect(readSshdSettings('/usr/sbin/sshd', fixture.sshdConfig, 'root')).rejects.toThrow(
      /Bad configuration option/,
    );
  });

  it.each(['a,addr=10.0.0.1', '-T', 'x y'])('rejects user %s', async (user) => {
    await expect(readSshdSettings('/usr/sbin/sshd', fixture.sshdConfig, user)).rejects.toThrow(
      SshdConfigError,
    );
  });
});

describe('findAcceptEnvProblem', () => {
  it.each([
    ['', undefined],
    ['acceptenv LANG\nacceptenv LC_*\n', undefined],
    ['acceptenv LANG\nacceptenv NODE_OPTIONS\n', 'NODE_OPTIONS'],
    ['acceptenv LC_*\nacceptenv BASH_ENV\nacceptenv LD_*\n', 'BASH_ENV LD_*'],
    ['acceptenv *\n', '*'],
    ['acceptenv L*\n', 'L*'],
  ])('settings %j report %s', (text, unsafe) => {
    const problem = findAcceptEnvProblem(parseSshdSettings(text), 'borg', '/etc/ssh/sshd_config');
    if (unsafe === undefined) {
      expect(problem).toBeUndefined();
      return;
    }
    expect(problem?.status).toBe('missing');
    expect(problem?.detail).toContain(`AcceptEnv accepts ${unsafe} (`);
    expect(problem?.fix).toContain(`Remove ${unsafe} from the AcceptEnv lines`);
    expect(problem?.fix).toContain('"AcceptEnv LANG LC_*" in its "Match User borg" block');
  });

  it('sees a Match block narrow the list', async () => {
    const user = userInfo().username;
    fixture.writeSshdConfig([
      'AcceptEnv LANG LC_* NODE_OPTIONS',
      `Match User ${user}`,
      '    AcceptEnv LANG LC_*',
    ]);
    const narrowed = await readSshdSettings('/usr/sbin/sshd', fixture.sshdConfig, user);
    expect(findAcceptEnvProblem(narrowed, user, fixture.sshdConfig)).toBeUndefined();
    const other = await readSshdSettings('/usr/sbin/sshd', fixture.sshdConfig, 'someone-else');
    const problem = findAcceptEnvProblem(other, 'someone-else', fixture.sshdConfig);
    expect(problem?.detail).toContain('AcceptEnv accepts NODE_OPTIONS (');
  });
});
